"""Default locations: the corpus that ships with the project and its index (overridable by env)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _from_env(name: str, default: Path) -> Path:
    """The path an environment variable names; an empty variable counts as unset (never the cwd)."""
    value = os.environ.get(name, "").strip()
    return Path(value) if value else default


def default_corpus() -> Path:
    return _from_env("RAG_CORPUS", PROJECT_ROOT / "corpus")


def default_index() -> Path:
    return _from_env("RAG_INDEX", PROJECT_ROOT / "indexes" / "default")
