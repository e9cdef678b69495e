"""`rag show ID`: a cited passage in full with its source document, or a document with the list of its
passages. Ids are the ones an answer page prints (`doc#hash12`) and `rag search` lists."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import QueryError
from rag.index.load import open_index
from rag.models import Document, Passage
from rag.text import one_line, printable

BRIEF = 100  # characters of a passage shown in a document's passage list


class ShownPassage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    doc_id: str
    section: list[str] = Field(description="Heading path, outermost first.")
    page: int | None = None
    ordinal: int = Field(description="Position of the passage in its document, from 0.")
    text: str = Field(description="Full text of the passage.")


class ShownDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    title: str
    kind: str
    body: str | None
    year: int | None
    version: str | None
    identifiers: dict[str, str]
    url: str | None = Field(description="identifiers['url'], if the source has one.")
    as_of: str | None
    citation: str = Field(description="Citation line: body, year, version, identifiers.")
    supersedes: list[str] = Field(default_factory=list)
    superseded_by: str | None = Field(default=None, description="Id of the indexed document that replaces this one.")
    passages: int = Field(description="Number of passages indexed from it.")


class Shown(BaseModel):
    """What `rag show --format json` prints."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The id asked for.")
    found: Literal["passage", "document"]
    passage: ShownPassage | None = Field(default=None, description="The passage, when a passage id was asked for.")
    document: ShownDocument
    passages: list[ShownPassage] = Field(default_factory=list, description="All its passages, when a document id was asked for.")


def _passage(p: Passage) -> ShownPassage:
    return ShownPassage(id=p.id, doc_id=p.doc_id, section=list(p.section), page=p.page, ordinal=p.ordinal, text=p.text)


def _document(d: Document, count: int, superseded_by: str | None) -> ShownDocument:
    return ShownDocument(
        id=d.id, title=d.title, kind=d.kind, body=d.body, year=d.year, version=d.version, identifiers=d.identifiers,
        url=d.identifiers.get("url"), as_of=d.as_of, citation=d.source_line(), supersedes=d.supersedes,
        superseded_by=superseded_by, passages=count,
    )


def show(ref: str, *, index_root: Path) -> Shown:
    """The passage `ref` (doc#hash12) with its document, or the document `ref` with its passages.
    Raises QueryError naming the id when the index has neither."""
    wanted = ref.strip().strip("`")  # an id copied from a Markdown page keeps its backticks
    if not wanted:
        raise QueryError("empty id; give a passage id (doc#hash12) or a document id, as `rag search` prints them")
    index = open_index(index_root)
    store = index.store
    passage = store.by_ids([wanted])
    doc_id = passage[0].doc_id if passage else wanted
    document = store.documents_by_ids([doc_id]).get(doc_id)
    if document is None:
        raise QueryError(f"no passage or document {wanted!r} in {index.folder}; find ids with `rag search QUERY`")
    passages = store.passages_of(doc_id)
    replaced = store.superseded_by([doc_id]).get(doc_id)
    shown_document = _document(document, len(passages), replaced)
    if passage:
        return Shown(id=wanted, found="passage", passage=_passage(passage[0]), document=shown_document)
    return Shown(id=wanted, found="document", document=shown_document, passages=[_passage(p) for p in passages])


def _where(p: ShownPassage) -> str:
    where = " > ".join(p.section) or "(no heading)"
    return f"{where}, p. {p.page}" if p.page else where


def _document_lines(d: ShownDocument) -> list[str]:
    facts = [d.kind, *(x for x in (d.body, str(d.year) if d.year else None) if x)]
    if d.version:
        facts.append(f"version {d.version}")
    lines = [f"document  {d.id}", f"title     {d.title}", f"source    {' · '.join(facts)}"]
    lines += [f"{key.upper() if key != 'url' else 'URL':<9} {value}" for key, value in d.identifiers.items()]
    lines.append(f"citation  {d.citation}")
    if d.as_of:
        lines.append(f"as of     {d.as_of}")
    if d.supersedes:
        lines.append(f"replaces  {', '.join(d.supersedes)}")
    if d.superseded_by:
        lines.append(f"SUPERSEDED by {d.superseded_by}")
    return [one_line(line) for line in lines]


def to_text(shown: Shown) -> str:
    """The terminal page: no control characters (corpus text can hold escape sequences)."""
    d = shown.document
    if shown.passage is not None:
        p = shown.passage
        lines = [
            one_line(f"passage   {p.id}  ({p.ordinal + 1} of {d.passages} in the document)"),
            one_line(f"section   {_where(p)}"),
            "",
            printable(p.text),
            "",
            *_document_lines(d),
        ]
        return "\n".join(lines)
    lines = [*_document_lines(d), "", f"{d.passages} passage(s):"]
    for p in shown.passages:
        brief = " ".join(p.text.split())
        brief = brief if len(brief) <= BRIEF else brief[: BRIEF - 1].rstrip() + "…"
        lines.append(one_line(f"  {p.id}  {_where(p)}"))
        lines.append(one_line(f"      {brief}"))
    lines.append("rag show PASSAGE_ID prints one in full.")
    return "\n".join(lines)
