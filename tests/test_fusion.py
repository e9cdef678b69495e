"""Fusion math by hand: min-max and z-score convex fusion, missing passages, ties; the settings file;
the tuner's choice on rankings whose best weight is known."""

from __future__ import annotations

import math

import pytest

from rag.errors import QueryError
from rag.eval.fusion_tuning import choose_fusion
from rag.fusion import (
    FusionSettings,
    convex_fusion,
    fuse,
    load_fusion,
    normalize,
    reciprocal_rank_fusion,
    save_fusion,
    weighted_fusion,
)
from rag.models import Hit


def _hits(pairs: list[tuple[str, float]]) -> list[Hit]:
    return [Hit(passage_id=p, doc_id=p.split("#")[0], score=s, rank=i + 1) for i, (p, s) in enumerate(pairs)]


BM25_RUN = _hits([("a#1", 12.0), ("b#1", 8.0), ("c#1", 4.0)])
DENSE_RUN = _hits([("c#1", 0.9), ("a#1", 0.5), ("d#1", 0.1)])
Z = math.sqrt(1.5)  # z of the top and bottom of three evenly spaced scores: 4 / sqrt(32/3) = sqrt(3/2) = 1.224745


def test_normalizers_by_hand() -> None:
    # min-max: (s - 4) / 8.  z-score: mean 8, population sd sqrt((16 + 0 + 16) / 3) = sqrt(32/3) = 3.265986
    assert normalize([12.0, 8.0, 4.0], "minmax") == [1.0, 0.5, 0.0]
    assert normalize([12.0, 8.0, 4.0], "zscore") == pytest.approx([Z, 0.0, -Z], abs=1e-12)
    # constant scores: min-max gives 1 (all equally the best), z-score 0 (all at the mean); no division by zero
    assert normalize([2.0, 2.0], "minmax") == [1.0, 1.0]
    assert normalize([2.0, 2.0], "zscore") == [0.0, 0.0]
    assert normalize([], "zscore") == []
    with pytest.raises(QueryError, match="unknown normalizer 'rank'"):
        normalize([1.0], "rank")  # type: ignore[arg-type]


def test_minmax_convex_fusion_by_hand_and_missing_passages() -> None:
    # min-max: BM25 a 1, b 0.5, c 0;  dense c 1, a 0.5, d 0.  Weights 0.3 (BM25), 0.7 (dense).
    # b is missing from dense and d from BM25: each gets that ranking's lowest value, 0.
    # a = 0.3 + 0.35 = 0.65;  c = 0 + 0.7 = 0.70;  b = 0.15 + 0 = 0.15;  d = 0 + 0 = 0
    fused = convex_fusion([BM25_RUN, DENSE_RUN], [0.3, 0.7], 10, normalizer="minmax")
    assert [(h.passage_id, h.rank) for h in fused] == [("c#1", 1), ("a#1", 2), ("b#1", 3), ("d#1", 4)]
    assert [h.score for h in fused] == pytest.approx([0.70, 0.65, 0.15, 0.0], abs=1e-12)
    assert fused == weighted_fusion([BM25_RUN, DENSE_RUN], [0.3, 0.7], 10)  # the older name, same numbers


def test_zscore_convex_fusion_by_hand_and_missing_passages() -> None:
    # z: BM25 a +Z, b 0, c -Z;  dense c +Z, a 0, d -Z  (Z = 1.224745). Weights 0.3 / 0.7.
    # A missing passage gets the ranking's lowest z, -Z (not 0, which would put it at the mean):
    # c = 0.3(-Z) + 0.7(Z) = 0.4 Z = 0.489898;  a = 0.3 Z + 0 = 0.367423
    # b = 0 + 0.7(-Z) = -0.857321;  d = 0.3(-Z) + 0.7(-Z) = -Z = -1.224745
    fused = convex_fusion([BM25_RUN, DENSE_RUN], [0.3, 0.7], 10, normalizer="zscore")
    assert [h.passage_id for h in fused] == ["c#1", "a#1", "b#1", "d#1"]
    assert [h.score for h in fused] == pytest.approx([0.4 * Z, 0.3 * Z, -0.7 * Z, -Z], abs=1e-12)
    # (Were b's missing dense z taken as 0, b would score 0, above d and not far below a.)


