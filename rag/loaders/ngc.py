"""National Guideline Clearinghouse (NGC) guideline summaries: the XML export (`<Version>` with
`<Section>`/`<Field Name=...>`/`<FieldValue Value="...html...">`), one summary per file, or a
.tar.gz archive of them (as in the 2018 NGC backup).

- title: "Guideline Title"; body: "Guideline Developer(s)" (organisation type suffix dropped);
  year: first year of "Date Released" ("2000 Jul (reaffirmed 2014 Aug 9)" -> 2000); id `ngc-<n>`.
- "Major Recommendations": every recommendation (paragraph, list item or table row) is its own
  Section under its heading chain, so it is indexed together with its strength-of-evidence rating;
  a rating printed as a separate short paragraph ("Strength of Recommendation: A") is joined to the
  recommendation above it. Table rows keep their column names ("Procedure: ...; Rating: 9").
- Scope, population, benefits, harms, contraindications, qualifying statements and the rating
  schemes become sections; administrative fields (disclaimer, copyright, availability, funding,
  methods boilerplate) are dropped.
"""

from __future__ import annotations

import re
import tarfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from lxml import etree

from rag.errors import CorpusError
from rag.loaders.common import (
    Block,
    clean,
    first_year,
    head,
    html_fragment_blocks,
    local,
    one_line,
    parse_xml,
    read_bytes,
    sections_from_blocks,
    slug,
)
from rag.loaders.limits import InputLimits, check_file_size, limit_text, limits
from rag.models import Document, Section

RECOMMENDATIONS = "Major Recommendations"
SCOPE_FIELDS = ("Disease/Condition(s)", "Other Disease/Condition(s) Addressed", "Guideline Category", "Clinical Specialty", "Intended Users")
TEXT_FIELDS = (
    "Guideline Objective(s)",
    "Target Population",
    "Interventions and Practices Considered",
    "Major Outcomes Considered",
    "Potential Benefits",
    "Potential Harms",
    "Contraindications",
    "Qualifying Statements",
    "FDA Warning/Regulatory Alert",
    "Type of Evidence Supporting the Recommendations",
    "Rating Scheme for the Strength of the Evidence",
    "Rating Scheme for the Strength of the Recommendations",
)
EMPTY_VALUES = frozenset({"none provided", "not stated", "not applicable", "none", "n/a", "not specified"})
ORG_TYPES = re.compile(
    r"\s+-\s+(Medical Specialty Society|Professional Association|National Government Agency \[Non-U\.S\.\]|Independent Expert Panel|"
    r"State/Local Government Agency \[(?:Non-)?U\.S\.\]|Federal Government Agency \[U\.S\.\]|Nonprofit Organization|"
    r"Disease Specific Society|Hospital/Medical Center|Academic Institution|International Agency|Nonprofit Research Organization|"
    r"Clinical Specialty Collaboration|Government Affiliated Research Institute|For Profit Organization|[A-Z][A-Za-z/ ]+)$"
)
# A short paragraph that is only a rating ("Strength of recommendation: A", "(Level of Evidence: B)").
RATING_ONLY = re.compile(
    r"^[\s(\[*]*(strength of (the )?recommendations?|recommendation (strength|grade|category|level|rating)|levels? of (the )?evidence|"
    r"quality of (the )?evidence|evidence (level|grade|quality|type|rating|category)|certainty of (the )?evidence|grade of recommendation|"
    r"grade|class|level|loe|sor|category|rating|(strong|weak|conditional|moderate|consensus-based) recommendation)\b[^.]{0,160}\.?[\s)\]]*$",
    re.IGNORECASE,
)
# A bare rating label standing above the recommendations it rates ("Class IIa", "Grade B").
RATING_LABEL = re.compile(r"^(class|grade|level|category|strength|quality)\s+[A-Za-z0-9+\-–]{1,6}$", re.IGNORECASE)
DEFINITIONS = re.compile(r"definition|rating scheme|level of evidence|strength of (the )?recommendation|grading|key to", re.IGNORECASE)


def _is_archive(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".tar.gz", ".tgz", ".tar"))


