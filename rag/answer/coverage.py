"""Does the index cover the question? Decided from this index's own contents, not from a disease list:

- conditions the question names that no title, declared condition or enough of the top passages
  carry (a question about another disease);
- drugs and trials it names that the index never mentions (a drug the corpus lacks is either the
  whole question — abstain — or one of several — say so first);
- how well the best passages cover the rest: the idf-weighted share of the question's terms that the
  best passages of one document hold, and the best dense similarity.
The reason names what the index does cover, from its profile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from rag.answer.question import Question
from rag.answer.settings import AbstainSettings
from rag.knowledge import Knowledge
from rag.profile.conditions import specific_words
from rag.profile.store import ProfileStore

RESULT_ROLES = (None, "result", "conclusion")
RESULT_INTENTS = ("efficacy",)  # a question about results: a condition must be what a document is about


@dataclass(frozen=True)
class Verdict:
    abstain: bool
    reason: str | None = None
    lead_gaps: list[str] = field(default_factory=list)  # statements the bottom line starts with
    term_coverage: float = 0.0
    top_dense: float = 0.0
    uncovered_conditions: tuple[str, ...] = ()


def term_coverage(terms: Mapping[str, float], seen: set[str]) -> float:
    """IDF-weighted share of the question's terms found in `seen` (one document's best passages: the answer
    must come from one source, not from words scattered over several; terms the corpus has never seen weigh
    the most, so a question about something else scores low)."""
    total = sum(terms.values())
    return sum(w for t, w in terms.items() if t in seen) / total if total else 0.0


def uncovered_conditions(
    question: Question,
    knowledge: Knowledge,
    profile: ProfileStore,
    tokenize: Callable[[str], list[str]],
    top_token_sets: list[frozenset[str]],
    settings: AbstainSettings,
    top_topics: list[frozenset[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """(covered, uncovered) conditions of the question. A condition is covered when the corpus is about
    it (most of its words name documents' topics) or enough of the best passages name it; a question
    anchored on something the corpus has (a drug or trial it names) needs only one best passage naming
    the condition ("latent TB" in that trial's exclusion criteria). A question about the results of a
    drug or trial in a condition needs a best document about that condition (`top_topics`: the words of
    the best documents' titles and declared conditions): certolizumab's axSpA trial says nothing of its
    effect in Crohn's disease, though the corpus holds another Crohn's trial. A condition many documents
    are about (the corpus's field) needs no such document."""
    named_anchor = bool(question.drugs or (set(question.trials) - set(question.unknown_trials)))
    results = named_anchor and question.asks(*RESULT_INTENTS) and top_topics is not None
    anchored = named_anchor and not question.asks(*RESULT_INTENTS)
    covered: list[str] = []
    uncovered: list[str] = []
    for condition in question.conditions:
        tokens = list(dict.fromkeys(t for w in specific_words(condition, knowledge) for t in tokenize(w) if "-" not in t and "/" not in t))
        if not tokens:
            continue
        topic = profile.topic_documents(tokens)
        naming = [t for t in tokens if not t.isdigit()] or tokens
        in_topic = sum(topic.get(t, 0) > 0 for t in naming) * 2 > len(naming)  # most of what names it
        share = sum(all(t in s for t in tokens) for s in top_token_sets) / len(top_token_sets) if top_token_sets else 0.0
        named = share >= settings.condition_passage_share or (anchored and share > 0)
        if results and max(topic.get(t, 0) for t in naming) < settings.field_condition_documents:
            in_topic = any(all(t in topics for t in naming) for topics in top_topics or [])
        (covered if in_topic or named else uncovered).append(condition)
    return covered, uncovered


def reports_results(candidates, *, documents: int) -> bool:
    """Do the best `documents` documents report results (a sentence with an effect estimate or figure
    under a results or conclusions heading, or under none)? A question about a study's results that
    only its registration or design answers is not covered."""
    return any(c.info.result and c.info.role in RESULT_ROLES for c in candidates if c.document_rank < documents)


def _names(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def decide(
    question: Question,
    *,
    has_hits: bool,
    coverage: float,
    top_dense: float,
    covered: list[str],
    uncovered: list[str],
    scope: str,
    settings: AbstainSettings,
) -> Verdict:
    def abstain(reason: str) -> Verdict:
        return Verdict(True, f"{reason} It covers {scope}.", [], coverage, top_dense, tuple(uncovered))

    if not has_hits:
        return abstain("No passage of the indexed corpus matches this question.")
    if uncovered and not covered:
        return abstain(f"The question is about {_names(uncovered)}, which the indexed corpus does not cover.")
    gaps: list[str] = []
    specific = bool(question.drugs or question.known_classes or (set(question.trials) - set(question.unknown_trials)))
    missing = [*question.unknown_drugs, *question.unknown_trials]
    if missing and (not specific or question.leading_unknown):
        return abstain(f"The indexed corpus has no passage on {_names(missing)}.")
    if missing:
        gaps.append(f"The indexed corpus has no passage on {_names(missing)}.")
    # a close passage vouches for a poorly covered question, unless the question names a condition the corpus lacks
    poorly_covered = coverage < settings.min_coverage and (top_dense < settings.confident_dense or bool(uncovered))
    if poorly_covered or top_dense < settings.min_dense:
        return abstain(
            f"The indexed corpus does not cover this question (term coverage {coverage:.2f}, best passage similarity {top_dense:.2f})."
        )
    return Verdict(False, None, gaps, coverage, top_dense, tuple(uncovered))
