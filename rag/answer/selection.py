"""Choose what the page says, from scored candidates — a pure function (tests feed it hand-built
candidates). Documents first, then sentences within them:

1. documents are ranked by their best candidate; the page quotes the best few (plus the best document
   of each body the question names);
2. the bottom line: the best 1–3 sentences of the best documents that answer what was asked — never a
   subgroup or exploratory result, a "no recommendation" sentence, a caveat, or a recommendation of
   what the patient already had;
3. sections: guideline bodies' statements first in the recommendation section (newest guidance, a
   few per body, positive before silent), regulators after; the other sections by relevance above a
   floor, one document's sentences kept together in document order (no interleaved studies);
4. the evidence that excluded patients like the one asked about (exclusion sentences naming a prior
   therapy) joins the caveats;
5. the default page keeps to a word budget, taking sections in the order the question makes
   important (a dosing question leads with safety and dosing).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

from rag.answer.candidates import Candidate
from rag.answer.models import SECTION_ORDER, SectionName
from rag.answer.settings import SelectionSettings
from rag.sentences import split_sentences

INTENT_SECTIONS: dict[str, tuple[SectionName, ...]] = {
    "dosing": ("safety", "recommendation", "evidence", "algorithm", "caveats"),
    "safety": ("safety", "recommendation", "evidence", "algorithm", "caveats"),
    "regulatory": ("recommendation", "evidence", "safety", "algorithm", "caveats"),
    "efficacy": ("evidence", "recommendation", "algorithm", "safety", "caveats"),
    "design": ("evidence", "recommendation", "safety", "algorithm", "caveats"),
    "eligibility": ("evidence", "caveats", "recommendation", "safety", "algorithm"),
}
STUDY_KINDS = ("trial", "abstract", "other")
BOTTOM_PREFERENCE = 1.2  # a sentence of the section the question asks for, in the bottom line


@dataclass(frozen=True, eq=False)
class Ask:
    """What selection needs to know of the question."""

    intents: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    regulatory: bool = False
    prior_tokens: frozenset[str] = frozenset()
    line: int | None = None
    terms: dict[str, float] = field(default_factory=dict)  # question terms and their idf
    subgroups: bool = False  # the question asks about subgroups (then a subgroup result may lead)
    topic: frozenset[str] = frozenset()  # tokens of the drugs the question is about (not those she already had)
    lead_topic: frozenset[str] = frozenset()  # ... of the first of them ("can carboplatin replace cisplatin": carboplatin)
    same_class: bool = False  # it asks about a drug of the class of one she already had (cemiplimab after pembrolizumab)


@dataclass
class Selection:
    bottom: list[Candidate]
    sections: dict[SectionName, list[Candidate]]
    order: tuple[SectionName, ...]
    omitted: int = 0  # statements left off the default page by the word budget
    documents: list[str] = field(default_factory=list)
    exclusions: list[Candidate] = field(default_factory=list)  # caveats: the evidence excluded patients like this one


def section_order(intents: Sequence[str]) -> tuple[SectionName, ...]:
    for intent in intents:
        if intent in INTENT_SECTIONS:
            return INTENT_SECTIONS[intent]
    return SECTION_ORDER


def _words(candidate: Candidate) -> int:
    return len(candidate.text.split())


def preferred(candidate: Candidate, ask: Ask) -> bool:
    """Is this the kind of sentence the question asks for?"""
    if ask.bodies:
        return bool(candidate.body and candidate.body in ask.bodies)  # "what does ESGO say": ESGO's statements
    primary = ask.intents[0] if ask.intents else None
    if primary == "regulatory":
        return candidate.kind == "label" and candidate.section in ("recommendation", "caveats", "safety") and candidate.intent_match
    if primary == "recommendation":  # what guidance says (a regulator's approval answers "is it approved?")
        return candidate.kind == "guideline" and candidate.section in ("recommendation", "algorithm") and candidate.info.recommend
    if primary == "safety":
        return candidate.section == "safety" and candidate.intent_match
    if primary == "dosing":  # a label's or guideline's recommended dose, not the dose its studies section says a trial gave
        return candidate.intent_match and candidate.info.dose and not (candidate.kind in ("label", "guideline") and candidate.section == "evidence")
    if primary is not None:
        return candidate.intent_match
    return candidate.info.role in ("conclusion", "recommendation", "result")


def _same_measure(a: Candidate, b: Candidate) -> bool:
    """Do two results rows name the same measure before their first colon ("Analysis of X: A vs B, RR 1.16 …" and
    "X: A: .78; B: 1.10")?"""
    heads = [c.text.partition(": ")[0].strip().lower() if ": " in c.text else "" for c in (a, b)]
    if not all(heads) or any(len(h.split()) > MEASURE_WORDS for h in heads):
        return False
    if a.document.id == b.document.id and a.passage.section and a.passage.section == b.passage.section:
        return True  # rows under one outcome heading ("Overall, n=4073, 4049: Placebo: 858 …" under "Primary outcome: X")
    return heads[0].endswith(heads[1]) or heads[1].endswith(heads[0])


def _conflicts(candidate: Candidate) -> bool:
    """Is the sentence pinned to another value of what the question pins ("type 2" for a type 1 question), or
    about another population group only ("children" for an adult)?"""
    return candidate.features is not None and candidate.features.qualifier_conflict


def _leads(candidate: Candidate, ask: Ask | None = None) -> bool:
    """May this sentence lead the page? Never a subgroup or exploratory result (unless subgroups are
    what was asked), a recommendation of what the patient already had, superseded guidance or background."""
    info = candidate.info
    subgroup_ok = ask is not None and ask.subgroups
    return not ((info.subgroup and not subgroup_ok) or candidate.prior or candidate.prior_topic or candidate.superseded
                or info.role == "background")


def choose_documents(best: Sequence[Candidate], ask: Ask, count: int, floor: float = 0.0) -> list[str]:
    """Documents by their best candidate; the best `count` that score at least `floor` of the best one of their
    kind (studies, guidelines, labels: a trial is not measured against the guideline a question names), plus the
    best document of each named body."""
    score: dict[str, float] = {}
    kind: dict[str, str] = {}
    for candidate in best:
        score.setdefault(candidate.document.id, candidate.relevance)
        kind.setdefault(candidate.document.id, "study" if candidate.kind in STUDY_KINDS else candidate.kind)
    ranked = sorted(score, key=lambda d: -score[d])
    top: dict[str, float] = {}
    for document in ranked:
        top.setdefault(kind[document], score[document])
    chosen = [d for d in ranked[:count] if score[d] >= floor * top[kind[d]]]
    for body in ask.bodies:
        first = next((c.document.id for c in best if c.body == body and not c.superseded), None)
        if first and first not in chosen:
            chosen.append(first)
    return chosen


def bottom_line(best: Sequence[Candidate], ask: Ask, documents: Sequence[str], settings: SelectionSettings) -> list[Candidate]:
    """The best sentence of the best documents for what was asked; then, while they add what the
    bottom line lacks (question terms it does not have yet) and score close enough, up to two more
    of the same source or of sources of other kinds. Two questions get their own bottom line: one
    about a drug of the class she already had (the evidence that excluded patients like her), and
    "is drug X an option" (`bottom_slots`)."""
    top_documents = set(documents[: settings.bottom_documents]) | {  # and what a body the question names says
        c.document.id for c in best if c.body and c.body in ask.bodies and not c.superseded
    }
    pool = [c for c in best if c.document.id in top_documents and _leads(c, ask)]
    said = [c for c in pool if c.body and c.body in ask.bodies]  # "WHO thresholds for GDM": what WHO says leads
    pool = said or pool
    # a sentence pinned to another value ("children … type 2" for "T1DM adult") leads only when nothing else can
    fitting = [c for c in pool if not _conflicts(c)] or [c for c in best if _leads(c, ask) and not _conflicts(c)]
    pool = fitting or pool
    if not pool:
        pool = [c for c in best if _leads(c, ask)]
    if not pool:  # everything is about what she already had: say what is known of it, never recommend it again
        pool = [c for c in best if _leads(replace(c, prior_topic=False), ask)]
    if not pool:
        return []

    learned = all(c.bottom_score is not None for c in pool)
    top_score = max((c.bottom_score for c in pool), default=0.0) if learned else 0.0

    def value(candidate: Candidate) -> float:
        if learned:  # the ranker's odds against the best candidate: 1 for the best, below for the rest
            return math.exp(candidate.bottom_score - top_score)
        factor = settings.bottom_preference if preferred(candidate, ask) else 1.0
        named = bool(candidate.body and candidate.body in ask.bodies)
        if (candidate.info.negative or candidate.section == "caveats") and not named:
            factor *= settings.bottom_negative  # "ESMO gives no guidance on X" answers "what does ESMO say on X"
        if candidate.info.exclusion and "eligibility" not in ask.intents:
            factor *= settings.bottom_negative  # who was excluded is a caveat, unless eligibility was asked
        return candidate.relevance * factor

    ranked = sorted(pool, key=lambda c: (-value(c), c.order))
    if ask.same_class and ask.prior_tokens and _primary(ask) in EXCLUSION_INTENTS:
        # does the evidence for a drug of the class she had hold for her? The source that excluded patients like her says
        excluded = [c for c in best if c.info.exclusion and c.info.tokens & ask.prior_tokens]
        if excluded:
            return [min(excluded, key=lambda c: (-value(c) if c in pool else 0.0, c.order))]
    if settings.bottom_slots and _slots_apply(best, ask):
        return bottom_slots(ranked[0], [c for c in best if _leads(c, ask)], ask, settings, value)
    # "whether NCCN lists X could not be confirmed": what a body is silent on answers only a question that names that body
    ranked = [c for c in ranked if not (c.info.negative and c.kind == "guideline" and c.body not in ask.bodies)] or ranked
    chosen = [ranked[0]]
    words = _words(ranked[0])
    total = sum(ask.terms.values()) or 1.0
    have = set(ranked[0].info.tokens)
    first = value(ranked[0])
    while len(chosen) < settings.bottom_sentences:
        options = []
        said = Taken(c.text for c in chosen)
        for candidate in ranked[1:]:
            # a results row's other half: the arms' values beside the effect estimate of the same measure, or the reverse
            paired = settings.bottom_pair and any(_same_measure(candidate, c) and candidate.info.effect != c.info.effect for c in chosen)
            if candidate in chosen or candidate.text in said or (value(candidate) < settings.bottom_second * first and not paired):
                continue
            if candidate.features is not None and candidate.features.qualifier_conflict:
                continue  # a rule for stage IA beside the stage II answer answers another question
            if words + _words(candidate) > settings.bottom_words:
                continue
            gain = sum(w for t, w in ask.terms.items() if t in candidate.info.tokens and t not in have) / total
            if candidate.document.id not in top_documents or any(
                candidate.document.id != c.document.id and candidate.kind == c.kind for c in chosen
            ):
                continue  # another study's finding does not join this one's: one source, or sources of other kinds
            same = any(candidate.document.id == c.document.id and candidate.section == c.section for c in chosen)
            if paired or gain >= settings.bottom_gain * (2 if same else 1):  # from the same place it must add more
                options.append((paired, value(candidate) * (1 + gain), candidate))
        if not options:
            break
        *_, pick = max(options, key=lambda option: (option[0], option[1], -option[2].order))  # the other half first
        chosen.append(pick)
        words += _words(pick)
        have |= pick.info.tokens
    return chosen


MEASURE_WORDS = 40  # a longer text before the first colon is a sentence, not a measure's name
SLOT_INTENTS = (None, "recommendation", "efficacy", "regulatory")  # what a question asks for slots to answer it
EXCLUSION_INTENTS = (None, "recommendation", "efficacy")  # ... and for the exclusion to lead (not approval, dosing)


def _primary(ask: Ask) -> str | None:
    return ask.intents[0] if ask.intents else None


def _slots_apply(best: Sequence[Candidate], ask: Ask) -> bool:
    """Slots answer "is drug X an option": the question names a drug it is about, asks for guidance, effect
    or approval (or nothing narrower), and the candidates come from more than one kind of source."""
    return bool(ask.topic) and _primary(ask) in SLOT_INTENTS and len({c.kind for c in best}) > 1


def _about_topic(candidate: Candidate, ask: Ask) -> bool:
    return bool(candidate.info.tokens & ask.topic)


def bottom_slots(first: Candidate, pool: Sequence[Candidate], ask: Ask, settings: SelectionSettings, value) -> list[Candidate]:
    """A bottom line of slots for "is drug X an option": the best positive guideline statement on X (graded
    ones first), the regulators' status of X where a label sentence names two or more regions (first for
    an approval question), the key trial effect of X (survival, the whole population before a part, never
    a subgroup); for a drug of the class she had, the status only. The best sentence leads unless it is
    a "no recommendation" one or about another drug; a named body's statement comes second; the rest
    while the words last. Each slot is a sentence of a retrieved passage scoring at least
    `bottom_slot_margin` of the best (never invented)."""
    floor = settings.bottom_slot_margin * value(first)
    usable = [
        c for c in pool
        if value(c) >= floor and _about_topic(c, ask) and not c.info.negative and not c.info.exclusion
        and not (c.features is not None and c.features.qualifier_conflict)  # "CPS ≥1" for a CPS 0 patient
    ]

    def best_of(test, key=None) -> Candidate | None:
        found = [c for c in usable if test(c)]
        return min(found, key=key or (lambda c: (-value(c), c.order))) if found else None

    guideline = best_of(
        lambda c: c.kind == "guideline" and c.info.recommend and c.section in ("recommendation", "algorithm"),
        key=lambda c: (c.info.grade is None, -value(c), c.order),
    )
    regional = best_of(  # the status of the drug asked about, not of a regimen that merely includes a partner of it
        lambda c: c.kind == "label" and c.info.recommend and len(c.regions) >= 2 and bool(c.info.tokens & (ask.lead_topic or ask.topic))
    )
    effect = best_of(  # the whole population's result before a part's (a histology, a region)
        lambda c: c.kind not in ("guideline", "label") and c.info.effect and c.info.survival,
        key=lambda c: (not c.info.whole, -value(c), c.order),
    )
    # for a drug of the class she had, its guidance and trial effect come from patients unlike her: status only
    slots = [s for s in ((regional,) if ask.same_class else (guideline, regional, effect)) if s is not None]
    if ask.intents[:1] == ("regulatory",) and regional is not None:
        slots.remove(regional)
        slots.insert(0, regional)
    other_drug = not _about_topic(first, ask) and (  # names another drug, or one she already had, and not the one asked about
        bool(first.info.tokens & ask.prior_tokens) or (first.features is not None and first.features.drug_match == "other")
    )
    named = bool(first.body) and first.body in ask.bodies
    if (first.info.negative or first.section == "caveats" or other_drug) and slots:  # the slots lead
        chosen: list[Candidate] = []
        order = list(slots) if other_drug else [*slots[:1], first, *slots[1:]] if named else [*slots, first]
    else:
        chosen = [first]
        order = list(slots)
    for candidate in order:
        if candidate in chosen:
            continue
        if not (candidate is first and named) and any(candidate.kind == c.kind and candidate.document.id != c.document.id for c in chosen):
            continue  # one sentence of each kind of source (and what a named body says)
        if sum(map(_words, chosen)) + _words(candidate) > settings.bottom_slot_words:
            continue
        chosen.append(candidate)
        if len(chosen) == 3:
            break
    return chosen


def _recommendations(best: Sequence[Candidate], ask: Ask, settings: SelectionSettings, floor: float, taken: Taken) -> list[Candidate]:
    out: list[Candidate] = []
    per_body: dict[str, int] = defaultdict(int)
    label_cap, label_body_cap = (
        (settings.label_statements_regulatory, settings.per_body + 1) if ask.regulatory else (settings.label_statements, settings.per_body)
    )
    # a body's statement on the drug asked about first (even "could not be verified"), then its others
    on_topic = (lambda c: _about_topic(c, ask)) if ask.topic else (lambda c: True)
    for kinds, cap in ((("guideline",), settings.guideline_statements), (("label",), label_cap)):
        pool = [
            c for c in best
            if c.kind in kinds and not c.superseded and c.relevance >= floor and c.info.recommend and c.text not in taken
            and (c.section in ("recommendation", "algorithm")
                 or c.section == "caveats" and bool(c.body) and c.body in ask.bodies and ask.topic and on_topic(c))
        ]
        count = 0
        for candidate in sorted(pool, key=lambda c: (not on_topic(c), c.info.negative, c.prior, -c.relevance, c.order)):
            body = candidate.body or candidate.document.id
            if candidate.text in taken:
                continue
            if per_body[body] < (label_body_cap if kinds == ("label",) else settings.per_body) and count < cap:
                per_body[body] += 1
                count += 1
                out.append(candidate)
                taken.add(candidate.text)
    return out


class Taken:
    """Statements already on the page. A statement is taken when it shares a sentence with one of them: a
    sentence joined to the one it depends on ("… reduced cancer progression. These findings indicate …")
    repeats that one, and two joins that overlap ("C. A." and "A. B.") repeat A."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._texts: list[str] = []
        self._sentences: set[str] = set()
        self.update(texts)

    def add(self, text: str) -> None:
        self._texts.append(text)
        self._sentences.update(split_sentences(text))

    def update(self, texts: Iterable[str]) -> None:
        for text in texts:
            self.add(text)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and (
            any(t in text or text in t for t in self._texts) or not self._sentences.isdisjoint(split_sentences(text))
        )


