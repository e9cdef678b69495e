"""Domain errors. The library raises these; only the CLI turns them into a message and an exit code."""

from __future__ import annotations


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
