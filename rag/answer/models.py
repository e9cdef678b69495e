"""The answer page as data: the shape `rag ask --format json` prints (schema-tested)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SectionName = Literal["recommendation", "evidence", "algorithm", "safety", "caveats"]
SECTION_ORDER: tuple[SectionName, ...] = ("recommendation", "evidence", "algorithm", "safety", "caveats")


class Statement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str
    citations: list[int] = Field(default_factory=list, description="Reference numbers; empty only for gaps.")
    kind: Literal["fact", "gap"] = "fact"
    body: str | None = Field(default=None, description="Guideline body the statement reports (NCCN, ESMO, ...).")
    grade: str | None = Field(default=None, description="Category / level of evidence as the passage gives it.")


class AnswerSection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SectionName
    statements: list[Statement] = Field(default_factory=list)


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1)
    passage_id: str
    doc_id: str
    title: str
    source: str
    year: int | None
    identifiers: dict[str, str]
    quote: str = Field(description="Full text of the cited passage.")


class Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str
    abstained: bool
    abstain_reason: str | None = None
    sections: list[AnswerSection]
    references: list[Reference]
    related_questions: list[str] = Field(default_factory=list)

    def section(self, name: SectionName) -> AnswerSection:
        return next(s for s in self.sections if s.name == name)

    def fact_text(self) -> str:
        """All statement texts, for required-fact matching in evaluation."""
        return "\n".join(st.text for s in self.sections for st in s.statements)
