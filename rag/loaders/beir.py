"""BEIR corpus.jsonl: one JSON object a line with `_id`, `title`, `text` (and optional `metadata`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.errors import CorpusError
from rag.jsonl import iter_jsonl
from rag.loaders.limits import check_document_count, check_file_size
from rag.models import Document, Section


def can_load(path: Path) -> bool:
    if path.suffix.lower() != ".jsonl":
        return False
    if path.name == "corpus.jsonl":
        return True
    try:
        with path.open(encoding="utf-8") as handle:
            first = json.loads(handle.readline() or "{}")
    except (OSError, ValueError):
        return False
    return isinstance(first, dict) and "_id" in first and "text" in first


def iter_documents(path: Path) -> Iterator[Document]:
    for number, record in iter_jsonl(path, CorpusError, require="_id"):
        text = str(record.get("text") or "").strip()
        title = str(record.get("title") or "").strip()
        yield Document(
            id=str(record["_id"]),
            title=title or str(record["_id"]),
            kind="abstract",
            sections=[Section(path=(), text=text or title)],
            source_path=f"{path}:{number}",
        )


def load(path: Path) -> list[Document]:
    """Every document of a corpus file (at most max_file_bytes and max_documents: this list is held whole)."""
    check_file_size(path)
    documents: list[Document] = []
    for document in iter_documents(path):
        documents.append(document)
        check_document_count(path, len(documents))
    return documents
