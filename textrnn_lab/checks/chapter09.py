"""Checks for chapter 09 (the BERT-LSTM challenge).

* ``09.last_real_state``: ``f(outputs [B, T, H], mask [B, T]) -> [B, H]``, each row's output at its last real
  token of a right-padded batch (the fix of ``outputs[:, -1, :]``);
* ``09.right_pad``: ``f(pieces) -> (states [B, T, E], mask [B, T])``, sequences of different lengths as one
  right-padded batch and its attention mask.

The references are bound as default arguments when this module is imported, so
patching ``textrnn_lab.transfer`` later changes nothing.
"""
from __future__ import annotations

import torch

from ..transfer.encoder_rnn import last_real_position as _ref_last_real_position
from ..transfer.encoder_rnn import right_pad as _ref_right_pad
from . import CheckFailed, register
from .compare import expect_callable, expect_tensor, plain

# --------------------------------------------------------------------------- the last real position


def _padded_case(rng, case: int):
    """(outputs [B, T, H], mask [B, T], description) for one case: right padding, rows of different lengths."""
    if case == 0:
        lengths, hidden = [4, 2, 1], 3       # a full row, a half row, a single token
    elif case == 1:
        lengths, hidden = [1, 5], 2
    elif case == 2:
        lengths, hidden = [3], 4             # one text, no padding
    else:
        batch = int(rng.integers(1, 7))
        lengths = [int(n) for n in rng.integers(1, 11, size=batch)]
        hidden = int(rng.integers(1, 6))
    steps = max(lengths) + (int(rng.integers(0, 3)) if case >= 3 else 0)   # sometimes padded past the longest
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
    outputs = torch.randn(len(lengths), steps, hidden, generator=gen)      # [B, T, H]
    mask = torch.zeros(len(lengths), steps, dtype=torch.long)              # [B, T]
    for row, n in enumerate(lengths):
        mask[row, :n] = 1
    kind = case % 3 if case >= 3 else 0
    if kind == 1:
        mask = mask.bool()
    elif kind == 2:
        mask = mask.float()
    return outputs, mask, lengths


@register(
    "09.last_real_state",
    hints={
        "padding": ("in a right-padded batch the last positions of a shorter row are padding: its summary is where "
                    "its real tokens end, not at the end of the tensor",
                    "count each row's real tokens from the mask (ones are real, zeros padding); the last real "
                    "token sits one position before that count, and each row needs the output at its own position"),
        "shape": ("one vector per text: the result has shape [B, H]",
                  "pick one time step per row, so the time dimension disappears while the batch and hidden "
                  "dimensions stay"),
        "*": ("each row of the batch has its own last real token, found from the attention mask (1 for a real "
              "token, 0 for padding)",
              "the number of ones in a row of the mask is that row's length; for every row take the output vector "
              "at position length minus one; the mask may come as integers, booleans or floats"),
    },
    cases=20,
    forbidden=("textrnn_lab.transfer.encoder_rnn.last_real_position",
               "textrnn_lab.transfer.encoder_rnn.last_real_index", "torch.nn.utils.rnn.pack_padded_sequence"),
)
def _check_last_real_state(func, rng, cases, _reference=_ref_last_real_position, _equal=torch.equal):
    expect_callable(func, "last_real_state(outputs, mask)")
    for case in range(cases):
        outputs, mask, lengths = _padded_case(rng, case)
        expected = _reference(outputs, mask)                               # [B, H]
        given_outputs, given_mask = outputs.clone(), mask.clone()
        got = func(given_outputs, given_mask)
        context = (f"last_real_state(outputs of shape {tuple(outputs.shape)}, a {mask.dtype} mask with row "
                   f"lengths {lengths})")
        if not (_equal(given_outputs, outputs) and _equal(given_mask, mask)):
            raise CheckFailed(f"{context}: your function changed its inputs; read them, do not write into them.")
        if isinstance(got, torch.Tensor):
            got = plain(got)
            if tuple(got.shape) != tuple(expected.shape):
                raise CheckFailed(f"{context}: expected shape {tuple(expected.shape)} (one vector per text), got "
                                  f"{tuple(got.shape)}.", kind="shape")
            if got.dtype == expected.dtype:
                for row, n in enumerate(lengths):
                    if n < outputs.shape[1] and _equal(got[row], outputs[row, -1]) \
                            and not _equal(got[row], expected[row]):
                        raise CheckFailed(f"{context}: row {row} has {n} real token(s) of {outputs.shape[1]}, and "
                                          f"you returned its output at position {outputs.shape[1] - 1}, a padding "
                                          f"position (the bug of reading the last column).", kind="padding")
        expect_tensor(got, expected, context=context)


