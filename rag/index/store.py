"""Passage and document records in SQLite (stdlib, no pickle): rows match BM25 and faiss rows, so a
query reads only the records of its hits."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

from rag.errors import IndexStateError
from rag.models import Document, Passage

STORE = "store.sqlite"

_SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, section TEXT NOT NULL,
    text TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER
);
CREATE INDEX passages_doc ON passages(doc_id, ordinal);
"""


def write_store(folder: Path, documents: Iterable[Document], passages: Iterable[Passage]) -> None:
    connection = sqlite3.connect(folder / STORE)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?)",
            ((d.id, d.model_dump_json(exclude={"sections"})) for d in documents),
        )
        connection.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (row, p.id, p.doc_id, json.dumps(p.section, ensure_ascii=False), p.text, p.ordinal, p.page)
                for row, p in enumerate(passages)
            ),
        )
        connection.commit()
    finally:
        connection.close()


class PassageStore:
    """Read-only access to an index's passages and documents."""

    def __init__(self, folder: Path) -> None:
        path = folder / STORE
        if not path.exists():
            raise IndexStateError(f"{path}: missing; rebuild with `rag index build`")
        self.path = path
        self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self._documents: dict[str, Document] = {}

    @staticmethod
    def _passage(row: tuple) -> Passage:
        _, pid, doc_id, section, text, ordinal, page = row
        return Passage(id=pid, doc_id=doc_id, section=tuple(json.loads(section)), text=text, ordinal=ordinal, page=page)

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        try:
            return self.connection.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as error:
            raise IndexStateError(f"{self.path}: passage store unreadable ({error}); rebuild with `rag index build`") from error

    def by_rows(self, rows: Sequence[int]) -> list[Passage]:
        if not rows:
            return []
        marks = ",".join("?" * len(rows))
        found = {r[0]: self._passage(r) for r in self._query(f"SELECT * FROM passages WHERE row IN ({marks})", list(rows))}
        return [found[r] for r in rows if r in found]

    def by_ids(self, ids: Sequence[str]) -> list[Passage]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        found = {r[1]: self._passage(r) for r in self._query(f"SELECT * FROM passages WHERE id IN ({marks})", list(ids))}
        return [found[i] for i in ids if i in found]

    def rows_of_documents(self, doc_ids: Sequence[str]) -> list[int]:
        if not doc_ids:
            return []
        marks = ",".join("?" * len(doc_ids))
        return [r[0] for r in self._query(f"SELECT row FROM passages WHERE doc_id IN ({marks}) ORDER BY row", list(doc_ids))]

    def passages_of(self, doc_id: str) -> list[Passage]:
        return [self._passage(r) for r in self._query("SELECT * FROM passages WHERE doc_id = ? ORDER BY ordinal", (doc_id,))]

    def all_passages(self) -> list[Passage]:
        return [self._passage(r) for r in self._query("SELECT * FROM passages ORDER BY row")]

    def document(self, doc_id: str) -> Document:
        if doc_id not in self._documents:
            rows = self._query("SELECT record FROM documents WHERE id = ?", (doc_id,))
            if not rows:
                raise IndexStateError(f"document {doc_id!r} not in the passage store; rebuild with `rag index build`")
            self._documents[doc_id] = Document.model_validate_json(rows[0][0])
        return self._documents[doc_id]

    def documents(self) -> list[Document]:
        return [Document.model_validate_json(r[0]) for r in self._query("SELECT record FROM documents ORDER BY id")]

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM passages")[0][0])
