"""Input limits: how much one source file may cost to read, so that a small hostile file (a gzip or
tar bomb, a flood of empty XML elements, a YAML alias bomb, a 50 MB one-line body) is refused with
one line instead of exhausting memory.

Every limit is a described setting with a default far above any real corpus file here (the largest
NGC archive is 20 MB, a PubMed baseline file ~40 MB compressed) and can be raised for one run with
its environment variable, e.g. `RAG_MAX_FILE_BYTES=300000000 rag index build ...`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO, Self

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import CorpusError

ENV_PREFIX = "RAG_"


class InputLimits(BaseModel):
    """Most a loader reads from one source file; each field overridable by `RAG_<FIELD NAME IN CAPS>`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_file_bytes: int = Field(
        default=100_000_000, ge=1, description="Largest source file (on disk) any loader reads; also the largest archive member."
    )
    max_decompressed_bytes: int = Field(
        default=1_000_000_000, ge=1, description="Most bytes one .gz file or .tar archive may decompress to (streamed, not held)."
    )
    max_elements: int = Field(
        default=1_000_000,
        ge=1,
        description="Most elements held in memory at once: XML elements of one document or of one streamed PubMed record "
        "(with what lies between records; 1M empty ones cost ~160 MB in lxml), '<' marks of one HTML page (BeautifulSoup "
        "holds every element: 1M cost ~450 MB), '{' and '[' of one JSON record, sections of one Markdown file.",
    )
    max_documents: int = Field(
        default=200_000, ge=1, description="Most documents from one file (a PubMed baseline file has ~30,000; each costs a few KB)."
    )
    max_xml_depth: int = Field(default=256, ge=1, description="Deepest XML element nesting (libxml2's own default limit).")
    max_archive_members: int = Field(default=100_000, ge=1, description="Most members read from one tar archive.")
    max_front_matter_bytes: int = Field(default=65_536, ge=1, description="Largest YAML front matter of a Markdown file.")
    max_field_chars: int = Field(default=2_000, ge=1, description="Longest text of one front matter value (title, identifier, ...).")


def limits() -> InputLimits:
    """The defaults, with any `RAG_MAX_...` environment variable applied (read at call time)."""
    values: dict[str, int] = {}
    for name in InputLimits.model_fields:
        raw = os.environ.get(ENV_PREFIX + name.upper(), "").strip().replace("_", "")
        if not raw:
            continue
        if not raw.isdigit() or int(raw) < 1:
            raise CorpusError(f"{ENV_PREFIX}{name.upper()}={raw!r}: not a positive whole number; unset it or give e.g. 200000000")
        values[name] = int(raw)
    return InputLimits(**values)


def limit_text(what: str, limit_name: str, limit: int) -> str:
    """'<what>, over the limit <name>=<n>; ... raise it with RAG_<NAME>' (the file is named by the caller)."""
    return f"{what}, over the limit {limit_name}={limit:,}; if the file is genuine, raise it with {ENV_PREFIX}{limit_name.upper()}"


def over_limit(where: object, what: str, limit_name: str, limit: int) -> CorpusError:
    """The one-line error for a file over a limit: names the file, the limit and how to raise it."""
    return CorpusError(f"{where}: {limit_text(what, limit_name, limit)}")


def check_document_count(where: object, count: int) -> None:
    """CorpusError once one file has yielded more than max_documents documents."""
    bound = limits().max_documents
    if count > bound:
        raise over_limit(where, f"more than {bound:,} documents", "max_documents", bound)


def check_file_size(path: Path) -> None:
    """CorpusError when `path` is larger on disk than max_file_bytes (missing files are left to the reader)."""
    try:
        size = path.stat().st_size
    except OSError:
        return
    limit = limits().max_file_bytes
    if size > limit:
        raise over_limit(path, f"{size:,} bytes", "max_file_bytes", limit)


class CappedReader:
    """A binary file wrapper whose reads fail with CorpusError past `limit` bytes in total: bounds what a
    gzip stream decompresses to without holding it."""

    def __init__(self, handle: BinaryIO, where: object, limit: int) -> None:
        self._handle = handle
        self._where = where
        self._limit = limit
        self.total = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size if size is not None and size >= 0 else self._limit + 1 - self.total)
        self.total += len(data)
        if self.total > self._limit:
            raise over_limit(self._where, f"decompresses to more than {self._limit:,} bytes", "max_decompressed_bytes", self._limit)
        return data

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
