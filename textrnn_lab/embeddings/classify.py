"""A text classifier on word vectors: the mean of a sentence's word vectors, then a linear layer.

::

    split = sentiment_split(seed=0)                       # VADER sentences, positive vs. negative
    vocab = WordVocab.from_texts(split.train_texts + split.test_texts)
    weights, known = embedding_matrix(vocab, w2v.wv)      # FloatTensor[V, E], BoolTensor[V]
    model = MeanEmbeddingClassifier(weights, num_classes=2, freeze=True)
    result = train_classifier(model, vocab, split, ClassifierConfig())   # ClassifierResult: test accuracy

With the embeddings frozen the model is logistic regression on the mean word
vector, so its accuracy measures how much the vectors themselves know about
sentiment; unfrozen (``freeze=False``) the vectors are only the starting point and
are trained with the classifier. A word the vectors lack gets the zero vector: it
adds nothing to the mean, which is what "out of vocabulary" costs here. Building
the vocabulary from the test sentences too uses none of their labels: it only
lets a pre-trained model contribute the vectors it has for words the training
sentences never show.

:func:`bag_of_words_accuracy` is the baseline every such model has to beat:
logistic regression on word counts (scikit-learn), which needs no vectors at all.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..data.vocab import WordVocab, word_tokens
from ..errors import CourseError
from ..training.config import TrainConfig
from ..training.loop import evaluate, fit

LABELS = ("negative", "positive")


@dataclass
class SentimentSplit:
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]


def sentiment_split(seed: int = 0, test_size: float = 0.2, domains=None, max_sentences: int | None = None
                    ) -> SentimentSplit:
    """The VADER sentences rated positive (1) or negative (0) (neutral ones left out), split per label at random.

    ``domains``: ``"tweet"``, ``"movie"``, ``"amazon"``, ``"nyt"`` or a list (default all);
    ``max_sentences``: a random subset of that many first (for quick runs).
    """
    from ..data.loaders import load_dataset

    if not 0.0 < test_size < 1.0:
        raise CourseError(f"test_size must be between 0 and 1, not {test_size!r}.")
    frame = load_dataset("vader", domains=domains)
    frame = frame[frame["label"].isin(LABELS)].sample(frac=1.0, random_state=seed).reset_index(drop=True)
    if max_sentences is not None:
        frame = frame.iloc[:max_sentences]
    train, test = [], []
    for _, group in frame.groupby("label", sort=True):
        cut = int(round(len(group) * test_size))
        test.append(group.iloc[:cut])
        train.append(group.iloc[cut:])
    import pandas as pd

    train_frame = pd.concat(train).sample(frac=1.0, random_state=seed)
    test_frame = pd.concat(test).sample(frac=1.0, random_state=seed)
    if len(train_frame) == 0 or len(test_frame) == 0:
        raise CourseError("the split left the training or the test part empty.", hint="use more sentences")
    code = {name: i for i, name in enumerate(LABELS)}
    return SentimentSplit(train_frame["text"].tolist(), [code[v] for v in train_frame["label"]],
                          test_frame["text"].tolist(), [code[v] for v in test_frame["label"]])


def embedding_matrix(vocab: WordVocab, wv=None, dim: int | None = None, seed: int = 0,
                     known_words=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(weights FloatTensor[V, E], known BoolTensor[V])``: a row per id of ``vocab``.

    With ``wv`` (gensim vectors), a word gets its vector when ``wv`` has one
    (FastText: for every word, through its n-grams); the others, ``<pad>`` and
    ``<unk>`` get zeros. With ``wv=None``, random vectors of size ``dim`` (normal,
    standard deviation ``1/sqrt(dim)``) for ``known_words`` (the words of the
    training sentences) and zeros for the rest: the randomly initialised baseline.
    """
    size = len(vocab)
    known = torch.zeros(size, dtype=torch.bool)
    if wv is None:
        if dim is None or dim < 1:
            raise CourseError("random embeddings need their size: pass dim=.")
        gen = torch.Generator().manual_seed(seed)
        weights = torch.randn(size, dim, generator=gen) / math.sqrt(dim)  # [V, E]
        allowed = set(known_words) if known_words is not None else set(vocab.words)
        for i, word in enumerate(vocab.itos):
            known[i] = i > vocab.unk_id and word in allowed
    else:
        weights = torch.zeros(size, wv.vector_size)  # [V, E]
        subword = getattr(wv, "bucket", 0) > 0  # FastText answers unseen words from their n-grams
        for i, word in enumerate(vocab.itos):
            if i <= vocab.unk_id:
                continue
            if word in wv.key_to_index or subword:
                weights[i] = torch.from_numpy(wv[word].copy())
                known[i] = True
    weights[~known] = 0.0
    return weights, known


def oov_rate(vocab: WordVocab, known: torch.Tensor, texts: Sequence[str]) -> float:
    """The share of word occurrences in ``texts`` that have no vector (``known`` False, or not in ``vocab``)."""
    total = missing = 0
    for text in texts:
        for word in word_tokens(text):
            total += 1
            missing += not bool(known[vocab.stoi.get(word, vocab.unk_id)])
    if total == 0:
        raise CourseError("the texts hold no words, so they have no out-of-vocabulary rate.")
    return missing / total


