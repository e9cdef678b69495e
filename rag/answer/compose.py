"""Compose a structured, cited answer from retrieved passages — extractively.

Steps: understand the question (lexicon), retrieve (BM25 on the expanded question + dense, fused
by RRF), decide coverage (abstain when the corpus does not cover it), split the retrieved passages
into sentences, score each sentence against the question, give each one answer section, pick the
best per section (one statement per guideline body first, newer guidance before superseded),
add gap statements for bodies with no passage, number the references, verify every statement
against the passage it cites. No sentence is written that a passage does not contain.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from rag.answer.classify import NEGATIVE, RECOMMEND_CUES, RESULT_CUES, assign_section, grade_of, heading_section, line_rank
from rag.answer.lexicon import Lexicon, Understood, load_lexicon, understand
from rag.answer.related import related_questions
from rag.answer.models import SECTION_ORDER, Answer, AnswerSection, Reference, SectionName, Statement
from rag.answer.support import verify
from rag.errors import QueryError
from rag.fusion import reciprocal_rank_fusion
from rag.index.load import Index, open_index
from rag.models import Document, Hit, Passage
from rag.retrievers import BM25Retriever, DenseRetriever, check_query
from rag.sentences import split_sentences

MAX_QUESTION_CHARS = 2000
RETRIEVE_DEPTH = 100  # fused candidates per retriever
# passages considered for an answer, by document kind, in fused order (so trials are never crowded out)
QUOTAS: dict[str, int] = {"guideline": 12, "trial": 12, "label": 6}
OTHER_QUOTA = 4  # review, abstract, other
PER_DOCUMENT = 6  # passages of one document at most
NAMED_BODY_PASSAGES = 4  # best passages of each guideline body the question names, read first
SUPERSEDED = 0.7  # relevance factor of sentences from a document that a newer one replaces
NAMED_BODY_BOOST = 1.3  # relevance factor of sentences from a body the question names
MAJOR_BODY_PASSAGES = 3  # ... and of each major body of the field (lexicon major_bodies)
ANALYSIS_CACHE = 50_000  # passages whose sentence analysis an Asker keeps
EXPAND_TRIALS = 3  # best trial documents whose results passages join the candidates
EXPAND_PASSAGES = 3  # results passages added per such trial (all of them for the best one)
CAPS: dict[SectionName, int] = {"recommendation": 10, "evidence": 12, "algorithm": 6, "safety": 8, "caveats": 6}
PER_BODY = 2  # recommendation statements per guideline body
GUIDELINE_STATEMENTS = 5  # recommendation statements from guidelines at most ...
LABEL_STATEMENTS = 3  # ... and from regulators' labels and approvals
LABEL_STATEMENTS_REGULATORY = 5  # ... when the question asks about approval or labelling
GLOBAL_FLOOR = 0.2  # a statement scores at least this share of the best sentence's relevance
RECOMMENDATION_FLOOR = 0.4  # ... and a recommendation at least this share
SECTION_FLOOR = 0.5  # ... and this share of the best sentence of its own section
SAME_PASSAGE = 0.8  # discount per sentence already taken from the same passage
RANK_FLOOR = 0.4  # the retrieval rank of a sentence's passage scales its relevance between this and 1


class AbstainSettings(BaseModel):
    """Coverage thresholds, calibrated on the gold dev split (`python benchmarks/calibrate_abstention.py`):
    abstain when the best passage is far (dense < min_dense), or when the question's terms are poorly
    covered (coverage < min_coverage) and no passage is semantically close (dense < confident_dense)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dense: float = 0.30
    min_coverage: float = 0.45
    confident_dense: float = 0.60


@dataclass(frozen=True)
class Candidate:
    text: str
    passage: Passage
    document: Document
    section: SectionName
    relevance: float
    order: int  # position of the passage in the fused ranking, then of the sentence in it


@dataclass(frozen=True)
class SentenceInfo:
    text: str
    key: str  # the text without case and punctuation, to drop repeats across passages
    number: int
    tokens: frozenset[str]
    section: SectionName
    bonus: float  # for reporting an effect estimate
    factor: float  # for where in the document it stands


@dataclass(frozen=True)
class PassageAnalysis:
    context: frozenset[str]  # tokens of the document title and section headings
    sentences: tuple[SentenceInfo, ...]


@dataclass(frozen=True)
class Assessment:
    question: str
    understood: Understood
    query: str
    fused: list[Hit]
    coverage: float
    top_dense: float


