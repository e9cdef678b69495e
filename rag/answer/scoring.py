"""How relevant a candidate sentence is to the question: a pure function of its features and the
scoring settings (tests feed it hand-built features)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.answer.settings import ScoringSettings

DrugMatch = Literal["asked", "class", "other", "none", "n/a"]
Design = Literal["phase3", "phase2", "other", "none"]


@dataclass(frozen=True)
class Features:
    overlap: float  # idf-weighted share of the question's terms in the sentence
    context_overlap: float  # ... found only in the title or headings
    position: int  # rank of the passage among passages of its kind (0 = best)
    document_rank: int  # rank of the document (0 = best)
    phrase_overlap: float = 0.0  # share of the question's adjacent term pairs found adjacent in the sentence
    short: bool = False  # few words: what it says is in its heading (a results table row)
    aspect_overlap: float = 0.0  # share of the question's terms its document's title lacks, found in the sentence or its headings
    asked_overlap: float = 0.0  # share of the words saying what is asked ("enrolled", "dose") in the sentence or its headings
    density: float = 0.0  # share of the sentence's own terms that are question terms
    dense: float = 0.0  # the passage's dense similarity to the question (0 when not among the dense hits)
    qualifier_conflict: bool = False  # names the question's qualifier only with other values ("grade 3" for "grade 2")
    answer_form: float = 0.0  # share of the answer forms the question asks for that the sentence has (a count, a dose, a rate)
    design: Design = "none"  # study design of the document ("none": not a study)
    section: str = "evidence"
    role: str | None = None
    result: bool = False
    survival: bool = False
    intent_match: bool = False  # gives what the question asks for (a dose for a dosing question)
    superseded: bool = False
    named_body: bool = False
    drug_match: DrugMatch = "n/a"  # "n/a": the question names no drug
    prior: bool = False  # recommends a therapy the patient already had
    prior_topic: bool = False  # is only about therapies the patient already had
    wrong_line: bool = False
    right_line: bool = False
    region_match: bool = False
    dependent: bool = False
    excepted: bool = False  # sets apart, in an "except for …" clause, what the question asks about
    design_asked: bool = False  # the question asks about design or eligibility (who was enrolled is the answer)


def rank_weight(position: int, document_rank: int, s: ScoringSettings) -> float:
    """Between rank_floor and 1: the passage's rank, and (with document_weight) its document's."""
    passage = s.rank_floor + (1 - s.rank_floor) / (1.0 + position / s.rank_halving)
    document = s.rank_floor + (1 - s.rank_floor) / (1.0 + document_rank / s.rank_halving)
    return (1 - s.document_weight) * passage + s.document_weight * document


def relevance(f: Features, s: ScoringSettings) -> float:
    design = {"phase3": s.design_phase3, "phase2": s.design_phase2, "other": s.design_other}.get(f.design, 1.0)
    context = s.short_context_weight if f.short else s.context_weight
    score = s.base + f.overlap + context * f.context_overlap + s.phrase_weight * f.phrase_overlap + s.aspect_weight * f.aspect_overlap
    if f.section == "evidence" and f.result:
        score += s.result_bonus + (s.survival_bonus if f.survival else 0.0)
    if f.intent_match:
        score += s.intent_bonus
    score += s.answer_form_bonus * f.answer_form
    if f.role in ("conclusion", "recommendation"):
        score += s.role_bonus
    value = design * rank_weight(f.position, f.document_rank, s) * score
    if f.role == "background":
        value *= s.background_factor
    elif f.role == "design" and f.section == "evidence" and not f.design_asked:
        value *= s.enrolment_factor
    if f.superseded:
        value *= s.superseded
    if f.named_body:
        value *= s.named_body
    if f.drug_match == "other":
        value *= s.other_drug
    elif f.drug_match == "none":
        value *= s.no_drug
    if f.prior:
        value *= s.prior_drug
    elif f.prior_topic:
        value *= s.prior_topic
    if f.wrong_line:
        value *= s.wrong_line
    elif f.right_line:
        value *= s.right_line
    if f.region_match:
        value *= s.region_match
    if f.dependent:
        value *= s.dependent_factor
    if f.excepted:
        value *= s.excepted
    return value
