"""Hand-written documents: one Markdown file with YAML front matter; headings become sections."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.errors import CorpusError
from rag.loaders.limits import check_file_size, limits, over_limit
from rag.models import Document, DocumentKind, Section

_HEADING = re.compile(r"(#{1,6})\s+(.+)")
_LINE_END = re.compile("\r\n|[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")  # where str.splitlines splits, besides '\n'
_MARKED_LINE = re.compile(r"^(?:[^\S\n]*(?:```|~~~)|#{1,6}[^\S\n]).*$", re.MULTILINE)  # fence or heading candidates
_FENCE = re.compile(r"^\s*(```|~~~)")
MAX_HEADING_CHARS = 200  # a heading is a section's name, not its text (as for HTML and NGC headings)


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
            return {_scalar_text(k).lower(): _scalar_text(v) for k, v in value.items() if v not in (None, "")}
        return value


def _scalar_text(value: object) -> str:
    """An identifier key or value as text: YAML text, a number or a date; a list, mapping or
    true/false is refused rather than stringified (a nested value can be huge)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | dt.date):
        raise ValueError(f"an identifier must be text or a number, not {type(value).__name__}")  # noqa: TRY004 - pydantic reports ValueError
    return str(value)


class _AliasError(yaml.YAMLError):
    def __init__(self, mark: yaml.Mark) -> None:
        super().__init__("alias")
        self.problem_mark = mark


class _FrontMatterLoader(yaml.SafeLoader):
    """yaml.SafeLoader without aliases: `*name` can repeat a value without bound (an alias bomb of a few KB
    expands to gigabytes), and hand-written front matter has no need for them."""

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            raise _AliasError(self.peek_event().start_mark)
        return super().compose_node(parent, index)


def can_load(path: Path) -> bool:
    return path.suffix.lower() in {".md", ".markdown"} and path.name.lower() != "readme.md"


def split_front_matter(text: str, path: Path) -> tuple[dict, str]:
    if not text.startswith("---"):
        raise CorpusError(f"{path}: no YAML front matter (the file must start with a '---' line)")
    parts = re.split(r"^---\s*$", text, maxsplit=2, flags=re.MULTILINE)
    if len(parts) < 3:
        raise CorpusError(f"{path}: front matter is not closed by a '---' line")
    bounds = limits()
    if len(parts[1]) > bounds.max_front_matter_bytes:
        raise over_limit(path, f"front matter of {len(parts[1]):,} characters", "max_front_matter_bytes", bounds.max_front_matter_bytes)
    try:
        meta = yaml.load(parts[1], Loader=_FrontMatterLoader)  # a SafeLoader subclass
    except _AliasError as error:
        raise CorpusError(
            f"{path}: line {error.problem_mark.line + 1} front matter uses a YAML alias (*name); aliases are not allowed "
            "in front matter (they can expand without bound): write the value out"
        ) from error
    except RecursionError as error:
        raise CorpusError(f"{path}: front matter is nested too deeply; use plain fields, lists and one level of mapping") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""  # line 0 of the YAML is the rest of the opening '---' line
        raise CorpusError(f"{path}:{where} front matter is not valid YAML ({getattr(error, 'problem', error)})") from error
    if not isinstance(meta, dict):
        raise CorpusError(f"{path}: front matter must be a YAML mapping of fields")
    return meta, parts[2]


def _long_field(meta: dict, limit: int) -> str | None:
    """The first front matter field holding a text longer than `limit` characters (values of
    lists and mappings too), or None."""
    for key, value in meta.items():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and len(v) > limit for v in values):
            return str(key)
    return None


def parse_front_matter(meta: dict, path: Path) -> FrontMatter:
    limit = limits().max_field_chars
    long_field = _long_field(meta, limit)
    if long_field is not None:
        raise over_limit(path, f"front matter field '{long_field[:60]}' holds a text longer than {limit:,} characters", "max_field_chars", limit)
    try:
        return FrontMatter.model_validate(meta)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "front matter"
        raise CorpusError(f"{path}: front matter field '{field}': {first['msg']}") from error


def heading(line: str) -> tuple[int, str] | None:
    """(level, title) when `line` is an ATX heading ('## Title ##'), else None. String methods trim
    the closing '#'s and spaces: the regex '(.+?)\\s*#*\\s*$' that did it backtracked over a run of
    spaces at every space (quadratic); the results are the same."""
    match = _HEADING.match(line)
    if not match:
        return None
    text = match.group(2)
    return len(match.group(1)), (text.rstrip().rstrip("#").rstrip() or text[0])


def _normalise_line_ends(body: str) -> str:
    """Every line end str.splitlines knows ('\\r\\n', '\\r', '\\u2028', ...) as '\\n'."""
    return _LINE_END.sub("\n", body)


def parse_sections(body: str, *, where: object = "Markdown body") -> list[Section]:
    """Sections from Markdown headings; text before the first heading has an empty path.

    Only heading and fence lines are visited (one regex over the body); the text between two
    headings is one slice, so a body of millions of short lines is never a list of lines."""
    body = _normalise_line_ends(body)
    bound = limits().max_elements
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    start = 0
    in_fence = False

    def flush(end: int) -> None:
        text = body[start:end].strip()
        if text:
            sections.append(Section(path=tuple(title for _, title in stack), text=text))
            if len(sections) > bound:
                raise over_limit(where, f"more than {bound:,} sections", "max_elements", bound)

    for match in _MARKED_LINE.finditer(body):
        line = match.group(0)
        if _FENCE.match(line):
            in_fence = not in_fence
        found = None if in_fence else heading(line)
        if found:
            flush(match.start())
            start = match.end()
            level, title = found
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, title.strip()[:MAX_HEADING_CHARS]))
    flush(len(body))
    return sections


def empty_headings(body: str) -> list[str]:
    """Headings with neither text nor sub-headings under them (reported by `rag corpus validate`)."""
    body = _normalise_line_ends(body)
    empty: list[str] = []
    pending: tuple[int, str] | None = None
    start = 0
    for match in _MARKED_LINE.finditer(body):
        found = heading(match.group(0))
        if not found:
            continue
        if pending and body[start : match.start()].strip():
            pending = None
        level, title = found
        if pending and level <= pending[0]:
            empty.append(pending[1])
        pending = (level, title.strip())
        start = match.end()
    if pending and not body[start:].strip():
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
    sections = parse_sections(body, where=path)
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
