"""Typed models at the seams: documents, passages, hits."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentKind = Literal["guideline", "trial", "label", "review", "abstract", "other"]
DOCUMENT_KINDS: tuple[str, ...] = ("guideline", "trial", "label", "review", "abstract", "other")
IDENTIFIER_KEYS: tuple[str, ...] = ("pmid", "doi", "nct", "url")


class Section(BaseModel):
    """A titled block of a document; `path` is the chain of headings above the text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: tuple[str, ...] = Field(default=(), description="Heading chain, outermost first.")
    text: str = Field(description="Body text under the heading (no heading line).")
    page: int | None = Field(default=None, description="1-based page number where the text starts, for PDFs.")


class Document(BaseModel):
    """One source: a guideline, trial report, label, review, abstract or other."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$", description="Unique, stable id.")
    title: str = Field(min_length=1)
    kind: DocumentKind = "other"
    body: str | None = Field(default=None, description="Issuing body (guidelines, labels) or journal.")
    year: int | None = Field(default=None, ge=1900, le=2100)
    version: str | None = None
    identifiers: dict[str, str] = Field(default_factory=dict, description="pmid, doi, nct, url, ...")
    as_of: str | None = Field(default=None, description="Date the summary was written or checked.")
    supersedes: list[str] = Field(default_factory=list, description="Ids of documents this one replaces.")
    facets: dict[str, list[str]] = Field(
        default_factory=dict,
        description="What the source itself says it is about: conditions, mesh, interventions, synonyms, keywords.",
    )
    sections: list[Section] = Field(default_factory=list)
    source_path: str | None = Field(default=None, description="File the document was read from.")

    def source_line(self) -> str:
        """'NCCN 2024 (v1.2024) · PMID 123 · NCT0…' — the citation a reader can look up."""
        head = " ".join(str(x) for x in (self.body, self.year) if x)
        if self.version:
            head += f" (v{self.version})" if self.version[:1].isdigit() else f" ({self.version})"
        ids = [f"{key.upper() if key != 'url' else 'URL'} {value}" for key, value in self.identifiers.items()]
        return " · ".join(x for x in [head.strip(), *ids] if x)


class Passage(BaseModel):
    """A chunk of one section of one document: the unit that is indexed and cited."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(description="doc id + '#' + 12 hex chars of the content hash: stable citation key.")
    doc_id: str
    section: tuple[str, ...] = ()
    text: str
    ordinal: int = Field(default=0, ge=0, description="Position of the passage within its document.")
    page: int | None = None

    @property
    def section_label(self) -> str:
        return " > ".join(self.section)


class Hit(BaseModel):
    """One search result. Every retriever returns `list[Hit]`, best first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    passage_id: str
    doc_id: str
    score: float
    rank: int = Field(ge=1)
