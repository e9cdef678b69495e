"""One build at a time per index folder: `build.lock` records who holds it (host, pid, the process's
start time and the machine's boot id), so a lock is judged stale exactly:

- same host and boot: stale when that pid is gone or now names a different process (a reused pid has
  another start time);
- same host, another boot id: the machine restarted since, so the builder is gone;
- another host (a container or machine sharing the folder): nothing here can see its processes, so the
  lock is refused with a message naming the file and when it is safe to delete it.
Only a holder proven to be the build itself (same pid and start time) is offered to be stopped.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from rag.errors import IndexLockedError

LOCK = "build.lock"


class LockHolder(BaseModel):
    """Who holds a build lock (the JSON in `build.lock`)."""

    model_config = ConfigDict(extra="ignore")

    pid: int
    host: str = ""
    started: str = "?"
    boot_id: str | None = None
    process_start: str | None = None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (clock ticks since boot, field 22 of /proc/<pid>/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def me() -> LockHolder:
    return LockHolder(
        pid=os.getpid(), host=socket.gethostname(), started=time.strftime("%Y-%m-%dT%H:%M:%S"),
        boot_id=_boot_id(), process_start=_process_start(os.getpid()),
    )


def is_stale(holder: LockHolder) -> bool:
    """True when the holder certainly no longer runs (only provable on this host)."""
    if holder.host != socket.gethostname():
        return False
    if holder.boot_id and _boot_id() and holder.boot_id != _boot_id():
        return True  # rebooted since
    if not _alive(holder.pid):
        return True
    start = _process_start(holder.pid)
    return bool(holder.process_start and start and start != holder.process_start)  # the pid was reused


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
                if (holder and is_stale(holder)) or (holder is None and self._age() > 5):  # unreadable, not being written
                    self.path.unlink(missing_ok=True)
                    continue
                raise IndexLockedError(self._refusal(holder)) from None
            with os.fdopen(fd, "w") as handle:
                handle.write(me().model_dump_json())
            return self
        raise IndexLockedError(f"{self.path}: could not take the build lock; if no build is running, delete {self.path} and retry")

    def _refusal(self, holder: LockHolder | None) -> str:
        if holder is None:
            return f"{self.path}: another build is starting (lock just written); wait a few seconds and retry"
        if holder.host != socket.gethostname():
            return (
                f"{self.path}: held by a build on host {holder.host!r} (pid {holder.pid}, started {holder.started}), "
                f"which this machine cannot check; once no build runs there, delete {self.path} and retry"
            )
        running = f"{self.path}: another build (pid {holder.pid}, started {holder.started}) is running"
        if holder.process_start and holder.process_start == _process_start(holder.pid):
            return f"{running}; wait for it or stop it"  # that very process: its start time matches
        return f"{running}; wait for it to finish"

    def _holder(self) -> LockHolder | None:
        try:
            return LockHolder.model_validate_json(self.path.read_text())
        except (OSError, ValueError, ValidationError):
            return None

    def _age(self) -> float:
        try:
            return time.time() - self.path.stat().st_mtime
        except OSError:
            return 0.0

    def __exit__(self, *exc: object) -> None:
        holder = self._holder()
        if holder and holder.pid == os.getpid():
            self.path.unlink(missing_ok=True)
