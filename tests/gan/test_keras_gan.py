"""The Keras GAN on both backends, each in a fresh process with KERAS_BACKEND set: what trainable = False after
compiling does (measured), and the explicit loop, whose generator steps never move the discriminator."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r'''
import json, warnings
warnings.simplefilter("ignore")
import numpy as np
import torch
torch.set_num_threads(1)
from textrnn_lab.gan import GANConfig, keras_gan
rows = keras_gan.freezing_experiment(batch_size=8, scenarios=("as in the question", "flag toggled around each step"))
small = GANConfig(noise_dim=8, generator_hidden=(16,), discriminator_hidden=(16,))
gen = build = keras_gan.build_generator()
images = np.random.default_rng(0).uniform(-1, 1, size=(40, 784)).astype("float32")
run = keras_gan.train_keras_gan(images, steps=3, batch_size=8, config=small, snapshots=2, watch_every=1)
print("OUT=" + json.dumps({"rows": rows, "steps": run.steps, "backend": run.backend, "gen_params": gen.count_params(),
      "disc_params": keras_gan.build_discriminator().count_params(), "snapshots": sorted(run.snapshots),
      "sample": list(run.sample(2).shape)}))
'''


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_keras_gan_on_each_backend(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads([line for line in done.stdout.splitlines() if line.startswith("OUT=")][-1][4:])
    assert out["backend"] == backend
    # the same numbers of weights as the PyTorch models (batch norm's running statistics are not trainable)
    from textrnn_lab.gan import Discriminator, GANConfig, Generator

    torch_g = sum(p.numel() for p in Generator(GANConfig()).parameters()) + 2 * (128 + 256 + 512)
    torch_d = sum(p.numel() for p in Discriminator(GANConfig()).parameters())
    assert out["gen_params"] == torch_g and out["disc_params"] == torch_d
    rows = {(r["scenario"], r["step"]): r for r in out["rows"]}
    question = rows["as in the question", "discriminator.train_on_batch"]
    combined = rows["as in the question", "combined model (generator's step)"]
    # What Keras 3 does with the question's recipe (a change in Keras would show here first):
    assert combined["d_change"] == 0.0 and combined["g_change"] > 0   # the combined model leaves D alone ...
    assert question["d_change"] == 0.0                                # ... and so does D's own train_on_batch
    toggled = rows["flag toggled around each step", "discriminator.train_on_batch"]
    assert toggled["d_change"] > 0 and toggled["error"] is None
    # the explicit loop: the generator's steps move G and never D
    assert [s["step"] for s in out["steps"]] == [1, 2, 3]
    assert all(s["d_change_in_g_step"] == 0.0 and s["g_change_in_g_step"] > 0 for s in out["steps"])
    assert out["snapshots"] == [0, 3] and out["sample"] == [2, 784]


def test_an_unknown_backend_or_scenario_is_a_clear_error():
    from textrnn_lab.errors import CourseError
    from textrnn_lab.gan import keras_gan

    with pytest.raises(CourseError, match="backend"):
        keras_gan.freezing_experiment_on("jax-on-mars")
