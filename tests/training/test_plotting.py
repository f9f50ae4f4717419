"""Rendering helpers people read: generated text side by side."""
from __future__ import annotations

import re

import pytest

from textrnn_lab.training.plotting import text_columns_html


def test_text_columns_are_left_aligned_and_break_only_between_words():
    # JupyterLab right-aligns td/th and breaks words inside pre anywhere ("a nd"): every cell overrides both
    html = text_columns_html({"t=0.5": "and so <she> said\nenough", "t=1.0": "x"}, notes={"t=0.5": "90% real"})
    cells = re.findall(r"<(t[dh]) style='([^']*)'", html)
    assert len(cells) == 4
    for _, style in cells:
        assert "text-align:left" in style and "word-break:normal" in style
    assert "<pre" not in html, "pre inherits JupyterLab's break-anywhere wrapping"
    assert "word-break:break-all" not in html and "white-space:pre-wrap" in html
    assert "&lt;she&gt;" in html and "90% real" in html
    assert html.count("width:50.00%") == 2


def test_text_columns_need_a_column():
    with pytest.raises(ValueError):
        text_columns_html({})
