"""Reading JSON Lines files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from rag.errors import RagError


def iter_jsonl(path: Path, error: type[RagError], *, what: str = "", require: str | None = None) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of `path`. Raises `error` with "path:line: ..."
    for a line that is not a JSON object (or lacks the field `require`), and "path: cannot read
    <what>" when the file cannot be opened."""
    try:
        handle = path.open(encoding="utf-8")
    except OSError as failure:
        raise error(f"{path}: cannot read{' ' + what if what else ''} ({failure.strerror or failure})") from failure
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as failure:
                raise error(f"{path}:{number}: not valid JSON ({failure.args[0]})") from failure
            if not isinstance(record, dict) or (require is not None and require not in record):
                raise error(f"{path}:{number}: field '{require}' missing" if require else f"{path}:{number}: not a JSON object")
            yield number, record
