"""Paired comparison of two runs on tiny hand-made data: wins/losses, randomization and t-test p-values."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest

from rag.errors import EvalError
from rag.eval.compare import compare_files, compare_runs, randomization_test, t_test
from rag.eval.runs import write_trec_run

QRELS = {"q1": {"r1": 1}, "q2": {"r2": 1}, "q3": {"r3": 1}, "q4": {"r4": 1}}
# A finds the relevant document at rank 1 for q1, rank 2 for q2 and q4, never for q3.
A = {"q1": {"r1": 3.0, "x": 2.0}, "q2": {"x": 3.0, "r2": 2.0}, "q3": {"x": 1.0}, "q4": {"x": 3.0, "r4": 2.0}}
# B: q1 drops to rank 2, q2 rises to rank 1, q3 finds it at rank 1, q4 unchanged.
B = {"q1": {"x": 3.0, "r1": 2.0}, "q2": {"r2": 3.0, "x": 2.0}, "q3": {"r3": 1.0}, "q4": {"x": 3.0, "r4": 2.0}}


def test_wins_losses_and_per_query_detail():
    a, b = copy.deepcopy(A), copy.deepcopy(B)
    comparison = compare_runs(QRELS, a, b, names=("A", "B"), metric="mrr@10")
    assert a == A and b == B  # runs untouched
    mrr = next(row for row in comparison.metrics if row.metric == "mrr@10")
    # Reciprocal ranks A: 1, 1/2, 0, 1/2 (mean 0.5); B: 1/2, 1, 1, 1/2 (mean 0.75).
    # B wins q2 and q3, loses q1, ties q4.
    assert (mrr.mean_a, mrr.mean_b, mrr.delta) == pytest.approx((0.5, 0.75, 0.25))
    assert (mrr.wins, mrr.losses, mrr.ties) == (2, 1, 1)
    assert [(q.qid, q.delta) for q in comparison.per_query] == [("q1", -0.5), ("q4", 0.0), ("q2", 0.5), ("q3", 1.0)]
    assert comparison.queries == 4 and comparison.metric == "mrr@10"
    assert [row.metric for row in comparison.metrics] == ["ndcg@10", "recall@100", "mrr@10", "map"]


def test_randomization_test_matches_the_exact_permutation_distribution():
    # Differences (1, 1, 1): of the 2^3 = 8 equally likely sign patterns only +++ and --- reach
    # |mean| >= 1, so the exact two-sided p is 2/8 = 0.25; 10,000 seeded draws land within 0.02.
    p = randomization_test([0, 0, 0], [1, 1, 1], permutations=10_000, seed=0)
    assert p == pytest.approx(0.25, abs=0.02)
    assert randomization_test([0, 0, 0], [1, 1, 1], permutations=10_000, seed=0) == p  # seeded: repeatable
    assert randomization_test([0.3, 0.5], [0.3, 0.5]) == 1.0  # no difference at all


def test_paired_t_test_hand_derived():
    # Differences 0.2, 0.4, 0.6: mean 0.4, sd 0.2, t = 0.4 / (0.2 / sqrt 3) = 3.4641 with 2 degrees of
    # freedom; for df = 2 the two-sided p is 1 - t / sqrt(2 + t^2) = 1 - 3.4641 / 3.7417 = 0.0741799.
    assert t_test([0.1, 0.1, 0.1], [0.3, 0.5, 0.7]) == pytest.approx(1 - math.sqrt(12) / math.sqrt(14), abs=1e-9)
    assert t_test([0.5, 0.5], [0.5, 0.5]) == 1.0


def test_identical_runs_are_all_ties():
    comparison = compare_runs(QRELS, A, A)
    for row in comparison.metrics:
        assert (row.wins, row.losses, row.p_randomization, row.p_ttest, row.significant) == (0, 0, 1.0, 1.0, False)


def test_compare_files_finds_the_dataset_in_report_json(tmp_path: Path):
    a = write_trec_run(tmp_path / "a.trec", A, tag="A")
    b = write_trec_run(tmp_path / "b.trec", B, tag="B")
    with pytest.raises(EvalError, match="pass --dataset"):
        compare_files(a, b)
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, docs in QRELS.items() for d in docs))
    (tmp_path / "report.json").write_text(json.dumps({"dataset_path": str(qrels), "split": "test"}))
    comparison = compare_files(a, b, metric="mrr@10")
    assert comparison.run_a == "a.trec (A)" and comparison.per_query[0].qid == "q1"
    assert compare_files(a, b, dataset=qrels).metrics == compare_files(a, b).metrics


def test_cli_compare_json(tmp_path: Path, rag):
    a = write_trec_run(tmp_path / "a.trec", A, tag="A")
    b = write_trec_run(tmp_path / "b.trec", B, tag="B")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("".join(f"{q} 0 {d} 1\n" for q, docs in QRELS.items() for d in docs))
    done = rag("eval", "compare", str(a), str(b), "--dataset", str(qrels), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["queries"] == 4 and data["metric"] == "ndcg@10"
    assert {row["metric"] for row in data["metrics"]} == {"ndcg@10", "recall@100", "mrr@10", "map"}
    text = rag("eval", "compare", str(a), str(b), "--dataset", str(qrels), "--metric", "mrr@10")
    assert text.returncode == 0 and "largest losses of B" in text.stdout and "q1" in text.stdout
    missing = rag("eval", "compare", str(tmp_path / "nope.trec"), str(b), "--dataset", str(qrels))
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "nope.trec: run file unreadable (FileNotFoundError" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
