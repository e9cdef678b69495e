"""The bottom-line ranker: listwise training on hand-built groups, the shipped weights match this code's
features, and weights for other features are refused (selection falls back to hand-set relevance)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rag.answer.ranker import NAMES, RANKER_FILE, load_ranker, top1, train


def test_training_learns_the_feature_that_marks_the_good_sentence() -> None:
    rng = np.random.default_rng(0)
    groups = []
    for _ in range(40):  # 40 questions of 6 candidates; only feature 3 tells the good one
        x = rng.random((6, len(NAMES)))
        good = int(rng.integers(6))
        x[:, 3] = 0.0
        x[good, 3] = 1.0
        y = np.zeros(6)
        y[good] = 1.0
        groups.append((x, y))
    ranker = train(groups, l2=0.001)
    assert top1(ranker, groups) == 1.0
    assert int(np.argmax(ranker.weights)) == 3


def test_the_shipped_weights_fit_this_code_s_features() -> None:
    data = json.loads(RANKER_FILE.read_text(encoding="utf-8"))
    assert data["features"] == NAMES and "dev" in data["trained_on"]  # retrain (benchmarks/train_bottom.py) after a feature change
    ranker = load_ranker(RANKER_FILE)
    assert ranker is not None and np.all(np.isfinite(ranker.weights))


def test_weights_for_other_features_or_a_damaged_file_are_not_used(tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"features": ["relevance"], "weights": [1.0]}))
    assert load_ranker(other) is None
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json")
    assert load_ranker(damaged) is None
