"""Answer metrics on hand-built Answer objects (values derived in comments), then one real run of the
composer on the fixture index through `rag eval answers`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag.answer.models import SECTION_ORDER, Answer, AnswerSection, BottomLine, Locator, Reference, Statement
from rag.eval.answers import evaluate_answers, score_answer, summarize, supports
from rag.eval.gold import GoldQuestion
from rag.tokenize import TokenizerSettings, make_tokenizer

TOKENIZE = make_tokenizer(TokenizerSettings())

ANSWERABLE = GoldQuestion(
    id="q-answer", split="dev", question="Cemiplimab survival after platinum?", expect="answer",
    relevant={"doc1": 2}, required_facts=[r"12\.0 months", r"0\.69"], bodies=["NCCN"], bottom=[r"12\.0 months"], bottom_not=["pizza"],
)
OFF_TOPIC = GoldQuestion(id="q-abstain", split="dev", question="Best pizza in Naples?", expect="abstain")


def reference(number: int, passage: str, doc: str, quote: str) -> Reference:
    return Reference(number=number, doc_id=doc, title="T", kind="trial", body=None, source="S", year=2024, identifiers={},
                     locators=[Locator(passage_id=passage, section="Efficacy", quote=quote)])


def answer(bottom: str | None = None, **sections: list[Statement]) -> Answer:
    return Answer(
        question="q",
        abstained=False,
        bottom_line=BottomLine(text=bottom, citations=[1], statements=[Statement(text=bottom, citations=[1], passages=["doc1#a"])]) if bottom else None,
        sections=[AnswerSection(name=name, statements=sections.get(name, [])) for name in SECTION_ORDER],
        references=[
            reference(1, "doc1#a", "doc1", "Median overall survival was 12.0 months with cemiplimab versus 8.5 months "
                      "with chemotherapy; cemiplimab improved survival."),
            reference(2, "doc2#b", "doc2", "The overall survival hazard ratio was 0.85 in the subgroup."),
        ],
    )


GOOD = answer(
    bottom="Median overall survival was 12.0 months with cemiplimab versus 8.5 months with chemotherapy",
    recommendation=[Statement(text="Cemiplimab improved overall survival to 12.0 months versus 8.5 months [1].",
                              citations=[1], body="NCCN")],
    evidence=[
        Statement(text="The hazard ratio for death was 0.69.", citations=[2]),  # 0.69 is not in passage 2
        Statement(text="No data on rechallenge.", kind="gap"),  # gaps are neither cited nor checked
        Statement(text="Responses were durable.", citations=[3]),  # there is no reference 3
    ],
)
ABSTAINED = Answer(question="q", abstained=True, abstain_reason="off topic", sections=[], references=[])


def test_support_check():
    quote = GOOD.references[0].locators[0].quote
    # all numbers (12.0, 8.5) occur, and every content word (cemiplimab, improv, overal, surviv, month, versus)
    assert supports("Cemiplimab improved overall survival to 12.0 months versus 8.5 months [1].", [quote], TOKENIZE)
    assert not supports("Cemiplimab improved overall survival to 13.0 months.", [quote], TOKENIZE)  # number absent
    # words: pembrolizumab, reduc, toxic, nausea, month -> 1 of 5 present (month) < 0.6
    assert not supports("Pembrolizumab reduced toxicity and nausea for months.", [quote], TOKENIZE)
    assert not supports("Anything.", [], TOKENIZE)


def test_score_a_partly_good_answer():
    check = score_answer(ANSWERABLE, GOOD, latency=1.0, known_passages={"doc1#a": "doc1", "doc2#b": "doc2"}, tokenize=TOKENIZE)
    # facts: "12.0 months" (statement 1) and "0.69" (statement 2) both occur in the statements' text
    assert (check.facts, check.facts_found, check.missing_facts) == (2, 2, [])
    assert (check.bodies, check.bodies_named) == (1, 1)  # statement 1 reports NCCN
    # 4 fact statements (the gap is excluded): the bottom line's and statements 1 and 2 cite existing references,
    # 3 cites a missing one; the bottom line and 1 are supported (2's number 0.69 is not in passage 2; 3 has no passage)
    assert (check.statements, check.validly_cited, check.supported) == (4, 3, 2)
    assert check.bottom_checked and check.bottom_direct  # it gives 12.0 months and no pizza
    assert check.words == 13 + 11 + 7 + 4 + 3  # words of the bottom line and of each statement (the gap too)
    assert check.sections_filled == 2  # recommendation and evidence
    assert check.problems == ["1 of 4 statements lack valid citations", "2 of 4 statements unsupported by their cited passages"]


def test_citation_to_a_passage_the_index_does_not_hold():
    check = score_answer(ANSWERABLE, GOOD, known_passages={"doc1#a": "doc1"}, tokenize=TOKENIZE)
    assert check.validly_cited == 2  # doc2#b is not in the index (the bottom line and statement 1 cite doc1#a)


def test_bottom_line_directness():
    indirect = answer(bottom="Cemiplimab improved survival.", recommendation=GOOD.sections[0].statements)
    check = score_answer(ANSWERABLE, indirect, tokenize=TOKENIZE)
    assert check.bottom_checked and not check.bottom_direct and "bottom line misses: 12\\.0 months" in check.problems
    leads_wrong = ANSWERABLE.model_copy(update={"bottom_not": ["cemiplimab"]})
    assert not score_answer(leads_wrong, GOOD, tokenize=TOKENIZE).bottom_direct
    no_bottom = score_answer(ANSWERABLE, answer(recommendation=GOOD.sections[0].statements), tokenize=TOKENIZE)
    assert no_bottom.bottom_checked and not no_bottom.bottom_direct  # an answer without a bottom line is not direct


def test_abstention_both_ways_and_errors():
    wrong_abstain = score_answer(ANSWERABLE, ABSTAINED, tokenize=TOKENIZE)
    assert wrong_abstain.abstained and wrong_abstain.facts_found == 0 and wrong_abstain.missing_facts == [r"12\.0 months", r"0\.69"]
    assert wrong_abstain.problems == ["abstained; an answer was expected (off topic)"]
    wrong_answer = score_answer(OFF_TOPIC, GOOD, tokenize=TOKENIZE)
    assert wrong_answer.problems[0] == "answered; abstention was expected"
    assert score_answer(OFF_TOPIC, ABSTAINED, tokenize=TOKENIZE).problems == []
    crashed = score_answer(ANSWERABLE, None, error="QueryError: empty", tokenize=TOKENIZE)
    assert crashed.problems == ["composer error: QueryError: empty"] and crashed.facts_found == 0


def test_summary_rates():
    checks = [
        score_answer(ANSWERABLE, GOOD, latency=1.0, tokenize=TOKENIZE),  # facts 2/2, body 1/1, 3 statements: 2 cited, 1 supported, 2 sections
        score_answer(ANSWERABLE, ABSTAINED, latency=2.0, tokenize=TOKENIZE),  # facts 0/2, body 0/1, wrong abstention
        score_answer(OFF_TOPIC, ABSTAINED, latency=3.0, tokenize=TOKENIZE),  # right abstention
        score_answer(OFF_TOPIC, GOOD, latency=4.0, tokenize=TOKENIZE),  # should have abstained; its 3 statements count
    ]
    report = summarize(checks, gold="g.jsonl", split="dev", index="idx")
    assert report.fact_recall == pytest.approx(2 / 4)  # 2 of the 4 required facts
    assert report.body_mention_rate == pytest.approx(1 / 2)
    assert report.abstention_precision == pytest.approx(1 / 2)  # 2 abstentions, 1 right
    assert report.abstention_recall == pytest.approx(1 / 2)  # 2 expected, 1 made
    assert report.valid_citation_rate == pytest.approx(6 / 8)  # answered: checks 1 and 4, 4 statements each, 3 valid
    assert report.supported_rate == pytest.approx(4 / 8)
    assert report.bottom_direct_rate == pytest.approx(1.0)  # only check 1 is answerable, answered and has bottom regexes
    assert report.words_p50 == pytest.approx(38)  # both answered pages have 38 words
    assert report.section_fill == pytest.approx(4 / 10)  # 2 of 5 sections, twice
    # latencies 1, 2, 3, 4: median 2.5; p95 by linear interpolation at position 0.95 * 3 = 2.85 -> 3.85
    assert (report.latency_p50, report.latency_p95) == pytest.approx((2.5, 3.85))
    assert report.counts["fact_recall"] == "2/4 facts"


def test_composer_on_the_fixture_index(tmp_path: Path, fixture_index, rag):
    """The real composer (rag.answer.Asker) answers two gold questions through `rag eval answers`."""
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        json.dumps({"id": "fx-1", "split": "dev", "question": "Libtayo in recurrent cervical cancer after platinum: overall survival?",
                    "expect": "answer", "relevant": {"cemiplimab-recurrent-cervical-phase3": 2}, "required_facts": ["cemiplimab"],
                    "bodies": []}) + "\n"
        + json.dumps({"id": "fx-2", "split": "dev", "question": "What is the best pizza in Naples?", "expect": "abstain", "relevant": {}}) + "\n"
    )
    report = evaluate_answers(gold, split="dev", index_root=fixture_index.root)
    assert report.questions == 2 and [c.id for c in report.checks] == ["fx-1", "fx-2"]
    assert all(c.error is None for c in report.checks), [c.error for c in report.checks]
    assert report.latency_p50 is not None and report.latency_p50 > 0
    done = rag("eval", "answers", "--gold", str(gold), "--split", "dev", "--index", str(fixture_index.root), "--format", "json",
               "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["questions"] == 2 and {"fact_recall", "abstention_recall", "latency_p95", "checks"} <= set(data)
    assert (tmp_path / "out" / "report.md").read_text().startswith("# Answer evaluation: dev (2 questions)")
