"""Clipping every gradient by one global norm, the remedy for exploding gradients (chapter 04).

:func:`clip_grad_norm` is the reference for the chapter's exercise and follows the
same rule as ``torch.nn.utils.clip_grad_norm_``, which the training loop uses.
"""
from __future__ import annotations

from typing import Iterable

import torch


def global_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """The L2 norm of all gradients together, ``sqrt(sum_p ||p.grad||^2)`` (parameters without a gradient count 0)."""
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    return torch.sqrt(sum(g.detach().float().pow(2).sum() for g in grads))


def clip_grad_norm(parameters: Iterable[torch.Tensor] | torch.Tensor, max_norm: float,
                   eps: float = 1e-6) -> torch.Tensor:
    """Scale every gradient by one factor so that their global norm is at most ``max_norm``.

    The factor is ``min(1, max_norm / (total + eps))`` with ``total`` the global
    norm (:func:`global_grad_norm`), the same rule as
    ``torch.nn.utils.clip_grad_norm_``. The direction of the whole gradient is
    kept; only its length changes. Gradients are modified in place; returns
    ``total``, the norm *before* clipping.
    """
    if isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    parameters = [p for p in parameters if p.grad is not None]
    total = global_grad_norm(parameters)
    factor = torch.clamp(float(max_norm) / (total + eps), max=1.0)
    for p in parameters:
        p.grad.detach().mul_(factor.to(p.grad.device, p.grad.dtype))
    return total
