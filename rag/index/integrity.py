"""Artifact checksums: what a build records in its manifest, what opening an index checks cheaply,
and what `rag index status --verify` re-hashes.

A build records the size and sha256 of every file it wrote (`Artifact`, keyed by the path inside the
build folder) and, in `stamps.json`, each file's stat signature (inode, size, mtime, ctime) as git's
index does. Opening an index only stats the files: a file whose signature is unchanged is the file
that was hashed (any write through the file system moves its ctime, which no user tool can set back);
a file whose size differs is refused at once; a file with another signature (the index was copied,
or written to) is re-hashed once, and refused if its sha256 differs, else its new signature is saved
for the next open (when the folder is writable). The content checks that need no hashing (arrays in
range, unit vectors) also run when each part is first loaded.
`rag index status --verify` re-hashes every file regardless (~1 GB/s here), which also catches
damage below the file system (bad sectors, bit rot).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import IndexStateError

REBUILD = "rebuild with `rag index build`"
STAMPS = "stamps.json"
UNRECORDED = frozenset({"manifest.json", ".rag-build", STAMPS})  # written around the artifacts, not artifacts
_BLOCK = 1 << 20


class Artifact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(ge=0, description="Bytes.")
    sha256: str = Field(description="sha256 of the file's bytes, hex.")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def describe(path: Path) -> Artifact:
    return Artifact(size=path.stat().st_size, sha256=sha256_of(path))


def record_artifacts(folder: Path) -> dict[str, Artifact]:
    """Size and checksum of every file under `folder` (relative POSIX path -> Artifact)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in UNRECORDED)
    return {p.relative_to(folder).as_posix(): describe(p) for p in files}


def part_name(name: str) -> str:
    """What a file is, in words a user knows from the error messages of loading."""
    if name.startswith("bm25/"):
        return "lexical index"
    if name == "dense/vectors.faiss":
        return "dense index"
    if name.startswith("dense/"):
        return "query model"
    if name.startswith("profile"):
        return "field profile"
    return "passage store" if name == "store.sqlite" else "index file"


def damaged(folder: Path, name: str, detail: str) -> IndexStateError:
    return IndexStateError(f"{folder / name}: {part_name(name)} unreadable ({detail}); {REBUILD}")


def _signature(stat: os.stat_result) -> list[int]:
    return [stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def _stat(folder: Path, name: str, artifact: Artifact) -> os.stat_result:
    try:
        stat = (folder / name).stat()
    except OSError:
        raise IndexStateError(f"{folder / name}: {part_name(name)} missing; {REBUILD}") from None
    if stat.st_size != artifact.size:
        raise damaged(folder, name, f"{stat.st_size} bytes, the manifest records {artifact.size}")
    return stat


def write_stamps(folder: Path, artifacts: dict[str, Artifact]) -> None:
    """Save the stat signature of every artifact (after the build wrote them, or a reader re-hashed)."""
    stamps = {name: _signature((folder / name).stat()) for name in artifacts}
    tmp = folder / f".{STAMPS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(stamps), encoding="utf-8")
    os.replace(tmp, folder / STAMPS)


def _read_stamps(folder: Path) -> dict[str, list[int]]:
    try:
        value = json.loads((folder / STAMPS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def check_files(folder: Path, artifacts: dict[str, Artifact]) -> list[str]:
    """The check at open: sizes and stat signatures, re-hashing only files whose signature changed.
    Returns the names re-hashed (none on an index as its build left it)."""
    stamps = _read_stamps(folder)
    rehashed = []
    for name, artifact in artifacts.items():
        if stamps.get(name) != _signature(_stat(folder, name, artifact)):
            if sha256_of(folder / name) != artifact.sha256:
                raise damaged(folder, name, "changed since the build: its sha256 differs from the manifest's")
            rehashed.append(name)
    if rehashed:
        try:
            write_stamps(folder, artifacts)
        except OSError:
            pass  # a read-only copy: it is re-hashed at each open (still correct, only slower)
    return rehashed


def check_checksums(folder: Path, artifacts: dict[str, Artifact], *, on_file: Callable[[str], object] | None = None) -> None:
    """The full check: re-hash every recorded file (reads every byte)."""
    for name, artifact in artifacts.items():
        _stat(folder, name, artifact)
        if sha256_of(folder / name) != artifact.sha256:
            raise damaged(folder, name, "its sha256 differs from the manifest's: the file was changed or damaged")
        if on_file:
            on_file(name)


def same_files(folder: Path, artifacts: dict[str, Artifact], names: Iterable[str]) -> bool:
    """True when each of `names` exists in `folder` with its recorded checksum (used on the ONNX cache)."""
    try:
        return all(name in artifacts and describe(folder / name) == artifacts[name] for name in names)
    except OSError:
        return False
