"""The BEIR reader on the real SciFact files (read in place from ../shared/data, never copied), its
error messages on broken folders, and BM25 reproducing Anserini's published SciFact figure."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.errors import EvalError
from rag.eval.beir import load_beir, read_queries, splits

SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"
needs_scifact = pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="../shared/data/scifact not present")


@pytest.fixture(autouse=True)
def eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAG_EVAL_INDEXES", str(tmp_path / "eval-indexes"))
    return tmp_path / "eval-indexes"


@needs_scifact
def test_scifact_splits_queries_and_judgments():
    # ../shared/data/README.md: qrels/test.tsv has 300 queries and 339 judgments, train.tsv 809 queries.
    assert splits(SCIFACT) == ["test", "train"]
    test = load_beir(SCIFACT, split="test")
    assert test.name == "scifact" and test.split == "test"
    assert len(test.qrels) == 300 and len(test.queries) == 300
    assert sum(len(docs) for docs in test.qrels.values()) == 339
    assert test.queries["1"] == "0-dimensional biomaterials show inductive properties."
    assert test.qrels["1"] == {"31715818": 1}
    assert len(load_beir(SCIFACT, split="train").qrels) == 809
    assert len(read_queries(SCIFACT / "queries.jsonl")) == 1109


@needs_scifact
def test_scifact_corpus_through_the_project_loader():
    from rag.loaders.beir import iter_documents

    documents = list(iter_documents(SCIFACT / "corpus.jsonl"))
    assert len(documents) == 5183
    first = documents[0]
    assert first.id == "4983" and first.kind == "abstract"
    assert first.title.startswith("Microstructural development of human newborn cerebral white matter")


def _beir(folder: Path, *, queries: str, qrels: str) -> Path:
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(json.dumps({"_id": "d1", "title": "T", "text": "x"}) + "\n")
    (folder / "queries.jsonl").write_text(queries)
    (folder / "qrels" / "test.tsv").write_text(qrels)
    return folder


def test_errors_name_file_line_and_field(tmp_path: Path):
    ok_queries = json.dumps({"_id": "q1", "text": "a question"}) + "\n"
    ok_qrels = "query-id\tcorpus-id\tscore\nq1\td1\t1\n"
    folder = _beir(tmp_path / "a", queries=ok_queries, qrels=ok_qrels)
    with pytest.raises(EvalError, match=r"qrels/dev\.tsv: missing; splits available: test"):
        load_beir(folder, split="dev")
    folder = _beir(tmp_path / "b", queries=ok_queries + "{oops\n", qrels=ok_qrels)
    with pytest.raises(EvalError, match=r"queries\.jsonl:2: not valid JSON"):
        load_beir(folder)
    folder = _beir(tmp_path / "c", queries=json.dumps({"_id": "q1"}) + "\n", qrels=ok_qrels)
    with pytest.raises(EvalError, match=r"queries\.jsonl:1: field 'text' missing"):
        load_beir(folder)
    folder = _beir(tmp_path / "d", queries=ok_queries, qrels=ok_qrels + "q2\td1\t1\n")
    with pytest.raises(EvalError, match=r"queries\.jsonl: no query 'q2' \(named in .*test\.tsv; 1 missing in all\)"):
        load_beir(folder)
    with pytest.raises(EvalError, match="no such dataset folder"):
        load_beir(tmp_path / "nowhere")


@needs_scifact
def test_bm25_reproduces_anserini_flat_on_scifact(tmp_path: Path, eval_cache: Path):
    """Acceptance: our BM25 within 0.01 nDCG@10 of Anserini's BM25 flat (0.6789) on all 300 test queries
    and the whole 5,183-abstract corpus. Depth 100 instead of 1000 keeps the test fast; nDCG@10 and
    Recall@100 do not depend on anything deeper. The second call must reuse the cached index."""
    from rag.eval.retrieval import evaluate_retrieval

    report = evaluate_retrieval(SCIFACT, retrievers=["bm25"], depth=100, write=False)
    assert report.index.built and report.index.documents == report.index.passages == 5183
    assert report.index.path.startswith(str(eval_cache))
    check = report.reproduction
    assert check is not None and check.baseline == "Anserini BM25 flat" and check.published == 0.6789
    assert abs(check.ours - 0.6789) <= 0.01, check
    assert check.passed
    recall = report.results["bm25"].metrics["recall@100"]
    assert abs(recall - 0.9253) <= 0.02  # Anserini's R@100
    again = evaluate_retrieval(SCIFACT, retrievers=["bm25"], depth=100, write=False)
    assert not again.index.built and again.index.path == report.index.path
    assert again.results["bm25"].metrics == report.results["bm25"].metrics
