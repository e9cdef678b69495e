"""`rag eval fuse`: fuse TREC runs of any retrievers into one run, with the fusion the engine itself uses
(rag.fusion: reciprocal rank fusion, or convex fusion of min-max or z-score normalised scores).

A researcher's runs need not come from one `rag eval retrieval` call: BM25 of one index, dense of a
zero-shot and of a tuned model, a reranker's output. Each query is fused over the runs that rank it; a
document missing from a run gets that run's lowest normalised score there (convex) or nothing (RRF).
The fused run is ranked by the trec_eval convention (rag.eval.runs) and scored like any other run
(`rag eval compare`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rag.errors import EvalError
from rag.eval.runs import Run, ranked, read_trec_run, write_trec_run
from rag.fusion import NORMALIZERS, RRF_K, Normalizer, convex_fusion, reciprocal_rank_fusion
from rag.models import Hit

Method = Literal["rrf", "convex"]


def _hits(scores: dict[str, float]) -> list[Hit]:
    """A run's ranking of one query, in the order it is scored (rag.eval.runs.ranked)."""
    return [Hit(passage_id=doc, doc_id=doc, score=score, rank=rank) for rank, (doc, score) in enumerate(ranked(scores), start=1)]


def fuse_runs(
    runs: Sequence[Run],
    *,
    method: Method = "rrf",
    weights: Sequence[float] | None = None,
    normalizer: Normalizer = "zscore",
    rrf_k: int = RRF_K,
    depth: int = 1000,
) -> Run:
    """One run from several: per query, RRF of their rankings, or the convex combination of their normalised
    scores with `weights` (default: equal; they need not sum to 1). Keeps the best `depth` documents."""
    if len(runs) < 2:
        raise EvalError(f"fusion needs at least 2 runs, got {len(runs)}")
    if method == "convex":
        weights = list(weights) if weights is not None else [1 / len(runs)] * len(runs)
        if len(weights) != len(runs):
            raise EvalError(f"{len(weights)} weights for {len(runs)} runs: give one weight per run")
        if any(w < 0 for w in weights) or not any(w > 0 for w in weights):
            raise EvalError(f"weights {list(weights)}: each must be >= 0 and one > 0")
        if normalizer not in NORMALIZERS:
            raise EvalError(f"normalizer {normalizer!r}: choose one of {', '.join(NORMALIZERS)}")
    elif method == "rrf":
        if weights is not None:
            raise EvalError("--weights apply to convex fusion only (RRF weighs every run the same)")
    else:
        raise EvalError(f"unknown fusion method {method!r}; choose rrf or convex")
    if depth < 1:
        raise EvalError(f"depth={depth}: keep at least 1 document per query")
    if rrf_k < 1:
        raise EvalError(f"rrf_k={rrf_k}: use 1 or more (60 is usual)")
    fused: Run = {}
    for qid in sorted({q for run in runs for q in run}):
        present = [(i, run[qid]) for i, run in enumerate(runs) if run.get(qid)]
        rankings = [_hits(scores) for _, scores in present]
        if method == "rrf":
            hits = reciprocal_rank_fusion(rankings, depth, rrf_k=rrf_k)
        else:
            hits = convex_fusion(rankings, [weights[i] for i, _ in present], depth, normalizer=normalizer)
        fused[qid] = {h.doc_id: h.score for h in hits}
    return fused


def fuse_files(
    paths: Sequence[Path],
    out: Path,
    *,
    method: Method = "rrf",
    weights: Sequence[float] | None = None,
    normalizer: Normalizer = "zscore",
    rrf_k: int = RRF_K,
    depth: int = 1000,
    tag: str | None = None,
) -> Path:
    """Read TREC run files, fuse them (`fuse_runs`) and write the fused run to `out`."""
    runs = [read_trec_run(path)[0] for path in paths]
    fused = fuse_runs(runs, method=method, weights=weights, normalizer=normalizer, rrf_k=rrf_k, depth=depth)
    return write_trec_run(out, fused, tag=tag or f"fused-{method}")
