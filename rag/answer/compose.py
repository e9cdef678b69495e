"""`rag ask`: a cited answer page from the indexed corpus, extractively. The stages, each its own module:

    prepare the question (question.py) -> gather passages (gather.py) -> decide coverage (coverage.py)
    -> analyse and score sentences (candidates.py, scoring.py) -> select (selection.py) -> assemble (assemble.py)

`Asker` holds one opened index (and its caches) for warm, repeated questions. What it knows of the
field comes from the index's profile and the field file stored with it, never from code.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Collection
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.answer.assemble import Extras, assemble
from rag.answer.candidates import LIST_ITEM, MAX_LIST_ITEMS, Candidate, PassageAnalysis, analyse_passage
from rag.answer.classify import Classifier
from rag.answer.coverage import decide, reports_results, term_coverage, uncovered_conditions
from rag.answer.gather import STUDY_KINDS, Gathered, gather
from rag.answer.models import SECTION_ORDER, Answer, AnswerSection, Statement
from rag.answer.qualifiers import conflicts, population_conflict, populations, qualifier_values
from rag.answer.question import Question, prepare_question
from rag.answer.ranker import load_ranker, vectorize
from rag.answer.related import related_questions
from rag.answer.scoring import Features, relevance
from rag.answer.selection import Ask, select
from rag.answer.settings import AnswerSettings
from rag.index.load import Index, open_index
from rag.knowledge import Knowledge, load_vocabulary
from rag.models import Document, Passage
from rag.sentences import split_sentences

ANALYSIS_CACHE = 50_000  # passages whose sentence analysis an Asker keeps
SUPERSEDING = re.compile(r"supersed|replac|updat", re.IGNORECASE)


class Asker:
    """Answers questions from one opened index."""

    def __init__(self, index_root: Path, *, settings: AnswerSettings | None = None) -> None:
        self.index: Index = open_index(index_root)
        self.profile = self.index.profile
        self.knowledge = Knowledge(load_vocabulary(), self.profile.summary.declared)
        self.classifier = Classifier(self.knowledge)
        self.settings = settings or AnswerSettings()
        self._analysis: dict[str, PassageAnalysis] = {}
        self._designs: dict[str, str] = {}

    # -- corpus facts, read lazily -------------------------------------------------------------
    @cached_property
    def scope(self) -> str:
        return self.profile.summary.scope

    @cached_property
    def major_bodies(self) -> list[str]:
        return list(self.knowledge.field.major_bodies)

    @cached_property
    def _drug_tokens(self) -> frozenset[str]:
        """Tokens of every drug the corpus names (read once, when a question names a drug)."""
        supportive = self.knowledge.supportive
        generic = frozenset(self.index.tokenize(" ".join(self.knowledge.vocabulary.drug_generic_words)))
        classes = set(self.knowledge.classes)
        return frozenset(
            t for name in self.profile.drug_corpus_names() if name not in supportive and name not in classes
            for t in self.index.tokenize(name) if len(t) > 3 and t not in generic
        )

    @cached_property
    def _ignored(self) -> frozenset[str]:
        """Question words, and the shorthand the question's expansions stand for ("IO" of "IO-pretreated": its
        expansion, immunotherapy, carries the meaning)."""
        shorthand = (t for key in self.knowledge.abbreviations for t in self.index.tokenize(key) if len(t) <= 4)
        return frozenset([*self.index.tokenize(" ".join(self.knowledge.question_words)), *shorthand])

    def idf(self, token: str) -> float:
        lexicon = self.index.lexicon
        df = lexicon.document_frequency(token)
        return math.log(1 + (lexicon.n_docs - df + 0.5) / (df + 0.5))

    def terms(self, text: str, *, known_numbers_only: bool = False) -> dict[str, float]:
        """Question terms with their idf: no question words, compounds counted through their parts;
        for coverage, numbers the corpus has never seen ("52", "5f") are details of the case, not its topic."""
        vocabulary = self.index.lexicon.vocabulary
        tokens = [
            t for t in self.index.tokenize(text)
            if (len(t) > 1 or t.isdigit()) and t not in self._ignored and not ("-" in t or "/" in t)
            and not (known_numbers_only and any(ch.isdigit() for ch in t) and t not in vocabulary)
        ]
        return {t: self.idf(t) for t in dict.fromkeys(tokens)}

    def analysis(self, passage, document: Document) -> PassageAnalysis:
        cached = self._analysis.get(passage.id)
        if cached is None:
            cached = analyse_passage(passage, document, classifier=self.classifier, knowledge=self.knowledge, tokenize=self.index.tokenize,
                                     continued=self._list_after(passage))
            if len(self._analysis) >= ANALYSIS_CACHE:
                self._analysis.pop(next(iter(self._analysis)))
            self._analysis[passage.id] = cached
        return cached

    def _lead_in(self, passage: Passage) -> Passage | None:
        """The passage whose lead-in colon a list-item passage completes ("… should initiate insulin therapy for
        patients:" before "• Whose HbA1c is >9%"), when the item is among the items that lead-in takes: an item
        alone says nothing of what it is a condition for."""
        if not LIST_ITEM.match(passage.text):
            return None
        before = self.index.store.passages_between(passage.doc_id, passage.ordinal - MAX_LIST_ITEMS, passage.ordinal - 1)
        for back in reversed(before):
            if back.section != passage.section:
                return None
            if back.text.rstrip().endswith(":"):
                return back
            if not LIST_ITEM.match(back.text):
                return None
        return None

    def _list_after(self, passage: Passage) -> list[Passage]:
        """The list items that follow a passage ending in a lead-in colon, when the source kept each item as
        a passage of its own (the same section, up to MAX_LIST_ITEMS, while they read as list items)."""
        if not passage.text.rstrip().endswith(":"):
            return []
        items: list[Passage] = []
        for after in self.index.store.passages_between(passage.doc_id, passage.ordinal + 1, passage.ordinal + MAX_LIST_ITEMS + 1):
            if after.section != passage.section or not LIST_ITEM.match(after.text) or len(items) == MAX_LIST_ITEMS:
                break
            items.append(after)
        return items

    def _topic_tokens(self, document: Document) -> frozenset[str]:
        """The words of what a document says it is about: its title and declared conditions."""
        facets = document.facets
        return frozenset(self.index.tokenize(" ".join([document.title, *facets.get("conditions", []), *facets.get("mesh", [])])))

    def design(self, document: Document) -> str:
        """Study design from the title and first passage: phase3 (randomized), phase2, other; none for
        guidelines and labels."""
        if document.id not in self._designs:
            if document.kind not in (*STUDY_KINDS, "other", "review"):
                self._designs[document.id] = "none"
            else:
                first = self.index.store.passages_between(document.id, 0, 0)
                text = f"{document.title} {first[0].text if first else ''}"
                designs = self.knowledge.designs
                self._designs[document.id] = (
                    "phase3" if designs["phase3"].search(text) else "phase2" if designs["phase2"].search(text) else "other"
                )
        return self._designs[document.id]

    # -- stages ----------------------------------------------------------------------------------
    def prepare(self, question: str) -> Question:
        prepared = prepare_question(
            question, self.knowledge, self.profile, vocabulary=self.index.lexicon.vocabulary, tokenize=self.index.tokenize
        )
        completed = self._completions(prepared)
        if not completed:
            return prepared
        words = " ".join(completed)
        return replace(prepared, query=f"{prepared.query} ({'; '.join(completed)})", normalized=f"{prepared.normalized} {words}",
                       topic=f"{prepared.topic} {words}")

    @cached_property
    def _sorted_terms(self) -> list[str]:
        """The index's terms in order (sorted once, when a question first has a word the index lacks)."""
        return sorted(self.index.lexicon.vocabulary)

    def _completions(self, question: Question) -> list[str]:
        """Index terms that a question word the index lacks begins ("bicarb": bicarbonate), when few enough to be
        what it stands for; terms only, never a guess outside the index."""
        limit = self.settings.retrieval.shorthand_completions
        vocabulary = self.index.lexicon.vocabulary
        short = [t for t in dict.fromkeys(self.index.tokenize(question.normalized))
                 if limit and len(t) >= 4 and t.isalpha() and t not in vocabulary and t not in self._ignored]
        found: list[str] = []
        for token in short:
            terms = self._sorted_terms
            start = bisect_left(terms, token)
            matches = []
            for term in terms[start : start + limit + 1]:
                if not term.startswith(token):
                    break
                matches.append(term)
            if 0 < len(matches) <= limit:
                found += [m for m in matches if self.index.tokenize(m) == [m]]  # a term that reads back as itself
        return found

    def gather(self, question: Question) -> Gathered:
        return gather(question, self.index, self.knowledge, self.settings.retrieval, major_bodies=self.major_bodies, classifier=self.classifier)

    def ask(self, question: str, *, full: bool = False) -> Answer:
        prepared = self.prepare(question)
        gathered = self.gather(prepared)
        settings = self.settings.abstain
        top = self.index.store.by_ids([h.passage_id for h in gathered.fused[: settings.coverage_passages]])
        top_docs = self.index.store.documents_by_ids({p.doc_id for p in top})
        analyses = [self.analysis(p, top_docs[p.doc_id]) for p in top]
        seen_by_document: dict[str, set[str]] = {}
        for passage, analysis in zip(top, analyses):
            seen_by_document.setdefault(passage.doc_id, set()).update(analysis.context, *(s.tokens for s in analysis.sentences))
        terms = self.terms(prepared.topic, known_numbers_only=True)
        coverage = max((term_coverage(terms, seen) for seen in seen_by_document.values()), default=0.0)
        token_sets = [frozenset().union(*(s.tokens for s in a.sentences)) if a.sentences else frozenset() for a in analyses]
        topics = [self._topic_tokens(top_docs[d]) for d in list(dict.fromkeys(p.doc_id for p in top))[: settings.results_documents + 2]]
        covered, uncovered = uncovered_conditions(
            prepared, self.knowledge, self.profile, self.index.tokenize, token_sets, settings, top_topics=topics
        )
        verdict = decide(
            prepared, has_hits=bool(gathered.fused), coverage=coverage, top_dense=gathered.top_dense,
            covered=covered, uncovered=uncovered, scope=self.scope, settings=settings,
        )
        if verdict.abstain:
            return self._abstain(prepared, verdict.reason or "")
        ask = self.selection_ask(prepared)
        candidates = self.bottom_scores(self.candidates(prepared, gathered), ask)
        leading = [c for c in candidates if c.document_rank == 0]
        if prepared.intent == "efficacy" and leading and leading[0].kind in STUDY_KINDS and not reports_results(
            candidates, documents=settings.results_documents
        ):
            return self._abstain(prepared, f"The indexed corpus reports no results that answer this question. It covers {self.scope}.")
        selection = select(candidates, ask, self.settings.selection, full=full)
        quoted = set(selection.documents)
        shown = [*selection.bottom, *(c for items in selection.sections.values() for c in items)]
        notes = self._superseded_notes(gathered, {c.text for c in candidates if c.document.id in quoted})
        extras = Extras(
            lead_gaps=verdict.lead_gaps,
            caveats=notes,
            gaps=self._gaps(prepared, {c.body for c in [*shown, *notes] if c.body}),  # a body the page cites has no gap
            related=related_questions(prepared, self.knowledge),
        )
        return assemble(prepared.text, selection, extras, body_kind=self.knowledge.body_kind, exclusions=selection.exclusions,
                        settings_hash=self.settings.config_hash(), word_budget=None if full else self.settings.selection.word_budget)

    def candidates(self, question: Question, gathered: Gathered) -> list[Candidate]:
        scoring = self.settings.scoring
        terms = self.terms(question.normalized)
        total = sum(terms.values()) or 1.0
        sequence = [t for t in self.index.tokenize(question.rewritten or question.normalized) if t in terms]
        asked_terms = {t for t in self.index.tokenize(" ".join(question.asked)) if t in terms}
        pairs = {(a, b) for a, b in zip(sequence, sequence[1:]) if a != b}
        asked = self._tokens_of(question.drugs)
        related = [c for c, ms in self.knowledge.classes.items() if set(ms) & set(question.drugs)]
        members = set(question.class_members) | {m for c in related for m in self.knowledge.classes[c]}
        class_tokens = self._tokens_of([*question.classes, *related])
        # a class the question names is matched by a sentence naming one of its members ("steroids": prednisone)
        equivalent = {t: self._tokens_of(self.knowledge.classes.get(c, [])) for c in question.classes for t in self.index.tokenize(c)}
        other = (self._drug_tokens - asked - self._tokens_of(members)) if asked else frozenset()
        prior = self._tokens_of(self._with_class_mates(question.prior))
        if question.intents[:1] in (("regulatory",), ("dosing",), ("safety",)):  # facts of a drug it names, not whether to give it:
            prior -= self._tokens_of(question.named_outside_prior)  # "after pembrolizumab: is cemiplimab FDA approved?"
        superseded = self.index.store.superseded_by(gathered.documents)
        bodies = self.index.store.body_of(gathered.documents)
        regions = set(question.regions)
        region_pattern = self.knowledge.region_pattern
        intents = [(self.knowledge.intents[i][1], self.knowledge.intent_not_roles[i]) for i in question.intents[:2]]
        forms = [self.knowledge.answer_types[i][1] for i in question.answer_types]
        asked_text = " ".join([question.text, *question.expansions])  # "T1DM" pins type 1
        qualified = qualifier_values(asked_text, self.knowledge.qualifier)
        population_words = self.knowledge.population_pattern
        asked_groups = populations(asked_text, population_words)
        out: list[Candidate] = []
        seen: set[str] = set()
        for position, hit in gathered.ranked:
            document = gathered.documents.get(hit.doc_id)
            if document is None:
                continue
            passage = self._lead_in(hit) or hit
            analysis = self.analysis(passage, document)
            title_values = qualifier_values(document.title, self.knowledge.qualifier)  # where the sentence pins none itself
            body = bodies.get(document.id)
            region = self.knowledge.body_region(body) if body else None
            design = self.design(document)
            rank = gathered.document_rank.get(document.id, len(gathered.document_rank))
            for info in analysis.sentences:
                if info.key in seen:
                    continue
                seen.add(info.key)
                tokens = info.tokens
                here = tokens | analysis.context
                if not asked:
                    match = "n/a"
                elif asked & here:
                    match = "asked"
                elif class_tokens & here:
                    match = "class"
                elif other & tokens:
                    match = "other"
                else:
                    match = "none"
                matched = {t for t in terms if t in tokens or (t in equivalent and equivalent[t] & tokens)}
                mentioned = (self._drug_tokens & tokens) if prior else frozenset()
                if prior and not mentioned and document.kind in STUDY_KINDS:
                    mentioned = self._drug_tokens & analysis.title  # "KEYNOTE-826 enrolled …": a trial's sentence is about its drugs
                about_prior = bool(mentioned and mentioned <= prior)
                recommends_prior = about_prior and info.recommend
                intent_match = any(info.role not in not_roles and (p.search(info.text) or p.search(analysis.heading_text))
                                   for p, not_roles in intents)
                aspect = {t: w * (2.0 if t in asked_terms else 1.0) for t, w in terms.items() if t not in analysis.title}
                aspect_total = sum(aspect.values())
                found_aspect = sum(w for t, w in aspect.items() if t in matched or t in analysis.headings)
                features = Features(
                    overlap=sum(terms[t] for t in matched) / total,
                    context_overlap=sum(w for t, w in terms.items() if t in analysis.context and t not in matched) / total,
                    phrase_overlap=len(pairs & (info.bigrams | analysis.heading_bigrams)) / len(pairs) if pairs else 0.0,
                    short=sum(w.isalpha() for w in info.text.split()) <= scoring.short_words,
                    aspect_overlap=found_aspect / aspect_total if aspect_total else 0.0,
                    asked_overlap=len(asked_terms & (tokens | analysis.headings)) / len(asked_terms) if asked_terms else 0.0,
                    density=len(matched) / len(tokens) if tokens else 0.0,
                    dense=gathered.dense_scores.get(hit.id, 0.0),
                    qualifier_conflict=(bool(qualified) and conflicts(qualified, {**title_values, **qualifier_values(info.text, self.knowledge.qualifier)}))
                    or population_conflict(asked_groups, populations(f"{info.text} {document.title}", population_words)),
                    answer_form=sum(bool(f.search(info.text) or f.search(analysis.heading_text)) for f in forms) / len(forms) if forms else 0.0,
                    position=position,
                    document_rank=rank,
                    design=design,  # type: ignore[arg-type]
                    section=info.section,
                    role=info.role,
                    result=info.result,
                    survival=info.survival,
                    intent_match=intent_match,
                    superseded=document.id in superseded,
                    named_body=body in question.bodies if body else False,
                    drug_match=match,  # type: ignore[arg-type]
                    prior=recommends_prior,
                    prior_topic=about_prior,
                    wrong_line=bool(question.line and info.line and info.line != question.line),
                    right_line=bool(question.line and info.line == question.line),
                    region_match=bool(region and region in regions),
                    dependent=info.dependent,
                    excepted=self._excepts(info.text, terms, scoring.exception_share),
                    design_asked=question.asks("design", "eligibility"),
                )
                out.append(Candidate(
                    info=info, passage=passage, document=document, body=body, relevance=relevance(features, scoring),
                    order=position * 1000 + info.number, document_rank=rank, superseded=document.id in superseded,
                    prior=recommends_prior, prior_topic=about_prior, intent_match=intent_match, features=features,
                    continued=analysis.continued if info.spans else (),
                    regions=tuple(r for r, pattern in region_pattern.items() if pattern.search(info.text)),
                ))
        return out

    def selection_ask(self, prepared: Question) -> Ask:
        """What selection needs to know of the question."""
        return Ask(
            intents=prepared.intents, bodies=prepared.bodies, regulatory=prepared.asks("regulatory"),
            prior_tokens=self._tokens_of([*prepared.prior, *prepared.prior_named]), line=prepared.line,
            terms=self.terms(prepared.normalized), subgroups=prepared.asks("subgroup"),
            topic=self._tokens_of(d for d in prepared.drugs if d not in prepared.prior),
            lead_topic=self._tokens_of([d for d in prepared.drugs if d not in prepared.prior][:1]),
            same_class=any(d in self._with_class_mates(prepared.prior) for d in prepared.named_outside_prior),
        )

    def bottom_scores(self, candidates: list[Candidate], ask: Ask) -> list[Candidate]:
        """Each candidate's bottom-line score from the trained ranker (none trained: unchanged)."""
        ranker = load_ranker() if self.settings.selection.use_ranker else None
        if ranker is None or not candidates:
            return candidates
        vectors = np.vstack([vectorize(c, ask, self.settings.scoring) for c in candidates])
        scores = ranker.scores(vectors)
        return [replace(c, bottom_score=float(s)) for c, s in zip(candidates, scores, strict=True)]

    def _excepts(self, text: str, terms: Collection[str], share: float) -> bool:
        """Does `text` set apart, in an exception clause, what the question is about: a clause whose words are mostly
        (by idf) the question's ("except for EGFR-positive patients" for an EGFR question, not for a PD-L1-positive one)?"""
        pattern = self.knowledge.exception_clause
        if pattern is None:
            return False
        for match in pattern.finditer(text):
            words = {t for t in self.index.tokenize(match.group(1)) if len(t) > 1 and "-" not in t and "/" not in t}
            mass = sum(self.idf(t) for t in words)
            if mass and sum(self.idf(t) for t in words if t in terms) >= share * mass:
                return True
        return False

    def _with_class_mates(self, drugs) -> list[str]:
        """The drugs and the members of the smallest class of each (after carboplatin, cisplatin is no
        new option; after one anti-PD-1 antibody, another is not either)."""
        out = list(drugs)
        for drug in drugs:
            classes = [ms for ms in self.knowledge.classes.values() if drug in ms]
            if classes:
                out.extend(min(classes, key=len))
        return list(dict.fromkeys(out))

    def _tokens_of(self, names) -> frozenset[str]:
        return frozenset(t for n in names for t in self.index.tokenize(n) if len(t) > 3)

    def _superseded_notes(self, gathered: Gathered, used: set[str]) -> list[Candidate]:
        """For each retrieved document that a newer one replaces: the newer document's own sentence that
        says so (a real passage, cited)."""
        notes: list[Candidate] = []
        leading = sorted(gathered.document_rank, key=gathered.document_rank.get)[: self.settings.selection.documents]
        newer_of = self.index.store.superseded_by(leading)
        newer_docs = self.index.store.documents_by_ids(newer_of.values())
        bodies = self.index.store.body_of(newer_docs)
        for old in sorted(newer_of):
            newer = newer_docs.get(newer_of[old])
            if newer is None:
                continue
            for passage in self.index.store.passages_of(newer.id):
                sentence = next((s for s in split_sentences(passage.text) if SUPERSEDING.search(s)), None)
                if sentence and sentence not in used:
                    used.add(sentence)
                    info = next((i for i in self.analysis(passage, newer).sentences if i.text == sentence), None)
                    if info is not None:
                        notes.append(Candidate(info=info, passage=passage, document=newer, body=bodies.get(newer.id), relevance=0.0,
                                               order=10**9, document_rank=10**6))
                    break
        return notes

    def _gaps(self, question: Question, quoted_bodies: set[str]) -> list[Statement]:
        """'No ESMO guidance on … was found in the indexed corpus' for each body the question names, or
        each major body the field file declares, that the page quotes nothing of (its passages were read
        and none answers); and what is not offered because the patient already had it."""
        retrieved = quoted_bodies
        present = self.profile.bodies([*question.bodies, *self.major_bodies])
        asked = [d for d in question.drugs if d not in question.prior]  # not what she already had
        topic = (" and ".join(asked) if asked else f"what follows {', '.join(question.prior_named)}" if question.prior_named
                 else " and ".join(question.drugs) or "this question")
        gaps: list[Statement] = []
        for body in dict.fromkeys([*question.bodies, *self.major_bodies]):
            if body in retrieved:
                continue
            text = (f"No {body} guidance on {topic} was found in the indexed corpus." if body in present
                    else f"No {body} document is in the indexed corpus.")
            gaps.append(Statement(text=text, kind="gap", body=body, tags=["gap"]))
        if question.prior_named:
            named = ", ".join(question.prior_named)
            gaps.append(Statement(
                text=f"Not offered as the next option: {named} (the question says the patient already had it).",
                kind="gap", tags=["not offered"],
            ))
        return gaps

    def _abstain(self, question: Question, reason: str) -> Answer:
        return Answer(
            question=question.text,
            abstained=True,
            abstain_reason=reason,
            sections=[AnswerSection(name=name) for name in SECTION_ORDER],
            references=[],
            related_questions=related_questions(question, self.knowledge)[:3],
            settings_hash=self.settings.config_hash(),
        )


def ask(question: str, *, index_root: Path, full: bool = False) -> Answer:
    return Asker(index_root).ask(question, full=full)
