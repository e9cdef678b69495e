"""Fusing ranked lists: reciprocal rank fusion (the default, k=60) and convex score fusion.

Convex fusion: score(p) = sum_i w_i * norm_i(score_i(p)), the weights summing to 1 for a tuned pair
(BM25 weight 1 - w, dense weight w). `norm_i` rescales ranking i's scores:
- "minmax": (s - min) / (max - min); every score 1.0 when all are equal.
- "zscore": (s - mean) / standard deviation (population); every score 0.0 when all are equal.
A passage missing from a ranking gets that ranking's lowest normalised score (0 for min-max): it
ranked below everything the ranking returned. Ties are broken by passage id (deterministic).

`FusionSettings` is how a hybrid retriever fuses; a tuned one is stored as `fusion.json` beside an
index (see rag.eval.fusion_tuning) and read back by `rag.retrievers.make_retriever`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import QueryError
from rag.models import Hit

RRF_K = 60
FUSION_FILE = "fusion.json"
Normalizer = Literal["minmax", "zscore"]
NORMALIZERS: tuple[str, ...] = ("minmax", "zscore")


class FusionSettings(BaseModel):
    """How a hybrid search fuses its BM25 and dense rankings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: Literal["rrf", "convex"] = Field(default="rrf", description="rrf: reciprocal rank fusion; convex: weighted normalised scores.")
    rrf_k: int = Field(default=RRF_K, ge=1, description="rrf only: score(p) = sum 1 / (rrf_k + rank).")
    normalizer: Normalizer = Field(default="minmax", description="convex only: how each ranking's scores are rescaled first.")
    dense_weight: float = Field(default=0.5, ge=0, le=1, description="convex only: weight of the dense ranking; BM25 gets 1 - dense_weight.")
    tuned_on: str | None = Field(default=None, description="Where the weight was chosen, e.g. 'scifact train (809 queries)'; None if set by hand.")
    tuned_metric: dict[str, float] = Field(
        default_factory=dict, description="The tuning split's mean nDCG@10 of the chosen setting and of RRF, for the record."
    )


def reciprocal_rank_fusion(rankings: Sequence[Sequence[Hit]], k: int, *, rrf_k: int = RRF_K) -> list[Hit]:
    """score(p) = sum over rankings of 1 / (rrf_k + rank(p)); ties broken by passage id (deterministic)."""
    scores: dict[str, float] = {}
    doc_of: dict[str, str] = {}
    for ranking in rankings:
        for hit in ranking:
            scores[hit.passage_id] = scores.get(hit.passage_id, 0.0) + 1.0 / (rrf_k + hit.rank)
            doc_of[hit.passage_id] = hit.doc_id
    return _ranked(scores, doc_of, k)


def normalize(values: Sequence[float], normalizer: Normalizer) -> list[float]:
    """`values` rescaled by "minmax" or "zscore" (see the module docstring for the constant case)."""
    if not values:
        return []
    if normalizer == "minmax":
        low, high = min(values), max(values)
        span = high - low
        return [(v - low) / span if span > 0 else 1.0 for v in values]
    if normalizer == "zscore":
        mean = math.fsum(values) / len(values)
        spread = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / len(values))
        return [(v - mean) / spread if spread > 0 else 0.0 for v in values]
    raise QueryError(f"unknown normalizer {normalizer!r}; choose one of {', '.join(NORMALIZERS)}")


def convex_fusion(
    rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: int, *, normalizer: Normalizer = "minmax"
) -> list[Hit]:
    """score(p) = sum_i w_i * norm_i(score_i(p)); a passage missing from ranking i gets norm_i's lowest value."""
    if len(weights) != len(rankings):
        raise ValueError(f"{len(weights)} weights for {len(rankings)} rankings")
    normalized: list[dict[str, float]] = []
    doc_of: dict[str, str] = {}
    for ranking in rankings:
        values = normalize([h.score for h in ranking], normalizer)
        normalized.append({h.passage_id: v for h, v in zip(ranking, values, strict=True)})
        doc_of.update((h.passage_id, h.doc_id) for h in ranking)
    scores: dict[str, float] = {}
    for part, weight in zip(normalized, weights, strict=True):
        if weight == 0:
            continue
        floor = min(part.values()) if part else 0.0
        for pid in doc_of:
            scores[pid] = scores.get(pid, 0.0) + weight * part.get(pid, floor)
    if not scores:  # every weight 0: the order of the first ranking that has hits
        scores = {pid: 0.0 for pid in doc_of}
    return _ranked(scores, doc_of, k)


def weighted_fusion(rankings: Sequence[Sequence[Hit]], weights: Sequence[float], k: int) -> list[Hit]:
    """score(p) = sum_i w_i * minmax_i(score_i(p)); a passage missing from a ranking gets 0 there."""
    return convex_fusion(rankings, weights, k, normalizer="minmax")


def fuse(rankings: Sequence[Sequence[Hit]], k: int, settings: FusionSettings) -> list[Hit]:
    """Fuse [bm25, dense] rankings as `settings` say."""
    if settings.method == "convex":
        return convex_fusion(rankings, [1 - settings.dense_weight, settings.dense_weight], k, normalizer=settings.normalizer)
    return reciprocal_rank_fusion(rankings, k, rrf_k=settings.rrf_k)


def load_fusion(path: Path) -> FusionSettings | None:
    """The settings stored at `path`, None when there is no such file; QueryError naming the file when damaged."""
    if not path.is_file():
        return None
    try:
        return FusionSettings(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise QueryError(f"{path}: unreadable fusion settings ({first}); delete it to fall back to RRF, or tune again") from None


def save_fusion(settings: FusionSettings, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(settings.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return path


def _ranked(scores: dict[str, float], doc_of: dict[str, str], k: int) -> list[Hit]:
    order = sorted(scores, key=lambda pid: (-scores[pid], pid))[:k]
    return [Hit(passage_id=pid, doc_id=doc_of[pid], score=scores[pid], rank=i + 1) for i, pid in enumerate(order)]
