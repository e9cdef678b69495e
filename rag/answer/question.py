"""Read the clinical question once: what it names (drugs, classes, bodies, conditions, trials, regions),
what it asks for (dosing, safety, efficacy, …), and its clinical context (line of therapy, what the
patient already had). Names come from the index's profile (the corpus's own drug names and aliases),
the package's vocabulary and the field file — never from code.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from rag.errors import QueryError
from rag.knowledge import Knowledge, word_pattern
from rag.profile.conditions import condition_phrases
from rag.profile.store import ProfileStore
from rag.retrievers import check_query

MAX_QUESTION_CHARS = 2000
_WORD = re.compile(r"[a-z0-9][a-z0-9\-/+']*")
_NAME_WORD = re.compile(r"[a-z0-9][a-z0-9\-]*[a-z0-9]|[a-z0-9]")
_PART = re.compile(r"[a-z0-9]+")
MAX_NAME_WORDS = 3
TYPO_MIN_LENGTH = 7
TYPO_CUTOFF = 0.84
INTENT_ORDER = ("dosing", "safety", "regulatory", "subgroup", "eligibility", "design", "screening", "efficacy", "recommendation")


def _intents(text: str, knowledge: Knowledge) -> tuple[str, ...]:
    """What the question asks for, in INTENT_ORDER: first what its asking sentences (those ending in "?")
    ask, then what only the case description names ("PD-L1 not tested. Is X an option?" asks for a
    recommendation, not about testing)."""

    def found(part: str) -> list[str]:
        return [n for n in INTENT_ORDER if n in knowledge.intents and knowledge.intents[n][0].search(part)]

    sentences = re.split(r"(?<=[.?!])\s+", text.strip())
    asking = " ".join(s for s in sentences if s.endswith("?"))
    if not asking or len(asking) == len(" ".join(sentences)):  # no question mark, or nothing but questions
        return tuple(found(text))
    return tuple(dict.fromkeys([*found(asking), *found(text)]))


def _conditions(lowered: str, rewritten: str, expansions: list[str], knowledge: Knowledge) -> tuple[str, ...]:
    """Condition phrases, with shorthand read in place ("cervical ca ... vs chemo" is cervical cancer, never
    "chemo cancer"). A modifier the question itself does not write ("multidrug-resistant" of "MDR-TB") is
    dropped: the corpus may write the shorthand too."""
    found = condition_phrases("; ".join([rewritten, *(e.lower() for e in expansions)]), knowledge, diseases_only=True)
    names = {n.lower() for n in knowledge.vocabulary.conditions.names}
    kept = [c.split()[-1] if c.split()[-1] in names and " " in c and c not in lowered else c for c in found]
    return tuple(dict.fromkeys(kept))


@dataclass(frozen=True)
class Question:
    """A question prepared for every later stage."""

    text: str
    normalized: str = field(metadata={"doc": "The question with rewritten words replaced by what they mean."})
    topic: str = field(metadata={"doc": "What coverage is measured on: the normalized question without the prior therapies "
                                        "(what the patient already had is context, not the topic)."})
    query: str = field(metadata={"doc": "The BM25 query: the question plus expansions (no body names)."})
    dense_query: str
    drugs: tuple[str, ...] = ()
    unknown_drugs: tuple[str, ...] = field(
        default=(), metadata={"doc": "Drugs, and one-letter compound names (\"e-cigarettes\"), the index never mentions."}
    )
    leading_unknown: bool = field(default=False, metadata={"doc": "The first drug (or one-letter compound name) the question names is one "
                                                                  "the index lacks."})
    classes: tuple[str, ...] = ()
    known_classes: tuple[str, ...] = field(default=(), metadata={"doc": "Classes the index names, or names a member of."})
    class_members: tuple[str, ...] = ()
    bodies: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()
    trials: tuple[str, ...] = ()
    unknown_trials: tuple[str, ...] = ()
    intents: tuple[str, ...] = ()
    line: int | None = None
    prior: tuple[str, ...] = field(default=(), metadata={"doc": "Drugs (corpus names or class members) the patient already had."})
    prior_named: tuple[str, ...] = field(default=(), metadata={"doc": "The prior therapies as the question names them."})
    named_outside_prior: tuple[str, ...] = field(
        default=(), metadata={"doc": "Drugs the question names outside its prior-therapy clauses: what it asks about."}
    )
    corrections: tuple[tuple[str, str], ...] = ()
    expansions: tuple[str, ...] = ()
    rewritten: str = field(default="", metadata={"doc": "The question with shorthand replaced in place by its meaning (for word pairs)."})
    asked: tuple[str, ...] = field(default=(), metadata={"doc": "Words of the question that say what it asks for ('enrolled', 'dose')."})
    answer_types: tuple[int, ...] = field(default=(), metadata={"doc": "Indexes of the vocabulary's answer types the question asks for."})

    @property
    def intent(self) -> str | None:
        return self.intents[0] if self.intents else None

    def asks(self, *intents: str) -> bool:
        return any(i in self.intents for i in intents)


def check_question(question: str) -> str:
    text = check_query(question, limit=MAX_QUESTION_CHARS, what="question", hint="type a clinical question")
    letters = [ch for ch in text if ch.isalpha()]
    if letters and sum(ch.isascii() for ch in letters) / len(letters) < 0.5:
        raise QueryError("the question is not in English; the indexed corpus and the vocabulary are English only")
    return text


def _meaning(written: str, knowledge: Knowledge) -> str | None:
    """What shorthand stands for: as written ("EGFR" is not "eGFR"), else in any case."""
    return knowledge.cased_abbreviations.get(written) or knowledge.abbreviations.get(written.lower())


def _lettered(word: str) -> bool:
    """A hyphenated word with a one-letter part ("e-cigarettes", "t-cell"), not a number ("covid-19" is not)."""
    parts = word.strip("-").split("-")
    return len(parts) > 1 and all(parts) and any(len(p) == 1 and p.isalpha() for p in parts)


def _ngrams(text: str) -> list[tuple[str, int, int]]:
    """(phrase, start, end) for every run of 1..3 words, longest first at each position; then the same
    over the parts of hyphenated words ("pembro-chemo-bev")."""
    out = []
    for pattern in (_NAME_WORD, _PART):
        words = [(m.group(0), m.start(), m.end()) for m in pattern.finditer(text)]
        for i in range(len(words)):
            for n in range(min(MAX_NAME_WORDS, len(words) - i), 0, -1):
                chunk = words[i : i + n]
                out.append((text[chunk[0][1] : chunk[-1][2]], chunk[0][1], chunk[-1][2]))
    return out


def _split_shorthand_compounds(text: str, consumed: set[str]) -> str:
    """"pembro-chemo-bev" -> "pembro chemo bev" when every part is shorthand the question was read for, so
    the parts go with the rest of the shorthand (their meaning is added) instead of counting as unknown words."""
    lowered = {c.lower() for c in consumed}

    def split(match: re.Match[str]) -> str:
        parts = re.split(r"[-/+]", match.group(0))
        return " ".join(parts) if all(p.lower() in lowered for p in parts) else match.group(0)

    return re.sub(r"\w+(?:[-/+]\w+)+", split, text)


def _spans(pattern: re.Pattern[str] | None, text: str) -> list[tuple[str, int, int]]:
    return [(m.group(0), m.start(), m.end()) for m in pattern.finditer(text)] if pattern else []


def prepare_question(
    question: str,
    knowledge: Knowledge,
    profile: ProfileStore,
    *,
    vocabulary: Collection[str],
    tokenize: Callable[[str], list[str]],
) -> Question:
    """`vocabulary`: the index's BM25 terms (a misspelling is a long word the index has never seen)."""
    text = check_question(question)
    lowered = text.lower()

    # drugs: the corpus's names and aliases first, then dictionary names the corpus lacks
    grams = _ngrams(lowered)
    known = profile.aliases(g for g, _, _ in grams)
    dictionary = profile.drug_names(g for g, _, _ in grams if g not in known)
    taken: list[tuple[int, int]] = []
    found: list[tuple[int, str, str, bool]] = []  # (position, surface, name, in corpus)
    for gram, start, end in grams:
        if any(start < e and s < end for s, e in taken):
            continue
        if gram in known and known[gram][1] == "drug":
            found.append((start, gram, known[gram][0], True))
        elif gram in dictionary:
            found.append((start, gram, gram, False))
        else:
            continue
        taken.append((start, end))
    corrections: list[tuple[str, str]] = []
    words = _WORD.findall(lowered)
    candidates = [
        w for w in words
        if len(w) >= TYPO_MIN_LENGTH and w.isalpha() and not any(t in vocabulary for t in tokenize(w))
        and w not in known and w not in dictionary
    ]
    if candidates:
        # difflib's ratio is at most 2·min(a, b)/(a + b): names whose length rules out the cutoff are never read
        shortest = max(6, math.ceil(min(map(len, candidates)) * TYPO_CUTOFF / (2 - TYPO_CUTOFF)))
        longest = math.floor(max(map(len, candidates)) * (2 - TYPO_CUTOFF) / TYPO_CUTOFF)
        long_names = [n for n in profile.alias_names("drug", shortest=shortest, longest=longest) if " " not in n]
        close = {w: m[0] for w in candidates if (m := difflib.get_close_matches(w, long_names, n=1, cutoff=TYPO_CUTOFF))}
        resolved = profile.aliases(close.values())
        for word, alias in close.items():
            if alias in resolved:
                corrections.append((word, resolved[alias][0]))
                found.append((lowered.find(word), word, resolved[alias][0], True))

    # abbreviations and synonyms of other kinds (tests, trial nicknames) the field file declares
    expansions: list[str] = []
    consumed: list[str] = [surface for _, surface, _, _ in found]
    expansion_at: list[tuple[int, str]] = []  # (position in the question, expansion)
    for match in _WORD.finditer(lowered):
        written = text[match.start():match.end()]
        whole = _meaning(written, knowledge)
        parts = [(written, whole)] if whole else [(p, m) for p in re.split(r"[/+\-]", written) if (m := _meaning(p, knowledge))]
        for part, meaning in parts:
            expansions.append(meaning)
            expansion_at.append((match.start(), meaning.lower()))
            consumed.append(part.lower())
    for gram, (name, kind) in known.items():
        if kind != "drug" and gram != name:
            expansions.append(name)
            consumed.append(gram)
    expansions = list(dict.fromkeys(e for e in expansions if e))
    for position, expansion in expansion_at:  # "cis/gem" stands for two drugs
        lowered_expansion = expansion.lower()
        named = profile.aliases(g for g, _, _ in _ngrams(lowered_expansion))
        for gram, (name, kind) in named.items():
            if kind == "drug" and name not in {n for _, _, n, _ in found}:
                found.append((position, gram, name, True))
    found.sort()
    drugs = tuple(dict.fromkeys(name for _, _, name, present in found if present))
    unknown = tuple(dict.fromkeys(  # a dictionary drug the index never mentions: not all of its words are indexed
        name for _, _, name, present in found
        if not present and name not in drugs and not all(t in vocabulary for t in tokenize(name) if len(t) > 2)
    ))
    # bodies, regions, classes
    bodies = tuple(dict.fromkeys(b for s, _, _ in _spans(knowledge.body_pattern, text) if (b := knowledge.body_alias(s))))
    body_words = [s for s, _, _ in _spans(knowledge.body_pattern, text)]
    regions = tuple(r for r, pattern in knowledge.region_pattern.items() if pattern.search(text))
    class_pattern = word_pattern(list(knowledge.classes))
    class_spans = _spans(class_pattern, lowered) + [  # a class an abbreviation stands for sits where the abbreviation is
        (name, position, position) for position, expansion in expansion_at for name, _, _ in _spans(class_pattern, expansion)
    ] + [  # "PD-1-pretreated": the class before the word
        (m.group(1), m.start(1), m.end(1)) for m in (knowledge.prior_suffix.finditer(lowered) if knowledge.prior_suffix else ())
        if m.group(1) in knowledge.classes
    ]
    classes = tuple(dict.fromkeys(s.lower() for s, _, _ in class_spans))
    members = tuple(dict.fromkeys(m for c in classes for m in knowledge.classes.get(c, [])))
    indexed = profile.aliases([*classes, *members])
    known_classes = tuple(
        c for c in classes
        if all(t in vocabulary for t in tokenize(c)) or any(m in indexed for m in knowledge.classes.get(c, []))
    )
    # the drug the question is about is not in the index: the first drug or class it names is one the index lacks
    # ("must the checkpoint inhibitor be stopped? she is on levothyroxine": the class leads, the drug is context)
    named_at = [(position, name in unknown) for position, _, name, present in found if present or name in unknown]
    drug_spans = [(position, position + len(gram)) for position, gram, _, _ in found]
    named_at += [  # "insulin degludec": the class word inside a drug's name does not lead
        (position, False) for name, position, _ in class_spans
        if name.lower() in known_classes and not any(a <= position < b for a, b in drug_spans)
    ]
    # a one-letter compound ("e-cigarettes", "x-rays") names a thing of its own, not its other word: one the index
    # never mentions is missing, as an unindexed drug is
    lettered = [(m.start(), text[m.start():m.end()]) for m in _WORD.finditer(lowered) if _lettered(m.group(0))
                and not any(a <= m.start() < b for a, b in drug_spans)
                and any("-" in t and t not in vocabulary for t in tokenize(m.group(0)))]
    unknown = tuple(dict.fromkeys([*unknown, *(name for _, name in lettered)]))
    named_at += [(position, True) for position, _ in lettered]
    leading_unknown = bool(named_at) and min(named_at)[1]

    # trials named
    trials = tuple(dict.fromkeys(m.group(0) for m in knowledge.trial_pattern.finditer(text)))
    known_trials = profile.trials(trials)
    unknown_trials = tuple(
        t for t in trials if t.lower() not in known_trials and not all(tok in vocabulary for tok in tokenize(t))
    )

    # what it asks for, line of therapy, prior therapies
    intents = _intents(text, knowledge)
    asked = tuple(dict.fromkeys(
        m.group(0).lower() for name in intents for m in knowledge.intents[name][0].finditer(text)
    ))
    spans = _prior_spans(lowered, knowledge)
    outside = "".join(" " if any(s <= i < e for s, e in spans) else ch for i, ch in enumerate(lowered))
    line = next((n for n, pattern in sorted(knowledge.lines.items(), reverse=True) if pattern.search(outside)), None)
    prior_named, prior = _prior_therapies(spans, found, class_spans, knowledge)
    if prior:
        line = max(line or 2, 2)  # what follows a therapy the patient already had is a later line

    rewritten = lowered
    for position, expansion in sorted(expansion_at, reverse=True):
        word = _WORD.match(lowered, position)
        if word:
            rewritten = rewritten[:position] + expansion + rewritten[word.end():]
    normalized = _split_shorthand_compounds(text, set(consumed))
    for word in sorted(set(consumed) | set(body_words), key=len, reverse=True):
        normalized = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", " ", normalized, flags=re.IGNORECASE)
    spoken = normalized
    normalized = " ".join([normalized, *drugs, *expansions])
    query_text = _without(text, [*body_words, *prior_named])  # who says it, and what she already had, are not the topic
    in_prior = {e for e in expansions if (at := [p for p, x in expansion_at if x == e.lower()])  # "IO" of "IO-pretreated"
                and all(any(s <= p < e_ for s, e_ in spans) for p in at)}
    topic_expansions = [e for e in expansions if e not in in_prior]
    extra = [*(d for d in drugs if d not in prior), *topic_expansions]  # what the patient already had is context, not the topic
    if "safety" in intents:  # a toxicity of a drug is managed by its class's guidance ("colitis on pembrolizumab": checkpoint inhibitors)
        extra += [c for c, members in knowledge.classes.items() if any(d in members for d in drugs if d not in prior) and c not in extra]
    if prior and line in knowledge.vocabulary.line_words:
        extra.append(knowledge.vocabulary.line_words[line])  # ... but it says which line comes next
    query = " ".join(query_text.split()) + (f" ({'; '.join(extra)})" if extra else "")
    return Question(
        text=text,
        normalized=" ".join(normalized.split()),
        topic=" ".join(" ".join([_without(spoken, prior_named), *(d for d in drugs if d not in prior), *topic_expansions]).split()),
        query=query,
        dense_query=" ".join([_without(text, prior_named), *(d for d in drugs if d not in prior),
                              *extra[len(extra) - (1 if prior and line in knowledge.vocabulary.line_words else 0):]]),
        drugs=drugs,
        unknown_drugs=unknown,
        leading_unknown=leading_unknown,
        classes=classes,
        known_classes=known_classes,
        class_members=members,
        bodies=bodies,
        regions=regions,
        conditions=_conditions(lowered, rewritten, expansions, knowledge),
        trials=trials,
        unknown_trials=unknown_trials,
        intents=intents,
        line=line,
        prior=prior,
        prior_named=prior_named,
        named_outside_prior=tuple(dict.fromkeys(
            name for position, _, name, present in found if present and not any(s <= position < e for s, e in spans)
        )),
        corrections=tuple(corrections),
        expansions=tuple(expansions),
        rewritten=rewritten,
        asked=asked,
        answer_types=tuple(i for i, (q, _) in enumerate(knowledge.answer_types) if q.search(text)),
    )


