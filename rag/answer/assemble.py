"""Assemble the answer page from a selection: statements with citations, one reference per source
document (the passages used as its locators), gap statements, and the support check every fact
passes before it is shown. No sentence appears that a cited passage does not contain."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from rag.answer.candidates import Candidate
from rag.answer.evidence import evidence_table
from rag.answer.models import SECTION_ORDER, Answer, AnswerSection, BottomLine, Locator, Reference, SectionName, Statement, Tag
from rag.answer.selection import Selection
from rag.answer.support import verify
from rag.models import Document, Passage

REGULATOR = "regulator"


@dataclass(frozen=True)
class Extras:
    """What the page says besides the selected sentences (worked out by the composer)."""

    lead_gaps: Sequence[str] = ()  # gap statements the bottom line starts with
    caveats: Sequence[Candidate] = ()  # superseding documents' own sentences
    gaps: Sequence[Statement] = ()  # "No ESMO guidance on … was found", "Not offered: …"
    related: Sequence[str] = ()


class _References:
    def __init__(self) -> None:
        self.by_doc: dict[str, Reference] = {}

    def cite(self, passage: Passage, document: Document, body: str | None) -> int:
        reference = self.by_doc.get(document.id)
        if reference is None:
            reference = Reference(
                number=len(self.by_doc) + 1, doc_id=document.id, title=document.title, kind=document.kind, body=body,
                source=document.source_line(), year=document.year, identifiers=document.identifiers,
                locators=[_locator(passage)],
            )
            self.by_doc[document.id] = reference
        elif all(loc.passage_id != passage.id for loc in reference.locators):
            reference.locators.append(_locator(passage))
        return reference.number


def _locator(passage: Passage) -> Locator:
    return Locator(passage_id=passage.id, section=passage.section_label, page=passage.page, quote=passage.text)


def tags_of(candidate: Candidate) -> list[Tag]:
    tags: list[Tag] = []
    if candidate.info.subgroup:
        tags.append("exploratory")
    if candidate.info.secondary or candidate.kind == "review":
        tags.append("secondary source")
    if candidate.superseded:
        tags.append("superseded")
    return tags


def assemble(
    question: str,
    selection: Selection,
    extras: Extras,
    *,
    body_kind: Callable[[str], str | None],
    exclusions: Iterable[Candidate] = (),
    settings_hash: str | None = None,
    word_budget: int | None = None,
) -> Answer:
    """`word_budget`: the page's words of statements at most (None: the full page); the selection kept
    to it, and what the page adds (gaps, superseded notes) is paid for by the least important sections."""
    references = _References()
    excluded = {id(c) for c in exclusions}

    def statement(candidate: Candidate, extra: Sequence[Tag] = ()) -> Statement:
        body = candidate.body if candidate.kind in ("guideline", "label") else None
        number = references.cite(candidate.passage, candidate.document, candidate.body)
        for passage in candidate.continued:  # list items the statement takes from the passages after its own
            references.cite(passage, candidate.document, candidate.body)
        tags = [*tags_of(candidate), *extra, *(["excluded patients"] if id(candidate) in excluded else [])]
        return Statement(
            text=candidate.text, citations=[number], passages=[candidate.passage.id, *(p.id for p in candidate.continued)], body=body,
            grade=candidate.info.grade if candidate.kind == "guideline" else None, tags=list(dict.fromkeys(tags)),
        )

    bottom = [Statement(text=g, kind="gap", tags=["gap"]) for g in extras.lead_gaps]
    bottom += [statement(c) for c in selection.bottom]
    sections: dict[SectionName, list[Statement]] = {}
    for name in SECTION_ORDER:
        sections[name] = [statement(c) for c in selection.sections.get(name, [])]
    sections["caveats"] += [statement(c) for c in extras.caveats]
    sections["caveats"] += list(extras.gaps)

    by_number = {r.number: r for r in references.by_doc.values()}
    bottom = [v for st in bottom if (v := verify(st, by_number))]
    kept = {name: [v for st in items if (v := verify(st, by_number))] for name, items in sections.items()}
    omitted = selection.omitted
    if word_budget is not None:
        omitted += _trim(bottom, kept, selection.order, word_budget)
    # renumber references in order of first citation on the page, dropping those no statement cites
    order: dict[int, int] = {}
    for st in [*bottom, *(st for name in selection.order for st in kept[name])]:
        for n in st.citations:
            order.setdefault(n, len(order) + 1)

    def renumber(st: Statement) -> Statement:
        return st.model_copy(update={"citations": [order[n] for n in st.citations]})

    bottom = [renumber(st) for st in bottom]
    final_sections = [AnswerSection(name=name, statements=[renumber(st) for st in kept[name]]) for name in selection.order]
    final_refs = sorted(
        (r.model_copy(update={"number": order[r.number], "locators": _cited_locators(r, [*bottom, *(st for s in final_sections for st in s.statements)], order[r.number])})
         for r in by_number.values() if r.number in order),
        key=lambda r: r.number,
    )
    bottom_line = None
    if bottom:
        bottom_line = BottomLine(
            text=" ".join(st.text for st in bottom),
            citations=list(dict.fromkeys(n for st in bottom for n in st.citations)),
            statements=bottom,
        )
    return Answer(
        question=question,
        abstained=False,
        bottom_line=bottom_line,
        sections=final_sections,
        evidence_table=evidence_table([*bottom, *(st for s in final_sections for st in s.statements)], final_refs),
        references=final_refs,
        related_questions=list(extras.related),
        omitted=omitted,
        settings_hash=settings_hash,
    )


def _words(statements: Iterable[Statement]) -> int:
    return sum(len(st.text.split()) for st in statements)


def _trim(bottom: list[Statement], sections: dict[SectionName, list[Statement]], order: Sequence[SectionName], budget: int) -> int:
    """Drop the last fact of the least important section until the page fits; returns how many went.
    The bottom line and gap statements stay."""
    dropped = 0
    while _words(bottom) + sum(_words(items) for items in sections.values()) > budget:
        for name in reversed(order):
            facts = [i for i, st in enumerate(sections[name]) if st.kind == "fact"]
            if len(facts) > (1 if name != order[-1] else 0):  # each section keeps its best statement while others can give
                del sections[name][facts[-1]]
                dropped += 1
                break
        else:
            break
    return dropped


def _cited_locators(reference: Reference, statements: list[Statement], number: int) -> list[Locator]:
    """The locators of a reference that some kept statement cites (passages dropped by the support check go)."""
    used = {p for st in statements if number in st.citations for p in st.passages}
    return [loc for loc in reference.locators if loc.passage_id in used] or reference.locators[:1]
