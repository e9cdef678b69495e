"""Metrics (computed by ranx) against values derived by hand, with trec_eval's conventions."""

from __future__ import annotations

import copy
import math

import pytest

from rag.errors import EvalError
from rag.eval.metrics import METRICS, evaluate

QRELS = {
    "q1": {"d1": 2, "d2": 1, "d3": 0},  # graded: d1 key, d2 supporting, d3 judged non-relevant
    "q2": {"d4": 1},
    "q3": {"d5": 1},  # the run never answers q3: it scores 0 everywhere (trec_eval -c)
    "q4": {"d9": 0},  # no relevant document: left out of every average
}
RUN = {
    "q1": {"d3": 0.9, "d1": 0.8, "d7": 0.7, "d2": 0.6},  # ranks: d3 (0), d1 (2), d7 (unjudged), d2 (1)
    "q2": {"d4": 0.5, "d6": 0.5},  # a tie: trec_eval orders by doc id descending, so d6 is 1st, d4 2nd
    "q5": {"d1": 1.0},  # not in the qrels: ignored
}


def test_hand_derived_values():
    scores = evaluate(QRELS, RUN)
    # q1. DCG@10 (linear gains, log2(rank + 1) discount) = 0/log2(2) + 2/log2(3) + 0/log2(4) + 1/log2(5)
    #       = 1.2618595 + 0.4306766 = 1.6925361; ideal order d1, d2: IDCG = 2/1 + 1/log2(3) = 2.6309298
    #       nDCG@10 = 1.6925361 / 2.6309298 = 0.6433224
    #     Recall@100 = 2 of 2 relevant retrieved = 1.0; MRR@10: first relevant at rank 2 = 0.5
    #     AP = mean over relevant docs of precision at their ranks = (1/2 + 2/4) / 2 = 0.5
    # q2. d4 at rank 2 (tie rule): nDCG@10 = (1/log2(3)) / 1 = 0.6309298; recall 1; MRR 0.5; AP 1/2 = 0.5
    # q3. nothing retrieved: 0 for every metric.  q4: not judged relevant anywhere, not counted.
    assert scores.queries == 3
    q = scores.per_query
    assert q["ndcg@10"]["q1"] == pytest.approx(0.6433224083, abs=1e-9)
    assert q["ndcg@10"]["q2"] == pytest.approx(1 / math.log2(3), abs=1e-12)
    assert q["recall@100"] == {"q1": 1.0, "q2": 1.0, "q3": 0.0}
    assert q["mrr@10"] == {"q1": 0.5, "q2": 0.5, "q3": 0.0}
    assert q["map"] == {"q1": 0.5, "q2": 0.5, "q3": 0.0}
    # means over the 3 counted queries
    assert scores.means["ndcg@10"] == pytest.approx((0.6433224083 + 0.6309297536 + 0) / 3, abs=1e-9)  # 0.4247507
    assert scores.means["recall@100"] == pytest.approx(2 / 3)
    assert scores.means["mrr@10"] == pytest.approx(1 / 3)
    assert scores.means["map"] == pytest.approx(1 / 3)


def test_cutoffs_apply():
    # One relevant document at rank 11: outside @10 (nDCG@10 = MRR@10 = 0), inside @100 (recall 1),
    # and MAP (no cutoff) = precision at rank 11 = 1/11.
    run = {"q": {f"x{i:02d}": 100.0 - i for i in range(10)} | {"rel": 1.0}}
    scores = evaluate({"q": {"rel": 1}}, run)
    assert scores.means == pytest.approx({"ndcg@10": 0.0, "recall@100": 1.0, "mrr@10": 0.0, "map": 1 / 11})


def test_inputs_are_not_mutated():
    qrels, run = copy.deepcopy(QRELS), copy.deepcopy(RUN)
    evaluate(qrels, run)
    assert qrels == QRELS and run == RUN


def test_empty_run_scores_zero():
    scores = evaluate({"q1": {"d1": 1}}, {})
    assert scores.means == {m: 0.0 for m in METRICS}


def test_errors_name_the_problem():
    with pytest.raises(EvalError, match="unknown metric 'ndcg@ten'"):
        evaluate(QRELS, RUN, ["ndcg@ten"])
    with pytest.raises(EvalError, match="no query with a relevant document"):
        evaluate({"q": {"d": 0}}, RUN)
