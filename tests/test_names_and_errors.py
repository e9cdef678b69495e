"""Ids, names and error lines (issue 12, classes 6 and 7): non-ASCII file names keep distinct ids; a
file name with a newline does not cut the error line; every failure the hostile run found is one line
that names its file and says what to do. Each hostile input is made here, small, on real files."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FIXTURE_CORPUS, RAG, one_line_error

GOOD = (FIXTURE_CORPUS / "hpv-screening-abstract.md").read_text(encoding="utf-8")


def _page(title: str, text: str) -> str:
    return f"<html><head><title>{title}</title></head><body><h1>{title}</h1><p>{text}</p></body></html>"


def _corpus(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content, encoding="utf-8")
    return folder


def _build(rag, corpus: Path, index: Path, *extra: str) -> subprocess.CompletedProcess:
    return rag("index", "build", "--no-dense", "--corpus", str(corpus), "--index", str(index), *extra)


# --------------------------------------------------------------------------- class 6: ids and names


def test_non_ascii_file_names_keep_distinct_ids(rag, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", {
        "指南.html": _page("Cervical screening guideline", "Screen every five years with primary HPV testing."),
        "试验.html": _page("Cervical screening trial", "The randomised trial compared HPV testing with cytology."),
        "Barré.html": _page("Guillain-Barré note", "Guillain-Barré syndrome after vaccination is rare."),
    })
    built = _build(rag, corpus, tmp_path / "i")
    assert built.returncode == 0, built.stderr
    assert "indexed 3 documents" in built.stdout
    listed = json.loads(rag("corpus", "list", "--corpus", str(corpus), "--format", "json").stdout)
    ids = sorted(d["id"] for d in listed)
    assert len(set(ids)) == 3 and all(i.startswith("html-") for i in ids), ids
    assert "html-barr-" in " ".join(ids)  # what ASCII there is stays readable, a hash tells the names apart


def test_a_file_name_with_a_newline_stays_on_the_error_line(rag, tmp_path: Path) -> None:
    bad = "bad\nname.md"
    corpus = _corpus(tmp_path / "c", {bad: "---\ntitle: [unclosed\n---\n\ntext\n"})
    line = one_line_error(_build(rag, corpus, tmp_path / "i"), "no readable documents", "bad\\nname.md")
    assert "not valid YAML" in line  # the line goes on past the file name
    mixed = _corpus(tmp_path / "c", {"good.md": GOOD})
    lenient = _build(rag, mixed, tmp_path / "i2")
    assert lenient.returncode == 0
    skipped = [line for line in lenient.stderr.splitlines() if line.startswith("skipped:")]
    assert len(skipped) == 1 and "bad\\nname.md" in skipped[0] and "not valid YAML" in skipped[0], lenient.stderr
    validate = rag("corpus", "validate", str(mixed))
    assert validate.returncode == 1 and len(validate.stdout.strip().splitlines()) == 1
    assert "bad\\nname.md" in validate.stdout and "not valid YAML" in validate.stdout


# --------------------------------------------------------------------------- class 7: errors


def test_a_one_passage_index_matches(rag, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", {"only.md": GOOD})
    built = _build(rag, corpus, tmp_path / "i")
    assert built.returncode == 0 and "1 passages" in built.stdout, built.stdout + built.stderr
    found = rag("search", "primary HPV testing", "--retriever", "bm25", "--index", str(tmp_path / "i"), "--format", "json")
    assert found.returncode == 0 and [h["doc_id"] for h in json.loads(found.stdout)["hits"]] == ["hpv-screening-abstract"]


def test_a_malformed_lock_names_the_file_and_goes_stale(rag, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", {"good.md": GOOD})
    lock = tmp_path / "i" / "build.lock"
    lock.parent.mkdir()
    lock.write_text(json.dumps({"pid": "abc", "host": socket.gethostname(), "started": "now"}))
    one_line_error(_build(rag, corpus, tmp_path / "i"), "build.lock", "wait")
    past = time.time() - 60  # a lock nobody is writing: unreadable is stale, taken over
    os.utime(lock, (past, past))
    assert _build(rag, corpus, tmp_path / "i").returncode == 0


def _limited(limit: int):
    def start() -> None:  # a real write failure: the kernel refuses to grow a file past `limit` (EFBIG)
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return start


@pytest.mark.parametrize("limit", [4096, 40_000])  # the BM25 arrays (numpy), then the passage store (sqlite)
def test_a_full_disk_is_one_line_and_keeps_the_previous_index(rag, tmp_path: Path, limit: int) -> None:
    index = tmp_path / "i"
    assert _build(rag, _corpus(tmp_path / "small", {"good.md": GOOD}), index).returncode == 0
    current = (index / "CURRENT").read_text()
    args = [str(RAG), "index", "build", "--no-dense", "--corpus", str(FIXTURE_CORPUS), "--index", str(index)]
    full = subprocess.run(args, capture_output=True, text=True, preexec_fn=_limited(limit), timeout=300)
    one_line_error(full, str(index), "not written", "free disk space")
    assert (index / "CURRENT").read_text() == current
    assert rag("search", "primary HPV testing", "--retriever", "bm25", "--index", str(index)).returncode == 0


def test_validate_names_the_file_of_deep_yaml_and_of_invalid_utf8(rag, tmp_path: Path) -> None:
    deep = GOOD.replace("as_of:", "notes: " + "[" * 3000 + "]" * 3000 + "\nas_of:", 1)
    corpus = _corpus(tmp_path / "c", {"deep.md": deep, "latin1.md": GOOD.replace("hpv-screening-abstract", "other").encode() + b"caf\xe9\n"})
    result = rag("corpus", "validate", str(corpus))
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    lines = sorted(result.stdout.strip().splitlines())
    assert len(lines) == 2, lines
    assert "deep.md: front matter is nested too deeply" in lines[0] and "plain fields" in lines[0]  # refused before the parser recurses
    assert "latin1.md: document unreadable (UnicodeDecodeError" in lines[1] and "UTF-8" in lines[1]


def test_a_binary_run_file_is_named(rag, tmp_path: Path) -> None:
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("q1 0 d1 1\n")
    text = tmp_path / "a.trec"
    text.write_text("q1 Q0 d1 1 1.0 a\n")
    binary = tmp_path / "b.trec"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    one_line_error(rag("eval", "compare", str(text), str(binary), "--dataset", str(qrels)), "b.trec: run file unreadable", "UTF-8")


@pytest.mark.parametrize("command", ["search", "ask"])
def test_a_non_utf8_argument_is_one_line(tmp_path: Path, command: str) -> None:
    corpus = _corpus(tmp_path / "c", {"good.md": GOOD})
    index = tmp_path / "i"
    assert subprocess.run([str(RAG), "index", "build", "--no-dense", "--corpus", str(corpus), "--index", str(index)],
                          capture_output=True).returncode == 0
    raw = subprocess.run([str(RAG).encode(), command.encode(), b"HPV \xff\xfe testing", b"--index", str(index).encode()],
                         capture_output=True, text=True, timeout=120)
    one_line_error(raw, "not UTF-8")
