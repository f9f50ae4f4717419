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
