"""Passage and document records in SQLite (stdlib, no pickle): rows match BM25 and faiss rows, so a
query reads only the records of its hits."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from rag.errors import IndexStateError
from rag.models import Document, Passage

STORE = "store.sqlite"

_SCHEMA = """
CREATE TABLE documents (id TEXT PRIMARY KEY, record TEXT NOT NULL, body TEXT, kind TEXT NOT NULL, year INTEGER);
CREATE INDEX documents_body ON documents(body);
CREATE TABLE supersedes (old TEXT NOT NULL, new TEXT NOT NULL);
CREATE INDEX supersedes_old ON supersedes(old);
CREATE TABLE passages (
    row INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL, section TEXT NOT NULL,
    text TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER
);
CREATE INDEX passages_doc ON passages(doc_id, ordinal);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


def write_store(
    folder: Path,
    documents: Sequence[Document],
    passages: Iterable[Passage],
    *,
    build_id: str,
    canonical_body: Callable[[str | None], str | None] = lambda b: b,
) -> None:
    """Write the store; `canonical_body` maps a document's body to the name questions use (ESMO).
    `build_id` (the manifest's) is stored with the passage count, so a store from another build is
    refused at open."""
    connection = sqlite3.connect(folder / STORE)
    try:
        connection.executescript(_SCHEMA)
        connection.executemany(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?)",
            ((d.id, d.model_dump_json(exclude={"sections"}), canonical_body(d.body), d.kind, d.year) for d in documents),
        )
        connection.executemany(
            "INSERT INTO supersedes VALUES (?, ?)", ((old, d.id) for d in documents for old in d.supersedes)
        )
        connection.executemany(
            "INSERT INTO passages VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (row, p.id, p.doc_id, json.dumps(p.section, ensure_ascii=False), p.text, p.ordinal, p.page)
                for row, p in enumerate(passages)
            ),
        )
        count = connection.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        connection.executemany("INSERT INTO meta VALUES (?, ?)", [("build_id", build_id), ("passages", str(count))])
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

    def passages_between(self, doc_id: str, first: int, last: int) -> list[Passage]:
        """The passages of one document whose ordinal is in [first, last], in order (a list item's neighbours,
        without reading a long guideline whole)."""
        sql = "SELECT * FROM passages WHERE doc_id = ? AND ordinal BETWEEN ? AND ? ORDER BY ordinal"
        return [self._passage(r) for r in self._query(sql, (doc_id, first, last))]

    def all_passages(self) -> list[Passage]:
        return [self._passage(r) for r in self._query("SELECT * FROM passages ORDER BY row")]

    def document(self, doc_id: str) -> Document:
        if doc_id not in self._documents:
            rows = self._query("SELECT record FROM documents WHERE id = ?", (doc_id,))
            if not rows:
                raise IndexStateError(f"document {doc_id!r} not in the passage store; rebuild with `rag index build`")
            self._documents[doc_id] = Document.model_validate_json(rows[0][0])
        return self._documents[doc_id]

    def documents_by_ids(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        """The records of these documents (cached per store), one query for those not read yet."""
        wanted = [d for d in dict.fromkeys(doc_ids) if d not in self._documents]
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for doc_id, record in self._query(f"SELECT id, record FROM documents WHERE id IN ({marks})", chunk):
                self._documents[doc_id] = Document.model_validate_json(record)
        return {d: self._documents[d] for d in dict.fromkeys(doc_ids) if d in self._documents}

    def superseded_by(self, doc_ids: Iterable[str]) -> dict[str, str]:
        """old id -> id of the document that replaces it, for the given ids that are replaced."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {old: new for old, new in self._query(f"SELECT old, new FROM supersedes WHERE old IN ({marks})", ids)}

    def rows_of_body(self, body: str, *, current_only: bool = True) -> list[int]:
        """Passage rows of the documents of one (canonical) body; without superseded documents."""
        sql = "SELECT p.row FROM passages p JOIN documents d ON d.id = p.doc_id WHERE d.body = ?"
        if current_only:
            sql += " AND d.id NOT IN (SELECT old FROM supersedes)"
        return [r[0] for r in self._query(sql + " ORDER BY p.row", (body,))]

    def body_of(self, doc_ids: Iterable[str]) -> dict[str, str | None]:
        """doc id -> canonical body (as written by the build)."""
        ids = list(dict.fromkeys(doc_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {i: b for i, b in self._query(f"SELECT id, body FROM documents WHERE id IN ({marks})", ids)}

    def documents(self) -> list[Document]:
        return [Document.model_validate_json(r[0]) for r in self._query("SELECT record FROM documents ORDER BY id")]

    def identity(self) -> tuple[str, int]:
        """(build id, passage count) as the build recorded them: two reads of a small table."""
        meta = dict(self._query("SELECT key, value FROM meta WHERE key IN ('build_id', 'passages')"))
        try:
            return meta["build_id"], int(meta["passages"])
        except (KeyError, ValueError) as error:
            raise IndexStateError(f"{self.path}: passage store has no build record; rebuild with `rag index build`") from error

    def count(self) -> int:
        return int(self._query("SELECT COUNT(*) FROM passages")[0][0])
