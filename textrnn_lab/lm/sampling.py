"""Generating text from a character language model: temperature, top-k, greedy.

At each step the model gives logits ``[V]`` for the next character.
:func:`next_char_probs` turns them into the distribution to sample from:

* **temperature** ``tau``: ``softmax(logits / tau)``. Below 1 the distribution
  sharpens (safer, more repetitive text), above 1 it flattens (more surprising,
  more misspelt text). ``tau = 0`` is the limit: all the probability on the
  most likely character, i.e. greedy decoding, deterministic.
* **top-k**: only the k most likely characters keep a chance; the rest get
  probability 0, which cuts off the long tail of unlikely characters that
  sampling would otherwise hit now and then.

:func:`generate` feeds the prompt, then repeatedly samples a character and
feeds it back (the model is *autoregressive*).
"""
from __future__ import annotations

from typing import Iterator, NamedTuple

import torch

from ..data.vocab import CharVocab
from ..errors import CourseError


def _check_options(temperature: float, top_k: int | None) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature >= 0:
        raise CourseError(f"temperature must be a number >= 0, not {temperature!r}.",
                          hint="0 is greedy (always the most likely character); 0.5-1.0 reads best.")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise CourseError(f"top_k must be a whole number >= 1 or None, not {top_k!r}.")


def next_char_probs(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None) -> torch.Tensor:
    """logits: FloatTensor[..., V] -> probabilities FloatTensor[..., V] (each row sums to 1).

    ``temperature == 0`` puts probability 1 on the most likely character (the
    first one on ties). ``top_k`` keeps the k largest logits (more on ties with
    the k-th) and gives the others probability 0.
    """
    _check_options(temperature, top_k)
    logits = logits.float()
    V = logits.shape[-1]
    if temperature == 0:
        best = logits.argmax(dim=-1, keepdim=True)               # [..., 1]
        return torch.zeros_like(logits).scatter_(-1, best, 1.0)
    if top_k is not None and top_k < V:
        kth = torch.topk(logits, top_k, dim=-1).values[..., -1:]  # [..., 1] the k-th largest logit
        logits = logits.masked_fill(logits < kth, float("-inf"))
    return torch.softmax(logits / temperature, dim=-1)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
    """logits: FloatTensor[..., V] -> LongTensor[...]: one sampled character id per row.

    ``temperature == 0`` is greedy: the arg-max, no randomness. Sampling runs on
    the CPU, so a seeded CPU ``generator`` gives the same text on any device.
    """
    probs = next_char_probs(logits.detach().cpu(), temperature, top_k)   # [..., V]
    if temperature == 0:
        return probs.argmax(dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])                             # [N, V]
    return torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])


class Generation(NamedTuple):
    """:func:`generate` with ``return_attention=True``.

    ``text``: the prompt and what was generated. ``context``: the characters
    the model read, one per column of ``weights`` (a priming newline first when
    the prompt is empty, and the last generated character is never read).
    ``weights``: FloatTensor[G, len(context)], row g the attention paid to the
    hidden state after each character of ``context`` while predicting the g-th
    generated character (0 outside the attention window); ``None`` for a model
    without attention.
    """

    text: str
    context: str
    weights: torch.Tensor | None


def _prime(vocab: CharVocab, prompt: str) -> str:
    """What the model reads before generating: the prompt, or a newline when it is empty."""
    if prompt:
        return prompt
    return "\n" if "\n" in vocab else vocab.itos[min(1, len(vocab) - 1)]


@torch.no_grad()
def iter_generate(model, vocab: CharVocab, prompt: str = "", max_tokens: int = 500, temperature: float = 0.8,
                  top_k: int | None = None, seed: int | None = None, device: str | torch.device | None = None,
                  _trace: list | None = None) -> Iterator[str]:
    """Yield ``max_tokens`` generated characters one by one (the prompt is not repeated).

    The prompt's characters that the vocabulary lacks are read as the unknown symbol.
    """
    _check_options(temperature, top_k)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
        raise CourseError(f"max_tokens must be a whole number >= 0, not {max_tokens!r}.")
    if not isinstance(prompt, str):
        raise CourseError(f"the prompt must be a string, not {type(prompt).__name__}.")
    if max_tokens == 0:
        return
    device = torch.device(device) if device is not None else next(model.parameters()).device
    generator = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    was_training = model.training
    model.eval()
    try:
        x = vocab.encode(_prime(vocab, prompt)).to(device)[None, :]          # [1, P]
        logits, state, weights = model(x, None, return_attention=True)     # logits [1, P, V]
        position = x.shape[1] - 1                                           # the position just read
        for g in range(max_tokens):
            if _trace is not None and weights is not None:
                _trace.append((position, weights[0, -1].detach().cpu()))    # [S] over positions <= position
            next_id = sample_next(logits[0, -1], temperature, top_k, generator)  # [] a character id
            yield vocab.itos[int(next_id)]
            if g == max_tokens - 1:
                break
            x = next_id.reshape(1, 1).to(device)                            # [1, 1]
            logits, state, weights = model(x, state, return_attention=True)
            position += 1
    finally:
        model.train(was_training)


def generate(model, vocab: CharVocab, prompt: str = "", max_tokens: int = 500, temperature: float = 0.8,
             top_k: int | None = None, seed: int | None = None, device: str | torch.device | None = None,
             return_attention: bool = False) -> str | Generation:
    """The prompt followed by ``max_tokens`` generated characters.

    ``temperature=0`` is greedy and deterministic; otherwise pass ``seed`` for
    a repeatable sample. With ``return_attention=True`` returns a
    :class:`Generation` with the attention weights of every step.
    """
    trace: list | None = [] if return_attention else None
    new = "".join(iter_generate(model, vocab, prompt, max_tokens, temperature, top_k, seed, device, _trace=trace))
    text = prompt + new
    if not return_attention:
        return text
    context = _prime(vocab, prompt) + new[:-1]
    if not trace:
        return Generation(text, context, None)
    weights = torch.zeros(len(trace), len(context))
    for row, (position, w) in enumerate(trace):
        weights[row, position - len(w) + 1: position + 1] = w
    return Generation(text, context, weights)
