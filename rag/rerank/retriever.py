"""A retriever that reranks another's top hits: `inner.search` -> the best `top_n` hits rescored by the
reranker on the text the index embeds for them (context line, then passage text) -> those in the new
order, then the rest in the first-stage order, each scored below every reranked hit."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

import numpy as np

from rag.chunking import indexed_text
from rag.models import Hit
from rag.rerank.scorer import Reranker
from rag.rerank.settings import rerank_settings
from rag.retrievers import Retriever, check_query


def rerank_hits(hits: Sequence[Hit], scores: Sequence[float], *, fused_weight: float = 0.0) -> list[Hit]:
    """`hits` (best first) with the first len(scores) reordered by their final score (RerankSettings.fused_weight
    says how it is made; ties keep the first-stage order), then the rest in their order, hit j past the head
    scored (lowest head score - j)."""
    n = len(scores)
    if n > len(hits):
        raise ValueError(f"{n} scores for {len(hits)} hits")
    logits = np.asarray(scores, dtype=np.float64)
    if fused_weight > 0 and n:
        spread = logits.max() - logits.min()
        scaled = (logits - logits.min()) / spread if spread > 0 else np.zeros(n)
        first_stage = (n - np.arange(n)) / n  # rank 1 -> 1, rank n -> 1/n
        final = (1 - fused_weight) * scaled + fused_weight * first_stage
    else:
        final = logits
    order = sorted(range(n), key=lambda i: (-final[i], i))
    out = [Hit(passage_id=hits[i].passage_id, doc_id=hits[i].doc_id, score=float(final[i]), rank=r) for r, i in enumerate(order, start=1)]
    floor = float(final.min()) if n else 0.0
    out += [
        Hit(passage_id=hit.passage_id, doc_id=hit.doc_id, score=floor - j, rank=n + j) for j, hit in enumerate(hits[n:], start=1)
    ]
    return out


def passage_texts(index, hits: Sequence[Hit]) -> list[str]:
    """What the index embeds for each hit's passage: its document title and section path, then its text."""
    store = index.store
    passages = {p.id: p for p in store.by_ids([h.passage_id for h in hits])}
    documents = store.documents_by_ids([h.doc_id for h in hits])
    texts = []
    for hit in hits:
        passage = passages[hit.passage_id]
        texts.append(indexed_text(documents[hit.doc_id].title, passage.section, passage.text))
    return texts


class RerankRetriever:
    """`inner`'s ranking with its top_n hits rescored by `reranker` (top_n and fused_weight default to the
    reranker's recorded settings). `cache`: a mapping (query, passage id) -> logit shared between retrievers
    that rerank the same first stage to different depths, so each pair is scored once."""

    def __init__(
        self,
        index,
        inner: Retriever,
        reranker: Reranker,
        *,
        top_n: int | None = None,
        fused_weight: float | None = None,
        cache: MutableMapping[tuple[str, str], float] | None = None,
    ) -> None:
        self.index = index
        self.inner = inner
        self.reranker = reranker
        self.settings = rerank_settings(reranker.settings, top_n=top_n, fused_weight=fused_weight)  # RerankError when out of range
        self.cache = cache
        self.name = f"{inner.name}+rerank"
        self.ranks_documents = getattr(inner, "ranks_documents", False)

    def search(self, query: str, k: int) -> list[Hit]:
        hits = self.inner.search(query, max(k, self.settings.top_n))  # checks k and the query
        head = hits[: self.settings.top_n]
        return rerank_hits(hits, self.scores(check_query(query), head), fused_weight=self.settings.fused_weight)[:k]

    def scores(self, query: str, hits: Sequence[Hit]) -> list[float]:
        if self.cache is None:
            return self.reranker.score(query, passage_texts(self.index, hits)).tolist()
        todo = [h for h in hits if (query, h.passage_id) not in self.cache]
        if todo:
            for hit, value in zip(todo, self.reranker.score(query, passage_texts(self.index, todo)).tolist(), strict=True):
                self.cache[(query, hit.passage_id)] = value
        return [self.cache[(query, h.passage_id)] for h in hits]
