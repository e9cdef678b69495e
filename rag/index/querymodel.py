"""The query model (ONNX export + tokenizer) cached per embedding model and linked into each build.

The export is written once into `embeddings/<model>/onnx/` with a `checksums.json` of its files; a
build links the files into its `dense/` folder only after re-hashing them against that record, and
exports again when any is missing or damaged. So a damaged `model.onnx` never survives a rebuild (it
is a hard link to the cached copy, which is what a rebuild checks). A model folder written by `rag tune`
carries its export in the same layout (`<model>/onnx/` with `checksums.json`); when it verifies, the
cache copies it instead of exporting again.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from rag.embedding import PassageEncoder
from rag.index.integrity import Artifact, describe, same_files

CHECKSUMS = "checksums.json"


def ensure_query_model(cache_dir: Path, encoder: PassageEncoder, *, on_export: Callable[[], None]) -> Path:
    """The folder of the verified cached export, exporting it first if it is missing or damaged. A model
    folder that carries its own verified export in this layout (`rag tune` writes one) is copied instead."""
    onnx_dir = cache_dir / "onnx"
    if not _intact(onnx_dir):
        shipped = encoder.model_dir / "onnx"
        if shipped.resolve() != onnx_dir.resolve() and _intact(shipped):
            _stage(cache_dir, onnx_dir, lambda staging: shutil.copytree(shipped, staging))
        else:
            on_export()
            _export(cache_dir, onnx_dir, encoder)
    return onnx_dir


def cached_query_model(cache_dir: Path) -> Path | None:
    """The cached export's folder when it is intact (checked against its checksums), else None."""
    onnx_dir = cache_dir / "onnx"
    return onnx_dir if _intact(onnx_dir) else None


def link_query_model(cache_dir: Path, target: Path, encoder: PassageEncoder, *, on_export: Callable[[], None]) -> None:
    """Hard-link (or copy) the verified cached export into `target`, exporting it first if needed."""
    onnx_dir = ensure_query_model(cache_dir, encoder, on_export=on_export)
    target.mkdir(parents=True, exist_ok=True)
    for item in onnx_dir.iterdir():
        if item.name != CHECKSUMS:
            _link_or_copy(item, target / item.name)


def _intact(onnx_dir: Path) -> bool:
    try:
        raw = json.loads((onnx_dir / CHECKSUMS).read_text(encoding="utf-8"))
        recorded = {name: Artifact.model_validate(value) for name, value in raw.items()}
        names = {p.name for p in onnx_dir.iterdir()} - {CHECKSUMS}
    except (OSError, ValueError, AttributeError):
        return False
    return bool(names) and names == set(recorded) and same_files(onnx_dir, recorded, names)


def _export(cache_dir: Path, onnx_dir: Path, encoder: PassageEncoder) -> None:
    def export(staging: Path) -> None:
        encoder.export_onnx(staging)
        checksums = {p.name: describe(p).model_dump() for p in sorted(staging.iterdir())}
        (staging / CHECKSUMS).write_text(json.dumps(checksums, indent=2), encoding="utf-8")

    _stage(cache_dir, onnx_dir, export)


def _stage(cache_dir: Path, onnx_dir: Path, fill: Callable[[Path], object]) -> None:
    """Fill a staging folder beside `onnx_dir`, then rename it into place."""
    staging = cache_dir / f"onnx.{os.getpid()}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    fill(staging)
    shutil.rmtree(onnx_dir, ignore_errors=True)
    os.replace(staging, onnx_dir)


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
