"""A crash-safe embedding cache keyed by the hash of the embedded text.

Vectors are appended in shards (`shard-000007.npy` + `shard-000007.keys.json`); a shard counts only
once its keys file exists, and both are written by rename, so a build killed at any moment loses at
most the batch in flight. Unchanged passages are never re-embedded, and an interrupted build resumes.
A damaged shard (empty, truncated, unreadable keys) is ignored, and a cached vector is reused only
when it is finite, unit norm and of the model's dimension: anything else is simply embedded again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def model_slug(name: str) -> str:
    """The folder name of a model's cache: its name made path-safe, and for a model folder `rag tune`
    wrote, its tune.json stamp too (a model retrained into the same folder gets a fresh cache)."""
    from rag.embedding import tuned_stamp

    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "model"
    stamp = tuned_stamp(name)
    return f"{slug}-tuned-{stamp}" if stamp else slug


def _atomic_write_bytes(path: Path, write) -> None:  # noqa: ANN001
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("wb") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_shard(folder: Path, number: int, dimension: int) -> tuple[list[str], np.ndarray] | None:
    """(keys, vectors) of a shard, or None when its files are unreadable or disagree in shape."""
    try:
        keys = json.loads((folder / f"shard-{number:06d}.keys.json").read_text())
        vectors = np.load(folder / f"shard-{number:06d}.npy", allow_pickle=False, mmap_mode="r")
    except (OSError, ValueError, EOFError):  # EOFError: an empty .npy file
        return None
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        return None
    if vectors.ndim != 2 or vectors.shape != (len(keys), dimension) or vectors.dtype != np.float32:
        return None
    return keys, vectors


def _sound_rows(vectors: np.ndarray, tolerance: float = 1e-3) -> np.ndarray:
    """Rows that are finite unit vectors (what the encoder writes); damaged bytes give anything else."""
    with np.errstate(all="ignore"):
        norms = np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=1)
    return np.isfinite(norms) & (np.abs(norms - 1.0) <= tolerance)


class EmbeddingCache:
    def __init__(self, folder: Path, dimension: int) -> None:
        self.folder = folder
        self.dimension = dimension
        folder.mkdir(parents=True, exist_ok=True)
        self._where: dict[str, tuple[int, int]] = {}
        self._shards: dict[int, np.ndarray] = {}
        for keys_file in sorted(folder.glob("shard-*.keys.json")):
            number = int(keys_file.name.split("-")[1].split(".")[0])
            shard = _read_shard(folder, number, dimension)
            if shard is None:
                continue  # a damaged shard is ignored: its passages are simply embedded again
            keys, vectors = shard
            self._shards[number] = vectors
            for row in np.flatnonzero(_sound_rows(vectors)):
                self._where[keys[row]] = (number, int(row))
        self._next = max(self._shards, default=-1) + 1

    def __contains__(self, key: str) -> bool:
        return key in self._where

    def __len__(self) -> int:
        return len(self._where)

    def keys(self) -> list[str]:
        """The keys of every sound cached vector."""
        return list(self._where)

    def get(self, keys: Sequence[str]) -> np.ndarray:
        out = np.empty((len(keys), self.dimension), dtype=np.float32)
        for i, key in enumerate(keys):
            shard, row = self._where[key]
            out[i] = self._shards[shard][row]
        return out

    def add(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        number = self._next
        self._next += 1
        _atomic_write_bytes(self.folder / f"shard-{number:06d}.npy", lambda h: np.save(h, vectors, allow_pickle=False))
        _atomic_write_bytes(self.folder / f"shard-{number:06d}.keys.json", lambda h: h.write(json.dumps(list(keys)).encode()))
        self._shards[number] = vectors
        for row, key in enumerate(keys):
            self._where[key] = (number, row)

    def compact(self, keep: Sequence[str]) -> None:
        """Rewrite the cache as one shard holding only `keep` (called after a successful build)."""
        keep = [k for k in dict.fromkeys(keep) if k in self._where]
        if len(keep) == len(self._where) and len(self._shards) <= 1:
            return
        vectors = self.get(keep)
        old = list(self._shards)
        self._shards.clear()
        self._where.clear()
        self.add(keep, vectors)
        for number in old:
            for suffix in (".keys.json", ".npy"):  # keys first: a half-deleted shard is never read
                (self.folder / f"shard-{number:06d}{suffix}").unlink(missing_ok=True)
