"""The Keras classifier on both backends, each in a fresh process with KERAS_BACKEND set:
395,203 parameters, the same scores as its PyTorch twin, and the padding mask at work."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

SCRIPT = r'''
import json, torch
torch.set_num_threads(1)
from textrnn_lab.attention.classifier import SelfAttentionClassifierConfig
from textrnn_lab.attention.keras_classifier import (build_keras_classifier, keras_backend, keras_parameter_rows,
    keras_predict_proba, torch_twin_probabilities, train_keras_classifier)
from textrnn_lab.attention.textdata import sentiment_splits
question = build_keras_classifier(SelfAttentionClassifierConfig(num_classes=3))
sigmoid = build_keras_classifier(SelfAttentionClassifierConfig(num_classes=1))
data = sentiment_splits(vocab_size=300, max_length=16, max_examples=600)
config = SelfAttentionClassifierConfig(vocab_size=300, embed_dim=8, num_heads=2, key_dim=4, dense_units=8,
                                       max_length=16)
run = train_keras_classifier(config, data, steps=5, batch_size=32)
ids = data.test_ids[:20]
p = keras_predict_proba(run.model, ids)
longer = keras_predict_proba(run.model, torch.cat([ids, torch.zeros(20, 9, dtype=torch.long)], 1))
twin = torch_twin_probabilities(run.model, config, ids)
unmasked = build_keras_classifier(SelfAttentionClassifierConfig(**{**config.to_dict(), "use_mask": False}))
q = keras_predict_proba(unmasked, ids)
q_longer = keras_predict_proba(unmasked, torch.cat([ids, torch.zeros(20, 9, dtype=torch.long)], 1))
print(json.dumps({"backend": keras_backend(), "count": question.count_params(), "sigmoid": sigmoid.count_params(),
                  "rows": [r["parameters"] for r in keras_parameter_rows(question)], "run_backend": run.backend,
                  "twin": float((p - twin).abs().max()), "pad": float((p - longer).abs().max()),
                  "pad_unmasked": float((q - q_longer).abs().max()), "acc": run.test_acc}))
'''


@pytest.mark.parametrize("backend", ["tensorflow", "torch"])
def test_keras_classifier_on_each_backend(backend):
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["backend"] == out["run_backend"] == backend
    assert out["count"] == 395_203 and out["rows"] == [320_000, 66_368, 128, 8_320, 387]
    assert out["sigmoid"] == 394_945
    assert out["twin"] < 1e-5          # the PyTorch classifier with the Keras weights gives the same scores
    assert out["pad"] < 1e-6           # masked: more padding changes nothing
    assert out["pad_unmasked"] > 1e-4  # unmasked: it does
    assert 0.0 <= out["acc"] <= 1.0
