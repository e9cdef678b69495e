"""Does the index cover the question? The condition checks of rag/answer/coverage.py on hand-built
questions and topic counts: what a question is about must be what the corpus (or, for a results
question, its best documents) is about."""

from __future__ import annotations

import pytest

from rag.answer.coverage import decide, uncovered_conditions
from rag.answer.question import Question
from rag.answer.settings import AbstainSettings
from rag.knowledge import default_knowledge
from rag.profile.conditions import condition_phrases


class Topics:
    """The one profile lookup the condition check makes: token -> documents about it."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.counts = counts

    def topic_documents(self, tokens):
        return {t: self.counts[t] for t in tokens if t in self.counts}


def tokenize(text: str) -> list[str]:
    return text.lower().replace("'s", "").split()


def question(conditions: tuple[str, ...], *, drugs: tuple[str, ...] = (), intents: tuple[str, ...] = ()) -> Question:
    return Question(text="q", normalized="q", topic="q", query="q", dense_query="q", drugs=drugs, conditions=conditions, intents=intents)


@pytest.fixture(scope="module")
def knowledge():
    return default_knowledge()


def test_a_named_condition_keeps_its_compound_modifier(knowledge) -> None:
    assert condition_phrases("empiric antibiotic for community-acquired pneumonia", knowledge, diseases_only=True) == [
        "community-acquired pneumonia"
    ]
    assert condition_phrases("pneumonia in the elderly", knowledge, diseases_only=True) == ["pneumonia"]


def test_a_condition_needs_most_of_its_naming_words_in_the_corpus_topics(knowledge) -> None:
    topics = Topics({"liver": 2, "diabetes": 20})
    covered, uncovered = uncovered_conditions(
        question(("diabetes", "fatty liver disease")), knowledge, topics, tokenize, [frozenset({"diabetes"})], AbstainSettings()
    )
    assert covered == ["diabetes"] and uncovered == ["fatty liver disease"]  # "liver" alone is half of "fatty liver"


def test_a_results_question_needs_a_best_document_about_its_condition(knowledge) -> None:
    crohn = question(("crohn's disease",), drugs=("certolizumab pegol",), intents=("efficacy",))
    passages = [frozenset({"certolizumab", "crohn"})] + [frozenset({"certolizumab"})] * 9  # an exclusion criterion names it
    axspa = [frozenset({"certolizumab", "axial", "spondyloarthritis"})]
    settings = AbstainSettings()
    _, uncovered = uncovered_conditions(crohn, knowledge, Topics({"crohn": 1}), tokenize, passages, settings, top_topics=axspa)
    assert uncovered == ["crohn's disease"]
    about = [frozenset({"certolizumab", "crohn", "disease"})]
    covered, _ = uncovered_conditions(crohn, knowledge, Topics({"crohn": 1}), tokenize, passages, settings, top_topics=about)
    assert covered == ["crohn's disease"]
    # the corpus's own field needs no best document naming it; and who may enrol is not a results question
    field, _ = uncovered_conditions(crohn, knowledge, Topics({"crohn": 40}), tokenize, passages, settings, top_topics=axspa)
    eligibility = question(("crohn's disease",), drugs=("certolizumab pegol",), intents=("eligibility",))
    enrol, _ = uncovered_conditions(eligibility, knowledge, Topics({"crohn": 1}), tokenize, passages, settings, top_topics=axspa)
    assert field == enrol == ["crohn's disease"]


def test_a_close_passage_does_not_vouch_for_a_question_on_a_condition_the_corpus_lacks() -> None:
    settings = AbstainSettings()
    asked = question(("diabetes", "fatty liver disease"))
    common = dict(has_hits=True, top_dense=0.64, scope="type 2 diabetes", settings=settings)
    poorly = settings.min_coverage - 0.2
    assert decide(asked, coverage=poorly, covered=["diabetes"], uncovered=["fatty liver disease"], **common).abstain
    assert not decide(asked, coverage=poorly, covered=["diabetes"], uncovered=[], **common).abstain  # the close passage vouches
    assert not decide(asked, coverage=settings.min_coverage + 0.1, covered=["diabetes"], uncovered=["fatty liver disease"], **common).abstain