class MeanEmbeddingClassifier(nn.Module):
    """Embedding (initialised from ``weights``) -> mean over a sentence's words -> standardise -> linear -> logits.

    The standardisation (``BatchNorm1d``: each feature shifted and scaled by its
    statistics over the training batches) does what scaling the features does
    before a logistic regression: word vectors have directions of very different
    spread, and without it a few epochs leave the small ones unused.
    """

    def __init__(self, weights: torch.Tensor, num_classes: int = 2, freeze: bool = True):
        super().__init__()
        # sparse gradients when trained: a step then touches only the rows of the batch's words
        self.embedding = nn.Embedding.from_pretrained(weights.clone().float(), freeze=freeze, padding_idx=0,
                                                      sparse=not freeze)
        self.norm = nn.BatchNorm1d(weights.shape[1])
        self.head = nn.Linear(weights.shape[1], num_classes)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        vectors = self.embedding(ids)  # [B, T, E]; padding rows are zero
        mean = vectors.sum(dim=1) / lengths.clamp_min(1).unsqueeze(1).to(vectors.dtype)  # [B, E]
        return self.head(self.norm(mean))  # [B, num_classes]


@dataclass
class ClassifierConfig(TrainConfig):
    """:class:`~textrnn_lab.training.config.TrainConfig` plus the batches: ``epochs`` passes of ``batch_size``.

    The optimizer is Adagrad (``lr``), frozen or not: it accepts the sparse
    gradients of a trained embedding, so a step costs the batch's rows only.
    """

    epochs: int = 4
    batch_size: int = 128
    max_len: int = 64
    lr: float = 0.05


@dataclass
class ClassifierResult:
    test_accuracy: float
    train_accuracy: float | None  # measured only when asked for (one more pass over the training sentences)
    seconds: float
    steps: int


def _batches(vocab: WordVocab, texts, labels, batch_size: int, max_len: int, gen: torch.Generator | None):
    order = torch.randperm(len(texts), generator=gen).tolist() if gen is not None else list(range(len(texts)))
    out = []
    for start in range(0, len(order), batch_size):
        index = order[start:start + batch_size]
        if gen is not None and len(index) == 1 and start > 0:
            break  # a training batch of one sentence has no batch statistics to standardise with
        ids, lengths = vocab.encode_batch([texts[i] for i in index], max_len=max_len)  # [B, T], [B]
        out.append((ids, lengths, torch.tensor([labels[i] for i in index])))
    return out


def _loss(model, batch):
    ids, lengths, y = batch
    logits = model(ids, lengths)  # [B, C]
    return F.cross_entropy(logits, y), {"acc": (logits.argmax(dim=1) == y).float().mean()}


def train_classifier(model: nn.Module, vocab: WordVocab, split: SentimentSplit, config: ClassifierConfig | None = None,
                     seed: int = 0, device="cpu", train_accuracy: bool = False) -> ClassifierResult:
    """Train ``model`` on ``split``'s training sentences with the shared ``fit`` loop; score the test sentences
    (and the training sentences too with ``train_accuracy=True``)."""
    config = config or ClassifierConfig()
    gen = torch.Generator().manual_seed(seed)
    train = _batches(vocab, split.train_texts, split.train_labels, config.batch_size, config.max_len, gen)
    test = _batches(vocab, split.test_texts, split.test_labels, 512, config.max_len, None)
    steps = config.max_steps or config.epochs * len(train)
    started = time.perf_counter()
    torch.manual_seed(seed)
    optimizer = torch.optim.Adagrad([p for p in model.parameters() if p.requires_grad], lr=config.lr)
    with warnings.catch_warnings():  # torch notes once that it skips its checks of sparse gradients
        warnings.simplefilter("ignore", UserWarning)
        history = fit(model, train, _loss, config, optimizer=optimizer, max_steps=steps, device=device,
                      progress=False)
    seconds = time.perf_counter() - started
    test_acc = evaluate(model, test, _loss, device=device)["acc"]
    train_acc = evaluate(model, train, _loss, device=device)["acc"] if train_accuracy else None
    return ClassifierResult(test_acc, train_acc, seconds, history.num_steps)


def bag_of_words_accuracy(split: SentimentSplit, C: float = 1.0) -> float:
    """Test accuracy of logistic regression on word counts (scikit-learn), the baseline without vectors."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = CountVectorizer(tokenizer=word_tokens, lowercase=False, token_pattern=None)
    train = vectorizer.fit_transform(split.train_texts)
    model = LogisticRegression(C=C, max_iter=2000)
    model.fit(train, split.train_labels)
    return float(model.score(vectorizer.transform(split.test_texts), split.test_labels))


def seed_gap(a: Sequence[float], b: Sequence[float], unit: str = "points", scale: float = 100.0) -> str:
    """How ``a`` compares with ``b``, seed by seed: ``"+3.1 +- 0.8 points over 3 seeds"`` or ``"within noise"``.

    The difference is taken per seed (the same split for both), its mean and
    standard deviation reported; it is called noise when the mean is within two
    standard deviations of zero, and with a single seed no verdict is given.
    """
    import statistics

    if len(a) != len(b) or not a:
        raise CourseError("seed_gap needs two lists of results, one per seed, of the same length.")
    gaps = [(x - y) * scale for x, y in zip(a, b)]
    mean = statistics.fmean(gaps)
    if len(gaps) == 1:
        return f"{mean:+.1f} {unit} on one seed (too few seeds for a verdict)"
    spread = statistics.stdev(gaps)
    if abs(mean) <= 2 * spread:
        return f"within noise ({mean:+.1f} +- {spread:.1f} {unit} over {len(gaps)} seeds)"
    return f"{mean:+.1f} +- {spread:.1f} {unit} over {len(gaps)} seeds"
