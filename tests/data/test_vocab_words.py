"""WordVocab (chapter 05): words to ids with padding and an unknown word, and the shared word tokenizer."""
from __future__ import annotations

import json

import pytest
import torch

from textrnn_lab.data.vocab import PAD_WORD, UNK_WORD, CharVocab, WordVocab, word_tokens
from textrnn_lab.errors import CourseError


def test_word_tokens_lowercases_and_drops_punctuation():
    assert word_tokens("The Cat's hat -- isn't it?  42 cats_!") == ["the", "cat", "s", "hat", "isn", "t", "it", "42",
                                                                     "cats"]
    assert word_tokens("Café NAÏVE") == ["café", "naïve"]
    assert word_tokens("") == []
    with pytest.raises(CourseError):
        word_tokens(None)


def test_reserved_ids_and_frequency_order():
    vocab = WordVocab.from_texts(["b a a", "c b a"])
    assert vocab.itos[:2] == [PAD_WORD, UNK_WORD]
    assert vocab.words == ["a", "b", "c"]          # by count, ties alphabetical
    assert vocab.counts == {"a": 3, "b": 2, "c": 1}
    assert (vocab.pad_id, vocab.unk_id) == (0, 1)
    assert "a" in vocab and "z" not in vocab and UNK_WORD not in vocab and PAD_WORD not in vocab
    assert len(vocab) == 5


def test_min_count_and_max_size():
    texts = ["a a a b b c"]
    assert WordVocab.from_texts(texts, min_count=2).words == ["a", "b"]
    assert WordVocab.from_texts(texts, max_size=1).words == ["a"]
    with pytest.raises(CourseError, match="lower min_count"):
        WordVocab.from_texts(texts, min_count=9)
    with pytest.raises(CourseError):
        WordVocab.from_texts(texts, min_count=0)
    with pytest.raises(CourseError):
        WordVocab.from_texts(texts, max_size=0)
    with pytest.raises(CourseError, match="at least one word"):
        WordVocab.from_texts(["...", ""])


def test_encode_maps_unknown_words_to_one():
    vocab = WordVocab.from_texts(["The cat sat.", "The dog ran."])
    ids = vocab.encode("the cat flew")
    assert ids.dtype == torch.long and ids.tolist() == [vocab.stoi["the"], vocab.stoi["cat"], 1]
    assert vocab.decode(ids) == ["the", "cat", UNK_WORD]
    assert vocab.ids(["<pad>", "<unk>", "dog"]) == [1, 1, vocab.stoi["dog"]]  # a literal <pad> is not padding
    with pytest.raises(CourseError):
        vocab.decode([99])


def test_encode_batch_pads_with_zero_and_reports_lengths():
    vocab = WordVocab.from_texts(["the cat sat on the mat"])
    ids, lengths = vocab.encode_batch(["the cat", "cat sat on mat", ""])
    assert ids.shape == (3, 4) and lengths.tolist() == [2, 4, 0]
    assert ids[0, 2:].tolist() == [0, 0] and ids[2].tolist() == [0, 0, 0, 0]
    assert (ids[1] > 1).all()
    cut, cut_lengths = vocab.encode_batch(["the cat sat on the mat"], max_len=3)
    assert cut.shape == (1, 3) and cut_lengths.tolist() == [3]
    empty, empty_lengths = vocab.encode_batch([])
    assert empty.shape == (0, 0) and empty_lengths.shape == (0,)
    with pytest.raises(CourseError, match="list of texts"):
        vocab.encode_batch("the cat")


def test_oov_rate_counts_tokens_and_unknown_words_are_listed():
    vocab = WordVocab.from_texts(["The cat sat.", "The dog ran."])
    assert vocab.oov_rate(["the bird flew"]) == pytest.approx(2 / 3)
    assert vocab.oov_rate(["bird bird the"]) == pytest.approx(2 / 3)
    assert vocab.unknown_words(["bird bird the flew"]) == ["bird", "flew"]
    with pytest.raises(CourseError, match="no words"):
        vocab.oov_rate(["?!"])


def test_round_trip_through_json():
    vocab = WordVocab.from_texts(["one two two three three three"])
    again = WordVocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert again == vocab and again.itos == vocab.itos
    with pytest.raises(CourseError, match="not a textrnn-lab word vocabulary"):
        WordVocab.from_dict({"format": "textrnn-lab char-vocab v1", "chars": "abc"})


def test_bad_words_are_refused():
    with pytest.raises(CourseError):
        WordVocab(["ok", "two words"])
    with pytest.raises(CourseError):
        WordVocab(["ok", ""])


def test_char_vocab_is_unchanged():
    vocab = CharVocab.from_text("hello world")
    assert vocab.decode(vocab.encode("hello?")) == "hello\ufffd"
    assert vocab.to_dict() == {"format": "textrnn-lab char-vocab v1", "chars": " dehlorw"}
