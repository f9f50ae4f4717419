"""A character-level language model: model, batching, evaluation, checkpoints, training.

The pieces, in the order a chapter uses them::

    vocab = CharVocab.from_text(text)                      # textrnn_lab.vocab
    ids = vocab.encode(text)                               # LongTensor[N]
    train_ids, val_ids = train_val_split(ids, 0.1)         # the last 10% held out
    model = CharLM(CharLMConfig(len(vocab), cell="gru", hidden_size=256))
    history = fit(model, TBPTTData(train_ids, 32, 64), TBPTTLoss(), ...)
    score = evaluate_charlm(model, val_ids)                # nats, bits per char, perplexity
    save_charlm("austen.pt", model, vocab)                 # weights + vocabulary + hyper-parameters
    model, vocab, info = load_charlm("austen.pt")

:func:`train_charlm` does all of it in one call (the ``train-charlm`` command
uses it). Shapes are written ``[B, T, H]``: B sequences in a batch, T time
steps, H hidden units, V symbols in the vocabulary, L layers.

**Batching.** A long text is cut into B contiguous *streams* (the text is split
into B equal parts), and each batch is the next T characters of every stream.
The hidden state at the end of one batch is the start state of the next
(detached, so gradients flow back at most T steps: *truncated* back-propagation
through time). Every character is used once per pass, and the model learns to
use context longer than T, which is what it needs when it generates hundreds
of characters. The alternative, independent random windows starting from a
zero state, is simpler but only ever trains the model with at most T
characters of context, and spends the first characters of every window
predicting with almost none.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import load_checkpoint, save_checkpoint
from .errors import CourseError
from .vocab import CharVocab

CELLS = ("rnn", "gru", "lstm")
CHECKPOINT_KIND = "textrnn-lab charlm v1"
LN2 = math.log(2.0)


# =============================================================================== units


def bits_per_char(nats: float) -> float:
    """Mean negative log-likelihood in nats per character -> bits per character (divide by ln 2)."""
    return float(nats) / LN2


def perplexity(nats: float) -> float:
    """Mean negative log-likelihood in nats per character -> perplexity, ``exp(nats)``."""
    return math.exp(float(nats))


@dataclass(frozen=True)
class CharLMScore:
    """A language model's loss on a text, in the three usual units."""

    nats: float        # mean negative log-likelihood per character, natural log (= cross-entropy loss)
    bpc: float         # the same in bits per character
    perplexity: float  # exp(nats): how many equally likely characters the model hesitates between
    chars: int         # how many characters were predicted

    @classmethod
    def from_nats(cls, nats: float, chars: int) -> "CharLMScore":
        return cls(float(nats), bits_per_char(nats), perplexity(nats), int(chars))

    def __str__(self) -> str:
        return (f"{self.nats:.4f} nats/char = {self.bpc:.3f} bits/char, perplexity {self.perplexity:.2f} "
                f"({self.chars:,} characters)")


# =============================================================================== model


