"""Default locations: the corpus that ships with the project and its index (overridable by env)."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def default_corpus() -> Path:
    return Path(os.environ.get("RAG_CORPUS", PROJECT_ROOT / "corpus"))


def default_index() -> Path:
    return Path(os.environ.get("RAG_INDEX", PROJECT_ROOT / "indexes" / "default"))
