"""Choose the max-passage settings (rag.maxpassage.MaxPassageSettings) on a TRAIN split only.

Each train query is searched once by BM25 and once by dense over the windows index, as deep as
`rag eval retrieval` reads (rag.eval.fusion_tuning.collect_rankings). Then, per side, every rest share
of SHARE_GRID aggregates those passages to documents and the share with the best mean nDCG@10 wins
(ties go to the smaller share, so plain MaxP wins unless a share does better). Last, the convex fusion
of the two document rankings (normaliser and dense weight) is chosen on the same queries by
rag.eval.fusion_tuning.choose_fusion, fed document rankings keyed by document id so that it fuses
documents exactly as hybrid-maxp does (rag.maxpassage.fuse_documents).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError
from rag.eval.fusion_tuning import TUNING_METRIC, FusionTuning, choose_fusion, collect_rankings
from rag.maxpassage import MaxPassageSettings, aggregate
from rag.models import Hit

SHARE_GRID: tuple[float, ...] = (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5)


class SharePoint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rest_share: float
    ndcg10: float = Field(description="Mean nDCG@10 over the tuning queries of that side's document ranking.")


class MaxPassageTuning(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: MaxPassageSettings = Field(description="What was chosen (shares and fusion), as hybrid-convex-maxp uses it.")
    bm25_grid: list[SharePoint]
    dense_grid: list[SharePoint]
    fusion: FusionTuning = Field(description="The fusion grid over the document rankings aggregated with the chosen shares.")
    queries: int


def tune_max_passage(
    index,  # rag.index.load.Index: the windows index, with a dense side
    queries: Mapping[str, str],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    label: str,
    shares: Sequence[float] = SHARE_GRID,
    progress=None,
) -> MaxPassageTuning:
    """The best shares and convex fusion on these (train) queries; `label` names them in tuned_on."""
    return choose_max_passage(collect_rankings(index, queries, progress=progress), qrels, label=label, shares=shares, progress=progress)


def choose_max_passage(
    rankings: Mapping[str, Sequence[Sequence[Hit]]],
    qrels: Mapping[str, Mapping[str, int]],
    *,
    label: str,
    shares: Sequence[float] = SHARE_GRID,
    progress=None,
) -> MaxPassageTuning:
    """`rankings`: qid -> [BM25 passage hits, dense passage hits], best first."""
    from rag.eval.metrics import evaluate
    from rag.eval.retrieval import DEPTH
    from rag.eval.runs import doc_run

    if not rankings:
        raise EvalError(f"{label}: no queries to tune max-passage scoring on")
    if not shares:
        raise EvalError(f"{label}: no rest shares to try")

    def documents(hits: Sequence[Hit], share: float) -> list[Hit]:
        return aggregate(hits, rest_share=share)[:DEPTH]  # what MaxPassageRetriever.search(query, DEPTH) returns

    def side_grid(side: int) -> list[SharePoint]:
        points = []
        for share in shares:
            run = {qid: doc_run(documents(pair[side], share), depth=DEPTH) for qid, pair in rankings.items()}
            points.append(SharePoint(rest_share=share, ndcg10=evaluate(qrels, run, [TUNING_METRIC]).means[TUNING_METRIC]))
        return points

    if progress:
        progress.stage("max-passage tuning: rest shares", None)
    bm25_grid, dense_grid = side_grid(0), side_grid(1)
    bm25_best = max(bm25_grid, key=lambda p: p.ndcg10)  # max keeps the first of equal values: the smaller share
    dense_best = max(dense_grid, key=lambda p: p.ndcg10)
    by_document = {
        qid: [
            [hit.model_copy(update={"passage_id": hit.doc_id}) for hit in documents(pair[side], best.rest_share)]
            for side, best in ((0, bm25_best), (1, dense_best))
        ]
        for qid, pair in rankings.items()
    }
    fusion = choose_fusion(by_document, qrels, label=label, progress=progress)
    settings = MaxPassageSettings(
        bm25_rest_share=bm25_best.rest_share,
        dense_rest_share=dense_best.rest_share,
        fusion=fusion.settings,
        tuned_on=f"{label} ({len(rankings)} queries)",
        tuned_metric={
            f"{TUNING_METRIC} bm25-maxp": round(bm25_best.ndcg10, 5),
            f"{TUNING_METRIC} dense-maxp": round(dense_best.ndcg10, 5),
            f"{TUNING_METRIC} hybrid-maxp rrf": round(fusion.rrf_ndcg10, 5),
            f"{TUNING_METRIC} hybrid-convex-maxp": fusion.settings.tuned_metric[f"{TUNING_METRIC} convex"],
        },
    )
    return MaxPassageTuning(settings=settings, bm25_grid=bm25_grid, dense_grid=dense_grid, fusion=fusion, queries=len(rankings))