def _pick(pool: list[Candidate], n: int, settings: SelectionSettings) -> list[Candidate]:
    """Greedy by relevance, discounting further sentences of a used passage and capping each document."""
    picked: list[Candidate] = []
    taken = Taken()
    from_passage: dict[str, int] = defaultdict(int)
    from_document: dict[str, int] = defaultdict(int)
    remaining = list(pool)
    while remaining and len(picked) < n:
        top = max(remaining, key=lambda c: (c.relevance * settings.same_passage ** from_passage[c.passage.id], -c.order))
        remaining.remove(top)
        if from_document[top.document.id] >= settings.per_document or top.text in taken:
            continue
        picked.append(top)
        taken.add(top.text)
        from_passage[top.passage.id] += 1
        from_document[top.document.id] += 1
    return picked


def _grouped(picked: list[Candidate], documents: Sequence[str] = ()) -> list[Candidate]:
    """One document's sentences together, in their order in the document; `documents` first, in that order,
    then the others by their best pick."""
    first: dict[str, int] = {}
    for index, candidate in enumerate(picked):
        first.setdefault(candidate.document.id, index)
    rank = {d: i for i, d in enumerate(documents)}
    return sorted(picked, key=lambda c: (rank.get(c.document.id, len(rank)), first[c.document.id], c.passage.ordinal, c.info.number))


