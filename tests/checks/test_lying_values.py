"""Self-checks compare what a value holds, not what it says about itself.

A ``torch.nn.Parameter`` subclass can answer True to ``==``, ``isclose`` and
``allclose`` through ``__torch_function__`` and return from ``tolist()`` an object
equal to anything. A function that returns one (of the right shape and dtype, and
nothing computed) must fail every check it could otherwise fool.
"""
from __future__ import annotations

import pytest
import torch

from textrnn_lab import checks

_LIES = {torch.eq, torch.Tensor.eq, torch.Tensor.__eq__, torch.isclose, torch.Tensor.isclose,
         torch.allclose, torch.Tensor.allclose, torch.equal, torch.Tensor.equal}


class EqualToAnything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False


class Liar(torch.nn.Parameter):
    """Holds zeros; says it equals whatever it is compared with."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in _LIES:
            if func in (torch.allclose, torch.Tensor.allclose, torch.equal, torch.Tensor.equal):
                return True
            with torch._C.DisableTorchFunctionSubclass():
                return torch.ones(args[0].shape, dtype=torch.bool)
        if func is torch.Tensor.ne or func is torch.Tensor.__ne__:
            with torch._C.DisableTorchFunctionSubclass():
                return torch.zeros(args[0].shape, dtype=torch.bool)
        return super().__torch_function__(func, types, args, kwargs or {})

    def tolist(self):
        return EqualToAnything()


def liar(shape, dtype=torch.float32) -> Liar:
    return Liar(torch.zeros(shape, dtype=dtype), requires_grad=False)


def lying_one_hot(indices, num_classes):
    return liar((*indices.shape, num_classes))


def lying_make_pairs(ids, seq_len):
    n = (len(ids) - 1) // seq_len
    return liar((n, seq_len), torch.long), liar((n, seq_len), torch.long)


def lying_next_char_probs(logits, temperature, top_k=None):
    return liar(tuple(logits.shape))


def lying_input_gradient_norms(rnn, x, loss_fn=None):
    return liar((x.shape[1],))


def lying_keep_gate_bias(rnn, value):
    for name, p in list(rnn.named_parameters()):
        rnn._parameters[name.rsplit(".", 1)[-1]] = Liar(p.detach().clone())  # the same values, in a liar
    return rnn


def lying_clip_grad_norm(parameters, max_norm):
    parameters = list(parameters)
    for p in parameters:
        if p.grad is not None:
            p.grad = Liar(torch.zeros_like(p.grad), requires_grad=False)
    return 1.0


@pytest.mark.parametrize("name, func", [
    ("00.one_hot", lying_one_hot),
    ("01.make_pairs", lying_make_pairs),
    ("01.next_char_probs", lying_next_char_probs),
    ("04.input_gradient_norms", lying_input_gradient_norms),
    ("04.keep_gate_bias", lying_keep_gate_bias),
    ("04.clip_grad_norm", lying_clip_grad_norm),
])
def test_a_lying_parameter_subclass_fails_every_check(name, func):
    result = checks.check(name, func, quiet=True, seed=0)
    assert result.status == "fail", result.line


def test_the_liar_does_lie():
    """The attack is real: compared directly, the liar equals a tensor it does not hold."""
    fake = liar((2, 3))
    assert bool((fake == torch.ones(2, 3)).all()) and torch.allclose(fake, torch.ones(2, 3))
    assert fake.tolist() == [[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
