"""From passages to candidate statements: sentences with the facts scoring and selection need (section,
role, cue flags, grade, line of therapy, tokens). A sentence that depends on the one before it
("However, …", "These results …") is joined with it — both from the same passage, so the statement is
still extractive — or left out when nothing precedes it. Analysis is per passage and cached by the
caller: the corpus does not change under an opened index."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rag.answer.classify import Classifier
from rag.answer.models import SectionName
from rag.answer.scoring import Features
from rag.knowledge import Knowledge
from rag.models import Document, Passage
from rag.sentences import split_sentences

_INLINE_LABEL = re.compile(r"^((?:[A-Z]{2,} )*[A-Z]{3,}):?\s+(?=[A-Z][a-z]|[AI]\s|\()")  # "CONCLUSIONS The ...", "BACKGROUND A ..."
MIN_SENTENCE_CHARS = 12  # shorter is a fragment; "Enrollment: 0 (Actual)" is a fact
MAX_LIST_ITEMS = 4  # list items a sentence ending in a colon takes with it
LIST_ITEM = re.compile(r"^\s*(?:[•·▪◦*–-]|\(?(?:\d{1,2}|[a-z])[.)])\s")  # "• The eye has …", "2) …", "(a) …"


@dataclass(frozen=True)
class SentenceInfo:
    text: str
    key: str  # the text without case and punctuation, to drop repeats across passages
    number: int  # position in the passage
    tokens: frozenset[str]
    bigrams: frozenset[tuple[str, str]]  # adjacent token pairs ("grade 2" is not "grade 3 ... 1-2")
    section: SectionName
    role: str | None
    result: bool  # reports an effect estimate or a figure
    effect: bool  # ... as a comparison (hazard or odds ratio, a median, a response rate): what a trial found
    whole: bool  # ... in the whole trial population (overall, intention-to-treat), not a part of it
    survival: bool  # ... on the endpoint that decides practice (overall survival, mortality, the primary endpoint)
    subgroup: bool  # a subgroup / exploratory / post hoc result: never leads
    negative: bool  # says a source is silent ("no recommendation on …")
    recommend: bool  # recommendation wording
    exclusion: bool  # says who was excluded
    secondary: bool  # reports a secondary source's reading
    dose: bool
    adverse: bool
    grade: str | None
    line: int | None
    dependent: bool  # joined with the sentence before it
    spans: bool = False  # a lead-in ("… only if:") joined with list items of the passages after its own


@dataclass(frozen=True)
class PassageAnalysis:
    context: frozenset[str]  # tokens of the document title and section headings
    sentences: tuple[SentenceInfo, ...]
    heading_bigrams: frozenset[tuple[str, str]] = frozenset()  # adjacent token pairs of the headings
    title: frozenset[str] = frozenset()  # tokens of the document title
    headings: frozenset[str] = frozenset()  # tokens of the section headings
    heading_text: str = ""
    continued: tuple[Passage, ...] = ()  # the passages whose list items the passage's last lead-in takes


def analyse_passage(
    passage: Passage,
    document: Document,
    *,
    classifier: Classifier,
    knowledge: Knowledge,
    tokenize: Callable[[str], list[str]],
    continued: Sequence[Passage] = (),
) -> PassageAnalysis:
    """The sentences of a passage with what each is (section, role, cues). `continued`: the passages after
    this one whose list items complete its last sentence when that ends in a colon (a guideline's
    "… is recommended only if:" whose conditions the source keeps as separate items)."""
    context = frozenset(tokenize(f"{document.title} {' '.join(passage.section)}"))
    heading = [t for h in passage.section for t in tokenize(h)]
    cue = knowledge.cue
    opener = knowledge.dependent_opener
    sentences: list[SentenceInfo] = []
    previous: str | None = None
    path = passage.section
    units = split_sentences(passage.text)
    own = len(units)
    units += [item for p in continued for item in split_sentences(p.text)]
    taken_until = -1  # list items up to this unit were taken by the lead-in before them: never a statement alone
    for number, sentence in enumerate(units[:own]):
        if number <= taken_until and LIST_ITEM.match(sentence):
            continue  # "• Serum creatinine 2 mg/dL or greater" says nothing without "Delay the next cycle for …:"
        label = _INLINE_LABEL.match(sentence)
        if label and classifier.heading_role((label.group(1),)):  # "RESULTS We found ..." in an unstructured abstract
            path = (*passage.section, label.group(1).title())
            sentence = sentence[label.end():]  # the label is a heading, not part of what the sentence says
        text, dependent = sentence, False
        if opener.match(sentence):
            if previous is None:
                previous = sentence
                continue  # depends on something this passage does not hold
            text, dependent = f"{previous} {sentence}", True
        previous = sentence
        if sentence.endswith(":") and number + 1 < len(units):  # "… is recommended only if:" needs the items below it
            items = units[number + 1 : number + 1 + MAX_LIST_ITEMS]
            text, dependent = " ".join([text, *items]), True
            taken_until = number + len(items)
            spans = number + len(items) >= own
        else:
            spans = False
        if len(text) < MIN_SENTENCE_CHARS:
            continue
        placement = classifier.place(text, path, document.kind)
        sequence = tokenize(text)
        sentences.append(
            SentenceInfo(
                text=text,
                key=re.sub(r"\W+", " ", text.lower()).strip(),
                number=number,
                tokens=frozenset(sequence),
                bigrams=frozenset(zip(sequence, sequence[1:])),
                section=placement.section,
                role=placement.role,
                result=bool(cue("result").search(text)),
                effect=bool(cue("effect").search(text)),
                whole=bool(cue("whole").search(text)),
                survival=bool(cue("survival").search(text)),
                subgroup=bool(cue("subgroup").search(text)),
                negative=bool(cue("negative").search(text)),
                recommend=bool(cue("recommend").search(text)),
                exclusion=bool(cue("exclusion").search(text)),
                secondary=bool(cue("secondary").search(text)),
                dose=bool(cue("dose").search(text)),
                adverse=bool(cue("adverse").search(text)),
                # a sentence saying a rating "could not be confirmed" gives none ("preferred or other recommended?")
                grade=classifier.grade_of(text) if document.kind == "guideline" and not cue("negative").search(text) else None,
                line=classifier.line_of(text),
                dependent=dependent,
                spans=spans,
            )
        )
    return PassageAnalysis(
        continued=tuple(continued) if any(s.spans for s in sentences) else (),
        context=context, sentences=tuple(sentences), heading_bigrams=frozenset(zip(heading, heading[1:])),
        title=frozenset(tokenize(document.title)), headings=frozenset(heading), heading_text=" > ".join(passage.section),
    )


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage, scored for this question."""

    info: SentenceInfo
    passage: Passage
    document: Document
    body: str | None  # canonical body of the document
    relevance: float
    order: int  # position of the passage in the ranking, then of the sentence in it
    document_rank: int
    superseded: bool = False
    prior: bool = False  # recommends what the patient already had
    prior_topic: bool = False  # is only about what the patient already had
    intent_match: bool = False  # gives what the question asks for
    features: Features | None = None  # what it was scored from
    bottom_score: float | None = None  # the bottom-line ranker's score (rag.answer.ranker), when one is trained
    continued: tuple[Passage, ...] = ()  # further passages the sentence's text comes from (list items after a lead-in)
    regions: tuple[str, ...] = ()  # the regions (US, EU, JP…) the sentence names

    @property
    def text(self) -> str:
        return self.info.text

    @property
    def section(self) -> SectionName:
        return self.info.section

    @property
    def kind(self) -> str:
        return self.document.kind
