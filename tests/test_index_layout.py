"""An index build touches only what the index made: it never deletes a folder it did not create, and
it refuses a folder that is not an index (or is a file) with one line, before writing anything."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURE_CORPUS

from rag.errors import IndexStateError
from rag.index.build import BuildSettings, build_index
from rag.index.layout import BUILD_MARKER, CURRENT, INDEX_MARKER, owned_builds
from rag.index.load import open_index
from rag.paths import default_index

BM25_ONLY = BuildSettings(dense=False)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_folder_of_other_things_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    root = tmp_path / "d"
    (root / "build-docs").mkdir(parents=True)
    (root / "build-docs" / "keep.txt").write_text("x")
    (root / "notes.md").write_text("mine")
    before = _tree(root)
    with pytest.raises(IndexStateError, match=r"d: not an index folder \(it holds build-docs, notes.md\)"):
        build_index([FIXTURE_CORPUS], root, BM25_ONLY)
    assert _tree(root) == before  # nothing written, nothing removed


def test_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "index.txt"
    target.write_text("not a folder")
    with pytest.raises(IndexStateError, match="index.txt: is a file, not an index folder"):
        build_index([FIXTURE_CORPUS], target, BM25_ONLY)
    assert target.read_text() == "not a folder"


def test_rebuilds_remove_only_their_own_old_builds(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([FIXTURE_CORPUS], root, BM25_ONLY)
    first = open_index(root).folder
    # Things a user (or another tool) put beside the index later, some named like builds:
    (root / "build-docs").mkdir()
    (root / "build-docs" / "keep.txt").write_text("x")
    lookalike = root / "build-20200101T000000000000Z"  # stamp-format name, but not made by a build
    lookalike.mkdir()
    (lookalike / "keep.txt").write_text("y")
    build_index([FIXTURE_CORPUS], root, BM25_ONLY)
    second = open_index(root).folder
    assert second != first and not first.exists()  # the replaced build is gone ...
    assert (root / "build-docs" / "keep.txt").read_text() == "x"  # ... and nothing else
    assert (lookalike / "keep.txt").read_text() == "y"
    assert owned_builds(root) == [second]
    assert (root / INDEX_MARKER).is_file() and (second / BUILD_MARKER).is_file()


def test_an_index_from_before_the_markers_is_adopted(tmp_path: Path) -> None:
    root = tmp_path / "index"
    build_index([FIXTURE_CORPUS], root, BM25_ONLY)
    old = open_index(root).folder
    (root / INDEX_MARKER).unlink()  # what an index built by the previous version looks like
    (old / BUILD_MARKER).unlink()
    build_index([FIXTURE_CORPUS], root, BM25_ONLY)
    assert not old.exists() and (root / CURRENT).read_text().strip() == open_index(root).folder.name


def test_an_empty_environment_variable_is_not_the_current_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_INDEX", "")
    assert default_index() != Path("") and default_index().name == "default"
    monkeypatch.setenv("RAG_INDEX", "  ")
    assert default_index().name == "default"


def test_the_current_directory_is_refused_when_it_holds_files(rag, tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "build-docs").mkdir(parents=True)
    (work / "build-docs" / "keep.txt").write_text("x")
    result = rag("index", "build", "--no-dense", "--corpus", str(FIXTURE_CORPUS), "--index", str(work))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "not an index folder" in result.stderr and "Traceback" not in result.stderr
    assert (work / "build-docs" / "keep.txt").read_text() == "x" and not (work / INDEX_MARKER).exists()
