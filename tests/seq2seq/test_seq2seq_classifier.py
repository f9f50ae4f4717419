"""Question 8c's classifier: the PyTorch encoder + head, the VADER split, and the Keras 3 model on both backends."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from textrnn_lab.errors import CourseError
from textrnn_lab.layers.rnn import count_parameters
from textrnn_lab.seq2seq.classifier import (
    EncoderClassifier,
    EncoderClassifierConfig,
    labelled_split,
    train_encoder_classifier,
)
from textrnn_lab.seq2seq.keras_classifier import BACKENDS, parameter_counts, train_keras_classifier_on


def test_split_is_balanced_disjoint_and_reproducible():
    data = labelled_split("domain", per_class=40, test_per_class=10, seed=3)
    assert data.label_names == ["amazon", "movie", "nyt", "tweet"] and data.num_classes == 4
    assert [data.train_labels.count(c) for c in range(4)] == [40] * 4
    assert [data.test_labels.count(c) for c in range(4)] == [10] * 4
    assert not set(data.train_texts) & set(data.test_texts)
    assert labelled_split("domain", per_class=40, test_per_class=10, seed=3) == data
    sentiment = labelled_split("sentiment", per_class=30, test_per_class=5)
    assert sentiment.label_names == ["negative", "positive"]


def test_split_bad_arguments():
    with pytest.raises(CourseError, match="label must be"):
        labelled_split("colour")
    with pytest.raises(CourseError, match="fewer than"):
        labelled_split("domain", per_class=5000)


def test_the_state_is_read_at_the_last_real_word():
    torch.manual_seed(0)
    model = EncoderClassifier(EncoderClassifierConfig(20, 3, embed_dim=4, hidden_size=5)).eval()
    ids = torch.tensor([[4, 7, 9, 0, 0], [4, 7, 9, 2, 6]])
    alone = model.encode(ids[:1, :3], torch.tensor([3]))
    padded = model.encode(ids, torch.tensor([3, 5]))
    torch.testing.assert_close(padded[0], alone[0])
    assert model(ids, torch.tensor([3, 5])).shape == (2, 3)


def test_pytorch_lstm_has_two_biases_per_gate_where_keras_has_one():
    V, C, E, H = 50, 4, 8, 6
    model = EncoderClassifier(EncoderClassifierConfig(V, C, embed_dim=E, hidden_size=H))
    keras_counts = parameter_counts(V, C, E, H)
    assert count_parameters(model) == keras_counts["total"] + 4 * H


def test_a_short_pytorch_run_beats_chance():
    data = labelled_split("domain", per_class=150, test_per_class=50)
    result = train_encoder_classifier(data, max_steps=150, batch_size=32, threads=1,
                                      model_config={"embed_dim": 16, "hidden_size": 16})
    assert result.test_accuracy > 0.34  # chance is 0.25 (+- 0.03 on 200 test sentences)
    assert result.history.num_steps == 150


@pytest.mark.parametrize("backend", BACKENDS)
def test_keras_classifier_trains_on_each_backend(backend):
    """In a fresh Python with KERAS_BACKEND set: the model builds, count_params matches the derivation, it learns."""
    result = train_keras_classifier_on(backend, per_class=120, test_per_class=40, max_steps=16, max_len=16,
                                       embed_dim=8, hidden_size=8, threads=1, timeout=300)
    assert result["backend"] == backend
    assert result["parameters"] == result["expected_parameters"]["total"]
    assert 0.0 <= result["test_accuracy"] <= 1.0 and result["epochs"] >= 1


def test_keras_module_imports_no_keras_until_used():
    code = ("import sys, textrnn_lab.seq2seq.keras_classifier, textrnn_lab.seq2seq; "
            "print(json.dumps(['keras' in sys.modules, 'tensorflow' in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", "import json; " + code], capture_output=True, text=True,
                         env={**os.environ}, timeout=120)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [False, False]


def test_keras_bad_backend_is_a_clear_error():
    with pytest.raises(CourseError, match="backend must be"):
        train_keras_classifier_on("jax-or-whatever")


@pytest.mark.parametrize("backend", BACKENDS)
def test_masked_padding_leaves_the_keras_state_alone_on_each_backend(backend):
    code = ("import json; from textrnn_lab.seq2seq.keras_classifier import padding_changes_the_state as p; "
            "print('MOVED=' + json.dumps([p(True), p(False)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KERAS_BACKEND": backend})
    line = [x for x in out.stdout.splitlines() if x.startswith("MOVED=")]
    assert line, out.stderr[-2000:]
    masked, unmasked = json.loads(line[0][len("MOVED="):])
    assert masked < 1e-6 < unmasked  # the question's unmasked LSTM ends on a state after the padding
