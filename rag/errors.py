"""Domain errors. The library raises these; only the CLI turns them into a message and an exit code."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class RagError(Exception):
    """Base class: its message is one line that names the file/field and says what to do."""


class CorpusError(RagError):
    """A corpus file or folder cannot be read (missing, malformed front matter, bad field)."""


class IndexStateError(RagError):
    """An index is missing, corrupt, or does not match the current settings."""


class IndexLockedError(RagError):
    """Another build holds the index lock."""


class ModelError(RagError):
    """An embedding model name cannot be resolved offline."""


class QueryError(RagError):
    """A query is empty, too long, or otherwise unusable."""


class EvalError(RagError):
    """An evaluation dataset, gold set or run file is malformed."""


class TuneError(RagError):
    """Training data for `rag tune` is missing or empty, a setting is out of range, or the target folder is taken."""


class RerankError(RagError):
    """A reranker folder is missing, damaged or not one `rag rerank train` wrote, or a reranker setting is out of range."""


REBUILD = "rebuild with `rag index build`"

# What reading a damaged file raises from json, numpy, pydantic and the codecs: an empty .npy is an
# EOFError, a hand-edited JSON file a KeyError or TypeError, binary data a UnicodeDecodeError.
READ_FAILURES: tuple[type[BaseException], ...] = (OSError, ValueError, EOFError, KeyError, TypeError, IndexError)


def describe(failure: BaseException) -> str:
    """`Type: first line of the message` of an exception from below the library."""
    text = failure.strerror if isinstance(failure, OSError) and failure.strerror else str(failure)  # no path twice
    lines = text.strip().splitlines()
    return f"{type(failure).__name__}: {lines[0]}" if lines else type(failure).__name__


@contextmanager
def reading(
    path: Path,
    what: str,
    advice: str = REBUILD,
    *,
    error: type[RagError] = IndexStateError,
    failures: tuple[type[BaseException], ...] = READ_FAILURES,
) -> Iterator[None]:
    """Turn a failure while reading `path` into `error`: "<path>: <what> unreadable (<cause>); <advice>"."""
    with _translated(path, f"{what} unreadable", advice, error, failures):
        yield


@contextmanager
def writing(path: Path, what: str, advice: str, *, error: type[RagError] = IndexStateError) -> Iterator[None]:
    """Turn a failure while writing under `path` (disk full, a file size limit, permissions: OSError
    from numpy often without a file name, sqlite3.Error) into "<file or path>: <what> not written (...)"."""
    with _translated(path, f"{what} not written", advice, error, (OSError, sqlite3.Error)):
        yield


@contextmanager
def _translated(
    path: Path, problem: str, advice: str, error: type[RagError], failures: tuple[type[BaseException], ...]
) -> Iterator[None]:
    try:
        yield
    except failures as failure:
        where = getattr(failure, "filename", None) or path  # the file itself, when the failure names it
        raise error(f"{where}: {problem} ({describe(failure)}); {advice}") from failure
