"""`rag eval fuse`: runs fused as the engine fuses rankings, checked against hand-computed scores."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from conftest import one_line_error

from rag.errors import EvalError
from rag.eval.fuse import fuse_runs
from rag.eval.runs import read_trec_run, write_trec_run

A = {"q1": {"d1": 3.0, "d2": 2.0}, "q2": {"d9": 1.0}}
B = {"q1": {"d2": 5.0, "d3": 1.0}}


def test_rrf_by_hand() -> None:
    fused = fuse_runs([A, B], method="rrf")
    assert list(fused["q1"]) == ["d2", "d1", "d3"]
    assert math.isclose(fused["q1"]["d2"], 1 / 62 + 1 / 61)  # 2nd in A, 1st in B
    assert math.isclose(fused["q1"]["d1"], 1 / 61) and math.isclose(fused["q1"]["d3"], 1 / 62)
    assert fused["q2"] == {"d9": 1 / 61}  # a query only one run ranks keeps that run's ranking


def test_convex_by_hand() -> None:
    fused = fuse_runs([A, B], method="convex", weights=[0.25, 0.75], normalizer="minmax")
    # min-max: A d1 1, d2 0; B d2 1, d3 0; a document a run lacks gets that run's lowest value (0)
    assert fused["q1"] == pytest.approx({"d2": 0.75, "d1": 0.25, "d3": 0.0})
    assert list(fused["q1"]) == ["d2", "d1", "d3"]
    z = fuse_runs([A, B], method="convex", normalizer="zscore")  # equal weights; z of two values is +1 / -1
    assert z["q1"] == pytest.approx({"d2": 0.0, "d1": 0.0, "d3": -1.0})


def test_bad_fusions_are_refused() -> None:
    with pytest.raises(EvalError, match="at least 2 runs"):
        fuse_runs([A])
    with pytest.raises(EvalError, match="2 weights for 3 runs"):
        fuse_runs([A, B, A], method="convex", weights=[0.5, 0.5])
    with pytest.raises(EvalError, match="convex fusion only"):
        fuse_runs([A, B], method="rrf", weights=[0.5, 0.5])
    with pytest.raises(EvalError, match="normalizer 'l2'"):
        fuse_runs([A, B], method="convex", normalizer="l2")  # type: ignore[arg-type]
    with pytest.raises(EvalError, match="unknown fusion method"):
        fuse_runs([A, B], method="borda")  # type: ignore[arg-type]


def test_the_command_writes_a_run_that_reads_back(rag, tmp_path: Path) -> None:
    a = write_trec_run(tmp_path / "a.trec", A, tag="a")
    b = write_trec_run(tmp_path / "b.trec", B, tag="b")
    out = tmp_path / "fused.trec"
    result = rag("eval", "fuse", str(a), str(b), "--method", "convex", "--weights", "0.25,0.75", "--normalizer", "minmax", "--out", str(out))
    assert result.returncode == 0, result.stderr
    run, tag = read_trec_run(out)
    assert tag == "fused-convex" and run["q1"] == pytest.approx({"d2": 0.75, "d1": 0.25, "d3": 0.0})
    bad = rag("eval", "fuse", str(a), str(b), "--method", "convex", "--weights", "0.5", "--out", str(out))
    assert "1 weights for 2 runs" in one_line_error(bad)
