"""Publishing a trained model folder (`rag tune`, `rag rerank train`): written in a staging folder, then
renamed into place, so an interrupted run never leaves a half model at the target."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path


def make_readable(folder: Path) -> None:
    """Files get the permissions the umask gives new files (weights are saved through 0600 temp files)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(0o666 & ~mask)


def move_into_place(staging: Path, target: Path, *, check: Callable[[Path], None]) -> None:
    """Rename the staging folder to `target`; an existing target (which `check` must accept, again: another run
    may have written it meanwhile) is renamed aside first and removed after, so a crash in between leaves it
    beside the target, never a half model at it."""
    check(target)
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.replaced-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
