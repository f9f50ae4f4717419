"""Question 8c's classifier in Keras 3: an LSTM encoder and a softmax head, with the padding masked.

Keras is imported inside the functions (through :mod:`textrnn_lab.runtime.quiet`),
so importing this module costs nothing. It runs on the TensorFlow backend (the
default) and with ``KERAS_BACKEND=torch``; the backend is fixed when Keras is
first imported, so :func:`train_keras_classifier_on` runs it in a fresh Python
to try another one::

    model = build_keras_classifier(vocab_size=8002, num_classes=4)
    model.get_layer("encoder"), model.get_layer("head")     # the two halves, named for what they are
    result = train_keras_classifier(data)                   # {"backend": ..., "test_accuracy": ..., ...}
    result = train_keras_classifier_on("torch", per_class=500)

What differs from the question's code, and why:

* ``Embedding(mask_zero=True)``: without it the LSTM also reads the padding
  zeros after a short text, and its "final" state is a state after padding;
* the vocabulary size comes from the vocabulary, not a typed-in 5000 beside
  an input length of 100 that was named ``input_dim``;
* the softmax layer is called the head: it maps one vector to class
  probabilities and generates nothing.

Shapes: ``B`` batch, ``T`` words (padded to ``max_len``), ``E`` embedding, ``H`` hidden units, ``C`` classes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from ..errors import CourseError
from ..runtime.quiet import import_keras

BACKENDS = ("tensorflow", "torch")


def keras_backend() -> str:
    """The backend Keras runs on in this process."""
    return import_keras().backend.backend()


def build_keras_classifier(vocab_size: int, num_classes: int, embed_dim: int = 64, hidden_size: int = 64,
                           mask_padding: bool = True):
    """``ids [B, T]`` (0 = padding) -> class probabilities ``[B, C]``; sub-models ``encoder`` and ``head``.

    ``mask_padding=False`` builds the question's version, whose LSTM also reads the padding.
    """
    for name, value in (("vocab_size", vocab_size), ("num_classes", num_classes), ("embed_dim", embed_dim),
                        ("hidden_size", hidden_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CourseError(f"{name} must be a whole number >= 1, not {value!r}.")
    keras = import_keras()
    layers = keras.layers
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")                   # [B, T]
    embedding = layers.Embedding(vocab_size, embed_dim, mask_zero=bool(mask_padding), name="embedding")
    x = embedding(ids)                                                            # [B, T, E] (and a mask [B, T])
    _, h, _c = layers.LSTM(hidden_size, return_state=True, name="lstm")(x)        # h [B, H]: the last real word's
    encoder = keras.Model(ids, h, name="encoder")
    state = keras.Input(shape=(hidden_size,), name="state")                       # [B, H]
    probs = layers.Dense(num_classes, activation="softmax", name="softmax")(state)  # [B, C]
    head = keras.Model(state, probs, name="head")
    inputs = keras.Input(shape=(None,), dtype="int32", name="text")
    return keras.Model(inputs, head(encoder(inputs)), name="encoder_classifier")


def padding_changes_the_state(mask_padding: bool, pad_to: int = 40, seed: int = 0) -> float:
    """How far padding moves the encoder's final state: ``max |h(text + padding) - h(text)|``.

    A fresh (untrained) encoder reads a five-word text alone and padded with
    zeros to ``pad_to``; with the padding masked the two states are the same.
    """
    keras = import_keras()
    keras.utils.set_random_seed(int(seed))
    model = build_keras_classifier(50, 4, 8, 8, mask_padding=mask_padding)
    encoder = model.get_layer("encoder")
    text = np.array([[5, 9, 13, 2, 7]], dtype=np.int32)                        # [1, 5]
    padded = np.zeros((1, pad_to), dtype=np.int32)
    padded[0, :5] = text[0]                                                     # [1, pad_to]
    alone = keras.ops.convert_to_numpy(encoder(text))
    after_padding = keras.ops.convert_to_numpy(encoder(padded))
    return float(np.abs(alone - after_padding).max())


def parameter_counts(vocab_size: int, num_classes: int, embed_dim: int = 64, hidden_size: int = 64) -> dict:
    """Parameters per layer, derived by hand: Keras's LSTM has one bias per gate (PyTorch's has two)."""
    E, H, C = embed_dim, hidden_size, num_classes
    counts = {"embedding": vocab_size * E, "lstm": 4 * (E * H + H * H + H), "softmax": H * C + C}
    counts["total"] = sum(counts.values())
    return counts


def padded_ids(vocab, texts, max_len: int) -> np.ndarray:
    """Texts -> ``int32 [N, max_len]`` word ids, cut or padded with 0 at the end."""
    ids, _ = vocab.encode_batch(list(texts), max_len=max_len)
    out = np.zeros((len(texts), max_len), dtype=np.int32)
    out[:, : ids.shape[1]] = ids.numpy()
    return out


def train_keras_classifier(data=None, *, label: str = "domain", per_class: int = 1500, test_per_class: int = 300,
                           embed_dim: int = 64, hidden_size: int = 64, max_len: int = 48, min_count: int = 2,
                           max_vocab: int = 8000, batch_size: int = 64, max_steps: int = 400, lr: float = 3e-3,
                           seed: int = 0, threads: int | None = None) -> dict:
    """Train the Keras classifier for about ``max_steps`` batches (whole epochs) and test it.

    ``data``: a :class:`~textrnn_lab.seq2seq.classifier.LabelledSplit` (default:
    :func:`~textrnn_lab.seq2seq.classifier.labelled_split` with ``label``, ``per_class``,
    ``test_per_class``, ``seed``). Returns plain values: ``backend``, ``test_accuracy``,
    ``parameters`` (``model.count_params()``), ``expected_parameters`` (by hand),
    ``epochs``, ``seconds``, ``cpu_seconds``, ``train_accuracy`` per epoch.
    ``threads``: CPU threads for the torch backend (its LSTM is a loop of small steps, often
    fastest on one thread of a busy machine); ``None`` leaves PyTorch's setting.
    """
    from ..data.vocab import WordVocab
    from .classifier import labelled_split

    keras = import_keras()
    if threads is not None and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(int(threads))
    data = data or labelled_split(label, per_class, test_per_class, seed)
    keras.utils.set_random_seed(int(seed))
    vocab = WordVocab.from_texts(data.train_texts, min_count=min_count, max_size=max_vocab)
    x_train, x_test = padded_ids(vocab, data.train_texts, max_len), padded_ids(vocab, data.test_texts, max_len)
    y_train = np.asarray(data.train_labels, dtype=np.int32)
    y_test = np.asarray(data.test_labels, dtype=np.int32)
    model = build_keras_classifier(len(vocab), data.num_classes, embed_dim, hidden_size)
    model.compile(optimizer=keras.optimizers.Adam(lr, clipnorm=1.0), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    epochs = max(1, round(max_steps * batch_size / len(y_train)))
    start, cpu_start = time.perf_counter(), time.process_time()
    history = model.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    _, test_accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    return {
        "backend": keras.backend.backend(),
        "test_accuracy": float(test_accuracy),
        "parameters": int(model.count_params()),
        "expected_parameters": parameter_counts(len(vocab), data.num_classes, embed_dim, hidden_size),
        "epochs": int(epochs),
        "seconds": float(seconds),
        "cpu_seconds": float(cpu_seconds),
        "train_accuracy": [float(a) for a in history.history.get("accuracy", [])],
        "label_names": list(data.label_names),
    }


def train_keras_classifier_on(backend: str, timeout: float = 600.0, **options) -> dict:
    """:func:`train_keras_classifier` in a fresh Python with ``KERAS_BACKEND=backend``; ``options`` as there."""
    if backend not in BACKENDS:
        raise CourseError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}.")
    code = ("import json, sys, warnings; warnings.simplefilter('ignore'); "
            "from textrnn_lab.seq2seq.keras_classifier import train_keras_classifier; "
            "print('RESULT=' + json.dumps(train_keras_classifier(**json.loads(sys.argv[1]))))")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", code, json.dumps(options)], env=env, capture_output=True,
                          text=True, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT="):
            return json.loads(line[len("RESULT="):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    raise CourseError(f"the Keras classifier on the {backend} backend did not finish: {' | '.join(tail)}",
                      hint=f"is the {backend} backend installed? Try KERAS_BACKEND={backend} python -c 'import keras'")
