"""Two runs on the same queries: mean difference, paired significance tests, per-query wins and losses.

Tests, both two-sided and paired by query (every judged query counts; a query missing from a run
scores 0 there):
- randomization (sign-flip permutation) test on the per-query differences, seeded, `permutations`
  draws plus the observed one: p = (1 + #{|mean(s * d)| >= |mean(d)|}) / (1 + permutations). This is
  the test Smucker, Allan & Carterette (CIKM 2007) recommend for IR; its answer does not assume normal
  differences. Computed here with numpy's seeded Generator so the same runs always give the same p.
- Student's paired t-test (scipy.stats.ttest_rel), reported beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError
from rag.eval.metrics import METRICS, Scores, check_metrics, evaluate
from rag.eval.runs import Qrels

TIE = 1e-9
ALPHA = 0.05


class MetricComparison(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    mean_a: float
    mean_b: float
    delta: float = Field(description="mean_b - mean_a.")
    p_randomization: float
    p_ttest: float
    significant: bool = Field(description="p_randomization < alpha.")
    wins: int = Field(description="Queries where B scores higher than A.")
    losses: int = Field(description="Queries where B scores lower than A.")
    ties: int


class QueryDelta(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    qid: str
    a: float
    b: float
    delta: float


class Comparison(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_a: str
    run_b: str
    queries: int
    alpha: float
    permutations: int
    seed: int
    metric: str = Field(description="The metric of `per_query`.")
    metrics: list[MetricComparison]
    per_query: list[QueryDelta] = Field(description="Every query on `metric`, largest loss of B first.")


def randomization_test(a: Sequence[float], b: Sequence[float], *, permutations: int = 10_000, seed: int = 0) -> float:
    """Two-sided paired sign-flip randomization test of mean(b - a) = 0."""
    import numpy as np

    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) == 0 or not np.any(np.abs(d) > TIE):
        return 1.0
    observed = abs(d.mean())
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, permutations, 2_000):
        n = min(2_000, permutations - start)
        signs = rng.choice(np.array([-1.0, 1.0]), size=(n, len(d)))
        extreme += int(np.count_nonzero(np.abs((signs * d).mean(axis=1)) >= observed - 1e-12))
    return (1 + extreme) / (1 + permutations)


def t_test(a: Sequence[float], b: Sequence[float]) -> float:
    import math

    from scipy.stats import ttest_rel

    diffs = [y - x for x, y in zip(a, b, strict=True)]
    if len(diffs) < 2 or all(abs(x) <= TIE for x in diffs):
        return 1.0
    p = float(ttest_rel(b, a).pvalue)
    return 1.0 if math.isnan(p) else p  # constant non-zero differences: scipy gives nan; treat as untestable


def compare_runs(
    qrels: Mapping[str, Mapping[str, int]],
    run_a: Mapping[str, Mapping[str, float]],
    run_b: Mapping[str, Mapping[str, float]],
    *,
    names: tuple[str, str] = ("A", "B"),
    metrics: Sequence[str] = METRICS,
    metric: str = "ndcg@10",
    permutations: int = 10_000,
    seed: int = 0,
    alpha: float = ALPHA,
) -> Comparison:
    """Compare B against A on every metric (and `metric`); per-query detail on `metric`."""
    metrics = check_metrics([*metrics, *([metric] if metric not in metrics else [])])
    if permutations < 1:
        raise EvalError(f"permutations={permutations}: use at least 1")
    scores_a: Scores = evaluate(qrels, run_a, metrics)
    scores_b: Scores = evaluate(qrels, run_b, metrics)
    qids = sorted(scores_a.per_query[metrics[0]])
    if not set(qids) & (set(run_a) | set(run_b)):
        raise EvalError("neither run answers any judged query; are the runs and qrels from the same dataset and split?")
    rows: list[MetricComparison] = []
    for m in metrics:
        a = [scores_a.per_query[m][q] for q in qids]
        b = [scores_b.per_query[m][q] for q in qids]
        diffs = [y - x for x, y in zip(a, b, strict=True)]
        p = randomization_test(a, b, permutations=permutations, seed=seed)
        rows.append(
            MetricComparison(
                metric=m,
                mean_a=scores_a.means[m],
                mean_b=scores_b.means[m],
                delta=scores_b.means[m] - scores_a.means[m],
                p_randomization=p,
                p_ttest=t_test(a, b),
                significant=p < alpha,
                wins=sum(d > TIE for d in diffs),
                losses=sum(d < -TIE for d in diffs),
                ties=sum(abs(d) <= TIE for d in diffs),
            )
        )
    detail = [
        QueryDelta(qid=q, a=scores_a.per_query[metric][q], b=scores_b.per_query[metric][q],
                   delta=scores_b.per_query[metric][q] - scores_a.per_query[metric][q])
        for q in qids
    ]
    detail.sort(key=lambda row: (row.delta, row.qid))
    return Comparison(
        run_a=names[0], run_b=names[1], queries=len(qids), alpha=alpha, permutations=permutations, seed=seed,
        metric=metric, metrics=rows, per_query=detail,
    )


def load_qrels(dataset: Path, *, split: str = "test") -> Qrels:
    """Judgments from a BEIR folder (qrels/<split>.tsv), a gold-set .jsonl, or a qrels file (BEIR .tsv or TREC)."""
    from rag.eval.beir import is_beir_folder, load_beir
    from rag.eval.runs import judged, read_qrels

    if dataset.is_dir():
        if not is_beir_folder(dataset):
            raise EvalError(f"{dataset}: not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
        return load_beir(dataset, split=split).qrels
    if dataset.suffix == ".jsonl":
        from rag.eval.gold import gold_queries, load_gold

        return gold_queries(load_gold(dataset, split=split))[1]
    if not dataset.exists():
        raise EvalError(f"{dataset}: no such dataset or qrels file")
    return judged(read_qrels(dataset))


def _dataset_of(run_path: Path) -> tuple[Path, str] | None:
    """(dataset path, split) recorded in the report.json beside a run file written by `rag eval retrieval`."""
    import json

    report = run_path.parent / "report.json"
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
        return Path(data["dataset_path"]), str(data["split"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def compare_files(
    run_a: Path, run_b: Path, *, dataset: Path | None = None, split: str | None = None, metric: str = "ndcg@10", seed: int = 0
) -> Comparison:
    """Read two TREC run files and compare them on the judgments of `dataset` (by default the dataset
    recorded in the report.json beside RUN_A)."""
    from rag.eval.runs import read_trec_run

    if dataset is None:
        recorded = _dataset_of(run_a) or _dataset_of(run_b)
        if recorded is None:
            raise EvalError(f"{run_a}: no report.json beside it names the dataset; pass --dataset (BEIR folder, gold .jsonl or qrels file)")
        dataset, recorded_split = recorded
        split = split or recorded_split
    qrels = load_qrels(dataset, split=split or "test")
    a, tag_a = read_trec_run(run_a)
    b, tag_b = read_trec_run(run_b)
    name_a = f"{run_a.name} ({tag_a})" if tag_a else run_a.name
    name_b = f"{run_b.name} ({tag_b})" if tag_b else run_b.name
    return compare_runs(qrels, a, b, names=(name_a, name_b), metric=metric, seed=seed)