def check_question(question: str) -> str:
    text = check_query(question, limit=MAX_QUESTION_CHARS, what="question", hint="type a clinical question")
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ch.isascii() for ch in letters) / len(letters) < 0.5:
        raise QueryError("the question is not in English; the indexed corpus and the lexicon are English only")
    return text


class Asker:
    """Answers questions from one opened index; keep it for warm, repeated questions."""

    def __init__(self, index_root: Path, *, lexicon: Lexicon | None = None, abstain: AbstainSettings | None = None) -> None:
        self.index: Index = open_index(index_root)
        self.lexicon = lexicon or load_lexicon()
        self.abstain = abstain or AbstainSettings()
        self.bm25 = BM25Retriever(self.index)
        self.dense = DenseRetriever(self.index) if self.index.manifest.model else None
        self._design_weights: dict[str, float] = {}
        self._body_rows: dict[str, object] = {}
        self._analysis: dict[str, PassageAnalysis] = {}

    # -- corpus facts -------------------------------------------------------------------------
    @cached_property
    def documents(self) -> dict[str, Document]:
        return {d.id: d for d in self.index.store.documents()}

    @cached_property
    def superseded_by(self) -> dict[str, str]:
        newer: dict[str, str] = {}
        for document in self.documents.values():
            for old in document.supersedes:
                newer[old] = document.id
        return newer

    @cached_property
    def _drug_tokens(self) -> set[str]:
        """Tokens of every anticancer drug name in the lexicon (to tell which drug a sentence is about)."""
        treatments = [g for g in self.lexicon.drugs if g not in self.lexicon.supportive]
        return {t for generic in treatments for t in self.index.tokenize(generic) if len(t) > 3}

    @cached_property
    def bodies(self) -> set[str]:
        return {d.body for d in self.documents.values() if d.body}

    def idf(self, token: str) -> float:
        bm25 = self.index.bm25
        row = bm25.vocabulary.get(token)
        df = 0 if row is None else int(bm25.indptr[row + 1] - bm25.indptr[row])
        return math.log(1 + (bm25.n_docs - df + 0.5) / (df + 0.5))

    # -- the answer ----------------------------------------------------------------------------
    def assess(self, question: str) -> Assessment:
        """Understand and retrieve; measure how well the corpus covers the question."""
        question = check_question(question)
        understood = understand(question, self.lexicon)
        query = understood.expanded_query(question)
        lexical = self.bm25.search(query, RETRIEVE_DEPTH)
        dense = self.dense.search(" ".join([question, *understood.drugs]), RETRIEVE_DEPTH) if self.dense else []
        fused = reciprocal_rank_fusion([lexical, dense], 2 * RETRIEVE_DEPTH)
        top = self.index.store.by_ids([h.passage_id for h in fused[:10]])
        coverage = self._coverage(self._coverage_terms(understood.normalized_question(question)), top)
        return Assessment(question, understood, query, fused, coverage, dense[0].score if dense else 1.0)

    def uncovered_reason(self, assessment: Assessment) -> str | None:
        """Why the corpus does not cover the question, or None when it does."""
        other = self.lexicon.outside_scope(assessment.question)
        if other:
            return f"The question is about {other}, which the indexed corpus does not cover."
        settings = self.abstain
        poorly_covered = assessment.coverage < settings.min_coverage and assessment.top_dense < settings.confident_dense
        if not assessment.fused or poorly_covered or assessment.top_dense < settings.min_dense:
            return (
                f"The indexed corpus does not cover this question (term coverage {assessment.coverage:.2f}, "
                f"best passage similarity {assessment.top_dense:.2f})."
            )
        return None

    def ask(self, question: str) -> Answer:
        assessment = self.assess(question)
        reason = self.uncovered_reason(assessment)
        if reason:
            return self._abstain(assessment.question, reason)
        ranked = self._expand(self._diverse(assessment.fused, self._body_passages(assessment)))
        terms = self._scoring_terms(assessment.understood.normalized_question(assessment.question))
        candidates = self._candidates(ranked, terms, assessment.understood)
        return self._compose(assessment.question, assessment.understood, candidates)

    def _expand(self, positioned: list[tuple[int, Hit]]) -> list[tuple[int, Passage]]:
        """(position, passage) pairs: the retrieved passages, plus — for the best trial documents —
        their results passages, placed at the rank of the document's first hit (a relevant trial's
        primary results are relevant even when the question does not use their words)."""
        passages = self.index.store.by_ids([h.passage_id for _, h in positioned])
        ranked = [(position, passage) for (position, _), passage in zip(positioned, passages, strict=True)]
        present = {p.id for p in passages}
        trials: list[tuple[int, str]] = []
        for position, passage in ranked:
            kind = self.documents[passage.doc_id].kind
            if kind in ("trial", "abstract") and passage.doc_id not in {d for _, d in trials}:
                trials.append((position, passage.doc_id))
        for number, (position, doc_id) in enumerate(trials[:EXPAND_TRIALS]):
            added = 0
            for passage in self.index.store.passages_of(doc_id):
                if (number > 0 and added >= EXPAND_PASSAGES) or passage.id in present:
                    continue
                if heading_section(passage.section) == "evidence" and RESULT_CUES.search(passage.text):
                    ranked.append((position, passage))
                    present.add(passage.id)
                    added += 1
        return sorted(ranked, key=lambda pair: pair[0])

    def evidence_weight(self, doc_id: str) -> float:
        """Study design from the document's title and first passage: randomized phase 3 > phase 2 >
        observational / case report."""
        if doc_id not in self._design_weights:
            document = self.documents[doc_id]
            first = self.index.store.passages_of(doc_id)[:1]
            text = f"{document.title} {first[0].text if first else ''}".lower()
            if document.kind not in ("trial", "abstract", "other", "review"):
                weight = 1.0
            elif re.search(r"phase (?:3|iii)\b|randomi[sz]ed", text):
                weight = 1.0
            elif re.search(r"phase (?:2|ii)\b|single-arm|pooled", text):
                weight = 0.85
            else:
                weight = 0.7
            self._design_weights[doc_id] = weight
        return self._design_weights[doc_id]

    def _body_passages(self, assessment: Assessment) -> list[Hit]:
        """The best passages of each guideline body the question names ("what does ESGO say") and of
        the field's major bodies, best first (named bodies before the others): those documents must be
        read even when other passages outrank them; whether a sentence of them is relevant enough to
        quote is decided per sentence."""
        import numpy as np

        named = list(assessment.understood.bodies)
        wanted = [(b, NAMED_BODY_PASSAGES) for b in named] + [
            (b, MAJOR_BODY_PASSAGES) for b in self.lexicon.major_bodies if b not in named
        ]
        focus = self._scoring_terms(assessment.understood.normalized_question(assessment.question))
        scores = self.index.bm25.scores(list(focus))  # the question's own terms, not the body names
        found: list[tuple[bool, float, int]] = []
        for body, count in wanted:
            rows = self._rows_of_body(body)
            best = rows[np.argsort(-scores[rows], kind="stable")[:count]] if len(rows) else []
            found.extend((body not in named, -float(scores[r]), int(r)) for r in best if scores[r] > 0)
        found.sort()
        passages = self.index.store.by_rows([row for _, _, row in found])
        return [Hit(passage_id=p.id, doc_id=p.doc_id, score=-score, rank=i + 1) for i, (p, (_, score, _)) in enumerate(zip(passages, found, strict=True))]

    def _rows_of_body(self, body: str):  # -> np.ndarray
        import numpy as np

        if body not in self._body_rows:
            doc_ids = [d.id for d in self.documents.values() if d.body == body and d.id not in self.superseded_by]
            self._body_rows[body] = np.asarray(self.index.store.rows_of_documents(doc_ids), dtype=np.int64)
        return self._body_rows[body]

    def _diverse(self, fused: list[Hit], lead: list[Hit]) -> list[tuple[int, Hit]]:
        """Fused hits filtered to per-kind quotas and a per-document cap, in fused order, each with
        its rank among hits of its own kind (sections draw mostly on one kind: guidelines feed the
        recommendation, trials the evidence, so a trial's rank is judged against other trials); then
        the `lead` passages of guideline bodies not already in, outside the quotas, ranked among
        themselves."""
        taken: dict[str, int] = defaultdict(int)
        per_document: dict[str, int] = defaultdict(int)
        out: list[tuple[int, Hit]] = []
        for hit in fused:
            kind = self.documents[hit.doc_id].kind
            group = kind if kind in QUOTAS else "other"
            if taken[group] >= QUOTAS.get(group, OTHER_QUOTA) or per_document[hit.doc_id] >= PER_DOCUMENT:
                continue
            out.append((taken[group], hit))
            taken[group] += 1
            per_document[hit.doc_id] += 1
        included = {h.passage_id for _, h in out}
        for rank, hit in enumerate(lead):
            if hit.passage_id not in included and per_document[hit.doc_id] < PER_DOCUMENT:
                out.append((rank, hit))
                per_document[hit.doc_id] += 1
        return out

    @cached_property
    def _ignored_terms(self) -> frozenset[str]:
        return frozenset(self.index.tokenize(" ".join(self.lexicon.question_word_set)))

    def _question_terms(self, query: str) -> dict[str, float]:
        tokens = [t for t in self.index.tokenize(query) if (len(t) > 1 or t.isdigit()) and t not in self._ignored_terms]
        return {t: self.idf(t) for t in dict.fromkeys(tokens)}

    def _scoring_terms(self, text: str) -> dict[str, float]:
        """Terms a sentence is scored against: the question in the corpus's words (brands, abbreviations
        and misspellings already rewritten), compounds counted through their parts."""
        return {t: w for t, w in self._question_terms(text).items() if not ("-" in t or "/" in t)}

    def _coverage_terms(self, text: str) -> dict[str, float]:
        """Question terms that say what it is about: numbers and ages the corpus has never seen
        ("52", "5f") are details of the case, not of the topic, and are left out; so are compounds
        ("curative-intent"), whose parts are counted instead."""
        bm25 = self.index.bm25
        return {
            t: w for t, w in self._question_terms(text).items()
            if (not any(ch.isdigit() for ch in t) or t in bm25.vocabulary) and not ("-" in t or "/" in t)
        }

    def _coverage(self, terms: dict[str, float], passages: list[Passage]) -> float:
        """IDF-weighted share of the question's terms found in the top passages (terms the corpus
        has never seen weigh the most, so a question about another disease scores low)."""
        if not terms:
            return 0.0
        seen: set[str] = set()
        for passage in passages:
            analysis = self._sentences(passage)
            seen.update(analysis.context)
            for info in analysis.sentences:
                seen.update(info.tokens)
        total = sum(terms.values())
        return sum(w for t, w in terms.items() if t in seen) / total if total else 0.0

    def _sentences(self, passage: Passage) -> PassageAnalysis:
        """Sentences of a passage with their tokens, answer section and fixed weights (cached: the
        corpus does not change under an Asker, so repeated questions reuse the work)."""
        cached = self._analysis.get(passage.id)
        if cached is not None:
            return cached
        document = self.documents[passage.doc_id]
        context = frozenset(self.index.tokenize(f"{document.title} {' '.join(passage.section)}"))
        enrolment = heading_section(passage.section[-1:]) == "evidence" and bool(
            re.search(r"design|population|baseline", " ".join(passage.section), re.IGNORECASE)
        )
        sentences: list[SentenceInfo] = []
        for number, sentence in enumerate(split_sentences(passage.text)):
            if len(sentence) < 25:
                continue
            section = assign_section(sentence, passage.section, document.kind)
            bonus = 0.0
            if section == "evidence" and RESULT_CUES.search(sentence):
                # effect estimates first, and overall survival, the endpoint that decides practice, before others
                bonus = 0.25 + (0.1 if OVERALL_SURVIVAL.search(sentence) else 0.0)
            factor = 0.8 if section == "evidence" and enrolment else 1.0  # who was enrolled < what happened to them
            key = re.sub(r"\W+", " ", sentence.lower()).strip()
            sentences.append(SentenceInfo(sentence, key, number, frozenset(self.index.tokenize(sentence)), section, bonus, factor))
        analysis = PassageAnalysis(context=context, sentences=tuple(sentences))
        if len(self._analysis) >= ANALYSIS_CACHE:
            self._analysis.pop(next(iter(self._analysis)))
        self._analysis[passage.id] = analysis
        return analysis

    def _candidates(self, ranked: list[tuple[int, Passage]], terms: dict[str, float], understood: Understood) -> list[Candidate]:
        total = sum(terms.values()) or 1.0
        drug_tokens = {t for d in understood.drugs for t in self.index.tokenize(d) if len(t) > 3}
        class_tokens = {
            t for name, members in self.lexicon.classes.items() if set(members) & set(understood.drugs)
            for t in self.index.tokenize(name) if len(t) > 3
        }
        other_drug_tokens = self._drug_tokens - drug_tokens
        out: list[Candidate] = []
        seen: set[str] = set()
        for position, passage in ranked:
            document = self.documents[passage.doc_id]
            design = self.evidence_weight(document.id)
            analysis = self._sentences(passage)
            context = analysis.context
            rank_weight = RANK_FLOOR + (1 - RANK_FLOOR) / (1.0 + position / 6.0)
            for info in analysis.sentences:
                if info.key in seen:
                    continue
                seen.add(info.key)
                tokens = info.tokens
                overlap = sum(w for t, w in terms.items() if t in tokens) / total
                context_overlap = sum(w for t, w in terms.items() if t in context and t not in tokens) / total
                relevance = design * rank_weight * info.factor * (0.25 + overlap + 0.3 * context_overlap + info.bonus)
                if document.id in self.superseded_by:
                    relevance *= SUPERSEDED  # newer guidance of the same body leads; the older is still quoted
                if document.body in understood.bodies:
                    relevance *= NAMED_BODY_BOOST  # the question asks what this body says
                if drug_tokens and not (drug_tokens & (tokens | context)):
                    if other_drug_tokens & tokens:
                        relevance *= 0.5  # about another drug than the one the question names
                    elif not (class_tokens & (tokens | context)):
                        relevance *= 0.6  # about neither the drug nor its class
                out.append(Candidate(info.text, passage, document, info.section, relevance, position * 1000 + info.number))
        return out

    def _compose(self, question: str, understood: Understood, candidates: list[Candidate]) -> Answer:
        best = sorted(candidates, key=lambda c: (-c.relevance, c.order))
        floor = best[0].relevance * GLOBAL_FLOOR if best else 0.0
        section_best: dict[str, float] = {}
        for candidate in best:
            section_best.setdefault(candidate.section, candidate.relevance)
        chosen: dict[SectionName, list[Candidate]] = defaultdict(list)
        used: set[str] = set()
        retrieved_docs = {c.document.id for c in candidates}

        def take(section: SectionName, candidate: Candidate) -> None:
            chosen[section].append(candidate)
            used.add(candidate.text)

        def current(candidate: Candidate) -> bool:
            newer = self.superseded_by.get(candidate.document.id)
            return newer is None

        # recommendation: guideline bodies first (newest guidance only), then regulators; within each,
        # positive statements ("recommends", "approved") before negative ones ("no recommendation on")
        per_body: dict[str, int] = defaultdict(int)
        regulatory = bool(REGULATORY.search(question))  # "is it approved in the EU?": regulators' statements lead
        label_cap, body_cap = (LABEL_STATEMENTS_REGULATORY, PER_BODY + 1) if regulatory else (LABEL_STATEMENTS, PER_BODY)
        for kinds, cap in ((("guideline",), GUIDELINE_STATEMENTS), (("label",), label_cap)):
            pool = [
                c for c in best
                if c.document.kind in kinds and c.section in ("recommendation", "algorithm") and current(c)
                and c.relevance >= RECOMMENDATION_FLOOR * best[0].relevance and RECOMMEND_CUES.search(c.text)
            ]
            taken = 0
            for candidate in sorted(pool, key=lambda c: (bool(NEGATIVE.search(c.text)), -c.relevance, c.order)):
                body = candidate.document.body or candidate.document.id
                if per_body[body] < (body_cap if kinds == ("label",) else PER_BODY) and taken < cap:
                    per_body[body] += 1
                    taken += 1
                    take("recommendation", candidate)
        for section in ("caveats", "safety", "evidence", "algorithm"):
            threshold = max(floor, SECTION_FLOOR * section_best.get(section, 0.0))
            pool = [
                c for c in best
                if c.section == section and c.text not in used and c.relevance >= threshold
            ]
            for candidate in _diverse_pick(pool, CAPS[section] - len(chosen[section])):
                take(section, candidate)
        chosen["algorithm"].sort(key=lambda c: (line_rank(c.text), -c.relevance, c.order))
        chosen["caveats"].extend(self._superseded_notes(retrieved_docs, used))

        references: dict[str, Reference] = {}

        def cite(candidate: Candidate) -> int:
            if candidate.passage.id not in references:
                references[candidate.passage.id] = _reference(len(references) + 1, candidate)
            return references[candidate.passage.id].number

        sections: list[AnswerSection] = []
        for name in SECTION_ORDER:
            statements = [
                Statement(
                    text=c.text,
                    citations=[cite(c)],
                    kind="fact",
                    body=c.document.body if c.document.kind in ("guideline", "label") else None,
                    grade=grade_of(c.text) if c.document.kind == "guideline" else None,
                )
                for c in chosen[name]
            ]
            if name == "caveats":
                statements.extend(self._gaps(understood, retrieved_docs))
            sections.append(AnswerSection(name=name, statements=statements))
        by_number = {r.number: r for r in references.values()}
        sections = [
            s.model_copy(update={"statements": [v for st in s.statements if (v := verify(st, by_number))]}) for s in sections
        ]
        cited = {n for s in sections for st in s.statements for n in st.citations}
        kept = sorted((r for r in by_number.values() if r.number in cited), key=lambda r: r.number)
        return Answer(
            question=question,
            abstained=False,
            sections=sections,
            references=kept,
            related_questions=related_questions(question, understood, self.lexicon),
        )

    def _superseded_notes(self, retrieved_docs: set[str], used: set[str]) -> list[Candidate]:
        """For each retrieved document that a newer one replaces: the newer document's own sentence
        that says so (a real passage, cited)."""
        notes: list[Candidate] = []
        for old in sorted(retrieved_docs):
            newer = self.superseded_by.get(old)
            if not newer:
                continue
            for passage in self.index.store.passages_of(newer):
                sentence = next((s for s in split_sentences(passage.text) if re.search(r"supersed|replac|updat", s, re.I)), None)
                if sentence and sentence not in used:
                    used.add(sentence)
                    document = self.documents[newer]
                    notes.append(Candidate(sentence, passage, document, "caveats", 0.0, 10**9))
                    break
        return notes

    def _gaps(self, understood: Understood, retrieved_docs: set[str]) -> list[Statement]:
        """'No ESMO recommendation on … was found in the indexed corpus' for each body the question
        names, or each major body of the field, that no retrieved passage comes from."""
        retrieved_bodies = {self.documents[d].body for d in retrieved_docs}
        topic = " and ".join(understood.drugs) if understood.drugs else "this question"
        wanted = list(dict.fromkeys([*understood.bodies, *self.lexicon.major_bodies]))
        gaps: list[Statement] = []
        for body in wanted:
            if body in retrieved_bodies:
                continue
            what = "guidance" if body in self.bodies else "document"
            gaps.append(Statement(text=f"No {body} {'recommendation' if what == 'guidance' else what} on {topic} was found in the indexed corpus.", kind="gap", body=body))
        return gaps

    def _abstain(self, question: str, reason: str) -> Answer:
        return Answer(
            question=question,
            abstained=True,
            abstain_reason=f"{reason} It covers {self.lexicon.scope}.",
            sections=[AnswerSection(name=name) for name in SECTION_ORDER],
            references=[],
            related_questions=related_questions(question, understand(question, self.lexicon), self.lexicon)[:3],
        )


