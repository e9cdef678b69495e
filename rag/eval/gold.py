"""The project's gold set, `eval/gold/questions.jsonl`: one question a line.

    {"id": "io-trials-01", "split": "dev" | "test", "question": "...",
     "expect": "answer" | "abstain",
     "relevant": {"doc-id": 2 | 1},          # document-level relevance: 2 key source, 1 supporting
     "required_facts": ["12\\.0 months"],     # regexes an answer's statements must match
     "bottom": ["cemiplimab", "0\\.69"],      # regexes the bottom line itself must match (all of them)
     "bottom_not": ["pembrolizumab"],         # regexes it must not match (what the patient progressed on)
     "bodies": ["NCCN"],                      # guideline bodies the answer should name
     "note": "..."}

A gold set may sit in a folder with a `corpus.yaml` beside it (see `rag.eval.goldcorpus`) that says
which sources and documents its questions are about, so `rag eval answers --gold` can index them.

Retrieval evaluation reads it as queries + qrels (the same code path as BEIR); answer evaluation
uses the facts, bodies and expectation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rag.errors import EvalError
from rag.jsonl import iter_jsonl
from rag.eval.runs import Qrels
from rag.paths import PROJECT_ROOT

Split = Literal["dev", "test"]


def default_gold() -> Path:
    return PROJECT_ROOT / "eval" / "gold" / "questions.jsonl"


class GoldQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, pattern=r"^\S+$", description="Unique question id (no whitespace: it goes in run files).")
    split: Split
    question: str = Field(min_length=1)
    expect: Literal["answer", "abstain"] = Field(description="Should the engine answer or decline?")
    relevant: dict[str, int] = Field(default_factory=dict, description="doc id -> 2 (key) or 1 (supporting).")
    required_facts: list[str] = Field(default_factory=list, description="Regexes (case-insensitive) the answer must match.")
    bottom: list[str] = Field(
        default_factory=list,
        description="Regexes (case-insensitive) the bottom line must all match: it answers the question as asked.",
    )
    bottom_not: list[str] = Field(
        default_factory=list,
        description="Regexes the bottom line must not match (the regimen the patient progressed on, an exploratory subgroup).",
    )
    bodies: list[str] = Field(default_factory=list, description="Guideline bodies the answer should mention.")
    note: str | None = None

    @field_validator("relevant")
    @classmethod
    def _grades(cls, value: dict[str, int]) -> dict[str, int]:
        for doc, grade in value.items():
            if grade not in (1, 2):
                raise ValueError(f"grade of {doc!r} is {grade!r}; use 2 (key source) or 1 (supporting)")
        return value

    @field_validator("required_facts", "bottom", "bottom_not")
    @classmethod
    def _regexes(cls, value: list[str]) -> list[str]:
        for pattern in value:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a valid regex ({error})") from error
        return value


def load_gold(path: Path, *, split: str | None = None) -> list[GoldQuestion]:
    """Every question of the file (or of one split). Errors name the file, line and field."""
    if split is not None and split not in ("dev", "test"):
        raise EvalError(f"unknown split {split!r} for the gold set; use dev or test")
    questions: list[GoldQuestion] = []
    seen: dict[str, int] = {}
    for number, record in iter_jsonl(path, EvalError, what="the gold set"):
        try:
            question = GoldQuestion.model_validate(record)
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(x) for x in first["loc"]) or "record"
            raise EvalError(f"{path}:{number}: field '{field}': {first['msg']}") from error
        if question.id in seen:
            raise EvalError(f"{path}:{number}: id {question.id!r} already used on line {seen[question.id]}")
        seen[question.id] = number
        if split is None or question.split == split:
            questions.append(question)
    if not questions:
        raise EvalError(f"{path}: no questions" + (f" in split {split!r}" if split else ""))
    return questions


def gold_queries(questions: Sequence[GoldQuestion]) -> tuple[dict[str, str], Qrels]:
    """(queries, qrels) of the questions that name relevant documents (abstention questions have none)."""
    queries = {q.id: q.question for q in questions if q.relevant}
    qrels = {q.id: dict(q.relevant) for q in questions if q.relevant}
    return queries, qrels
