"""Fusing ranked lists: reciprocal rank fusion (default, k=60) and weighted min-max score fusion."""

from __future__ import annotations

from collections.abc import Sequence

from rag.models import Hit

RRF_K = 60


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int, *, rrf_k: int = RRF_K) -> list[Hit]:
    """score(p) = sum over rankings of 1 / (rrf_k + rank(p)); ties broken by passage id (deterministic)."""
    scores: dict[str, float] = {}
    doc_of: dict[str, str] = {}
    for ranking in rankings:
        for hit in ranking:
            scores[hit.passage_id] = scores.get(hit.passage_id, 0.0) + 1.0 / (rrf_k + hit.rank)
            doc_of[hit.passage_id] = hit.doc_id
    return _ranked(scores, doc_of, k)


def weighted_fusion(rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: int) -> list[Hit]:
    """score(p) = sum_i w_i * minmax_i(score_i(p)); a passage missing from a ranking gets 0 there."""
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    scores: dict[str, float] = {}
    doc_of: dict[str, str] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        values = [h.score for h in ranking]
        low, high = min(values), max(values)
        span = high - low
        for hit in ranking:
            normalized = (hit.score - low) / span if span > 0 else 1.0
            scores[hit.passage_id] = scores.get(hit.passage_id, 0.0) + weight * normalized
            doc_of[hit.passage_id] = hit.doc_id
    return _ranked(scores, doc_of, k)


def _ranked(scores: dict[str, float], doc_of: dict[str, str], k: int) -> list[Hit]:
    order = sorted(scores, key=lambda pid: (-scores[pid], pid))[:k]
    return [Hit(passage_id=pid, doc_id=doc_of[pid], score=scores[pid], rank=i + 1) for i, pid in enumerate(order)]
