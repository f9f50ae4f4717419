"""Import TensorFlow, Keras and transformers without their start-up noise.

The environment variables must be set *before* the libraries are imported, so
every module of the course imports them through these functions. Values the
user already set are respected.
"""
from __future__ import annotations

import importlib
import logging
import os
import warnings

QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def quiet_environment() -> None:
    """Set the environment defaults that silence TensorFlow and transformers."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


def import_transformers():
    """Return the ``transformers`` module, imported quietly."""
    quiet_environment()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transformers = importlib.import_module("transformers")
    transformers.logging.set_verbosity_error()
    try:
        transformers.utils.logging.disable_progress_bar()
    except AttributeError:  # pragma: no cover - older versions
        pass
    return transformers


def import_keras(backend: str | None = None):
    """Return ``keras`` (Keras 3), imported quietly.

    ``backend`` ("tensorflow", "torch", "jax") is only honoured before Keras is
    first imported; the ``KERAS_BACKEND`` environment variable wins otherwise.
    """
    quiet_environment()
    if backend:
        os.environ.setdefault("KERAS_BACKEND", backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        keras = importlib.import_module("keras")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    return keras


def import_tensorflow():
    """Return ``tensorflow``, imported quietly."""
    quiet_environment()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf = importlib.import_module("tensorflow")
    tf.get_logger().setLevel(logging.ERROR)
    return tf
