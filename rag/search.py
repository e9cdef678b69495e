"""`rag search`: one query against an index, hits joined with their passage text and source."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from rag.index.load import open_index
from rag.retrievers import make_retriever


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str
    body: str | None
    year: int | None
    version: str | None
    identifiers: dict[str, str]
    as_of: str | None
    citation: str


class SearchHit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rank: int
    score: float
    passage_id: str
    doc_id: str
    title: str
    section: str
    text: str
    source: Source


class SearchResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    retriever: str
    hits: list[SearchHit]


def search(
    query: str,
    *,
    index_root: Path,
    retriever: str = "hybrid",
    k: int = 10,
    model: str | None = None,
    rerank: Path | None = None,
    rerank_top: int | None = None,
    rerank_weight: float | None = None,
) -> SearchResult:
    """`rerank`: a reranker folder (rag rerank train) that rescores the retriever's best `rerank_top` hits
    (default: its recorded top_n; `rerank_weight` overrides its fused_weight)."""
    if rerank is not None:  # a bad folder fails before the index is opened
        from rag.rerank.scorer import Reranker

        reranker = Reranker(rerank)
    index = open_index(index_root, model=model)
    searcher = make_retriever(index, retriever)
    if rerank is not None:
        from rag.rerank.retriever import RerankRetriever

        searcher = RerankRetriever(index, searcher, reranker, top_n=rerank_top, fused_weight=rerank_weight)
    hits = searcher.search(query, k)
    passages = {p.id: p for p in index.store.by_ids([h.passage_id for h in hits])}
    out: list[SearchHit] = []
    for hit in hits:
        passage = passages[hit.passage_id]
        document = index.store.document(hit.doc_id)
        out.append(
            SearchHit(
                rank=hit.rank,
                score=hit.score,
                passage_id=hit.passage_id,
                doc_id=hit.doc_id,
                title=document.title,
                section=passage.section_label,
                text=passage.text,
                source=Source(
                    kind=document.kind,
                    body=document.body,
                    year=document.year,
                    version=document.version,
                    identifiers=document.identifiers,
                    as_of=document.as_of,
                    citation=document.source_line(),
                ),
            )
        )
    return SearchResult(query=query, retriever=searcher.name if rerank is not None else retriever, hits=out)
