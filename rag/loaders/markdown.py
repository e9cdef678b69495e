"""Hand-written documents: one Markdown file with YAML front matter; headings become sections."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.errors import CorpusError
from rag.loaders.limits import check_file_size
from rag.models import Document, DocumentKind, Section

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


class FrontMatter(BaseModel):
    """The YAML header of a corpus Markdown file."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    kind: DocumentKind
    body: str = Field(min_length=1, description="Issuing body or journal.")
    year: int = Field(ge=1900, le=2100)
    version: str | None = None
    identifiers: dict[str, str] = Field(min_length=1)
    as_of: dt.date
    supersedes: list[str] = Field(default_factory=list)
    provenance: list[str] = Field(default_factory=list, description="Where each figure was checked; not indexed.")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @field_validator("identifiers", mode="before")
    @classmethod
    def _identifier_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).lower(): str(v) for k, v in value.items() if v not in (None, "")}
        return value


def can_load(path: Path) -> bool:
    return path.suffix.lower() in {".md", ".markdown"} and path.name.lower() != "readme.md"


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise CorpusError(f"{path}: no YAML front matter (the file must start with a '---' line)")
    parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
    if len(parts) < 3:
        raise CorpusError(f"{path}: front matter is not closed by a '---' line")
    try:
        meta = yaml.safe_load(parts[1])
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 2}" if mark else ""
        raise CorpusError(f"{path}:{where} front matter is not valid YAML ({getattr(error, 'problem', error)})") from error
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: front matter must be a YAML mapping of fields")
    return meta, parts[2]


def parse_front_matter(meta: dict, path: Path) -> FrontMatter:
    try:
        return FrontMatter.model_validate(meta)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "front matter"
        raise CorpusError(f"{path}: front matter field '{field}': {first['msg']}") from error


def parse_sections(body: str) -> list[Section]:
    """Sections from Markdown headings; text before the first heading has an empty path."""
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def flush() -> None:
        text = "\n".join(lines).strip()
        if text:
            sections.append(Section(path=tuple(title for _, title in stack), text=text))
        lines.clear()

    for line in body.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            flush()
            level = len(match.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, match.group(2).strip()))
        else:
            lines.append(line)
    flush()
    return sections


def empty_headings(body: str) -> list[str]:
    """Headings with neither text nor sub-headings under them (reported by `rag corpus validate`)."""
    empty: list[str] = []
    pending: tuple[int, str] | None = None
    for line in body.splitlines():
        match = _HEADING.match(line)
        if match:
            level = len(match.group(1))
            if pending and level <= pending[0]:
                empty.append(pending[1])
            pending = (level, match.group(2).strip())
        elif line.strip() and pending:
            pending = None
    if pending:
        empty.append(pending[1])
    return empty


def load(path: Path) -> list[Document]:
    check_file_size(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path}: cannot read ({error})") from error
    meta, body = split_front_matter(text, path)
    front = parse_front_matter(meta, path)
    sections = parse_sections(body)
    if not sections:
        raise CorpusError(f"{path}: no text after the front matter")
    return [
        Document(
            id=front.id,
            title=front.title,
            kind=front.kind,
            body=front.body,
            year=front.year,
            version=front.version,
            identifiers=front.identifiers,
            as_of=front.as_of.isoformat(),
            supersedes=front.supersedes,
            sections=sections,
            source_path=str(path),
        )
    ]
