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


def _shell_blocks(text: str):
    return re.findall(r"```(?:bash|sh|console|shell)\n(.*?)```", text, re.S)


def _calls_bare_command(block: str) -> bool:
    return any(re.match(r"(\$ )?textrnn-lab\b", line.strip()) for line in block.splitlines())


ACTIVATE = re.compile(r"source \.venv/bin/activate|\.venv/bin/textrnn-lab")


def test_readme_says_how_to_reach_the_commands_in_the_environment():
    # `textrnn-lab doctor` as the README wrote it was "command not found": .venv/bin is not on PATH
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "source .venv/bin/activate" in readme and ".venv/bin/textrnn-lab doctor" in readme
    for block in _shell_blocks(readme):
        if _calls_bare_command(block):
            assert "source .venv/bin/activate" in block.split("textrnn-lab")[0], block


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_a_terminal_command_in_a_chapter_says_how_to_reach_it(path):
    nb = nbformat.read(path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and any(_calls_bare_command(b) for b in _shell_blocks(cell.source)):
            assert ACTIVATE.search(cell.source), f"{path.name} cell {index}: bare textrnn-lab, no word on .venv/bin"