def can_load(path: Path) -> bool:
    if _is_archive(path):
        if path.name.lower().startswith("ngc"):
            return True
        try:
            with tarfile.open(path, "r:*") as archive:
                for _, member in zip(range(8), archive):
                    if member.isfile() and member.name.endswith(".xml"):
                        handle = archive.extractfile(member)
                        return handle is not None and _looks_like_ngc(handle.read(4096))
        except (OSError, EOFError, tarfile.TarError, zlib.error):
            return False
        return False
    return path.suffix.lower() == ".xml" and _looks_like_ngc(head(path, 4096))


def _looks_like_ngc(data: bytes) -> bool:
    return b"<Version" in data and (b"National Guideline Clearinghouse" in data or b'Name="Guideline Title"' in data)


def load(path: Path) -> list[Document]:
    """Every summary in `path` (a file or an archive); CorpusError if any member cannot be read."""
    loaded = read(path)
    if loaded.problems:
        raise CorpusError(loaded.problems[0].message)
    return loaded.documents


def read(path: Path):  # -> rag.loaders.Loaded
    """Documents plus one problem per unreadable archive member (the rest are kept)."""
    from rag.loaders import Loaded, LoadProblem

    if not _is_archive(path):
        return Loaded(documents=[parse_summary(read_bytes(path), str(path), _id_from_name(path.name))])
    documents: list[Document] = []
    problems: list[LoadProblem] = []
    for name, data, error in _members(path):
        where = f"{path}:{name}"
        if error is not None:
            problems.append(LoadProblem(path=where, message=f"{where}: {error}"))
            continue
        try:
            documents.append(parse_summary(data, where, _id_from_name(PurePosixPath(name).name)))
        except CorpusError as problem:
            problems.append(LoadProblem(path=where, message=str(problem)))
    if not documents and not problems:
        raise CorpusError(f"{path}: no NGC summary XML files in the archive")
    return Loaded(documents=documents, problems=problems)


def _members(path: Path) -> Iterator[tuple[str, bytes, str | None]]:
    """(member name, bytes, error) for each .xml member; a damaged archive, or one past a limit
    (members, decompressed bytes), ends with one error."""
    check_file_size(path)
    bounds = limits()
    try:
        archive = tarfile.open(path, "r:*")
    except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
        raise CorpusError(f"{path}: not a readable tar archive ({one_line(error)})") from error
    with archive:
        try:
            total = 0
            for count, member in enumerate(archive, start=1):
                total += member.size
                past = _archive_limit(count, total, bounds)
                if past:
                    yield "(rest of archive)", b"", f"later members skipped: {past}"
                    return
                if not member.isfile() or not member.name.lower().endswith(".xml"):
                    continue
                if member.size > bounds.max_file_bytes:
                    yield member.name, b"", limit_text(f"member of {member.size:,} bytes", "max_file_bytes", bounds.max_file_bytes)
                    continue
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                yield member.name, handle.read(), None
        except (OSError, EOFError, tarfile.TarError, zlib.error) as error:
            yield "(rest of archive)", b"", f"archive damaged or truncated; later members skipped ({one_line(error)})"


def _archive_limit(count: int, total: int, bounds: InputLimits) -> str:
    """Which archive limit `count` members of `total` bytes pass ('' when none)."""
    if count > bounds.max_archive_members:
        return limit_text(f"more than {bounds.max_archive_members:,} members", "max_archive_members", bounds.max_archive_members)
    if total > bounds.max_decompressed_bytes:
        return limit_text(f"more than {bounds.max_decompressed_bytes:,} bytes unpacked", "max_decompressed_bytes", bounds.max_decompressed_bytes)
    return ""


def _id_from_name(name: str) -> str:
    stem = name[:-4] if name.lower().endswith(".xml") else name
    stem = slug(stem.lower())
    return stem if stem.startswith("ngc") else f"ngc-{stem}"


def _fields(root: etree._Element) -> dict[str, list[etree._Element]]:
    fields: dict[str, list[etree._Element]] = {}
    for field in root.iter("Field"):
        fields.setdefault(field.get("Name") or "", []).append(field)
    return fields


def _values(fields: dict[str, list[etree._Element]], name: str) -> list[str]:
    values = []
    for field in fields.get(name, []):
        for value in field.iter("FieldValue"):
            text = value.get("Value")
            if text and text.strip():
                values.append(text)
    return values


