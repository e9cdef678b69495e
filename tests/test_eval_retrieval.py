"""`rag eval retrieval` end to end on small real data: a slice of SciFact (written to a temporary BEIR
folder at test time) and the gold-set path over the fixture corpus. Checks the `--format json` shape,
the report folder, the index cache, and that errors stay one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_scifact_sample

from rag.eval.retrieval import evaluate_retrieval
from rag.eval.runs import read_trec_run

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
FIXTURES = Path(__file__).resolve().parent / "data"
needs_scifact = pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="../shared/data/scifact not present")


pytestmark = pytest.mark.usefixtures("eval_cache")  # evaluation indexes in each test's own folder


@pytest.fixture(scope="module")
def mini_scifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 SciFact test queries, 12 train queries, their relevant abstracts and the first 40 abstracts."""
    return write_scifact_sample(tmp_path_factory.mktemp("mini") / "mini-scifact", test_queries=12, train_queries=12, first_documents=40)


def test_cli_json_shape_report_folder_and_cache(mini_scifact: Path, tmp_path: Path, rag):
    out = tmp_path / "report"
    done = rag("eval", "retrieval", "--dataset", str(mini_scifact), "--retriever", "bm25", "--out", str(out), "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"dataset", "split", "results"}
    assert (data["dataset"], data["split"], list(data["results"])) == ("mini-scifact", "test", ["bm25"])
    bm25 = data["results"]["bm25"]
    assert list(bm25) == ["ndcg@10", "recall@100", "mrr@10", "map", "queries", "seconds"]
    assert all(isinstance(bm25[k], float) for k in ("ndcg@10", "recall@100", "mrr@10", "map", "seconds"))
    assert bm25["queries"] == 12 and 0.5 < bm25["ndcg@10"] <= 1.0  # the relevant abstracts are among ~55 documents

    run, tag = read_trec_run(out / "mini-scifact-test.bm25.trec")
    assert tag == "rag-bm25" and len(run) == 12
    report = json.loads((out / "report.json").read_text())
    assert report["index"]["built"] is True and report["index"]["settings"]["chunking"]["mode"] == "document"
    assert report["per_query"]["bm25"]["ndcg@10"].keys() == run.keys()
    assert "| **rag bm25** |" in (out / "report.md").read_text()
    assert (out / "ndcg10.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    again = rag("eval", "retrieval", "--dataset", str(mini_scifact), "--retriever", "bm25", "--out", str(out))
    assert again.returncode == 0, again.stderr
    assert "rag bm25" in again.stdout and "cached" in again.stdout
    assert json.loads((out / "report.json").read_text())["index"]["built"] is False


def test_cli_errors_are_one_line(mini_scifact: Path, tmp_path: Path, rag):
    for args, message in [
        (("--dataset", str(tmp_path / "nowhere")), "no such dataset"),
        (("--dataset", str(mini_scifact), "--retriever", "splade"), "unknown retriever 'splade'"),
        (("--dataset", str(mini_scifact), "--split", "dev"), "qrels/dev.tsv: missing; splits available: test"),
        (("--dataset", str(mini_scifact), "--format", "yaml"), "unknown --format 'yaml'"),
    ]:
        done = rag("eval", "retrieval", *args, "--out", str(tmp_path / "o"))
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith("error: ") and message in lines[-1], done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_dense_and_hybrid_then_cache_without_reembedding(mini_scifact: Path, tmp_path: Path):
    """All three retrievers on the slice; the second run opens the cached index and embeds nothing."""
    first = evaluate_retrieval(mini_scifact, retrievers=["bm25", "dense", "hybrid"], out_dir=tmp_path / "a")
    assert list(first.results) == ["bm25", "dense", "hybrid"]
    assert first.index.built and first.index.embedded == first.index.passages
    for result in first.results.values():
        assert result.queries == 12 and 0.3 < result.metrics["ndcg@10"] <= 1.0
    second = evaluate_retrieval(mini_scifact, retrievers=["dense"], out_dir=tmp_path / "b")
    assert not second.index.built and second.index.embedded == 0 and second.index.path == first.index.path
    assert second.results["dense"].metrics == first.results["dense"].metrics
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "mini-scifact-test.bm25.trec", "mini-scifact-test.dense.trec", "mini-scifact-test.hybrid.trec",
        "ndcg10.png", "report.json", "report.md",
    ]


def test_fusion_tuned_on_train_is_scored_on_test_and_kept_beside_the_index(mini_scifact: Path, tmp_path: Path):
    """--tune-fusion-on train: hybrid (RRF) and hybrid-convex (the weight chosen on the 12 train
    queries) on the 12 test queries; fusion.json in the report folder and beside the index, where a
    later plain run's hybrid picks it up. Tuning on the split being scored is refused."""
    from rag.errors import EvalError
    from rag.fusion import load_fusion

    rrf = evaluate_retrieval(mini_scifact, retrievers=["hybrid"], write=False)
    assert rrf.fusion["method"] == "rrf"
    tuned = evaluate_retrieval(mini_scifact, retrievers=["hybrid"], out_dir=tmp_path / "t", tune_fusion_on="train")
    assert list(tuned.results) == ["hybrid", "hybrid-convex"]
    assert tuned.results["hybrid"].metrics == rrf.results["hybrid"].metrics  # still RRF, not the tuned fusion
    chosen = load_fusion(tmp_path / "t" / "fusion.json")
    assert chosen is not None and chosen.method == "convex" and chosen.tuned_on == "mini-scifact train (12 queries)"
    assert load_fusion(Path(tuned.index.path) / "fusion.json") == chosen
    assert len(tuned.fusion_tuning["grid"]) == 42
    best = max(p["ndcg10"] for p in tuned.fusion_tuning["grid"])
    assert chosen.tuned_metric["ndcg@10 convex"] == round(best, 5)
    later = evaluate_retrieval(mini_scifact, retrievers=["hybrid"], write=False)
    assert later.fusion == chosen.model_dump() and later.results["hybrid"].metrics == tuned.results["hybrid-convex"].metrics
    with pytest.raises(EvalError, match="the split being scored"):
        evaluate_retrieval(mini_scifact, retrievers=["hybrid"], write=False, tune_fusion_on="test")


def test_a_fusion_chosen_elsewhere_is_scored_as_hybrid_convex(mini_scifact: Path, tmp_path: Path):
    """--fusion FILE: no label of this dataset chooses the weight; hybrid stays RRF, hybrid-convex is the given fusion
    (all weight on dense: dense's own ranking)."""
    from rag.errors import EvalError
    from rag.fusion import FusionSettings, save_fusion

    given = save_fusion(FusionSettings(method="convex", normalizer="minmax", dense_weight=1.0, tuned_on="elsewhere"), tmp_path / "f.json")
    report = evaluate_retrieval(mini_scifact, retrievers=["dense", "hybrid"], write=False, fusion=given)
    assert list(report.results) == ["dense", "hybrid", "hybrid-convex"] and report.fusion["method"] == "rrf"
    assert report.results["hybrid-convex"].metrics["ndcg@10"] == pytest.approx(report.results["dense"].metrics["ndcg@10"])
    assert report.fusion_tuning["settings"]["tuned_on"] == "elsewhere"
    with pytest.raises(EvalError, match="no such fusion file"):
        evaluate_retrieval(mini_scifact, retrievers=["hybrid"], write=False, fusion=tmp_path / "missing.json")
    with pytest.raises(EvalError, match="choose one"):
        evaluate_retrieval(mini_scifact, retrievers=["hybrid"], write=False, fusion=given, tune_fusion_on="train")


def test_gold_set_takes_the_same_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A gold .jsonl over the project corpus (here the fixture corpus) is evaluated like a BEIR split."""
    monkeypatch.setenv("RAG_CORPUS", str(FIXTURES / "corpus"))
    fixture_queries = [json.loads(line) for line in (FIXTURES / "queries.jsonl").read_text().splitlines() if line.strip()]
    gold = tmp_path / "questions.jsonl"
    gold.write_text("".join(
        json.dumps({"id": f"fx-{i}", "split": "test", "question": q["query"], "expect": "answer",
                    "relevant": {doc: 2 if j == 0 else 1 for j, doc in enumerate(q["expected"])}}) + "\n"
        for i, q in enumerate(fixture_queries)
    ))
    report = evaluate_retrieval(gold, split="test", retrievers=["bm25"], write=False)
    assert (report.dataset, report.kind, report.baselines) == ("gold", "gold", [])
    assert report.results["bm25"].queries == len(fixture_queries)
    assert report.index.settings["chunking"]["mode"] == "sentences"  # the engine's own settings
    assert report.results["bm25"].metrics["recall@100"] == 1.0  # 20 documents: every one is retrieved
    assert report.results["bm25"].metrics["ndcg@10"] > 0.7