def test_ties_are_broken_by_passage_id_and_weights_checked() -> None:
    # x is BM25's top and dense's bottom, y the reverse: at weight 0.5 both fuse to 0.5 (min-max) or 0 (z)
    bm25 = _hits([("x#1", 3.0), ("y#1", 1.0)])
    dense = _hits([("y#1", 0.8), ("x#1", 0.2)])
    for normalizer in ("minmax", "zscore"):
        fused = convex_fusion([bm25, dense], [0.5, 0.5], 10, normalizer=normalizer)
        assert [h.passage_id for h in fused] == ["x#1", "y#1"] and fused[0].score == pytest.approx(fused[1].score, abs=1e-12)
    assert convex_fusion([[], []], [0.5, 0.5], 5) == []
    only_dense = convex_fusion([[], dense], [0.0, 1.0], 5, normalizer="zscore")
    assert [h.passage_id for h in only_dense] == ["y#1", "x#1"]
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        convex_fusion([bm25, dense], [1.0], 10)


def test_fuse_follows_the_settings() -> None:
    assert fuse([BM25_RUN, DENSE_RUN], 3, FusionSettings()) == reciprocal_rank_fusion([BM25_RUN, DENSE_RUN], 3)
    convex = FusionSettings(method="convex", normalizer="zscore", dense_weight=0.7)
    assert fuse([BM25_RUN, DENSE_RUN], 3, convex) == convex_fusion([BM25_RUN, DENSE_RUN], [1 - 0.7, 0.7], 3, normalizer="zscore")


def test_fusion_settings_file_round_trip_and_refusal(tmp_path) -> None:
    assert load_fusion(tmp_path / "fusion.json") is None  # no file: the caller stays with RRF
    settings = FusionSettings(method="convex", normalizer="zscore", dense_weight=0.35, tuned_on="scifact train (809 queries)")
    assert load_fusion(save_fusion(settings, tmp_path / "fusion.json")) == settings
    (tmp_path / "fusion.json").write_text('{"method": "convex", "dense_weight": 1.5}', encoding="utf-8")
    with pytest.raises(QueryError, match=r"fusion.json: unreadable fusion settings .*delete it to fall back to RRF"):
        load_fusion(tmp_path / "fusion.json")


def test_the_tuner_picks_the_weight_the_judgments_favour() -> None:
    # Two queries. q1: BM25 puts x above the relevant r, dense puts r first. q2 the same with s/z.
    # Min-max: r fuses to w (dense weight), x to 1 - w: r is first when w > 0.5. At w = 0.5 they tie
    # and the evaluation breaks ties as trec_eval does (doc id descending: x before r), so nDCG@10 is
    # 1/log2(3) = 0.6309 up to w = 0.5 and 1.0 from w = 0.55 on (q2 alike: z before s at the tie).
    # The grid (min-max first, then z-score; small weights first) keeps the first best: min-max, 0.55.
    rankings = {
        "q1": [_hits([("x#1", 10.0), ("r#1", 5.0)]), _hits([("r#1", 0.9), ("x#1", 0.1)])],
        "q2": [_hits([("z#1", 7.0), ("s#1", 1.0)]), _hits([("s#1", 0.6), ("z#1", 0.5)])],
    }
    qrels = {"q1": {"r": 1}, "q2": {"s": 1}}
    tuning = choose_fusion(rankings, qrels, label="hand train")
    assert (tuning.settings.method, tuning.settings.normalizer, tuning.settings.dense_weight) == ("convex", "minmax", 0.55)
    assert tuning.settings.tuned_on == "hand train (2 queries)"
    by_point = {(p.normalizer, p.dense_weight): p.ndcg10 for p in tuning.grid}
    assert by_point[("minmax", 0.5)] == pytest.approx(1 / math.log2(3)) and by_point[("minmax", 0.55)] == pytest.approx(1.0)
    assert by_point[("minmax", 0.0)] == pytest.approx(1 / math.log2(3)) and len(tuning.grid) == 42
    # RRF: r gets 1/62 + 1/61, x 1/61 + 1/62: the same tie, so x first: 1/log2(3) for both queries
    assert tuning.rrf_ndcg10 == pytest.approx(1 / math.log2(3))
    assert tuning.settings.tuned_metric == {"ndcg@10 convex": 1.0, "ndcg@10 rrf": round(1 / math.log2(3), 5)}
