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


def embedding_cache_root() -> Path:
    """The index folder whose `embeddings/<model>/` (vectors, query model) a Milvus index shares:
    RAG_EMBEDDINGS, else the default index's."""
    return _from_env("RAG_EMBEDDINGS", default_index())


def served_index(value: str | None) -> Path | str:
    """The index a query command reads: a folder (Path) or a Milvus URI (str, milvus://…); the
    --index value, else RAG_INDEX, else the default index."""
    text = (value or "").strip() or os.environ.get("RAG_INDEX", "").strip()
    if text.startswith("milvus://"):
        return text
    return Path(text) if text else default_index()


def milvus_uri(value: str | None) -> str:
    """The Milvus index a build writes: --uri, else RAG_MILVUS_URI."""
    from rag.errors import IndexStateError

    text = (value or "").strip() or os.environ.get("RAG_MILVUS_URI", "").strip()
    if not text:
        raise IndexStateError("--backend milvus needs a server: pass --uri milvus://HOST:PORT/NAME or set RAG_MILVUS_URI")
    return text
