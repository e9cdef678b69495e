"""Reading an index's field profile at query time: the small summary once, and a few rows of the
lookup tables per question (never the tables whole), so a 100k-passage index answers as fast as a
small one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from rag.errors import IndexStateError
from rag.profile.model import PROFILE_DB, PROFILE_JSON, FieldProfile

REBUILD = "rebuild with `rag index build`"


class ProfileStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        path = folder / PROFILE_DB
        if not path.is_file():
            raise IndexStateError(f"{path}: missing; {REBUILD}")
        self.path = path
        self.connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)

    @classmethod
    def from_rows(cls, summary: FieldProfile, tables: dict[str, list[list]], *, where: str) -> ProfileStore:
        """A profile held in memory: its summary and the rows of each table (an index on a server
        keeps them beside its passages; `where` names it in messages)."""
        from rag.profile.model import PROFILE_SCHEMA

        store = cls.__new__(cls)
        store.folder = None
        store.path = where
        store.connection = sqlite3.connect(":memory:", check_same_thread=False)
        store.connection.executescript(PROFILE_SCHEMA)
        for table, rows in tables.items():
            if rows:
                marks = ",".join("?" * len(rows[0]))
                store.connection.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        store.__dict__["summary"] = summary  # the cached_property's value
        return store

    def rows(self, table: str) -> list[list]:
        """Every row of one table (what a Milvus build copies beside the passages)."""
        return [list(r) for r in self._query(f"SELECT * FROM {table}")]

    @cached_property
    def summary(self) -> FieldProfile:
        path = self.folder / PROFILE_JSON
        try:
            return FieldProfile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError as error:
            raise IndexStateError(f"{path}: missing; {REBUILD}") from error
        except (OSError, ValueError, ValidationError) as error:
            raise IndexStateError(f"{path}: corrupt ({str(error).splitlines()[0]}); {REBUILD}") from error

    def _query(self, sql: str, args: Sequence = ()) -> list[tuple]:
        try:
            return self.connection.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as error:
            raise IndexStateError(f"{self.path}: profile unreadable ({error}); {REBUILD}") from error

    def _lookup(self, table: str, key: str, value: str, keys: Iterable[str]) -> dict[str, tuple]:
        wanted = list(dict.fromkeys(k for k in keys if k))
        out: dict[str, tuple] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self._query(f"SELECT {key}, {value} FROM {table} WHERE {key} IN ({marks})", chunk):
                out[row[0]] = row[1:]
        return out

    def aliases(self, phrases: Iterable[str]) -> dict[str, tuple[str, str]]:
        """phrase -> (corpus name, kind) for the phrases that are names the corpus knows."""
        return {k: (v[0], v[1]) for k, v in self._lookup("aliases", "alias", "name, kind", phrases).items()}

    def drug_names(self, phrases: Iterable[str]) -> set[str]:
        """The phrases that are drug names in the dictionary (whether or not the corpus has them)."""
        return set(self._lookup("drug_names", "name", "name", phrases))

    def topic_documents(self, tokens: Iterable[str]) -> dict[str, int]:
        """token -> documents whose title, conditions or declared scope contain it."""
        return {k: int(v[0]) for k, v in self._lookup("topic", "token", "documents", tokens).items()}

    def trials(self, names: Iterable[str]) -> dict[str, int]:
        return {k: int(v[0]) for k, v in self._lookup("trials", "name", "documents", (n.lower() for n in names)).items()}

    def bodies(self, names: Iterable[str]) -> dict[str, int]:
        return {k: int(v[0]) for k, v in self._lookup("bodies", "name", "documents", names).items()}

    def alias_names(self, kind: str = "drug", *, shortest: int = 0, longest: int = 10**6) -> list[str]:
        """Every alias of one kind, of `shortest` to `longest` characters (read only when a question has a word that
        may be a misspelt drug)."""
        sql = "SELECT alias FROM aliases WHERE kind = ? AND length(alias) BETWEEN ? AND ?"
        return [r[0] for r in self._query(sql, (kind, shortest, longest))]

    def drug_corpus_names(self) -> list[str]:
        """The distinct corpus names of drugs (read once per opened index, when a question names a drug)."""
        return [r[0] for r in self._query("SELECT DISTINCT name FROM aliases WHERE kind = 'drug'")]

    def close(self) -> None:
        self.connection.close()