def _without(text: str, words: Collection[str]) -> str:
    """`text` with each of `words` (whole words) blanked out."""
    for word in sorted(set(words), key=len, reverse=True):
        text = re.sub(rf"(?<![\w-]){re.escape(word)}(?![\w-])", " ", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def _prior_spans(lowered: str, knowledge: Knowledge) -> list[tuple[int, int]]:
    """Clauses that start with a prior-therapy cue ("after X", "progressed on X + Y", "failed X")."""
    spans: list[tuple[int, int]] = []
    negation = knowledge.prior_negation
    negated: list[int] = []  # "no prior immunotherapy": what she has not had ends the clause before it
    for match in knowledge.prior_therapy.finditer(lowered):
        if negation is not None and (cue := negation.search(lowered, max(0, match.start() - 12), match.start())):
            negated.append(cue.start())
            continue
        end = knowledge.clause_end.search(lowered, match.end())
        spans.append((match.end(), end.start() if end else len(lowered)))
    spans = [(s, min([e, *(n for n in negated if s <= n < e)])) for s, e in spans]
    if knowledge.prior_suffix is not None:  # "PD-1-pretreated": the therapy comes before the word
        spans.extend((m.start(1), m.end(1)) for m in knowledge.prior_suffix.finditer(lowered))
    return spans


def _prior_therapies(
    spans: list[tuple[int, int]],
    drugs: list[tuple[int, str, str, bool]],
    class_spans: list[tuple[str, int, int]],
    knowledge: Knowledge,
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Drugs and classes named inside prior-therapy clauses: (as named, drug names they stand for)."""
    named: list[str] = []
    names: list[str] = []
    for position, surface, name, _ in drugs:
        if any(s <= position < e for s, e in spans):
            named.append(surface)
            names.append(name)
    for surface, start, _ in class_spans:
        if any(s <= start < e for s, e in spans):
            named.append(surface.lower())
            names.extend(knowledge.classes.get(surface.lower(), []))
    return tuple(dict.fromkeys(named)), tuple(dict.fromkeys(names))
