"""One build at a time per index folder: a lock file holding the builder's pid; a lock whose process
is gone is stale and taken over."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from rag.errors import IndexLockedError

LOCK = "build.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BuildLock:
    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK

    def __enter__(self) -> BuildLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self._holder()
                if holder and holder.get("host") == socket.gethostname() and not _alive(int(holder.get("pid", -1))):
                    self.path.unlink(missing_ok=True)  # stale: its builder died
                    continue
                if holder is None and self._age() > 5:  # unreadable, not just being written: stale
                    self.path.unlink(missing_ok=True)
                    continue
                holder = holder or {"pid": "?", "started": "just now"}
                raise IndexLockedError(
                    f"{self.path}: another build (pid {holder.get('pid')}, started {holder.get('started')}) is running; "
                    "wait for it or stop it"
                ) from None
            with os.fdopen(fd, "w") as handle:
                json.dump({"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}, handle)
            return self
        raise IndexLockedError(f"{self.path}: could not take the build lock")

    def _holder(self) -> dict | None:
        try:
            value = json.loads(self.path.read_text())
            return value if isinstance(value, dict) and type(value.get("pid")) is int else None  # "abc": unreadable
        except (OSError, ValueError):
            return None

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return 0.0

    def __exit__(self, *exc: object) -> None:
        holder = self._holder()
        if holder and holder.get("pid") == os.getpid():
            self.path.unlink(missing_ok=True)
