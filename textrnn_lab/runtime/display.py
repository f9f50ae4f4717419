"""The bundles notebooks display for machines: their MIME types, and showing one under IPython.

A self-check (:mod:`textrnn_lab.checks`) and a recorded metric
(:mod:`textrnn_lab.training.metrics`) each display, besides the line a person
reads, a JSON bundle with one of these MIME types; the course runner and the
grader read them back from executed notebooks. They are defined here, below both
the reference code that writes them and the tooling that reads them.
"""
from __future__ import annotations

import sys

#: ``{"check", "status", "message", "cases"}`` from ``checks.check(...)``
CHECK_MIME = "application/vnd.textrnn-lab.check+json"
#: ``{"chapter", "values"}`` from ``metrics.record(...)``
METRICS_MIME = "application/vnd.textrnn-lab.metrics+json"


def in_ipython() -> bool:
    """True inside a running IPython shell or kernel (never imports IPython itself)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        return ipython.get_ipython() is not None
    except Exception:  # noqa: BLE001 - a half-imported or odd IPython means "not a notebook"
        return False


def display_bundle(bundle: dict) -> None:
    """Display ``bundle`` (MIME type -> data) as it is, with no repr; call it only when :func:`in_ipython`."""
    from IPython.display import display

    display(bundle, raw=True)
