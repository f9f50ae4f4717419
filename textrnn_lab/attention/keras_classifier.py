"""The self-attention text classifier in Keras 3, layer for layer the PyTorch one of :mod:`.classifier`.

Keras is imported inside the functions (through :mod:`textrnn_lab.runtime.quiet`),
so this module costs nothing until it is used. It runs on the TensorFlow backend
(the default) and with ``KERAS_BACKEND=torch`` set before Keras is first imported::

    model = build_keras_classifier(SelfAttentionClassifierConfig(num_classes=3))
    model.count_params()                        # 395,203 with the question's sizes
    keras_parameter_rows(model)                 # each layer's own count
    run = train_keras_classifier(config, data, steps=300, seed=0)
    copy_keras_weights(run.model, torch_model)  # the PyTorch twin then gives the same scores

The output layer, fixed: C >= 2 classes get ``Dense(C, softmax)`` trained with
``sparse_categorical_crossentropy`` (integer labels, one distribution over the
classes); a binary task may instead use ``C = 1``: ``Dense(1, sigmoid)`` with
``binary_crossentropy``. Never several sigmoid units with a single-label loss.

The padding mask is Keras's own: ``Embedding(mask_zero=True)`` marks id 0 as
padding, and ``MultiHeadAttention`` and ``GlobalAveragePooling1D`` read that mask.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ..errors import CourseError
from ..runtime.quiet import import_keras
from .classifier import SelfAttentionClassifier, SelfAttentionClassifierConfig


def keras_backend() -> str:
    """The backend Keras runs on here ("tensorflow", "torch" or "jax")."""
    return import_keras().backend.backend()


def build_keras_classifier(config: SelfAttentionClassifierConfig, lr: float = 1e-3):
    """A compiled ``keras.Model``: ids [B, L] (any L; 0 = padding) -> class probabilities [B, C]."""
    keras = import_keras()
    layers = keras.layers
    c = config
    inputs = keras.Input(shape=(None,), dtype="int32", name="ids")                        # [B, L]
    x = layers.Embedding(c.vocab_size, c.embed_dim, mask_zero=c.use_mask, name="embedding")(inputs)  # [B, L, E]
    a = layers.MultiHeadAttention(num_heads=c.num_heads, key_dim=c.key_dim, name="self_attention")(x, x)
    a = layers.LayerNormalization(epsilon=1e-6, name="layer_norm")(a)                     # [B, L, E]
    h = layers.GlobalAveragePooling1D(name="mean_pool")(a)                                # [B, E]
    h = layers.Dropout(c.dropout)(h)
    h = layers.Dense(c.dense_units, activation="relu", name="dense")(h)                   # [B, D]
    h = layers.Dropout(c.dropout)(h)
    if c.num_classes == 1:
        outputs = layers.Dense(1, activation="sigmoid", name="output")(h)                 # [B, 1]: P(class 1)
        loss = "binary_crossentropy"
    else:
        outputs = layers.Dense(c.num_classes, activation="softmax", name="output")(h)     # [B, C], rows sum to 1
        loss = "sparse_categorical_crossentropy"
    model = keras.Model(inputs, outputs, name="self_attention_classifier")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss, metrics=["accuracy"])
    return model


def keras_parameter_rows(model) -> list[dict]:
    """``[{"layer", "type", "parameters"}]`` for each layer of ``model`` that has parameters."""
    return [{"layer": layer.name, "type": type(layer).__name__, "parameters": int(layer.count_params())}
            for layer in model.layers if layer.count_params()]


@dataclass
class KerasRun:
    """One Keras training run: the model, its test accuracy, the backend, the seconds it took."""

    model: object
    test_acc: float
    backend: str
    seconds: float


def train_keras_classifier(config: SelfAttentionClassifierConfig, data, steps: int = 300, batch_size: int = 64,
                           lr: float = 1e-3, seed: int = 0) -> KerasRun:
    """Train a fresh Keras classifier for ``steps`` batches (``model.fit``, one pass over a shuffled,
    repeated index) on ``data`` (a ``SentimentSplits``), then test it."""
    keras = import_keras()
    keras.utils.set_random_seed(seed)
    model = build_keras_classifier(config, lr=lr)
    x, y = data.train_ids.numpy().astype("int32"), data.train_labels.numpy()
    if len(x) < batch_size:
        raise CourseError(f"{len(x)} training rows are fewer than one batch of {batch_size}.")
    rng = np.random.default_rng(seed)
    order = np.concatenate([rng.permutation(len(x)) for _ in range(steps * batch_size // len(x) + 1)])
    pick = order[:steps * batch_size]
    started = time.perf_counter()
    model.fit(x[pick], y[pick], batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    seconds = time.perf_counter() - started
    _, acc = model.evaluate(data.test_ids.numpy().astype("int32"), data.test_labels.numpy(), batch_size=512,
                            verbose=0)
    return KerasRun(model, float(acc), keras.backend.backend(), seconds)


def keras_predict_proba(model, ids: torch.Tensor) -> torch.Tensor:
    """FloatTensor[N]: the Keras model's probability of class 1 for each row of ``ids``."""
    p = np.asarray(model.predict(ids.numpy().astype("int32"), batch_size=512, verbose=0))
    return torch.from_numpy(p[:, 0] if p.shape[-1] == 1 else p[:, 1]).float()


def copy_keras_weights(keras_model, torch_model: SelfAttentionClassifier) -> SelfAttentionClassifier:
    """Load a trained Keras classifier's weights into the PyTorch classifier of the same config.

    Keras keeps a Dense kernel as [in, out] (PyTorch: weight [out, in]) and an
    attention projection as [E, nh, hd] (PyTorch here: [nh*hd, E]).
    """
    c = torch_model.config

    def weights(name):
        return [torch.from_numpy(np.asarray(w)).float() for w in keras_model.get_layer(name).get_weights()]

    with torch.no_grad():
        (table,) = weights("embedding")
        torch_model.embed.weight.copy_(table)
        q_k, q_b, k_k, k_b, v_k, v_b, o_k, o_b = weights("self_attention")
        for linear, kernel, bias in ((torch_model.attention.query, q_k, q_b), (torch_model.attention.key, k_k, k_b),
                                     (torch_model.attention.value, v_k, v_b)):
            linear.weight.copy_(kernel.reshape(c.embed_dim, -1).T)   # [E, nh, hd] -> [nh*hd, E]
            linear.bias.copy_(bias.reshape(-1))
        torch_model.attention.out.weight.copy_(o_k.reshape(-1, c.embed_dim).T)  # [nh, hd, E] -> [E, nh*hd]
        torch_model.attention.out.bias.copy_(o_b)
        gamma, beta = weights("layer_norm")
        torch_model.norm.weight.copy_(gamma)
        torch_model.norm.bias.copy_(beta)
        for name, linear in (("dense", torch_model.dense), ("output", torch_model.head)):
            kernel, bias = weights(name)
            linear.weight.copy_(kernel.T)
            linear.bias.copy_(bias)
    return torch_model


def torch_twin_probabilities(keras_model, config: SelfAttentionClassifierConfig, ids: torch.Tensor) -> torch.Tensor:
    """The PyTorch classifier with the Keras model's weights: its probability of class 1 for each row of ``ids``."""
    from .classifier import predict_proba

    return predict_proba(copy_keras_weights(keras_model, SelfAttentionClassifier(config)), ids)
