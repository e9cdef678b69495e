"""BM25 with rank_bm25's BM25Okapi semantics (or Lucene's), scored from a precomputed sparse matrix.

At build time every (term, passage) weight  idf(t) * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))
is computed once and stored term-major (CSR: one row of passage ids and weights per term). A query
then touches only the rows of its own terms — no per-query loop over all passages (the bm25s idea).

idf variants:
- "okapi" (rank_bm25.BM25Okapi): log((N - n + 0.5) / (n + 0.5)); negative idfs are replaced by
  epsilon * mean idf over the vocabulary. Where that floor is not positive (an index of one or two
  passages: rank_bm25 then matches nothing), idfs <= 0 get epsilon * mean Lucene idf instead.
- "lucene" (Lucene/Anserini): log(1 + (N - n + 0.5) / (n + 0.5)).
Arrays are saved with numpy's .npy format (no pickle).

`top_k` on an index of JIT_MIN_PASSAGES passages or more runs a numba kernel (rag.bm25_jit) that
touches only the query's postings; below that, and for `scores`, numpy. Both give the same rows and
the same float64 scores, bit for bit (tests/test_bm25.py compares them).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import REBUILD, IndexStateError, reading

Engine = Literal["auto", "numpy", "numba"]
JIT_MIN_PASSAGES = 50_000
"""`top_k` with engine="auto" uses the numba kernel from this many passages up. Below it the numpy path
answers a query in about a millisecond or less, and importing numba plus loading the compiled kernel
(~0.3 s, once per process) would cost a one-off `rag search` more than it saves."""


class BM25Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    variant: Literal["okapi", "lucene"] = "okapi"
    k1: float = Field(default=1.5, gt=0)
    b: float = Field(default=0.75, ge=0, le=1)
    epsilon: float = Field(default=0.25, ge=0, description="okapi only: floor for negative idf, times mean idf.")
    dtype: Literal["float32", "float64"] = "float32"


class BM25Index:
    """Term-major sparse BM25 weights over passages 0..n-1."""

    def __init__(
        self,
        vocabulary: dict[str, int],
        indptr: np.ndarray,
        indices: np.ndarray,
        weights: np.ndarray,
        n_docs: int,
        settings: BM25Settings,
        *,
        engine: Engine = "auto",
    ) -> None:
        self.vocabulary = vocabulary
        self.indptr = indptr
        self.indices = indices
        self.weights = weights
        self.n_docs = n_docs
        self.settings = settings
        self.engine: Engine = engine  # top_k: "numba" kernel, "numpy", or "auto" (numba from JIT_MIN_PASSAGES up)
        self._buffers: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # numba kernel workspace, one per concurrent call
        self._postings = (np.asarray(indptr), np.asarray(indices), np.asarray(weights))  # plain arrays (not memmap) for numba
        self._checked = np.zeros(len(vocabulary), dtype=np.uint8)  # numba kernel: 1 = this term's postings were checked

    @classmethod
    def build(cls, corpus_tokens: Iterable[Sequence[str]], settings: BM25Settings) -> BM25Index:
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        tfs: list[int] = []
        lengths: list[int] = []
        for doc, tokens in enumerate(corpus_tokens):
            lengths.append(len(tokens))
            for term, tf in Counter(tokens).items():
                rows.append(vocabulary.setdefault(term, len(vocabulary)))
                cols.append(doc)
                tfs.append(tf)
        n_docs = len(lengths)
        term_ids = np.asarray(rows, dtype=np.int64)
        doc_ids = np.asarray(cols, dtype=np.int32)
        tf = np.asarray(tfs, dtype=np.float64)
        doc_len = np.asarray(lengths, dtype=np.float64)
        avgdl = float(doc_len.mean()) if n_docs else 0.0
        df = np.bincount(term_ids, minlength=len(vocabulary)).astype(np.float64)
        idf = _idf(df, n_docs, settings)
        k1, b = settings.k1, settings.b
        norm = k1 * (1 - b + b * doc_len[doc_ids] / avgdl) if avgdl > 0 else np.full_like(tf, k1)
        weights = idf[term_ids] * tf * (k1 + 1) / (tf + norm)
        order = np.lexsort((doc_ids, term_ids))
        indptr = np.zeros(len(vocabulary) + 1, dtype=np.int64)
        np.cumsum(np.bincount(term_ids, minlength=len(vocabulary)), out=indptr[1:])
        return cls(vocabulary, indptr, doc_ids[order], weights[order].astype(settings.dtype), n_docs, settings)

    def _query_terms(self, query_tokens: Sequence[str]) -> list[tuple[int, int]]:
        """(term row, count) of the query's indexed terms, in order of first occurrence."""
        vocabulary = self.vocabulary
        return [(row, count) for term, count in Counter(query_tokens).items() if (row := vocabulary.get(term)) is not None]

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Score of every passage, like rank_bm25's get_scores (repeated query terms count again)."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        for row, count in self._query_terms(query_tokens):
            start, end = self.indptr[row], self.indptr[row + 1]
            scores[self.indices[start:end]] += count * self.weights[start:end]
        return scores

    def document_frequency(self, term: str) -> int:
        """Passages that contain `term` (0 for a term the index has never seen)."""
        row = self.vocabulary.get(term)
        return 0 if row is None else int(self.indptr[row + 1] - self.indptr[row])

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(passage row, score) of the k best passages with a positive score; ties broken by row."""
        if k < 1:
            return []
        if self.engine == "numba" or (self.engine == "auto" and self.n_docs >= JIT_MIN_PASSAGES):
            return self._top_k_jit(query_tokens, k)
        return self._top_k_numpy(query_tokens, k)

    def _top_k_numpy(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        scores = self.scores(query_tokens)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            kth = np.argpartition(-scores[candidates], k - 1)[:k]
            threshold = scores[candidates[kth]].min()
            candidates = candidates[scores[candidates] >= threshold]
        order = np.lexsort((candidates, -scores[candidates]))[:k]
        return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]

    def _top_k_jit(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        from rag import bm25_jit

        terms = self._query_terms(query_tokens)
        if not terms:
            return []
        dtype = self.weights.dtype
        rows = np.array([row for row, _ in terms], dtype=np.int64)
        counts = np.array([count for _, count in terms], dtype=dtype)
        unit = float(np.finfo(dtype).eps) / 2
        if self._buffers:
            scratch, touched, values = self._buffers.pop()
        else:
            scratch, touched, values = np.zeros(self.n_docs, dtype=dtype), np.empty(0, np.int32), np.empty(0, np.float64)
        found, scores, status = bm25_jit.top_k_kernel(*self._postings, rows, counts, k, scratch, touched, values, unit, self._checked)
        if status > len(touched):  # workspace too short: nothing was done; grow it and run again
            touched, values = np.empty(max(status, 2 * len(touched)), np.int32), np.empty(max(status, 2 * len(touched)), np.float64)
            found, scores, status = bm25_jit.top_k_kernel(*self._postings, rows, counts, k, scratch, touched, values, unit, self._checked)
        if status == bm25_jit.DAMAGED:  # scratch may hold partial sums: dropped, not reused
            raise IndexStateError(f"lexical index damaged: a posting of the query's terms names a passage row outside 0..{self.n_docs - 1}; {REBUILD}")
        self._buffers.append((scratch, touched, values))  # the kernel leaves scratch all zero again
        if status == bm25_jit.NEGATIVE:  # not an index this module builds (weights >= 0): score exactly with numpy
            return self._top_k_numpy(query_tokens, k)
        return list(zip(found.tolist(), scores.tolist(), strict=True))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocabulary.json").write_text(json.dumps(self.vocabulary, ensure_ascii=False), encoding="utf-8")
        for name in ("indptr", "indices", "weights"):
            np.save(folder / f"{name}.npy", getattr(self, name), allow_pickle=False)
        (folder / "bm25.json").write_text(
            json.dumps({"n_docs": self.n_docs, "settings": self.settings.model_dump()}), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> BM25Index:
        """The index saved in `folder`; IndexStateError naming the file that is missing or damaged."""
        with reading(folder / "bm25.json", "lexical index"):
            meta = json.loads((folder / "bm25.json").read_text(encoding="utf-8"))
            n_docs, settings = int(meta["n_docs"]), BM25Settings(**meta["settings"])
        with reading(folder / "vocabulary.json", "lexical index"):
            vocabulary = json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))
        arrays = {}
        for name in ("indptr", "indices", "weights"):
            with reading(folder / f"{name}.npy", "lexical index"):
                arrays[name] = np.load(folder / f"{name}.npy", allow_pickle=False, mmap_mode="r" if mmap else None)
        if len(arrays["indptr"]) != len(vocabulary) + 1 or len(arrays["indices"]) != len(arrays["weights"]):
            raise IndexStateError(f"{folder}: lexical index arrays disagree in size; {REBUILD}")
        return cls(vocabulary, arrays["indptr"], arrays["indices"], arrays["weights"], n_docs, settings)


def _idf(df: np.ndarray, n_docs: int, settings: BM25Settings) -> np.ndarray:
    lucene = np.log(1.0 + (n_docs - df + 0.5) / (df + 0.5))
    if settings.variant == "lucene":
        return lucene
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    if not len(idf):
        return idf
    floor = settings.epsilon * (math.fsum(idf.tolist()) / len(idf))
    if floor > 0:
        return np.where(idf < 0, floor, idf)
    # A tiny index (one or two passages) has no positive idf, so rank_bm25's floor is not positive
    # either and nothing could ever match: floor every idf <= 0 at epsilon * mean Lucene idf (> 0).
    floor = settings.epsilon * (math.fsum(lucene.tolist()) / len(lucene))
    return np.where(idf <= 0, floor, idf)


def build_bm25(texts: Iterable[str], tokenize: Callable[[str], list[str]], settings: BM25Settings) -> BM25Index:
    return BM25Index.build((tokenize(t) for t in texts), settings)
