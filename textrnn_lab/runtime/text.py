"""Short text for one-line messages: the first line of an error or a cell, cut to a length.

Self-checks, the grader's test process and the notebook runner all report an
exception or a cell as one line; :func:`first_line` is how they shorten it.
"""
from __future__ import annotations

import re

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def first_line(text, limit: int = 300, *, strip_ansi: bool = False) -> str:
    """The first non-blank line of ``str(text)``, stripped, cut to ``limit`` characters ("..." marks a cut).

    ``None`` gives ``""``. With ``strip_ansi=True`` terminal colour codes (as in
    tracebacks from a Jupyter kernel) are removed first.
    """
    value = "" if text is None else str(text)
    if strip_ansi:
        value = _ANSI_ESCAPE.sub("", value)
    lines = value.strip().splitlines()
    first = lines[0].strip() if lines else ""
    return first if len(first) <= limit else first[: limit - 3] + "..."
