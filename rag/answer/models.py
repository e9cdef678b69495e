"""The answer page as data: the shape `rag ask --format json` prints (schema-tested)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SectionName = Literal["recommendation", "evidence", "algorithm", "safety", "caveats"]
SECTION_ORDER: tuple[SectionName, ...] = ("recommendation", "evidence", "algorithm", "safety", "caveats")
Tag = Literal["exploratory", "secondary source", "superseded", "excluded patients", "gap", "not offered"]


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    citations: list[int] = Field(default_factory=list, description="Reference numbers; empty only for gaps.")
    passages: list[str] = Field(default_factory=list, description="Ids of the cited passages (`rag show ID` prints one).")
    kind: Literal["fact", "gap"] = "fact"
    body: str | None = Field(default=None, description="Body the statement reports (NCCN, ESMO, FDA, ...), for guidelines and labels.")
    grade: str | None = Field(default=None, description="Category / level of evidence as the passage gives it.")
    tags: list[Tag] = Field(default_factory=list, description="How to read it: exploratory, from a secondary source, superseded, ...")


class BottomLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(description="The bottom line, 1-3 sentences, each extracted from a cited passage (or a gap statement).")
    citations: list[int] = Field(default_factory=list)
    statements: list[Statement] = Field(default_factory=list, description="Its sentences, each with its own citations.")


class AnswerSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SectionName
    statements: list[Statement] = Field(default_factory=list)


class Locator(BaseModel):
    """One passage of a source document that the page cites."""

    model_config = ConfigDict(extra="forbid")

    passage_id: str
    section: str = Field(description="Heading path of the passage ('Efficacy > Overall survival').")
    page: int | None = None
    quote: str = Field(description="Full text of the passage.")


class Reference(BaseModel):
    """One source document, with the passage(s) of it that the page cites."""

    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1)
    doc_id: str
    title: str
    kind: str
    body: str | None
    source: str = Field(description="Citation line: body, year, version, identifiers.")
    year: int | None
    identifiers: dict[str, str]
    locators: list[Locator] = Field(min_length=1)

    def quote_of(self, passage_ids: list[str] | None = None) -> str:
        """The text of the cited passages (all of them when `passage_ids` is None)."""
        return "\n".join(loc.quote for loc in self.locators if passage_ids is None or loc.passage_id in passage_ids)


class EvidenceRow(BaseModel):
    """One study side by side with others: each cell is text of a cited passage."""

    model_config = ConfigDict(extra="forbid")

    reference: int = Field(description="Reference number of the study.")
    study: str
    design: str | None = None
    n: str | None = None
    arms: str | None = None
    endpoint: str | None = None
    median: str | None = None
    hazard_ratio: str | None = None
    p_value: str | None = None
    passages: list[str] = Field(default_factory=list, description="Passages the cells were read from.")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    abstained: bool
    abstain_reason: str | None = None
    bottom_line: BottomLine | None = None
    sections: list[AnswerSection] = Field(description="The five sections, in the order the question makes important.")
    evidence_table: list[EvidenceRow] = Field(default_factory=list)
    references: list[Reference]
    related_questions: list[str] = Field(default_factory=list)
    omitted: int = Field(default=0, description="Statements left off this page by the length budget (--full shows them).")
    settings_hash: str | None = Field(default=None, description="Hash of the AnswerSettings that produced the page.")

    def section(self, name: SectionName) -> AnswerSection:
        return next(s for s in self.sections if s.name == name)

    def statements(self) -> list[Statement]:
        """Bottom-line statements, then every section's."""
        head = self.bottom_line.statements if self.bottom_line else []
        return [*head, *(st for s in self.sections for st in s.statements)]

    def fact_text(self) -> str:
        """All statement texts, for required-fact matching in evaluation."""
        return "\n".join(st.text for st in self.statements())

    def words(self) -> int:
        """Words of statements on the page (bottom line included)."""
        return sum(len(st.text.split()) for st in self.statements())
