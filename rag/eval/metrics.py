"""nDCG@10, Recall@100, MRR@10 and MAP, computed by ranx (numba-compiled, validated against trec_eval
by its authors), per query and averaged.

Conventions, chosen to match `trec_eval -c` as used by Anserini/Pyserini's BEIR regressions:
- every query of the qrels counts; a query the run misses (or returns nothing for) scores 0;
- run queries absent from the qrels are ignored;
- a document is relevant when its relevance is > 0; nDCG uses linear gains (Järvelin & Kekäläinen,
  trec_eval's ndcg_cut), so graded judgments (2 = key, 1 = supporting) count as 2 and 1;
- documents are ranked by score, ties broken by decreasing doc id (trec_eval's rule). ranx breaks ties
  arbitrarily, so each query's ranking is fixed here first and ranx is given strictly decreasing
  scores for it; every metric used here depends only on the ranking.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError
from rag.eval.runs import judged, ranked

METRICS: tuple[str, ...] = ("ndcg@10", "recall@100", "mrr@10", "map")
LABELS: dict[str, str] = {"ndcg@10": "nDCG@10", "recall@100": "Recall@100", "mrr@10": "MRR@10", "map": "MAP"}
_KNOWN = ("ndcg", "recall", "mrr", "map", "precision", "hit_rate", "r-precision")


class Scores(BaseModel):
    """Mean and per-query values of each metric over the judged queries."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    means: dict[str, float] = Field(description="metric -> mean over `queries` queries.")
    per_query: dict[str, dict[str, float]] = Field(description="metric -> {qid: value}.")
    queries: int


def check_metrics(metrics: Sequence[str]) -> list[str]:
    out: list[str] = []
    for metric in metrics:
        name, _, cut = metric.partition("@")
        if name not in _KNOWN or (cut and not cut.isdigit()):
            raise EvalError(f"unknown metric {metric!r}; use e.g. {', '.join(METRICS)}")
        out.append(metric)
    return out


def _rank_scores(docs: Mapping[str, float]) -> dict[str, float]:
    order = ranked(docs)
    return {doc: float(len(order) - i) for i, (doc, _) in enumerate(order)}


def evaluate(
    qrels: Mapping[str, Mapping[str, int]],
    run: Mapping[str, Mapping[str, float]],
    metrics: Sequence[str] = METRICS,
) -> Scores:
    """Score `run` against `qrels` (neither is modified)."""
    metrics = check_metrics(metrics)
    gold = judged(qrels)
    if not gold:
        raise EvalError("the qrels have no query with a relevant document; nothing to evaluate")
    per_query: dict[str, dict[str, float]] = {m: {qid: 0.0 for qid in gold} for m in metrics}
    answered = [qid for qid in gold if run.get(qid)]  # ranx cannot take an empty ranking: those stay 0
    if answered:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba's type-safety chatter on uint64 hashes
            from ranx import evaluate as ranx_evaluate

            # Plain dicts, not ranx.Qrels/Run: those build numba typed dicts, compiled anew in every
            # process (~40 s); the dict path uses only cached kernels. Both dicts list the queries in
            # the same order, which is the order of the per-query arrays ranx returns.
            values = ranx_evaluate(
                {qid: dict(gold[qid]) for qid in answered},
                {qid: _rank_scores(run[qid]) for qid in answered},
                # ranx 0.3 with return_mean=False fails (KeyError 'ndcg') on one metric: ask for it twice,
                # which still computes it once and returns the {metric: values} dict
                list(metrics) * (2 if len(metrics) == 1 else 1),
                return_mean=False,
            )
        for metric in metrics:
            for qid, value in zip(answered, values[metric], strict=True):
                per_query[metric][qid] = float(value)
    means = {m: sum(values.values()) / len(values) for m, values in per_query.items()}
    return Scores(means=means, per_query=per_query, queries=len(gold))
