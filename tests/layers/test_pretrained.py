"""The offline encoder, sentence embeddings and the tiny random BERT."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

from textrnn_lab.errors import CourseError, HubUnavailable
from textrnn_lab.layers import pretrained
from textrnn_lab.layers.pretrained import embed_sentences, encoder_available, load_encoder, tiny_bert


@pytest.fixture(scope="module")
def encoder():
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HUB_OFFLINE", "1")
    try:
        yield load_encoder()
    finally:
        mp.undo()


def test_import_is_light(repo_root):
    code = (
        "import sys, textrnn_lab.layers.pretrained, textrnn_lab.data, textrnn_lab.runtime.hub\n"
        "heavy = [m for m in ('transformers', 'datasets', 'tensorflow') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repo_root, timeout=60)


def test_encoder_available():
    ok, message = encoder_available()
    assert ok, message
    assert "all-MiniLM-L6-v2" in message


def test_default_names_resolve_to_the_package():
    path = str(pretrained.default_encoder_path())
    for name in (None, "all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"):
        assert pretrained._resolve(name) == (path, True)


def test_load_encoder_offline(encoder):
    tokenizer, model = encoder
    assert model.config.hidden_size == 384
    assert model.config.num_hidden_layers == 6
    assert not model.training
    assert tokenizer.vocab_size == 30522


def test_embed_sentences(encoder):
    tokenizer, model = encoder
    texts = [
        "A cat is sleeping on the sofa.",
        "A kitten naps on the couch.",
        "The central bank raised interest rates again.",
        "Stock markets fell after the rate decision.",
    ]
    emb = embed_sentences(texts, tokenizer, model, batch_size=3)
    assert emb.shape == (4, 384) and emb.dtype == torch.float32
    assert torch.allclose(emb.norm(dim=1), torch.ones(4), atol=1e-5)
    sim = emb @ emb.T
    assert sim[0, 1] > sim[0, 2] + 0.2 and sim[0, 1] > sim[0, 3] + 0.2
    assert sim[2, 3] > sim[2, 0] + 0.2
    # rows come back in input order whatever the batching
    single = embed_sentences(texts[2], tokenizer, model)
    assert single.shape == (1, 384)
    assert torch.allclose(single[0], emb[2], atol=1e-4)
    assert embed_sentences([], tokenizer, model).shape == (0, 384)


def test_classification_head(encoder, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tokenizer, _ = encoder
    _, model = load_encoder(for_classification=True, num_labels=3)
    assert type(model).__name__.endswith("ForSequenceClassification")
    batch = tokenizer(["good film", "bad film"], padding=True, return_tensors="pt")
    with torch.no_grad():
        assert model(**batch).logits.shape == (2, 3)
    assert embed_sentences(["good film"], tokenizer, model).shape == (1, 384)
    with pytest.raises(CourseError):
        load_encoder(for_classification=False, num_labels=2)


def test_hub_name_offline_fails_fast(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for name in ("distilbert-base-uncased", "bert-base-uncased", "intfloat/e5-base-v2"):
        start = time.monotonic()
        with pytest.raises(HubUnavailable) as info:
            load_encoder(name)
        assert time.monotonic() - start < 5
        assert "load_encoder()" in str(info.value) and "all-MiniLM-L6-v2" in str(info.value)


def test_missing_directory(tmp_path):
    with pytest.raises(CourseError, match="does not exist"):
        load_encoder(str(tmp_path / "no_such_model") + "/")
    with pytest.raises(CourseError, match="config.json"):
        load_encoder(str(tmp_path))


def test_tiny_bert_and_local_directory(encoder, tmp_path):
    tokenizer, _ = encoder
    assert "random" in tiny_bert.__doc__.lower()
    model = tiny_bert(seed=0)
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    again = tiny_bert(seed=0)
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), again.parameters()))
    clf = tiny_bert(vocab_size=100, hidden=16, heads=4, num_labels=5)
    assert clf(input_ids=torch.tensor([[1, 2, 3]])).logits.shape == (1, 5)
    # a saved model directory loads through load_encoder, with no hub
    model.save_pretrained(tmp_path / "tiny")
    tokenizer.save_pretrained(tmp_path / "tiny")
    tok2, loaded = load_encoder(str(tmp_path / "tiny"))
    assert loaded.config.hidden_size == 32
    emb = embed_sentences(["hello there", "general kenobi"], tok2, loaded)
    assert emb.shape == (2, 32)