# --------------------------------------------------------------------------- right padding


def _pieces_case(rng, case: int) -> list[torch.Tensor]:
    if case == 0:
        lengths, dim = [3, 1, 2], 2
    elif case == 1:
        lengths, dim = [2], 3                # one sequence: nothing to pad
    elif case == 2:
        lengths, dim = [1, 4], 1
    else:
        lengths = [int(n) for n in rng.integers(1, 9, size=int(rng.integers(1, 6)))]
        dim = int(rng.integers(1, 5))
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**31 - 1)))
    dtype = torch.float64 if case % 5 == 4 else torch.float32
    return [torch.randn(n, dim, generator=gen, dtype=dtype) for n in lengths]


@register(
    "09.right_pad",
    hints={
        "side": ("the padding goes AFTER each sequence (right padding): its tokens start at position 0",
                 "copy sequence b into the first T_b positions of row b and leave the rest at zero"),
        "mask": ("the mask marks the real tokens with 1 and the padding with 0",
                 "row b of the mask has T_b ones followed by zeros, as a tokenizer's attention mask does"),
        "shape": ("one row per sequence, as long as the longest sequence: states [B, T, E] and mask [B, T]",
                  "T is the largest of the sequence lengths, B the number of sequences, E their feature size"),
        "*": ("a batch is one rectangular tensor: shorter sequences are filled up with zeros to the longest one, "
              "and a mask says which positions are real",
              "start from zeros of shape [B, T, E] in the sequences' dtype and an integer mask of zeros [B, T]; for "
              "each row copy its sequence to the front and set its first T_b mask entries to 1"),
    },
    cases=20,
    forbidden=("textrnn_lab.transfer.encoder_rnn.right_pad", "torch.nn.utils.rnn.pad_sequence",
               "torch.nn.utils.rnn.pack_sequence", "torch.nn.utils.rnn.pad_packed_sequence"),
)
def _check_right_pad(func, rng, cases, _reference=_ref_right_pad, _equal=torch.equal):
    expect_callable(func, "right_pad(pieces)")
    for case in range(cases):
        pieces = _pieces_case(rng, case)
        want_states, want_mask = _reference(pieces)                        # [B, T, E], [B, T]
        given = [p.clone() for p in pieces]
        got = func(given)
        lengths = [int(p.shape[0]) for p in pieces]
        context = f"right_pad({len(pieces)} sequence(s) of lengths {lengths} and {pieces[0].shape[1]} features)"
        if any(not _equal(g, p) for g, p in zip(given, pieces)) or len(given) != len(pieces):
            raise CheckFailed(f"{context}: your function changed the list or the sequences it was given.")
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise CheckFailed(f"{context}: expected a pair (states, mask).", kind="type")
        states, mask = got
        if not isinstance(states, torch.Tensor) or not isinstance(mask, torch.Tensor):
            raise CheckFailed(f"{context}: expected two tensors (states, mask).", kind="type")
        states, mask = plain(states), plain(mask)
        if tuple(states.shape) != tuple(want_states.shape) or tuple(mask.shape) != tuple(want_mask.shape):
            raise CheckFailed(f"{context}: expected states {tuple(want_states.shape)} and mask "
                              f"{tuple(want_mask.shape)}, got {tuple(states.shape)} and {tuple(mask.shape)}.",
                              kind="shape")
        as_long = mask.long()
        if _equal(as_long, 1 - want_mask):
            raise CheckFailed(f"{context}: your mask is 1 on the padding and 0 on the tokens; it is the other way.",
                              kind="mask")
        steps = want_mask.shape[1]
        left = torch.stack([torch.cat([torch.zeros(steps - n, dtype=torch.long), torch.ones(n, dtype=torch.long)])
                            for n in lengths])
        if steps > min(lengths) and _equal(as_long, left):
            raise CheckFailed(f"{context}: you padded on the left (the zeros come first); here the padding goes "
                              f"after each sequence.", kind="side")
        if not _equal(as_long, want_mask):
            raise CheckFailed(f"{context}: the mask differs from the one expected (row lengths {lengths}).",
                              kind="mask")
        expect_tensor(states, want_states, context=f"{context}, states")