@dataclass
class CharLMConfig:
    """Hyper-parameters of :class:`CharLM` (saved in every checkpoint)."""

    vocab_size: int
    cell: str = "lstm"          # "rnn" (Elman, tanh), "gru" or "lstm"
    embed_dim: int = 64         # E: size of a character's embedding
    hidden_size: int = 512      # H: size of the hidden state
    num_layers: int = 1         # L: stacked recurrent layers
    dropout: float = 0.0        # between stacked layers and before the output layer
    attention: bool = False     # attend over the last `attn_window` hidden states (seed 001)
    attn_window: int = 64       # W: how many hidden states (the current one included) attention sees
    attn_dim: int = 64          # A: size of queries and keys

    def __post_init__(self):
        self.cell = str(self.cell).lower()
        if self.cell not in CELLS:
            raise CourseError(f"unknown recurrent cell {self.cell!r}.", hint=f"choose one of: {', '.join(CELLS)}")
        for name in ("vocab_size", "embed_dim", "hidden_size", "num_layers", "attn_window", "attn_dim"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CourseError(f"{name} must be a positive whole number, not {value!r}.")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise CourseError(f"dropout must be in [0, 1), not {self.dropout!r}.")
        self.dropout = float(self.dropout)
        self.attention = bool(self.attention)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "CharLMConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class CharLMState(NamedTuple):
    """What the model carries from one chunk of text to the next.

    ``rnn``: the recurrent state, ``FloatTensor[L, B, H]`` (RNN, GRU) or a pair
    ``(h, c)`` of those (LSTM). ``memory``: the last ``W - 1`` outputs of the
    recurrent layer, ``FloatTensor[B, M, H]`` with ``M <= W - 1``, which the
    attention looks back at (``None`` without attention).
    """

    rnn: Any
    memory: torch.Tensor | None = None


def detach_state(state: CharLMState | None) -> CharLMState | None:
    """The same state cut from the graph: the next chunk's gradients stop here (truncated BPTT)."""
    if state is None:
        return None
    rnn = state.rnn
    rnn = tuple(t.detach() for t in rnn) if isinstance(rnn, tuple) else rnn.detach()
    memory = state.memory.detach() if state.memory is not None else None
    return CharLMState(rnn, memory)


class PastAttention(nn.Module):
    """Scaled dot-product attention of each position over the recent hidden states.

    Position ``t`` looks at the hidden states of positions ``t - W + 1 .. t``
    (itself included, never the future), the earlier ones coming from
    ``memory`` when ``t`` is near the start of a chunk::

        keys    = [memory ; h]                      [B, S, H]   S = M + T
        q, k    = Wq h, Wk keys                     [B, T, A], [B, S, A]
        scores  = q k^T / sqrt(A), masked           [B, T, S]
        weights = softmax(scores)                   [B, T, S]   each row sums to 1
        context = weights keys                      [B, T, H]
        out     = tanh(Wc [h ; context])            [B, T, H]
    """

    def __init__(self, hidden_size: int, attn_dim: int, window: int):
        super().__init__()
        self.window = window
        self.scale = 1.0 / math.sqrt(attn_dim)
        self.query = nn.Linear(hidden_size, attn_dim, bias=False)
        self.key = nn.Linear(hidden_size, attn_dim, bias=False)
        self.combine = nn.Linear(2 * hidden_size, hidden_size)

    def forward(self, h: torch.Tensor, memory: torch.Tensor | None):
        """h: [B, T, H], memory: [B, M, H] or None -> (out [B, T, H], weights [B, T, S], memory [B, M', H])."""
        B, T, H = h.shape
        if memory is None:
            memory = h.new_zeros(B, 0, H)
        M = memory.shape[1]
        keys = torch.cat([memory, h], dim=1)                      # [B, S, H]
        q = self.query(h)                                         # [B, T, A]
        k = self.key(keys)                                        # [B, S, A]
        scores = torch.bmm(q, k.transpose(1, 2)) * self.scale     # [B, T, S]
        pos_q = torch.arange(M, M + T, device=h.device)[:, None]  # [T, 1] position of each query
        pos_k = torch.arange(M + T, device=h.device)[None, :]     # [1, S] position of each key
        visible = (pos_k <= pos_q) & (pos_k > pos_q - self.window)  # [T, S]
        scores = scores.masked_fill(~visible, float("-inf"))
        weights = torch.softmax(scores, dim=-1)                   # [B, T, S]
        context = torch.bmm(weights, keys)                        # [B, T, H]
        out = torch.tanh(self.combine(torch.cat([h, context], dim=-1)))  # [B, T, H]
        keep = self.window - 1
        new_memory = keys[:, keys.shape[1] - min(keep, keys.shape[1]):] if keep > 0 else keys[:, :0]
        return out, weights, new_memory


class CharLM(nn.Module):
    """Embedding -> recurrent layers -> (attention over past states) -> linear, one character at a time.

    ``forward(x, state)`` takes ids ``LongTensor[B, T]`` and returns logits
    ``FloatTensor[B, T, V]``, where ``logits[b, t]`` scores the character that
    follows ``x[b, t]``, and the state to pass with the next chunk.
    """

    def __init__(self, config: CharLMConfig):
        super().__init__()
        self.config = config
        c = config
        self.embed = nn.Embedding(c.vocab_size, c.embed_dim)
        rnn_class = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[c.cell]
        self.rnn = rnn_class(c.embed_dim, c.hidden_size, num_layers=c.num_layers, batch_first=True,
                             dropout=c.dropout if c.num_layers > 1 else 0.0)
        self.attention = PastAttention(c.hidden_size, c.attn_dim, c.attn_window) if c.attention else None
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.cell == "lstm":
            # forget-gate bias 1 (gates are ordered i, f, g, o): remember by default at the start
            H = c.hidden_size
            with torch.no_grad():
                for name, param in self.rnn.named_parameters():
                    if name.startswith("bias_ih"):
                        param[H:2 * H].fill_(1.0)
                    elif name.startswith("bias_hh"):
                        param[H:2 * H].fill_(0.0)

    def forward(self, x: torch.Tensor, state: CharLMState | None = None, return_attention: bool = False):
        """x: LongTensor[B, T] -> (logits [B, T, V], state) or, with ``return_attention``,
        (logits, state, weights [B, T, S]) where ``weights[b, t, s]`` is the attention paid by
        position t to key s of ``[memory ; this chunk]`` (``None`` without attention)."""
        if x.dim() != 2:
            raise CourseError(f"CharLM expects ids of shape [B, T], got {tuple(x.shape)}.")
        e = self.embed(x)                                  # [B, T, E]
        rnn_state = state.rnn if state is not None else None
        h, rnn_state = self.rnn(e, rnn_state)              # h: [B, T, H]; state [L, B, H] or (h, c)
        weights, memory = None, None
        if self.attention is not None:
            h, weights, memory = self.attention(h, state.memory if state is not None else None)
        logits = self.head(self.drop(h))                   # [B, T, V]
        new_state = CharLMState(rnn_state, memory)
        if return_attention:
            return logits, new_state, weights
        return logits, new_state

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


# =============================================================================== batching


def train_val_split(ids: torch.Tensor, val_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """ids: LongTensor[N] -> (train [N - n], val [n]) with n = round(N * val_fraction).

    The held-out part is the *end* of the text, one contiguous piece: random
    windows would overlap training windows and leak text into the validation set.
    """
    if not 0.0 < val_fraction < 1.0:
        raise CourseError(f"val_fraction must be between 0 and 1, not {val_fraction!r}.")
    n_val = int(round(len(ids) * val_fraction))
    if n_val < 2 or len(ids) - n_val < 2:
        raise CourseError(f"a text of {len(ids)} characters is too short to split into training and validation.",
                          hint="use a longer text.")
    return ids[: len(ids) - n_val], ids[len(ids) - n_val:]


def input_target_pairs(ids: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
    """ids: LongTensor[N] -> (x, y), both LongTensor[n, seq_len] with n = (N - 1) // seq_len.

    Window i is ``x[i] = ids[i*T : (i+1)*T]`` and its target is the same window
    shifted by one character, ``y[i] = ids[i*T + 1 : (i+1)*T + 1]``: at every
    position the model is asked for the character that comes next.
    """
    n = (len(ids) - 1) // seq_len
    x = ids[: n * seq_len].reshape(n, seq_len)
    y = ids[1: n * seq_len + 1].reshape(n, seq_len)
    return x, y


def random_windows(ids: torch.Tensor, batch_size: int, seq_len: int, num_batches: int,
                   generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The alternative to streams: ``num_batches`` batches of independent windows at random places.

    Yields (x, y), LongTensor[B, T] each, y shifted by one. No state carries over.
    """
    if len(ids) < seq_len + 1:
        raise CourseError(f"the text ({len(ids)} characters) is shorter than one window of {seq_len + 1}.")
    offsets = torch.arange(seq_len)
    for _ in range(num_batches):
        starts = torch.randint(0, len(ids) - seq_len, (batch_size,), generator=generator)
        index = starts[:, None] + offsets[None, :]   # [B, T]
        yield ids[index], ids[index + 1]


class StreamBatches:
    """One pass over ``ids`` as B contiguous streams, T characters at a time (for truncated BPTT).

    The text (after skipping ``offset`` characters) is split into B equal
    streams of n characters; batch k is ``(x, y, reset)`` with ``x = streams[:,
    kT:(k+1)T]`` (``LongTensor[B, T]``), ``y`` the same shifted by one character,
    and ``reset`` True for the first batch only (start from a zero state).
    With ``drop_last`` a shorter final chunk is left out. If the text is too
    short for ``batch_size`` streams of ``seq_len`` characters, fewer streams
    are used (``self.batch_size`` says how many).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, offset: int = 0, drop_last: bool = True):
        usable = len(ids) - 1 - offset
        if usable < 1:
            raise CourseError(f"the text ({len(ids)} characters) is too short for even one training pair.")
        B = max(1, min(batch_size, usable // seq_len))
        n = usable // B
        self.batch_size, self.seq_len, self.stream_len, self.drop_last = B, seq_len, n, drop_last
        self.x = ids[offset: offset + B * n].reshape(B, n)          # [B, n]
        self.y = ids[offset + 1: offset + 1 + B * n].reshape(B, n)  # [B, n]

    def __len__(self) -> int:
        full, rest = divmod(self.stream_len, self.seq_len)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, bool]]:
        for k in range(len(self)):
            s = k * self.seq_len
            yield self.x[:, s: s + self.seq_len], self.y[:, s: s + self.seq_len], k == 0

    @property
    def chars(self) -> int:
        """Characters predicted in one pass."""
        if self.drop_last:
            return self.batch_size * (self.stream_len // self.seq_len) * self.seq_len
        return self.batch_size * self.stream_len


class _Chunk:
    """A finite run of batches with a length (for the progress bar)."""

    def __init__(self, source: Iterator, length: int):
        self.source, self.length = source, length

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        for _ in range(self.length):
            yield next(self.source)


class _TimedChunk:
    """Batches from ``source`` until ``seconds`` have passed since iteration began."""

    def __init__(self, source: Iterator, seconds: float):
        self.source, self.seconds = source, seconds

    def __iter__(self):
        start = time.perf_counter()
        while time.perf_counter() - start < self.seconds:
            yield next(self.source)


class TBPTTData:
    """``train_data`` for :func:`~textrnn_lab.training.fit`: a callable ``epoch -> batches``.

    Streams go on from one call to the next, so an "epoch" of ``fit`` may be a
    whole pass over the text (default), a number of steps (``steps_per_epoch``)
    or a stretch of time (``seconds_per_epoch``, for a time budget with a
    validation point every so often). Each new pass starts at a random offset
    below ``seq_len``, so the chunk boundaries move from pass to pass. With
    ``threads`` (an :class:`AdaptiveThreads`), the CPU thread count is tuned
    while the batches are consumed.
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, *, steps_per_epoch: int | None = None,
                 seconds_per_epoch: float | None = None, seed: int = 0, threads: "AdaptiveThreads | None" = None):
        self.ids, self.batch_size, self.seq_len = ids, batch_size, seq_len
        self.threads = threads
        self.steps_per_epoch, self.seconds_per_epoch = steps_per_epoch, seconds_per_epoch
        self.generator = torch.Generator().manual_seed(seed)
        self.passes = 0
        first = StreamBatches(ids, batch_size, seq_len)  # raises now if the text is too short
        if len(first) == 0:
            raise CourseError(f"the training text ({len(ids)} characters) is shorter than one window of "
                              f"{seq_len + 1} characters.", hint="use a longer text or a shorter sequence length.")
        self.steps_per_pass = len(first)
        self.batch_size = first.batch_size  # fewer streams than asked for when the text is short
        self._stream: Iterator | None = None

    def _new_pass(self) -> StreamBatches:
        offset = 0
        if self.passes > 0:
            offset = int(torch.randint(0, self.seq_len, (1,), generator=self.generator))
        self.passes += 1
        batches = StreamBatches(self.ids, self.batch_size, self.seq_len, offset=offset)
        if len(batches) == 0:  # an offset left too little text: start at 0
            batches = StreamBatches(self.ids, self.batch_size, self.seq_len)
        return batches

    @property
    def _endless(self) -> Iterator:
        """One endless run of passes, shared by the calls that cut it into epochs."""
        if self._stream is None:
            def passes():
                while True:
                    yield from self._new_pass()

            self._stream = self.threads.wrap(passes()) if self.threads is not None else passes()
        return self._stream

    def __call__(self, epoch: int):
        if self.seconds_per_epoch is not None:
            return _TimedChunk(self._endless, self.seconds_per_epoch)
        if self.steps_per_epoch is not None:
            return _Chunk(self._endless, self.steps_per_epoch)
        if self.threads is not None:
            return _Chunk(self._endless, self.steps_per_pass)
        return self._new_pass()


class TBPTTLoss:
    """``loss_fn`` for :func:`~textrnn_lab.training.fit` that carries the hidden state between batches.

    A batch is ``(x, y, reset)`` as made by :class:`StreamBatches`. The state
    after a batch (detached) starts the next one, unless ``reset`` is True.
    Training and evaluation (``model.training``) keep separate states. The loss
    is the mean cross-entropy per character, in nats.
    """

    def __init__(self):
        self.state: dict[bool, CharLMState | None] = {True: None, False: None}

    def __call__(self, model: nn.Module, batch) -> torch.Tensor:
        x, y = batch[0], batch[1]
        reset = bool(batch[2]) if len(batch) > 2 else True
        mode = model.training
        state = None if reset else self.state[mode]
        if state is not None and _state_batch(state) != x.shape[0]:
            state = None
        logits, new_state = model(x, state)                           # [B, T, V]
        self.state[mode] = detach_state(new_state)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def _state_batch(state: CharLMState) -> int:
    h = state.rnn[0] if isinstance(state.rnn, tuple) else state.rnn
    return int(h.shape[1])


# =============================================================================== evaluation


@torch.no_grad()
def evaluate_charlm(model: CharLM, ids: torch.Tensor, batch_size: int = 32, seq_len: int = 256,
                    device: str | torch.device | None = None) -> CharLMScore:
    """The mean loss of ``model`` on every character of ``ids`` (but the first of each stream).

    The text is read as contiguous streams with the state carried over, as the
    model reads text when it generates. Returns a :class:`CharLMScore`.
    """
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    state = None
    try:
        for x, y, reset in StreamBatches(ids, batch_size, seq_len, drop_last=False):
            x, y = x.to(device), y.to(device)
            logits, state = model(x, None if reset else state)
            total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), y.reshape(-1),
                                           reduction="sum"))
            count += y.numel()
    finally:
        model.train(was_training)
    return CharLMScore.from_nats(total / count, count)


# =============================================================================== learning rate


class BudgetSchedule:
    """Learning rate with a linear warm-up, then a cosine decay that ends with the budget.

    The budget is a number of steps, a number of seconds, or both (whichever
    runs out first): progress is ``max(step / max_steps, elapsed / max_seconds)``,
    so a time-limited run still anneals its learning rate to
    ``final_fraction`` of the peak just as the time runs out. ``step()`` is
    called once per optimizer step (``fit`` does it).
    """

    def __init__(self, optimizer: torch.optim.Optimizer, *, max_steps: int | None = None,
                 max_seconds: float | None = None, warmup_steps: int = 50, final_fraction: float = 0.05):
        if max_steps is None and max_seconds is None:
            raise CourseError("BudgetSchedule needs max_steps or max_seconds.")
        self.optimizer = optimizer
        self.max_steps, self.max_seconds = max_steps, max_seconds
        self.warmup_steps, self.final_fraction = max(0, int(warmup_steps)), float(final_fraction)
        self.base_lrs = [group["lr"] for group in optimizer.param_groups]
        self.steps = 0
        self.elapsed_before = 0.0   # seconds spent in earlier runs (when resumed)
        self._started: float | None = None
        self._apply()

    def elapsed(self) -> float:
        running = time.perf_counter() - self._started if self._started is not None else 0.0
        return self.elapsed_before + running

    def progress(self) -> float:
        parts = []
        if self.max_steps:
            parts.append(self.steps / self.max_steps)
        if self.max_seconds:
            parts.append(self.elapsed() / self.max_seconds)
        return min(1.0, max(parts))

    def factor(self) -> float:
        if self.steps < self.warmup_steps:
            return (self.steps + 1) / self.warmup_steps
        cosine = 0.5 * (1.0 + math.cos(math.pi * self.progress()))
        return self.final_fraction + (1.0 - self.final_fraction) * cosine

    def _apply(self) -> None:
        f = self.factor()
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def step(self) -> None:
        if self._started is None:
            self._started = time.perf_counter()
        self.steps += 1
        self._apply()

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "elapsed": self.elapsed(), "base_lrs": self.base_lrs}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.steps = int(state["steps"])
        self.elapsed_before = float(state["elapsed"])
        self.base_lrs = list(state["base_lrs"])
        self._started = None
        self._apply()


# =============================================================================== CPU threads


def probe_threads(model: CharLM, x: torch.Tensor, y: torch.Tensor, candidates: list[int] | None = None,
                  repeats: int = 3, margin: float = 0.8) -> tuple[int, dict[int, float]]:
    """Time a forward and backward pass on ``(x, y)`` with each thread count; keep the best.

    On a machine whose cores are shared with other work, each of a recurrent
    network's many small matrix products waits for the slowest thread, so all
    cores can be several times slower than one; on an idle machine all cores
    win. The median of ``repeats`` passes is compared, and more threads are
    kept only when they take at most ``margin`` times as long as one (a
    wrong "more threads" costs far more than a wrong "one thread"). Returns
    ``(threads, {threads: seconds per pass})`` and leaves PyTorch set to
    ``threads``. Gradients are cleared afterwards, so training is unaffected.
    """
    cores = os.cpu_count() or 1
    candidates = sorted(set(candidates or [1, cores]))
    timings: dict[int, float] = {}
    for threads in candidates:
        torch.set_num_threads(threads)
        times: list[float] = []
        for i in range(repeats + 1):
            start = time.perf_counter()
            logits, _ = model(x)
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).backward()
            if i > 0:  # the first pass warms up
                times.append(time.perf_counter() - start)
            if timings and times and min(times) > 2 * min(timings.values()):
                break  # clearly slower already: a loaded machine must not make the probe itself slow
        times.sort()
        timings[threads] = times[len(times) // 2] if times else float("inf")
    model.zero_grad(set_to_none=True)
    choice = candidates[0]
    for threads in candidates[1:]:
        if timings[threads] <= margin * timings[choice]:
            choice = threads
    torch.set_num_threads(choice)
    return choice, timings


class AdaptiveThreads:
    """Choose between one CPU thread and all of them while training, by the measured step time.

    ``wrap(batches)`` passes the batches through unchanged and times how long
    the consumer (the training loop) spends on each one. Every
    ``period_seconds`` it tries the other thread count for ``trial_steps``
    steps and keeps it if its median step time is below ``margin`` times the
    current one; a trial step twice as slow as usual ends the trial at once, so
    trying costs little even when the machine is busy. ``changes`` lists
    ``(step, threads)`` for every change. Useful where the cores are shared
    (a course server, a laptop running other things); on a dedicated machine
    it settles on all cores and stays there.
    """

    def __init__(self, candidates: list[int] | None = None, period_seconds: float = 10.0, trial_steps: int = 6,
                 margin: float = 0.85):
        cores = os.cpu_count() or 1
        self.candidates = sorted(set(candidates or [1, cores]))
        self.period_seconds, self.trial_steps, self.margin = period_seconds, trial_steps, margin
        current = torch.get_num_threads()
        self.current = current if current in self.candidates else self.candidates[-1]
        self.changes: list[tuple[int, int]] = []
        self.steps = 0

    @staticmethod
    def _median(values) -> float:
        ordered = sorted(values)
        return ordered[len(ordered) // 2]

    def wrap(self, batches):
        if len(self.candidates) < 2:
            yield from batches
            return
        from collections import deque

        torch.set_num_threads(self.current)
        recent: deque = deque(maxlen=25)     # step times with self.current
        trial: int | None = None             # the thread count on trial, if any
        trial_times: list[float] = []
        phase_start = time.perf_counter()
        try:
            for batch in batches:
                start = time.perf_counter()
                yield batch
                now = time.perf_counter()
                dt = now - start                 # what the training loop spent on this batch
                self.steps += 1
                if trial is None:
                    recent.append(dt)
                    if now - phase_start >= self.period_seconds and len(recent) >= 5:
                        others = [c for c in self.candidates if c != self.current]
                        trial = others[(self.steps // 7) % len(others)]
                        trial_times = []
                        torch.set_num_threads(trial)
                    continue
                trial_times.append(dt)
                base = self._median(recent)
                too_slow = dt > (5 if len(trial_times) == 1 else 2) * base  # the first step may warm up
                if too_slow or len(trial_times) > self.trial_steps:
                    if not too_slow and self._median(trial_times[1:]) < self.margin * base:
                        self.current = trial
                        self.changes.append((self.steps, trial))
                        recent.clear()
                    torch.set_num_threads(self.current)
                    trial = None
                    phase_start = time.perf_counter()
        finally:  # a trial may be running when the batches stop
            torch.set_num_threads(self.current)


# =============================================================================== checkpoints


def charlm_extra(model: CharLM, vocab: CharVocab, **info: Any) -> dict[str, Any]:
    """What a checkpoint needs besides the weights: kind, hyper-parameters, vocabulary, and ``info``."""
    if len(vocab) != model.config.vocab_size:
        raise CourseError(f"the vocabulary has {len(vocab)} symbols but the model expects {model.config.vocab_size}.")
    return {"kind": CHECKPOINT_KIND, "config": model.config.to_dict(), "vocab": vocab.to_dict(), **info}


def save_charlm(path: str | Path, model: CharLM, vocab: CharVocab, *, history: Any = None, **info: Any) -> Path:
    """Save weights, vocabulary and hyper-parameters in one file (atomically); return its path.

    ``info`` (training settings, validation scores ...) is stored beside them.
    The file has the layout of :func:`~textrnn_lab.training.fit` checkpoints
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
                          hint="give a file written by `textrnn-lab train-charlm` (or textrnn_lab.charlm.save_charlm).")
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


# =============================================================================== corpus and training


def load_corpus(name_or_path: str | Path) -> str:
    """Text to train on: ``"austen"`` or ``"mobydick"`` (shipped), a file path, or a hub name
    such as ``"pushkin"`` (only when the hub can be reached; offline a clear error)."""
    from .data import is_hub_name, load_dataset, load_text, read_text_file
    from .data.registry import canonical_name

    name = str(name_or_path)
    if canonical_name(name) in ("austen", "mobydick"):
        return load_text(name)
    if Path(name).expanduser().exists() or not is_hub_name(name):
        return read_text_file(name)
    data = load_dataset(name)
    split = data["train"] if hasattr(data, "keys") and "train" in data.keys() else data
    column = "text" if "text" in split.column_names else split.column_names[0]
    return "\n".join(str(t) for t in split[column])


def min_text_chars(seq_len: int, val_fraction: float = 0.1) -> int:
    """The shortest text that leaves one training window of ``seq_len + 1`` characters after the split."""
    return int(math.ceil((seq_len + 1) / (1.0 - val_fraction))) + 2


@torch.no_grad()
def _estimate_eval_seconds(model: CharLM, ids: torch.Tensor, batch_size: int, seq_len: int, device) -> float:
    """How long :func:`evaluate_charlm` will take on ``ids``: one batch timed, times the number of batches."""
    batches = StreamBatches(ids, batch_size, seq_len, drop_last=False)
    x = next(iter(batches))[0].to(device)
    was_training = model.training
    model.eval()
    seconds = float("inf")
    for _ in range(2):  # the first call also pays for warming up
        start = time.perf_counter()
        model(x)
        seconds = min(seconds, time.perf_counter() - start)
    model.train(was_training)
    return seconds * len(batches)


@dataclass
class TrainedCharLM:
    """What :func:`train_charlm` returns."""

    model: CharLM
    vocab: CharVocab
    history: Any
    val: CharLMScore
    steps: int
    seconds: float
    chars_per_second: float
    settings: dict[str, Any] = field(default_factory=dict)
    checkpoint: Path | None = None


def train_charlm(text: str, *, cell: str = "gru", hidden_size: int = 256, num_layers: int = 1,
                 embed_dim: int = 64, dropout: float = 0.0, attention: bool = False, attn_window: int = 64,
                 seq_len: int = 64, batch_size: int = 32, lr: float = 6e-3, weight_decay: float = 0.0,
                 max_steps: int | None = None, max_seconds: float | None = None, evals: int = 10,
                 warmup_steps: int = 50, clip_grad_norm: float | None = 1.0, val_fraction: float = 0.1,
                 device: str | torch.device = "auto", seed: int = 0, checkpoint: str | Path | None = None,
                 progress: bool = True, vocab: CharVocab | None = None, source: str | None = None,
                 threads: int | str | None = None, log: Callable[[str], None] | None = None,
                 include_final_eval: bool = False) -> TrainedCharLM:
    """Train a character language model on ``text`` within a step or time budget.

    The last ``val_fraction`` of the text is held out; the model is evaluated on
    part of it ``evals`` times during training (the learning curve) and on all
    of it at the end (``result.val``). The learning rate warms up, then decays
    to the end of the budget (:class:`BudgetSchedule`). With ``checkpoint`` the
    weights, vocabulary and settings are saved there after every evaluation and
    at the end. ``threads``: CPU threads for PyTorch; ``"auto"`` times one and
    all cores before training and after every evaluation and keeps the faster
    (see :func:`probe_threads`). ``log``, if given, receives one line per evaluation.
    With ``include_final_eval``, ``max_seconds`` also covers the final evaluation
    (its duration is estimated from one batch before training starts).
    """
    from .device import get_device
    from .seeding import seed_everything
    from .training import fit

    entered = time.perf_counter()
    if max_steps is None and max_seconds is None:
        raise CourseError("give a budget: max_steps or max_seconds.")
    device = get_device(device) if not isinstance(device, torch.device) else device
    seed_everything(seed)
    if len(text) < min_text_chars(seq_len, val_fraction):
        raise CourseError(
            f"the text is too short: {len(text):,} characters; one training window is {seq_len + 1} characters "
            f"and {val_fraction:.0%} is held out, so at least {min_text_chars(seq_len, val_fraction):,} are needed.",
            hint="use a longer text, or a shorter window (--seq-len).")
    vocab = vocab or CharVocab.from_text(text)
    ids = vocab.encode(text)
    train_ids, val_ids = train_val_split(ids, val_fraction)
    config = CharLMConfig(len(vocab), cell=cell, embed_dim=embed_dim, hidden_size=hidden_size,
                          num_layers=num_layers, dropout=dropout, attention=attention, attn_window=attn_window)
    model = CharLM(config).to(device)
    settings = {"seq_len": seq_len, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "max_steps": max_steps, "max_seconds": max_seconds, "val_fraction": val_fraction, "seed": seed,
                "source": source, "train_chars": len(train_ids), "val_chars": len(val_ids)}

    evals = max(1, int(evals))
    if max_steps is not None:
        data = TBPTTData(train_ids, batch_size, seq_len, steps_per_epoch=max(1, -(-max_steps // evals)), seed=seed)
    else:
        data = TBPTTData(train_ids, batch_size, seq_len, seconds_per_epoch=max_seconds / evals, seed=seed)
    # the learning curve uses up to ~64k held-out characters (quick); the final score uses all of them
    curve_ids = val_ids[: max(seq_len + 2, 65536)]
    val_batches = StreamBatches(curve_ids, batch_size, seq_len, drop_last=len(curve_ids) > batch_size * seq_len)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99))
    schedule = BudgetSchedule(optimizer, max_steps=max_steps, max_seconds=max_seconds,
                              warmup_steps=min(warmup_steps, max(1, (max_steps or 10**9) // 10)))
    extra = charlm_extra(model, vocab, settings=settings)
    tuner = None
    if threads == "auto" and device.type == "cpu":
        probe_x, probe_y, _ = next(iter(StreamBatches(train_ids, batch_size, min(seq_len, 16))))
        probe_threads(model, probe_x.to(device), probe_y.to(device))  # a starting point
        tuner = data.threads = AdaptiveThreads()
    elif isinstance(threads, int) and not isinstance(threads, bool):
        torch.set_num_threads(threads)

    eval_seq = max(seq_len, 256)
    if include_final_eval and max_seconds is not None:
        # keep back time for what follows the last training step: the last point of the learning
        # curve, the final evaluation on all held-out text, and saving
        reserve = _estimate_eval_seconds(model, val_ids, batch_size, eval_seq, device)
        reserve += _estimate_eval_seconds(model, curve_ids, batch_size, seq_len, device)
        spent = time.perf_counter() - entered  # preparing the data, timing the threads
        max_seconds = max(1.0, max_seconds - spent - reserve - 0.3)
        data.seconds_per_epoch = max_seconds / evals
        schedule.max_seconds = max_seconds

    def on_epoch_end(epoch: int, row: dict, m: nn.Module) -> dict:
        more = {"val_bpc": bits_per_char(row["val_loss"]), "train_bpc": bits_per_char(row["train_loss"]),
                "threads": torch.get_num_threads()}
        if log is not None:
            log(f"epoch {epoch}: step {row['step']}, train_loss={row['train_loss']:.4f}, "
                f"val_loss={row['val_loss']:.4f} ({more['val_bpc']:.3f} bits/char), lr={row['lr']:.2e}, "
                f"{more['threads']} thread(s), {row['seconds']:.1f} s")
        return more

    started = time.perf_counter()
    history = fit(model, data, TBPTTLoss(), optimizer=optimizer, epochs=evals,
                  val_data=val_batches, device=device, clip_grad_norm=clip_grad_norm, scheduler=schedule,
                  checkpoint=checkpoint, extra_state=extra, max_steps=max_steps, max_seconds=max_seconds,
                  progress=progress, log_every=10, on_epoch_end=on_epoch_end)
    seconds = time.perf_counter() - started
    steps = int(history.last.get("step", 0))
    val = evaluate_charlm(model, val_ids, batch_size=batch_size, seq_len=eval_seq, device=device)
    settings["final_eval_seconds"] = time.perf_counter() - started - seconds
    if tuner is not None:
        settings["thread_changes"] = tuner.changes
    result = TrainedCharLM(model=model.eval(), vocab=vocab, history=history, val=val, steps=steps, seconds=seconds,
                           chars_per_second=steps * data.batch_size * seq_len / max(seconds, 1e-9),
                           settings=settings)
    if checkpoint is not None:
        result.checkpoint = save_charlm(checkpoint, model, vocab, history=history, settings=settings,
                                        val={"nats": val.nats, "bpc": val.bpc, "perplexity": val.perplexity},
                                        steps=steps, seconds=seconds)
    return result
