"""One file per trained character language model: weights, hyper-parameters and vocabulary together.

Generating text needs nothing but this file::

    save_charlm("austen.pt", model, vocab, val={"nats": 1.42})
    model, vocab, extra = load_charlm("austen.pt")
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..data.vocab import CharVocab
from ..errors import CourseError
from ..training.checkpoint import load_checkpoint, save_checkpoint
from .model import CharLM, CharLMConfig

CHECKPOINT_KIND = "textrnn-lab charlm v1"


def charlm_extra(model: CharLM, vocab: CharVocab, **info: Any) -> dict[str, Any]:
    """What a checkpoint needs besides the weights: kind, hyper-parameters, vocabulary, and ``info``."""
    if len(vocab) != model.config.vocab_size:
        raise CourseError(f"the vocabulary has {len(vocab)} symbols but the model expects {model.config.vocab_size}.")
    return {"kind": CHECKPOINT_KIND, "config": model.config.to_dict(), "vocab": vocab.to_dict(), **info}


def save_charlm(path: str | Path, model: CharLM, vocab: CharVocab, *, history: Any = None, **info: Any) -> Path:
    """Save weights, vocabulary and hyper-parameters in one file (atomically); return its path.

    ``info`` (training settings, validation scores ...) is stored beside them.
    The file has the layout of :func:`~textrnn_lab.training.loop.fit` checkpoints
    (``model``, ``extra``, ``history``), so either can be loaded by :func:`load_charlm`.
    """
    state = {
        "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": charlm_extra(model, vocab, **info),
        "history": history.to_dict() if hasattr(history, "to_dict") else history,
    }
    return save_checkpoint(path, state)


def load_charlm(path: str | Path, device: str | torch.device = "cpu") -> tuple[CharLM, CharVocab, dict[str, Any]]:
    """Load a checkpoint written by :func:`save_charlm` or by ``fit(extra_state=charlm_extra(...))``.

    Returns ``(model, vocab, extra)`` with the model in eval mode on ``device``;
    ``extra`` holds the hyper-parameters and whatever was saved with them.
    """
    state = load_checkpoint(path, map_location="cpu")
    extra = state.get("extra") if isinstance(state, dict) else None
    if not isinstance(extra, dict) or extra.get("kind") != CHECKPOINT_KIND or "model" not in state:
        raise CourseError(f"{path} is not a character language model checkpoint.",
                          hint="give a file written by `textrnn-lab train-charlm` (or textrnn_lab.lm.save_charlm).")
    try:
        config = CharLMConfig.from_dict(extra["config"])
        vocab = CharVocab.from_dict(extra["vocab"])
        model = CharLM(config)
        model.load_state_dict(state["model"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CourseError(f"the checkpoint {path} is damaged or from another version ({type(exc).__name__}).",
                          hint="train the model again.") from None
    model.to(device).eval()
    return model, vocab, extra
