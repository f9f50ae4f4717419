"""Plotting helpers: learning curves and saving figures for people to look at."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence


def _pyplot():
    import matplotlib

    if not os.environ.get("DISPLAY") and "inline" not in matplotlib.get_backend().lower():
        try:
            from IPython import get_ipython

            in_notebook = get_ipython() is not None
        except ImportError:  # pragma: no cover
            in_notebook = False
        if not in_notebook:
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_history(history, keys: Sequence[str] | None = None, ax=None, title: str | None = None,
                 logy: bool = False):
    """Plot the evaluation curves of a :class:`~textrnn_lab.training.loop.History` (or a list of dicts) by step.

    By default every key ending in ``loss`` is drawn on one axis, and any other
    numeric key (accuracy, bits per char ...) on a second panel.
    Returns the matplotlib figure.
    """
    plt = _pyplot()
    rows: list[Mapping] = list(getattr(history, "evals", history))
    if not rows:
        raise ValueError("the history is empty: nothing to plot (did training reach its first evaluation?)")
    numeric = [k for k in rows[0] if k not in ("step", "time", "lr", "seconds")
               and isinstance(rows[0][k], (int, float))]
    if keys is None:
        keys = numeric
    loss_keys = [k for k in keys if k.endswith("loss")]
    other_keys = [k for k in keys if not k.endswith("loss")]
    if ax is not None:
        axes = [ax]
        fig = ax.figure
    else:
        ncols = 2 if (loss_keys and other_keys) else 1
        fig, axes = plt.subplots(1, ncols, figsize=(5.5 * ncols, 3.8), squeeze=False)
        axes = list(axes[0])
    steps = [r.get("step", i + 1) for i, r in enumerate(rows)]

    def draw(axis, names: Iterable[str], ylabel: str):
        for name in names:
            ys = [r.get(name) for r in rows]
            xs = [step for step, y in zip(steps, ys) if y is not None]
            ys = [y for y in ys if y is not None]
            axis.plot(xs, ys, marker="o", markersize=3, label=name.replace("_", " "))
        axis.set_xlabel("step")
        axis.set_ylabel(ylabel)
        if logy:
            axis.set_yscale("log")
        axis.grid(alpha=0.3)
        axis.legend()

    if loss_keys:
        draw(axes[0], loss_keys, "loss")
    if other_keys:
        draw(axes[-1] if loss_keys else axes[0], other_keys, "value")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> Path:
    """Save ``fig`` as an image (PNG by extension) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


#: the style of every cell of :func:`text_columns_html`: JupyterLab right-aligns ``td``/``th`` and lets ``pre``
#: break words anywhere, so each cell says how it is laid out instead of inheriting that
_TEXT_CELL_STYLE = ("text-align:left;vertical-align:top;padding:4px 8px;border:1px solid #ddd;"
                    "white-space:normal;word-break:normal;overflow-wrap:normal")
_TEXT_BODY_STYLE = ("text-align:left;white-space:pre-wrap;word-break:normal;overflow-wrap:break-word;"
                    "font-family:monospace;font-size:{font_px}px;line-height:1.35;margin:0")


def text_columns_html(columns: Mapping[str, str], notes: Mapping[str, str] | None = None, font_px: int = 13) -> str:
    """Texts side by side as an HTML table, for generated samples people compare by reading.

    ``columns`` maps a heading to its text; ``notes`` (optional) a heading to a
    short line printed under it. Text is left-aligned, wraps only between
    words (a word longer than its column is the one exception), keeps its line
    breaks, and is HTML-escaped. Every column gets the same width.
    """
    import html

    if not columns:
        raise ValueError("text_columns_html needs at least one column")
    notes = notes or {}
    width = f"{100 / len(columns):.2f}%"
    body = _TEXT_BODY_STYLE.format(font_px=int(font_px))
    head = "".join(
        f"<th style='{_TEXT_CELL_STYLE};width:{width}'>{html.escape(str(title))}"
        + (f"<br><small>{html.escape(str(notes[title]))}</small>" if title in notes else "")
        + "</th>"
        for title in columns
    )
    row = "".join(f"<td style='{_TEXT_CELL_STYLE}'><div class='textrnn-text' style='{body}'>"
                  f"{html.escape(str(text))}</div></td>" for text in columns.values())
    return (f"<table class='textrnn-columns' style='table-layout:fixed;width:100%;border-collapse:collapse'>"
            f"<tr>{head}</tr><tr>{row}</tr></table>")