def exclusion_caveats(best: Sequence[Candidate], ask: Ask, documents: Collection[str], taken: Taken) -> list[Candidate]:
    """Sentences of the quoted studies saying they excluded patients treated with a prior therapy of
    the question ("patients who had received prior anti-PD-1 therapy were excluded")."""
    if not ask.prior_tokens:
        return []
    out = []
    seen: set[str] = set()
    for candidate in best:
        if candidate.document.id in seen or candidate.document.id not in documents or candidate.text in taken:
            continue
        if candidate.kind in STUDY_KINDS and candidate.info.exclusion and candidate.info.tokens & ask.prior_tokens:
            out.append(candidate)
            seen.add(candidate.document.id)
            taken.add(candidate.text)
    return out


def select(candidates: Sequence[Candidate], ask: Ask, settings: SelectionSettings, *, full: bool = False) -> Selection:
    best = _lift_lead_results(sorted(candidates, key=lambda c: (-c.relevance, c.order)), settings.lead_results)
    order = section_order(ask.intents)
    if not best:
        return Selection(bottom=[], sections={name: [] for name in SECTION_ORDER}, order=order)
    count = settings.documents * (2 if full else 1)
    # the bottom line comes from the documents best at what may lead (a document whose best sentence is a guideline's
    # silence or a subgroup does not push the answering study out)
    bottom = bottom_line(best, ask, choose_documents([c for c in best if _leads(c, ask)], ask, count), settings)
    answering = bottom[0] if bottom and bottom[0].kind in STUDY_KINDS else None
    if answering is not None and answering.document.id != best[0].document.id:  # the study the bottom line quotes answers
        best = _lift_lead_results(best, settings.lead_results, lead=answering.document.id)
    documents = choose_documents(best, ask, count, settings.document_floor)  # what the page quotes beside its bottom line
    documents += [d for d in dict.fromkeys(c.document.id for c in bottom) if d not in documents]
    quoted = set(documents)
    top = best[0].relevance
    floor = top * settings.global_floor
    taken = Taken(c.text for c in bottom)
    sections: dict[SectionName, list[Candidate]] = {name: [] for name in SECTION_ORDER}
    named = set(ask.bodies)
    sections["recommendation"] = _recommendations(
        [c for c in best if c.document.id in quoted or c.body in named], ask, settings, top * settings.recommendation_floor, taken
    )
    # the answering study's sentences come first in each section
    lead = [answering.document.id] if answering is not None else documents[:1] if best[0].kind in STUDY_KINDS else []
    section_best: dict[str, float] = {}
    for candidate in best:
        section_best.setdefault(candidate.section, candidate.relevance)
    for name in ("caveats", "safety", "evidence", "algorithm"):
        threshold = max(floor, settings.section_floor * section_best.get(name, 0.0))
        pool = [c for c in best if c.section == name and c.document.id in quoted and c.text not in taken and c.relevance >= threshold
                and not (name != "caveats" and c.prior and c.info.recommend)]
        picked = _pick(pool, settings.caps[name], settings)
        taken.update(c.text for c in picked)
        sections[name] = _grouped(picked, lead)
    sections["algorithm"].sort(key=lambda c: (c.info.line or 9, -c.relevance, c.order))
    exclusions = exclusion_caveats(best, ask, quoted, taken)
    sections["caveats"] = exclusions + sections["caveats"]
    omitted = 0
    if not full:
        sections, omitted = _within_budget(sections, order, settings.word_budget - sum(_words(c) for c in bottom))
    return Selection(bottom=bottom, sections=sections, order=order, omitted=omitted, documents=documents, exclusions=exclusions)


