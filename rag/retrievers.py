"""Retrievers over an index. Each answers `search(query, k) -> list[Hit]`, best first."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Literal, Protocol

from rag.errors import QueryError
from rag.fusion import FUSION_FILE, FusionSettings, fuse, load_fusion
from rag.index.load import Index
from rag.maxpassage import MaxPassageSettings, aggregate, fuse_documents
from rag.models import Hit

RetrieverName = Literal["bm25", "dense", "hybrid", "ask"]
RETRIEVERS: tuple[str, ...] = ("bm25", "dense", "hybrid", "ask")  # ask: the passages `rag ask` reads (rag.answer.gather)
# Document rankings scored by their passages (rag.maxpassage); meant for an index of overlapping windows.
MAXP_RETRIEVERS: tuple[str, ...] = ("bm25-maxp", "dense-maxp", "hybrid-maxp")
MAX_QUERY_CHARS = 4000
_SURROGATE = re.compile("[\ud800-\udfff]")
FUSION_DEPTH = 100  # each side of a hybrid search contributes this many candidates


class Retriever(Protocol):
    name: str

    def search(self, query: str, k: int) -> list[Hit]: ...


def check_query(query: str, *, limit: int = MAX_QUERY_CHARS, what: str = "query", hint: str = "type a question or keywords") -> str:
    """The query with whitespace collapsed, or QueryError when it is empty, has no letters or digits,
    or is longer than `limit` characters."""
    text = " ".join(query.split())
    if not text:
        raise QueryError(f"the {what} is empty; {hint}")
    if not any(ch.isalnum() for ch in text):
        raise QueryError(f"the {what} has no letters or digits; {hint}")
    if _SURROGATE.search(text):  # how Python hands over command-line bytes that are not UTF-8
        raise QueryError(f"the {what} holds bytes that are not UTF-8 text; retype it in a UTF-8 terminal (LANG=C.UTF-8)")
    if len(text) > limit:
        raise QueryError(f"the {what} is {len(text):,} characters long; keep it under {limit:,}")
    return text


def _check_k(k: int) -> None:
    if k < 1:
        raise QueryError(f"k={k}: ask for at least 1 hit")


def _hits(index: Index, rows_scores: list[tuple[int, float]]) -> list[Hit]:
    passages = index.store.by_rows([r for r, _ in rows_scores])
    return [
        Hit(passage_id=p.id, doc_id=p.doc_id, score=score, rank=rank)
        for rank, (p, (_, score)) in enumerate(zip(passages, rows_scores, strict=True), start=1)
    ]


class BM25Retriever:
    name = "bm25"

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[Hit]:
        _check_k(k)
        tokens = self.index.tokenize(check_query(query))
        return _hits(self.index, self.index.bm25_top(tokens, k))


class DenseRetriever:
    name = "dense"

    def __init__(self, index: Index) -> None:
        self.index = index

    def search(self, query: str, k: int) -> list[Hit]:
        _check_k(k)
        return _hits(self.index, self.index.dense_top(check_query(query), k))


class HybridRetriever:
    """BM25 + dense, fused by reciprocal rank fusion (default) or convex score fusion (`settings`,
    or the older fusion="weighted" with dense_weight: min-max convex fusion)."""

    name = "hybrid"

    def __init__(
        self,
        index: Index,
        *,
        fusion: Literal["rrf", "weighted"] = "rrf",
        dense_weight: float = 0.5,
        settings: FusionSettings | None = None,
    ) -> None:
        self.index = index
        self.parts = (BM25Retriever(index), DenseRetriever(index))
        if settings is None:
            method = "convex" if fusion == "weighted" else "rrf"
            settings = FusionSettings(method=method, normalizer="minmax", dense_weight=dense_weight)
        self.settings = settings

    def search(self, query: str, k: int) -> list[Hit]:
        _check_k(k)
        depth = max(k, FUSION_DEPTH)
        native = getattr(self.index, "hybrid_top", None)  # a server that fuses in one call (Milvus: RRFRanker)
        if native is not None and self.settings.method == "rrf":
            text = check_query(query)
            return _hits(self.index, native(text, self.index.tokenize(text), k, depth=depth))
        rankings = [part.search(query, depth) for part in self.parts]
        return fuse(rankings, k, self.settings)


def passages_for(index: Index, documents: int) -> int:
    """Passages to read for `documents` documents: that many times the mean passages per document,
    at most every passage (what `rag eval retrieval` reads for its document runs)."""
    counts = index.manifest.counts
    per_doc = math.ceil(counts.passages / max(1, counts.documents))
    return max(1, min(counts.passages, documents * per_doc))


class MaxPassageRetriever:
    """Documents ranked by their passages (rag.maxpassage.aggregate): `inner`'s passage ranking, read
    deep enough for k documents, one hit per document (citing its best passage), best first."""

    ranks_documents = True  # search(query, k) returns k documents, not k passages

    def __init__(self, index: Index, inner: Retriever, *, rest_share: float = 0.0) -> None:
        self.index = index
        self.inner = inner
        self.rest_share = rest_share
        self.name = f"{inner.name}-maxp"

    def search(self, query: str, k: int) -> list[Hit]:
        _check_k(k)
        return aggregate(self.inner.search(query, passages_for(self.index, k)), rest_share=self.rest_share)[:k]


class HybridMaxPassageRetriever:
    """BM25 and dense each ranked by document (MaxPassageRetriever), then fused by document
    (rag.maxpassage.fuse_documents) as `settings.fusion` says; RRF and MaxP by default."""

    name = "hybrid-maxp"
    ranks_documents = True

    def __init__(self, index: Index, *, settings: MaxPassageSettings | None = None) -> None:
        self.index = index
        self.settings = settings or MaxPassageSettings()
        self.parts = (
            MaxPassageRetriever(index, BM25Retriever(index), rest_share=self.settings.bm25_rest_share),
            MaxPassageRetriever(index, DenseRetriever(index), rest_share=self.settings.dense_rest_share),
        )

    def search(self, query: str, k: int) -> list[Hit]:
        _check_k(k)
        depth = max(k, FUSION_DEPTH)
        return fuse_documents([part.search(query, depth) for part in self.parts], k, self.settings.fusion)


def tuned_fusion(index: Index) -> FusionSettings | None:
    """The fusion settings tuned for this index (`fusion.json` in its root folder), if any (a Milvus
    index has no root folder: RRF, fused on the server)."""
    root = getattr(index, "root", None)
    return load_fusion(root / FUSION_FILE) if isinstance(root, Path) else None


def make_retriever(index: Index, name: str, **options: object) -> Retriever:
    if name == "bm25":
        return BM25Retriever(index)
    if name == "dense":
        return DenseRetriever(index)
    if name == "hybrid":
        if not options:  # RRF unless a tuned weight sits beside the index
            return HybridRetriever(index, settings=tuned_fusion(index))
        return HybridRetriever(index, **options)  # type: ignore[arg-type]
    if name == "ask":
        from rag.answer.gather import AskRetriever

        return AskRetriever(index)
    if name in ("bm25-maxp", "dense-maxp"):  # MaxP; options: rest_share
        inner = BM25Retriever(index) if name == "bm25-maxp" else DenseRetriever(index)
        return MaxPassageRetriever(index, inner, **options)  # type: ignore[arg-type]
    if name == "hybrid-maxp":  # options: settings (rag.maxpassage.MaxPassageSettings)
        return HybridMaxPassageRetriever(index, **options)  # type: ignore[arg-type]
    raise QueryError(f"unknown retriever {name!r}; choose one of {', '.join(RETRIEVERS + MAXP_RETRIEVERS)}")
