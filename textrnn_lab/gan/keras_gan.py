"""The question's GAN in Keras 3: the two models, what freezing after compiling does, and a loop that is right.

::

    from textrnn_lab.gan import keras_gan
    rows = keras_gan.freezing_experiment()              # measured on the backend in use
    run = keras_gan.train_keras_gan(images, steps=300)  # images: float [N, P] in [-1, 1]

Works on the TensorFlow backend (the default) and with ``KERAS_BACKEND=torch``;
Keras is imported when a function here is first called, through
:func:`textrnn_lab.runtime.quiet.import_keras`.

The question's recipe compiles the discriminator, sets ``discriminator.trainable =
False``, then compiles ``Sequential([generator, discriminator])`` and trains the
two with ``train_on_batch``. In Keras 2 compiling took a snapshot of the flag, so
the discriminator still trained on its own; Keras 3 reads the flag when a
model's training function is first built (TensorFlow) or at every step (torch).
:func:`freezing_experiment` measures what that means for the weights.

:func:`train_keras_gan` does not depend on the flag at all: each optimizer is
given its own model's variables, and the gradients are taken explicitly
(``tf.GradientTape`` on TensorFlow, ``torch.autograd.grad`` on torch; the
only lines that differ between backends, in :func:`_loss_and_gradients`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import CourseError
from ..runtime.quiet import import_keras
from .config import GANConfig

BACKENDS = ("tensorflow", "torch")


def build_generator(config: GANConfig | None = None):
    """z ``[B, Z]`` -> Dense + ReLU + BatchNorm per hidden layer -> Dense(P, tanh) -> image ``[B, 28, 28, 1]``."""
    keras = import_keras()
    config = config or GANConfig()
    layers = [keras.Input((config.noise_dim,))]
    for hidden in config.generator_hidden:
        layers += [keras.layers.Dense(hidden, activation="relu"), keras.layers.BatchNormalization()]
    layers += [keras.layers.Dense(config.image_size, activation="tanh"), keras.layers.Reshape((28, 28, 1))]
    return keras.Sequential(layers, name="generator")


def build_discriminator(config: GANConfig | None = None):
    """image ``[B, 28, 28, 1]`` -> Flatten -> Dense + LeakyReLU + Dropout per hidden layer -> Dense(1): a logit."""
    keras = import_keras()
    config = config or GANConfig()
    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten()]
    for hidden in config.discriminator_hidden:
        layers += [keras.layers.Dense(hidden), keras.layers.LeakyReLU(0.2), keras.layers.Dropout(config.dropout)]
    layers += [keras.layers.Dense(1)]
    return keras.Sequential(layers, name="discriminator")


def _weights(model) -> list[np.ndarray]:
    return [np.array(w, copy=True) for w in model.get_weights()]


def _change(before: list[np.ndarray], model) -> float:
    """The largest absolute change of any weight of ``model`` since ``before``."""
    return max(float(np.abs(a - b).max()) for a, b in zip(before, model.get_weights()))


def _compiled_the_questions_way(config: GANConfig, lr: float, train_first: tuple | None = None):
    keras = import_keras()
    generator, discriminator = build_generator(config), build_discriminator(config)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)
    discriminator.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.5), loss=bce)
    if train_first is not None:
        discriminator.train_on_batch(*train_first)
    discriminator.trainable = False  # the question's line, after compiling the discriminator
    combined = keras.Sequential([generator, discriminator])
    combined.compile(optimizer=keras.optimizers.Adam(lr, beta_1=0.5), loss=bce)
    return generator, discriminator, combined


def _measure(label: str, what: str, action, generator, discriminator) -> dict:
    d_before, g_before = _weights(discriminator), _weights(generator)
    error = None
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - the finding is the exception itself
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
    return {"scenario": label, "step": what, "d_change": _change(d_before, discriminator),
            "g_change": _change(g_before, generator), "error": error}


SCENARIOS = ("as in the question", "D trained once before freezing", "flag toggled around each step")


def freezing_experiment(config: GANConfig | None = None, batch_size: int = 32, lr: float = 2e-4,
                        seed: int = 0, scenarios: tuple[str, ...] = SCENARIOS) -> list[dict]:
    """Does ``trainable = False`` after compiling stop the discriminator from learning, and when? Measured.

    Three scenarios, each on fresh models, one row per training call: how far
    the discriminator's and the generator's weights moved (largest absolute
    change; 0.0 means not at all) and the exception, if the call raised one:

    * ``"as in the question"``: compile D, freeze it, compile the combined model;
      then one combined step (the generator's) and one ``D.train_on_batch``;
    * ``"D trained once before freezing"``: the same, but D takes one step before the freeze;
    * ``"flag toggled around each step"``: as in the question, then ``trainable = True``
      before D's step and ``False`` again before the combined step, without compiling again.
    """
    keras = import_keras()
    config = config or GANConfig()
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    real = rng.uniform(-1, 1, size=(batch_size, 28, 28, 1)).astype("float32")
    ones = np.ones((batch_size, 1), dtype="float32")
    z = rng.normal(size=(batch_size, config.noise_dim)).astype("float32")
    unknown = sorted(set(scenarios) - set(SCENARIOS))
    if unknown:
        raise CourseError(f"unknown scenario(s) {unknown}.", hint=f"choose among {list(SCENARIOS)}")
    rows = []
    for scenario in scenarios:
        g, d, gan = _compiled_the_questions_way(config, lr, train_first=(real, ones) if scenario == SCENARIOS[1]
                                                else None)
        if scenario == SCENARIOS[2]:
            def d_step(d=d):
                d.trainable = True
                d.train_on_batch(real, ones)

            def gan_step(d=d, gan=gan):
                d.trainable = False
                gan.train_on_batch(z, ones)

            rows.append(_measure(scenario, "discriminator.train_on_batch", d_step, g, d))
            rows.append(_measure(scenario, "combined model (generator's step)", gan_step, g, d))
        else:
            rows.append(_measure(scenario, "combined model (generator's step)",
                                 lambda gan=gan: gan.train_on_batch(z, ones), g, d))
            rows.append(_measure(scenario, "discriminator.train_on_batch",
                                 lambda d=d: d.train_on_batch(real, ones), g, d))
    backend = keras.backend.backend()
    for row in rows:
        row["backend"] = backend
    return rows


def freezing_experiment_on(backend: str, timeout: float = 300.0) -> list[dict]:
    """:func:`freezing_experiment` in a fresh Python with ``KERAS_BACKEND=backend`` (Keras picks it at import)."""
    if backend not in BACKENDS:
        raise CourseError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}.")
    code = ("import json, warnings; warnings.simplefilter('ignore'); "
            "from textrnn_lab.gan.keras_gan import freezing_experiment; "
            "print('ROWS=' + json.dumps(freezing_experiment()))")
    env = {**os.environ, "KERAS_BACKEND": backend}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    for line in done.stdout.splitlines():
        if line.startswith("ROWS="):
            return json.loads(line[len("ROWS="):])
    tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
    raise CourseError(f"the freezing experiment on the {backend} backend did not finish: {' | '.join(tail)}",
                      hint=f"is the {backend} backend installed? Try KERAS_BACKEND={backend} python -c 'import keras'")


# --------------------------------------------------------------------------- a loop that is right


def _loss_and_gradients(loss_fn, variables):
    """``(loss, [d loss / d v for v in variables])``: the only backend-specific lines of the loop."""
    keras = import_keras()
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf  # already imported by Keras, so no start-up cost

        with tf.GradientTape() as tape:
            loss = loss_fn()
        return loss, tape.gradient(loss, [v.value for v in variables])
    if backend == "torch":
        import torch

        loss = loss_fn()
        return loss, list(torch.autograd.grad(loss, [v.value for v in variables]))
    raise CourseError(f"train_keras_gan runs on the TensorFlow and torch backends, not {backend!r}.",
                      hint="set KERAS_BACKEND=tensorflow or KERAS_BACKEND=torch before Keras is imported")


def _compiled(step):
    """``step`` as a ``tf.function`` on TensorFlow (a graph: many times faster than eager for small models);
    unchanged on torch, whose eager mode is already quick."""
    keras = import_keras()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.function(step, autograph=False)  # no Python control flow on tensors in the steps
    return step


def discriminator_loss(real_logits, fake_logits):
    """``mean softplus(-l_real) + mean softplus(l_fake)``, in ``keras.ops`` (any backend)."""
    ops = import_keras().ops
    return ops.mean(ops.softplus(-real_logits)) + ops.mean(ops.softplus(fake_logits))


def generator_loss(fake_logits):
    """The non-saturating ``-log D(G(z)) = mean softplus(-l_fake)``, in ``keras.ops``."""
    ops = import_keras().ops
    return ops.mean(ops.softplus(-fake_logits))


@dataclass
class KerasGANRun:
    generator: object
    discriminator: object
    backend: str
    steps: list[dict] = field(default_factory=list)       # d_loss, g_loss, d_change, g_change per step
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)  # step -> [K, 28, 28] in [0, 1]
    seconds: float = 0.0

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images from the generator in inference mode: ``float [n, P]`` in [-1, 1]."""
        z = np.random.default_rng(seed).normal(size=(n, self.generator.input_shape[-1])).astype("float32")
        out = self.generator(z, training=False)
        return np.asarray(import_keras().ops.convert_to_numpy(out)).reshape(n, -1)


def train_keras_gan(images, steps: int = 300, batch_size: int = 64, lr: float = 2e-4,
                    config: GANConfig | None = None, seed: int = 0, snapshots: int = 4,
                    snapshot_size: int = 16, watch_every: int = 0) -> KerasGANRun:
    """Train the Keras GAN with an explicit loop on ``images`` (``float [N, P]`` in [-1, 1]).

    Each step: the discriminator's loss and gradient with respect to the
    discriminator's variables only, ``d_opt`` applies them; then the
    generator's loss through the discriminator and its gradient with respect to
    the generator's variables only, ``g_opt`` applies them. ``trainable`` is
    never touched. With ``watch_every`` > 0, every that many steps the row also
    records how far each model's weights moved during the *generator's* step
    (the discriminator's must stay at 0). The two half-steps run as
    ``tf.function`` graphs on TensorFlow and eagerly on torch.
    """
    keras = import_keras()
    ops = keras.ops
    config = config or GANConfig()
    x_all = np.asarray(images, dtype="float32")
    if x_all.ndim != 2 or x_all.shape[1] != config.image_size or x_all.shape[0] < batch_size:
        raise CourseError(f"expected at least {batch_size} images of shape [N, {config.image_size}], "
                          f"got {x_all.shape}.", hint="use textrnn_lab.gan.to_unit_range(images).numpy()")
    x_all = x_all.reshape(-1, 28, 28, 1)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    G, D = build_generator(config), build_discriminator(config)
    g_opt = keras.optimizers.Adam(lr, beta_1=0.5)
    d_opt = keras.optimizers.Adam(lr, beta_1=0.5)
    run = KerasGANRun(G, D, keras.backend.backend())
    fixed = rng.normal(size=(snapshot_size, config.noise_dim)).astype("float32")  # [K, Z]
    marks = {0, steps} | {round(steps * i / max(1, snapshots - 1)) for i in range(snapshots)}

    def keep(step):
        out = ops.convert_to_numpy(G(fixed, training=False))  # [K, 28, 28, 1]
        run.snapshots[step] = (np.asarray(out).reshape(-1, 28, 28) + 1.0) / 2.0

    keep(0)
    d_opt.build(D.trainable_variables)  # the optimizers' state exists before any step (needed inside a tf.function)
    g_opt.build(G.trainable_variables)

    def d_step(real, z):  # the discriminator: its own variables only; G's output has no gradient here
        def loss_fn():
            fake = ops.stop_gradient(G(z, training=True))
            return discriminator_loss(D(real, training=True), D(fake, training=True))

        loss, grads = _loss_and_gradients(loss_fn, D.trainable_variables)
        d_opt.apply_gradients(zip(grads, D.trainable_variables))
        return loss

    def g_step(z):  # the generator: through D, but only G's variables are given to its optimizer
        def loss_fn():
            return generator_loss(D(G(z, training=True), training=True))

        loss, grads = _loss_and_gradients(loss_fn, G.trainable_variables)
        g_opt.apply_gradients(zip(grads, G.trainable_variables))
        return loss

    d_step, g_step = _compiled(d_step), _compiled(g_step)
    started = time.perf_counter()
    for step in range(1, steps + 1):
        real = x_all[rng.integers(0, x_all.shape[0], size=batch_size)]  # [B, 28, 28, 1]
        d_loss = d_step(real, rng.normal(size=(batch_size, config.noise_dim)).astype("float32"))  # z: [B, Z]
        watch = watch_every and step % watch_every == 0
        before = (_weights(D), _weights(G)) if watch else None
        g_loss = g_step(rng.normal(size=(batch_size, config.noise_dim)).astype("float32"))
        row = {"step": step, "d_loss": float(ops.convert_to_numpy(d_loss)),
               "g_loss": float(ops.convert_to_numpy(g_loss))}
        if watch:
            row.update(d_change_in_g_step=_change(before[0], D), g_change_in_g_step=_change(before[1], G))
        run.steps.append(row)
        if step in marks:
            keep(step)
    run.seconds = time.perf_counter() - started
    return run