def _lift_lead_results(best: list[Candidate], share: float, *, lead: str | None = None) -> list[Candidate]:
    """The best document's (or `lead` study's) effect estimates ("adjusted HR 0.73 (95% CI 0.54-0.98)") score at least
    `share` of the best sentence when it is a study: the sentence with the answering study's numbers often repeats few of
    the question's words."""
    if not best or share <= 0 or (lead is None and best[0].kind not in STUDY_KINDS):
        return best
    lead, floor = lead or best[0].document.id, best[0].relevance * share
    lifted = [
        replace(c, relevance=floor) if c.document.id == lead and c.info.effect and c.relevance < floor and _leads(c) else c
        for c in best
    ]
    return sorted(lifted, key=lambda c: (-c.relevance, c.order))


def _within_budget(sections: dict[SectionName, list[Candidate]], order: Sequence[SectionName], budget: int) -> tuple[dict[SectionName, list[Candidate]], int]:
    """Each section's first statement, in the order of importance; then the other statements by relevance, whatever
    their section, until the word budget is spent: a section with three strong statements keeps them before a
    section with one strong and two weak ones keeps its tail (round-robin did the reverse; dev splits: facts
    0.788 -> 0.817 on the default set, others unchanged)."""
    kept: dict[SectionName, list[Candidate]] = {name: [] for name in sections}
    used = 0
    rank = {name: i for i, name in enumerate(order)}
    firsts = [(name, sections[name][0]) for name in order if sections.get(name)]
    rest = sorted(((name, c) for name in order for c in sections.get(name, [])[1:]), key=lambda pair: (-pair[1].relevance, rank[pair[0]]))
    for name, candidate in [*firsts, *rest]:
        if used + _words(candidate) <= budget:
            kept[name].append(candidate)
            used += _words(candidate)
    for name in kept:  # keep each section's own order
        position = {id(c): i for i, c in enumerate(sections[name])}
        kept[name].sort(key=lambda c: position[id(c)])
    omitted = sum(len(v) for v in sections.values()) - sum(len(v) for v in kept.values())
    return kept, omitted
