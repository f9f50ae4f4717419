"""What a student reads: no references to material they do not have, and how to run a chapter in seconds."""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from textrnn_lab import checks

ROOT = Path(__file__).resolve().parents[2]
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))

#: the course was written from documents students never see: text must quote the question, not cite them
SOURCE_REFERENCES = [
    r"\bseed\s*0\d\d\b",                       # "seed 003"
    r"\bthe seed\s+(project|documents?|notebooks?|answers?|questions?)\b",
    r"\bquestion\s+\d+[a-z]?\b",               # "question 6a"
    r"\bQ\d+[a-z]?\b",                         # "Q6a"
    r"\b\(0\d\d\)",                            # "the seed project (001)"
    r"\b(the|a) start-?up\b",                  # "the start-up" that asked
]


def _student_text(path: Path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        yield f"{path.name} cell {index}", cell.source


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_student_text_quotes_questions_and_never_cites_the_sources(path):
    found = [(where, m.group(0)) for where, text in _student_text(path)
             for pattern in SOURCE_REFERENCES for m in re.finditer(pattern, text, re.I)]
    assert not found, f"student-facing text refers to documents students do not have: {found}"


def test_hints_never_cite_the_sources():
    found = []
    for name in checks.available_checks():
        for kind, stages in checks.hint_stages(name).items():
            for stage in stages:
                found += [(name, kind, m.group(0)) for p in SOURCE_REFERENCES for m in re.finditer(p, stage, re.I)]
    assert not found, found


def test_chapter_00_teaches_how_to_switch_to_smoke_mode():
    nb = nbformat.read(ROOT / "chapters" / "00_setup_and_tour.ipynb", as_version=4)
    params = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    before = "\n".join(c.source for c in nb.cells[:params] if c.cell_type == "markdown")
    # the steps the browser test follows (tests/course/test_browser.py): edit the line, then Run All
    assert "`SMOKE = True`" in before and "Run All" in before and "`SMOKE = False`" in before
