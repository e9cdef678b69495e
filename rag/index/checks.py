"""Content checks of the lexical index made when it is loaded, with no hashing: the CSR arrays must
be well formed and every weight finite and within the largest value BM25 can give. Random bytes in
`indptr.npy`, `indices.npy` or `weights.npy` fail them (a 4 KB patch of random floats passes with
probability ~2^-1000); a subtle edit that stays in range is left to `rag index status --verify`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from rag.index.integrity import damaged


def weight_bound(n_docs: int, *, k1: float, epsilon: float) -> float:
    """|idf| <= log(2N + 2) for both idf variants (okapi's floor is epsilon x a mean idf), and the
    term-frequency part tf (k1 + 1) / (tf + norm) is below k1 + 1."""
    return (k1 + 1) * max(1.0, epsilon) * math.log(2 * n_docs + 2) * (1 + 1e-4)


def check_lexical(bm25, folder: Path, *, full: bool) -> None:  # bm25: rag.bm25.BM25Index
    """Refuse malformed arrays, naming the file; `full` False (memory-mapped) checks indptr only."""
    indptr, indices, weights = bm25.indptr, bm25.indices, bm25.weights
    if len(indptr) == 0 or indptr[0] != 0 or indptr[-1] != len(indices) or np.any(np.diff(indptr) < 0):
        raise damaged(folder, "bm25/indptr.npy", "row offsets out of order or out of range")
    if not full or not len(indices):
        return
    if indices.min() < 0 or indices.max() >= bm25.n_docs:
        raise damaged(folder, "bm25/indices.npy", "passage rows out of range")
    bound = weight_bound(bm25.n_docs, k1=bm25.settings.k1, epsilon=bm25.settings.epsilon)
    if not np.all(np.isfinite(weights)) or float(np.abs(weights).max()) > bound:
        raise damaged(folder, "bm25/weights.npy", f"weights not finite or above the largest BM25 weight {bound:.3g}")
