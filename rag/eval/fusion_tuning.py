"""Choose the convex fusion weight (and normaliser) of a hybrid search on a TRAIN split only.

Each train query is searched once by BM25 and once by dense, as deep as `rag eval retrieval` searches
(so min-max and z-score see the same score lists as at evaluation); then every (normaliser, dense
weight) of the grid fuses those two rankings, and the pair with the best mean nDCG@10 (document
level, MaxP, as evaluated) wins. Ties go to the earlier grid entry: min-max before z-score, smaller
dense weight first. RRF's train nDCG@10 is recorded beside it, so the file says what tuning gained.
The result is a `FusionSettings`, written as `fusion.json` beside the index (rag.fusion.FUSION_FILE),
where `make_retriever(index, "hybrid")` picks it up; without that file hybrid search stays RRF.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError, QueryError
from rag.fusion import NORMALIZERS, FusionSettings, fuse
from rag.models import Hit

WEIGHT_GRID: tuple[float, ...] = tuple(round(i / 20, 2) for i in range(21))  # dense weight 0.00, 0.05, ..., 1.00
TUNING_METRIC = "ndcg@10"


class TuningPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    normalizer: str
    dense_weight: float
    ndcg10: float = Field(description="Mean nDCG@10 over the tuning queries.")


class FusionTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: FusionSettings = Field(description="The chosen convex fusion (what fusion.json holds).")
    rrf_ndcg10: float = Field(description="RRF's mean nDCG@10 on the same tuning queries.")
    grid: list[TuningPoint] = Field(description="Every (normaliser, dense weight) tried, in grid order.")
    queries: int


def search_depth(index) -> int:  # index: rag.index.load.Index
    """Passages per side, as `rag eval retrieval` asks a retriever for (rag.eval.retrieval.run_queries)."""
    from rag.eval.retrieval import DEPTH

    counts = index.manifest.counts
    per_doc = math.ceil(counts.passages / max(1, counts.documents))
    return max(1, min(counts.passages, DEPTH * per_doc))


def tune_fusion(
    index,  # rag.index.load.Index, with a dense side
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    label: str,
    progress=None,
) -> FusionTuning:
    """The best convex fusion on these (train) queries; `label` names them in the settings' tuned_on."""
    return choose_fusion(collect_rankings(index, queries, progress=progress), qrels, label=label, progress=progress)


def collect_rankings(index, queries: Mapping[str, str], *, progress=None) -> dict[str, list[list[Hit]]]:
    """qid -> [BM25 hits, dense hits], each as deep as `rag eval retrieval` searches."""
    from rag.retrievers import BM25Retriever, DenseRetriever

    if not queries:
        raise EvalError("no queries to tune the fusion on")
    depth = search_depth(index)
    sides = (BM25Retriever(index), DenseRetriever(index))
    rankings: dict[str, list[list[Hit]]] = {}
    if progress:
        progress.stage("fusion tuning: bm25 + dense searches", len(queries))
    for qid, text in queries.items():
        try:
            rankings[qid] = [side.search(text, depth) for side in sides]
        except QueryError:  # refused (empty, no letters): scored 0 under every setting, as in evaluation
            rankings[qid] = [[], []]
        if progress:
            progress.advance()
    return rankings


def choose_fusion(
    rankings: Mapping[str, Sequence[Sequence[Hit]]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    label: str,
    weights: Sequence[float] = WEIGHT_GRID,
    normalizers: Sequence[str] = NORMALIZERS,
    progress=None,
) -> FusionTuning:
    """Score every (normaliser, dense weight) of the grid on these rankings; the best, ties to grid order."""
    from rag.eval.metrics import evaluate
    from rag.eval.retrieval import DEPTH
    from rag.eval.runs import doc_run

    if not rankings:
        raise EvalError(f"{label}: no queries to tune the fusion on")

    def score(settings: FusionSettings) -> float:
        run = {qid: doc_run(fuse(pair, sum(map(len, pair)), settings), depth=DEPTH) for qid, pair in rankings.items()}
        return evaluate(qrels, run, [TUNING_METRIC]).means[TUNING_METRIC]

    grid = [(normalizer, weight) for normalizer in normalizers for weight in weights]
    if progress:
        progress.stage("fusion tuning: grid", len(grid))
    rrf = score(FusionSettings())
    points: list[TuningPoint] = []
    for normalizer, weight in grid:
        settings = FusionSettings(method="convex", normalizer=normalizer, dense_weight=weight)  # type: ignore[arg-type]
        points.append(TuningPoint(normalizer=normalizer, dense_weight=weight, ndcg10=score(settings)))
        if progress:
            progress.advance()
    best = max(points, key=lambda p: p.ndcg10)  # max keeps the first of equal values: grid order breaks ties
    settings = FusionSettings(
        method="convex",
        normalizer=best.normalizer,  # type: ignore[arg-type]
        dense_weight=best.dense_weight,
        tuned_on=f"{label} ({len(rankings)} queries)",
        tuned_metric={f"{TUNING_METRIC} convex": round(best.ndcg10, 5), f"{TUNING_METRIC} rrf": round(rrf, 5)},
    )
    return FusionTuning(settings=settings, rrf_ndcg10=rrf, grid=points, queries=len(rankings))
