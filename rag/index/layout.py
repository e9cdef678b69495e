"""Where the active build of an index folder is (kept apart from build.py so that loading an
index for a query imports nothing of the build machinery)."""

from __future__ import annotations

from pathlib import Path

from rag.errors import IndexStateError

CURRENT = "CURRENT"


def current_build(index_root: Path) -> Path:
    """The folder of the active build of `index_root`."""
    pointer = index_root / CURRENT
    if not index_root.exists():
        raise IndexStateError(f"{index_root}: no index here; build one with `rag index build`")
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError as error:
        if (index_root / "manifest.json").exists():  # a bare build folder given directly
            return index_root
        raise IndexStateError(f"{pointer}: missing; build the index with `rag index build`") from error
    folder = index_root / name
    if not name.startswith("build-") or not folder.is_dir():
        raise IndexStateError(f"{pointer}: names {name!r}, which is not a build folder; rebuild with `rag index build`")
    return folder
