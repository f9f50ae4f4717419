"""Word analogies ("man is to king as woman is to ?"), scored on the questions a model can read.

::

    questions = read_analogies()                   # gensim's questions-words.txt: 19,544 in 14 sections
    result = analogy_accuracy(wv, questions)       # AnalogyResult
    print(result.accuracy, result.coverage)        # right answers among the questions evaluated,
                                                   # and the share of all questions that could be evaluated

The answer to ``a : b :: c : ?`` is the word whose vector is nearest (cosine)
to ``b - a + c``, the three question words excluded (3CosAdd, what gensim's
``evaluate_word_analogies`` does). A question is evaluated only when all four
words are in the model's vocabulary (its ``restrict_vocab`` most frequent words,
if given): a small corpus knows few capitals and currencies, so its accuracy
means little without the coverage beside it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch

from ..errors import CourseError, DataError
from .neighbours import unit_rows


@dataclass(frozen=True)
class Analogy:
    section: str
    a: str
    b: str
    c: str
    d: str


@dataclass
class AnalogyResult:
    correct: int
    evaluated: int
    total: int
    by_section: dict[str, tuple[int, int, int]] = field(default_factory=dict)  # section -> (correct, evaluated, total)

    @property
    def accuracy(self) -> float:
        """Right answers among the questions evaluated (nan when none could be)."""
        return self.correct / self.evaluated if self.evaluated else float("nan")

    @property
    def coverage(self) -> float:
        """The share of all questions whose four words the model knows."""
        return self.evaluated / self.total if self.total else 0.0

    def kind(self, syntactic: bool) -> tuple[int, int, int]:
        """(correct, evaluated, total) over the syntactic (``gram*``) or the semantic sections."""
        rows = [v for k, v in self.by_section.items() if k.startswith("gram") == syntactic]
        return tuple(sum(r[i] for r in rows) for i in range(3))  # type: ignore[return-value]


def analogies_path() -> Path:
    """gensim's ``questions-words.txt`` (Mikolov et al.'s analogy questions)."""
    try:
        from gensim.test.utils import datapath
    except ImportError:
        raise CourseError("gensim is not installed, and the analogy questions come with it.",
                          hint="pip install gensim (4.4 or later)") from None
    return Path(datapath("questions-words.txt"))


def read_analogies(path: str | Path | None = None) -> list[Analogy]:
    """The questions of a ``questions-words.txt``-style file (``: section`` lines, four words a line), lower-cased."""
    path = Path(path) if path is not None else analogies_path()
    if not path.is_file():
        raise DataError(f"the analogy file {path} does not exist.", hint="pass the path of a questions-words.txt")
    section, questions = None, []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.lower().split()
        if len(words) != 4 or section is None:
            raise DataError(f"line {number} of {path} is not four words under a ': section' line.")
        questions.append(Analogy(section, *words))
    if not questions:
        raise DataError(f"{path} holds no analogy questions.")
    return questions


def analogy_accuracy(wv, questions: Sequence[Analogy] | None = None, restrict_vocab: int | None = None,
                     chunk: int = 512) -> AnalogyResult:
    """Score ``wv`` (gensim ``KeyedVectors``) on ``questions`` (default: all of gensim's), batched in torch."""
    questions = read_analogies() if questions is None else list(questions)
    keys = wv.index_to_key if restrict_vocab is None else wv.index_to_key[:restrict_vocab]
    index = {k: i for i, k in enumerate(keys)}
    units = unit_rows(torch.from_numpy(wv.vectors[:len(keys)]).float())  # [N, E]
    usable = [q for q in questions if all(w in index for w in (q.a, q.b, q.c, q.d))]
    totals: dict[str, list[int]] = {}
    for q in questions:
        totals.setdefault(q.section, [0, 0, 0])[2] += 1
    correct = 0
    for start in range(0, len(usable), chunk):
        part = usable[start:start + chunk]
        ids = torch.tensor([[index[w] for w in (q.a, q.b, q.c, q.d)] for q in part])  # [Q, 4]
        query = units[ids[:, 1]] - units[ids[:, 0]] + units[ids[:, 2]]  # [Q, E]: b - a + c
        sims = unit_rows(query) @ units.T  # [Q, N]
        sims.scatter_(1, ids[:, :3], float("-inf"))  # the question's own words are not answers
        right = sims.argmax(dim=1) == ids[:, 3]  # [Q]
        correct += int(right.sum())
        for q, ok in zip(part, right.tolist()):
            totals[q.section][0] += int(ok)
            totals[q.section][1] += 1
    return AnalogyResult(correct, len(usable), len(questions), {k: tuple(v) for k, v in totals.items()})