REGULATORY = re.compile(r"approv|\blabel|indicat|authori[sz]|licens|\bFDA\b|\bEMA\b|\bPMDA\b|health canada", re.IGNORECASE)
OVERALL_SURVIVAL = re.compile(r"overall survival|\bOS\b", re.IGNORECASE)


def _diverse_pick(pool: list[Candidate], n: int) -> list[Candidate]:
    """Greedy pick of n candidates by relevance, discounting further sentences of an already used
    passage, so one passage does not fill a section alone."""
    picked: list[Candidate] = []
    from_passage: dict[str, int] = defaultdict(int)
    remaining = list(pool)

    def gain(candidate: Candidate) -> tuple[float, int]:
        return candidate.relevance * SAME_PASSAGE ** from_passage[candidate.passage.id], -candidate.order

    while remaining and len(picked) < n:
        top = max(remaining, key=gain)
        picked.append(top)
        from_passage[top.passage.id] += 1
        remaining.remove(top)
    return picked


def _reference(number: int, candidate: Candidate) -> Reference:
    document = candidate.document
    return Reference(
        number=number,
        passage_id=candidate.passage.id,
        doc_id=document.id,
        title=document.title,
        source=document.source_line(),
        year=document.year,
        identifiers=document.identifiers,
        quote=candidate.passage.text,
    )


def ask(question: str, *, index_root: Path) -> Answer:
    return Asker(index_root).ask(question)
