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
    ) -> None:
        self.vocabulary = vocabulary
        self.indptr = indptr
        self.indices = indices
        self.weights = weights
        self.n_docs = n_docs
        self.settings = settings

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

    def scores(self, query_tokens: Sequence[str]) -> np.ndarray:
        """Score of every passage, like rank_bm25's get_scores (repeated query terms count again)."""
        scores = np.zeros(self.n_docs, dtype=np.float64)
        for term, count in Counter(query_tokens).items():
            row = self.vocabulary.get(term)
            if row is None:
                continue
            start, end = self.indptr[row], self.indptr[row + 1]
            scores[self.indices[start:end]] += count * self.weights[start:end]
        return scores

    def document_frequency(self, term: str) -> int:
        """Passages that contain `term` (0 for a term the index has never seen)."""
        row = self.vocabulary.get(term)
        return 0 if row is None else int(self.indptr[row + 1] - self.indptr[row])

    def top_k(self, query_tokens: Sequence[str], k: int) -> list[tuple[int, float]]:
        """(passage row, score) of the k best passages with a positive score; ties broken by row."""
        scores = self.scores(query_tokens)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            kth = np.argpartition(-scores[candidates], k - 1)[:k]
            threshold = scores[candidates[kth]].min()
            candidates = candidates[scores[candidates] >= threshold]
        order = np.lexsort((candidates, -scores[candidates]))[:k]
        return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]

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
