"""The layout of an index folder: which build is active, and which entries this index made.

An index root holds a marker file (`rag-index.json`), a `CURRENT` pointer, `build-<stamp>` folders
(each with its own marker, `.rag-build`), `embeddings/` and, while a build runs, `build.lock`. A build
touches only entries it can prove it made: a folder is an old build when its name has the stamp
format and it holds the build marker, so a user's `build-docs/` beside the index is never removed.
A folder that holds other things and no marker is not an index, and a build refuses it.

Kept apart from build.py so that loading an index for a query imports nothing of the build machinery.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from rag.errors import IndexStateError

CURRENT = "CURRENT"
INDEX_MARKER = "rag-index.json"
BUILD_MARKER = ".rag-build"
BUILD_NAME = re.compile(r"^build-\d{8}T\d{12}Z(?:\.partial)?$")
_MARKER_TEXT = json.dumps({"format": "rag-index", "version": 1}) + "\n"


def current_build(index_root: Path) -> Path:
    """The folder of the active build of `index_root`."""
    pointer = index_root / CURRENT
    if not index_root.exists():
        raise IndexStateError(f"{index_root}: no index here; build one with `rag index build`")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        if (index_root / "manifest.json").exists():  # a bare build folder given directly
            return index_root
        if isinstance(error, UnicodeDecodeError):
            raise IndexStateError(f"{pointer}: not a build name (binary data); rebuild with `rag index build`") from error
        raise IndexStateError(f"{pointer}: missing; build the index with `rag index build`") from error
    folder = index_root / name
    if not name.startswith("build-") or "/" in name or "\\" in name or not folder.is_dir():
        raise IndexStateError(f"{pointer}: names {name!r}, which is not a build folder; rebuild with `rag index build`")
    return folder


def claim_index_root(index_root: Path) -> None:
    """Make sure `index_root` is (or may become) an index folder, and mark it as one.

    Accepted: a folder that does not exist yet, an empty folder, a folder with the index marker, or
    an index written before the marker existed (it has a `CURRENT` pointer). Anything else — a file, a
    folder of other things (the current directory, a documents folder) — is refused with one line,
    before anything is written."""
    if index_root.exists() and not index_root.is_dir():
        raise IndexStateError(f"{index_root}: is a file, not an index folder; pass a new or empty folder to --index")
    marker = index_root / INDEX_MARKER
    if marker.is_file():
        return
    if index_root.is_dir():
        try:
            entries = [p.name for p in index_root.iterdir()]
        except OSError as error:
            raise IndexStateError(f"{index_root}: cannot be read ({error.strerror}); pass a folder you can write to --index") from error
        if any(not _index_entry(name) for name in entries) and CURRENT not in entries:
            shown = ", ".join(sorted(entries)[:3]) + (", …" if len(entries) > 3 else "")
            raise IndexStateError(
                f"{index_root}: not an index folder (it holds {shown}); pass a new or empty folder to --index"
            )
        if CURRENT in entries:  # an index from before the markers: adopt the builds it made
            for name in entries:
                folder = index_root / name
                if BUILD_NAME.match(name) and folder.is_dir() and not folder.is_symlink() and (
                    name.endswith(".partial") or (folder / "manifest.json").is_file()
                ):
                    mark_build(folder)
    index_root.mkdir(parents=True, exist_ok=True)
    marker.write_text(_MARKER_TEXT, encoding="utf-8")


def _index_entry(name: str) -> bool:
    """A name only an index build writes (a root holding nothing else is an unfinished first build)."""
    return name in (CURRENT, INDEX_MARKER, "build.lock", "embeddings") or bool(BUILD_NAME.match(name)) or (
        name.startswith(f".{CURRENT}.") and name.endswith(".tmp")
    )


def mark_build(folder: Path) -> None:
    """Mark a folder as a build this index made (written first, before any artifact)."""
    (folder / BUILD_MARKER).write_text(_MARKER_TEXT, encoding="utf-8")


def owned_builds(index_root: Path) -> list[Path]:
    """Build folders (complete or partial) that this index made: stamp-format name and build marker."""
    return sorted(
        path for path in index_root.iterdir()
        if BUILD_NAME.match(path.name) and path.is_dir() and not path.is_symlink() and (path / BUILD_MARKER).is_file()
    )


def hold_build(folder: Path):  # -> BinaryIO | None
    """A shared lock on a build's marker, held as long as the returned handle lives: a build does not
    remove an old build a reader holds (it goes at a later build). None where there is no flock
    (Windows) or no marker (an index from before the markers)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return None
    marker = folder / BUILD_MARKER
    try:
        handle = marker.open("rb")
    except FileNotFoundError:
        if folder.is_dir() and (folder / "manifest.json").is_file():
            return None
        raise IndexStateError(f"{folder}: removed while opening (a rebuild replaced it); run the command again") from None
    fcntl.flock(handle, fcntl.LOCK_SH)
    try:
        same = marker.stat().st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        same = False
    if not same:  # a build removed it between open and lock
        handle.close()
        raise IndexStateError(f"{folder}: removed while opening (a rebuild replaced it); run the command again")
    return handle


def remove_unless_held(folder: Path) -> bool:
    """Remove an old build folder unless a reader holds it (see hold_build); True when removed."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        shutil.rmtree(folder, ignore_errors=True)
        return True
    try:
        handle = (folder / BUILD_MARKER).open("rb")
    except OSError:
        return False
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # a reader has it open: keep it for now
        shutil.rmtree(folder, ignore_errors=True)
    return True
