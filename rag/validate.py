"""`rag corpus validate`: every problem of a hand-written corpus, one line each, with file and field."""

from __future__ import annotations

from pathlib import Path

from rag.errors import CorpusError, reading
from rag.knowledge import FIELD_FILE, read_field_file
from rag.loaders import markdown
from rag.loaders.limits import check_file_size
from rag.models import IDENTIFIER_KEYS


def validate_corpus(folder: Path) -> tuple[list[str], int]:
    """(problems, documents checked). Checks front matter fields, identifiers, duplicate ids,
    `supersedes` targets, empty sections."""
    if not folder.is_dir():
        raise CorpusError(f"{folder}: not a folder; pass the corpus folder")
    problems: list[str] = []
    owners: dict[str, Path] = {}
    supersedes: list[tuple[Path, str]] = []
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and markdown.can_load(p)]
    for path in files:
        try:
            check_file_size(path)
            with reading(path, "document", "make it UTF-8 text with plain YAML front matter (no deep nesting)", error=CorpusError,
                         failures=(OSError, UnicodeDecodeError, RecursionError)):  # RecursionError: YAML nested too deep
                meta, body = markdown.split_front_matter(path.read_text(encoding="utf-8"), path)
                front = markdown.parse_front_matter(meta, path)
        except CorpusError as error:
            problems.append(str(error))
            continue
        if front.id in owners:
            problems.append(f"{path}: front matter field 'id': {front.id!r} already used by {owners[front.id]}")
        owners.setdefault(front.id, path)
        if not any(key in front.identifiers for key in IDENTIFIER_KEYS):
            problems.append(f"{path}: front matter field 'identifiers': needs at least one of {', '.join(IDENTIFIER_KEYS)}")
        supersedes.extend((path, target) for target in front.supersedes)
        for heading in markdown.empty_headings(body):
            problems.append(f"{path}: section {heading!r} is empty")
        if not markdown.parse_sections(body):
            problems.append(f"{path}: no text after the front matter")
    field_file = folder / FIELD_FILE
    if field_file.is_file():
        try:
            read_field_file(field_file)
        except CorpusError as error:
            problems.append(str(error))
    for path, target in supersedes:
        if target not in owners:
            problems.append(f"{path}: front matter field 'supersedes': {target!r} is not a document id in {folder}")
    return problems, len(files)