def _plain(fragment: str) -> str:
    return " ".join(block.text for block in html_fragment_blocks(fragment))


def parse_summary(data: bytes, where: str, doc_id: str) -> Document:
    root = parse_xml(data, where)
    if local(root.tag) != "Version":
        raise CorpusError(f"{where}: root element <{local(root.tag)}> is not an NGC summary <Version>")
    fields = _fields(root)
    titles = [_plain(v) for v in _values(fields, "Guideline Title")]
    title = next((t for t in titles if t), "")
    if not title:
        raise CorpusError(f"{where}: field 'Guideline Title' missing or empty")
    developers = [ORG_TYPES.sub("", clean(v)) for v in _values(fields, "Guideline Developer(s)")]
    released = " ".join(_plain(v) for v in _values(fields, "Date Released"))
    sections = _recommendation_sections(fields, where)
    sections += _scope_section(fields)
    for name in TEXT_FIELDS:
        for fragment in _values(fields, name):
            blocks = html_fragment_blocks(fragment)
            if not blocks or clean(" ".join(b.text for b in blocks)).lower().rstrip(".") in EMPTY_VALUES:
                continue
            sections.extend(sections_from_blocks(blocks, (name,)))
    if not sections:
        raise CorpusError(f"{where}: no recommendation or summary text")
    number = doc_id.split("-", 1)[-1]
    conditions = [
        part.strip()[:200] for name in SCOPE_FIELDS[:2] for v in _values(fields, name)
        for part in re.split(r";|\n", _plain(v)) if part.strip() and part.strip().lower().rstrip(".") not in EMPTY_VALUES
    ]
    year = first_year(released)
    try:
        return Document(
            id=doc_id,
            title=title[:500],
            kind="guideline",
            body="; ".join(d for d in developers if d)[:300] or None,
            year=year if year and 1900 <= year <= 2100 else None,
            identifiers={"ngc": number},
            as_of=released or None,
            facets={"conditions": conditions[:100]} if conditions else {},
            sections=sections,
            source_path=where,
        )
    except ValueError as error:  # pydantic ValidationError: one line
        raise CorpusError(f"{where}: {one_line(error)}") from error


def _scope_section(fields: dict[str, list[etree._Element]]) -> list[Section]:
    lines = []
    for name in SCOPE_FIELDS:
        values = [_plain(v) for v in _values(fields, name)]
        values = [v for v in values if v and v.lower().rstrip(".") not in EMPTY_VALUES]
        if values:
            lines.append(f"{name}: {'; '.join(values)}")
    return [Section(path=("Scope",), text="\n\n".join(lines))] if lines else []


def _recommendation_sections(fields: dict[str, list[etree._Element]], where: str) -> list[Section]:
    """One Section per recommendation (with its rating) under its heading chain; definitions of the
    rating scheme grouped under their heading."""
    sections: list[Section] = []
    for fragment in _values(fields, RECOMMENDATIONS):
        blocks = html_fragment_blocks(fragment)
        stack: list[tuple[int, str]] = []
        for block in blocks:
            if block.is_heading:
                while stack and stack[-1][0] >= block.level:
                    stack.pop()
                stack.append((block.level, block.text[:200]))
                continue
            if RATING_LABEL.match(block.text):
                while stack and stack[-1][0] >= 9:
                    stack.pop()
                stack.append((9, block.text))
                continue
            path = (RECOMMENDATIONS, *(t for _, t in stack))
            previous = sections[-1] if sections else None
            if previous is not None and previous.path == path and (_is_rating_only(block) or _in_definitions(stack)):
                sections[-1] = Section(path=path, text=f"{previous.text}\n\n{block.text}" if _in_definitions(stack) else f"{previous.text} {block.text}")
                continue
            sections.append(Section(path=path, text=block.text))
    return sections


def _is_rating_only(block: Block) -> bool:
    """A rating printed after its recommendation: 'Evidence Grade: Low', '(Level of Evidence = III)'."""
    text = block.text
    if len(text) > 200 or text.lower().startswith("rating scale") or not re.search(r"[:=(\[]", text):
        return False
    return bool(RATING_ONLY.match(text))


def _in_definitions(stack: list[tuple[int, str]]) -> bool:
    return any(DEFINITIONS.search(title) for _, title in stack)
