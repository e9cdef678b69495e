"""Scoring and selection are pure functions: hand-built features and candidates in, choices out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rag.answer.candidates import Candidate, SentenceInfo
from rag.answer.scoring import Features, rank_weight, relevance
from rag.answer.selection import Ask, bottom_line, choose_documents, section_order, select
from rag.answer.settings import ScoringSettings, SelectionSettings
from rag.models import Document, Passage

SCORING = ScoringSettings()
SELECTION = SelectionSettings()


def info(text: str, **flags) -> SentenceInfo:
    values = dict(
        text=text, key=text.lower(), number=0, tokens=frozenset(text.lower().replace(".", "").split()), bigrams=frozenset(),
        section="evidence", role=None, result=False, effect=False, whole=False, survival=False, subgroup=False, negative=False, recommend=False,
        exclusion=False, secondary=False, dose=False, adverse=False, grade=None, line=None, dependent=False,
    )
    values.update(flags)
    return SentenceInfo(**values)


def candidate(text: str, relevance: float, *, doc: str = "d1", kind: str = "trial", body: str | None = None, rank: int = 0,
              order: int = 0, **flags) -> Candidate:
    extra = {k: flags.pop(k) for k in ("prior", "prior_topic", "intent_match", "superseded", "regions") if k in flags}
    document = Document(id=doc, title=f"title of {doc}", kind=kind, body=body)
    passage = Passage(id=f"{doc}#{order:012x}", doc_id=doc, text=text, ordinal=order)
    return Candidate(info=info(text, **flags), passage=passage, document=document, body=body, relevance=relevance, order=order,
                     document_rank=rank, **extra)


# --------------------------------------------------------------------------- scoring


def test_more_of_the_question_scores_higher() -> None:
    low = Features(overlap=0.2, context_overlap=0.0, position=0, document_rank=0)
    high = replace(low, overlap=0.8)
    assert relevance(high, SCORING) > relevance(low, SCORING)


def test_rank_weight_falls_with_passage_and_document_rank_but_stays_above_the_floor() -> None:
    assert rank_weight(0, 0, SCORING) == pytest.approx(1.0)
    assert rank_weight(6, 6, SCORING) == pytest.approx(SCORING.rank_floor + (1 - SCORING.rank_floor) / 2)  # the halving rank
    assert SCORING.rank_floor < rank_weight(1000, 1000, SCORING) < 0.41


@pytest.mark.parametrize(
    ("change", "lower"),
    [
        ({"superseded": True}, True),
        ({"prior": True}, True),
        ({"prior_topic": True}, True),
        ({"drug_match": "other"}, True),
        ({"wrong_line": True}, True),
        ({"role": "background"}, True),
        ({"named_body": True}, False),
        ({"intent_match": True}, False),
        ({"region_match": True}, False),
        ({"result": True}, False),
    ],
)
def test_each_factor_moves_relevance_the_right_way(change: dict, lower: bool) -> None:
    base = Features(overlap=0.5, context_overlap=0.1, position=2, document_rank=1, design="phase3")
    before, after = relevance(base, SCORING), relevance(replace(base, **change), SCORING)
    assert (after < before) if lower else (after > before), change


def test_study_design_orders_otherwise_equal_sentences() -> None:
    base = Features(overlap=0.5, context_overlap=0.0, position=0, document_rank=0)
    scores = [relevance(replace(base, design=d), SCORING) for d in ("phase3", "phase2", "other")]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3


# --------------------------------------------------------------------------- selection


def test_bottom_line_never_leads_with_a_subgroup_or_what_the_patient_already_had() -> None:
    pool = [
        candidate("in an exploratory subgroup drug a did not help", 2.0, subgroup=True, order=1),
        candidate("drug b recommended after progression", 1.8, doc="d2", kind="guideline", recommend=True, prior=True, order=2),
        candidate("drug c improved overall survival", 1.0, doc="d3", result=True, order=3),
    ]
    ask = Ask(terms={"drug": 1.0, "surviv": 1.0})
    chosen = bottom_line(pool, ask, ["d1", "d2", "d3"], SELECTION)
    assert [c.text for c in chosen][:1] == ["drug c improved overall survival"]
    assert all(not c.info.subgroup and not c.prior for c in chosen)


def test_a_subgroup_may_lead_when_subgroups_are_asked_for() -> None:
    pool = [candidate("in the stage iii subgroup the hazard ratio was 0.59", 2.0, subgroup=True), candidate("overall hr 0.7", 1.0, doc="d2")]
    chosen = bottom_line(pool, Ask(subgroups=True, terms={"stage": 1.0}), ["d1", "d2"], SELECTION)
    assert chosen[0].info.subgroup


def test_a_named_body_leads_the_bottom_line() -> None:
    pool = [
        candidate("the fda label lists drug a", 1.0, doc="label", kind="label", body="FDA", recommend=True, section="recommendation"),
        candidate("esmo recommends drug a [i, a]", 0.9, doc="esmo", kind="guideline", body="ESMO", recommend=True, section="recommendation"),
    ]
    ask = Ask(bodies=("ESMO",), terms={"drug": 1.0})
    assert bottom_line(pool, ask, choose_documents(pool, ask, 6), SELECTION)[0].body == "ESMO"


def test_what_an_unnamed_body_is_silent_on_does_not_lead_the_bottom_line() -> None:
    silent = replace(candidate("whether nccn lists drug a as a second-line option could not be confirmed", 1.0, doc="nccn",
                               kind="guideline", body="NCCN", negative=True, recommend=True, section="recommendation"), bottom_score=2.0)
    effect = replace(candidate("drug a reduced the risk of death hazard ratio 0.70", 0.8, doc="trial", effect=True, survival=True),
                     bottom_score=1.5)
    pool = [silent, effect]
    ask = Ask(terms={"drug": 1.0, "second-line": 1.0})
    assert bottom_line(pool, ask, ["nccn", "trial"], SELECTION)[0] is effect
    named = Ask(bodies=("NCCN",), terms={"drug": 1.0})  # "what does NCCN say": its silence is the answer
    assert bottom_line(pool, named, ["nccn", "trial"], SELECTION)[0] is silent


def test_what_a_named_body_says_leads_even_when_another_source_scores_far_higher() -> None:
    pool = [
        replace(candidate("nice offers a 75 g ogtt at 24 to 28 weeks", 1.6, doc="nice", kind="guideline", body="NICE",
                          recommend=True, section="recommendation"), bottom_score=2.0),
        replace(candidate("who: diagnose gdm on any one of these values", 0.9, doc="who", kind="guideline", body="WHO", rank=4,
                          recommend=True, section="recommendation"), bottom_score=-1.0),
    ]
    ask = Ask(bodies=("WHO",), terms={"ogtt": 1.0})
    assert bottom_line(pool, ask, choose_documents(pool, ask, 1), SELECTION)[0].body == "WHO"
    ask = Ask(terms={"ogtt": 1.0})  # no body named: the better sentence leads
    assert bottom_line(pool, ask, choose_documents(pool, ask, 1), SELECTION)[0].body == "NICE"


def test_documents_far_below_the_best_are_not_quoted_unless_a_named_body_wrote_them() -> None:
    pool = [candidate("best", 1.0, doc="a"), candidate("close", 0.8, doc="b"), candidate("far", 0.5, doc="c", body="WHO")]
    assert choose_documents(pool, Ask(), 6, 0.7) == ["a", "b"]
    assert choose_documents(pool, Ask(bodies=("WHO",)), 6, 0.7) == ["a", "b", "c"]
    assert choose_documents(pool, Ask(), 6) == ["a", "b", "c"]
    # a trial is measured against the best study, not against a guideline
    mixed = [candidate("guideline", 1.0, doc="g", kind="guideline"), candidate("trial", 0.4, doc="t", kind="trial")]
    assert choose_documents(mixed, Ask(), 6, 0.7) == ["g", "t"]


def test_the_answering_study_s_effect_estimate_comes_before_other_documents_word_matches() -> None:
    pool = [
        candidate("severe hypoglycaemia was associated with dementia in older type 2 diabetes", 1.0, doc="lead", kind="abstract",
                  section="evidence"),
        candidate("older adults with dementia exercised", 0.7, doc="other", kind="abstract", section="evidence", order=1),
        candidate("one episode hr 1.26 (95% ci 1.10-1.49)", 0.45, doc="lead", kind="abstract", section="evidence", order=2,
                  effect=True, result=True),
    ]
    def page(lift: float) -> list[str]:
        chosen = select(pool, Ask(terms={"dementia": 1.0}), replace_settings(document_floor=0.0, lead_results=lift, bottom_sentences=1))
        return [c.text for c in [*chosen.bottom, *chosen.sections["evidence"]]]

    lifted, plain = page(0.8), page(0.0)
    effect, other = "one episode hr 1.26 (95% ci 1.10-1.49)", "older adults with dementia exercised"
    assert lifted.index(effect) < lifted.index(other), lifted
    assert effect not in plain or plain.index(other) < plain.index(effect), plain


def replace_settings(**changes) -> SelectionSettings:
    return SELECTION.model_copy(update=changes)


def test_a_second_bottom_line_sentence_must_add_what_the_first_lacks() -> None:
    first = candidate("bevacizumab fistula warning", 1.0, doc="label", section="safety")
    repeat = candidate("bevacizumab fistula warning again", 0.95, doc="other", section="safety", order=1)
    adds = candidate("bevacizumab dose 15 mg/kg every 3 weeks", 0.8, doc="label", section="safety", order=2)
    ask = Ask(terms={"bevacizumab": 1.0, "fistula": 1.0, "dose": 1.0})
    chosen = bottom_line([first, repeat, adds], ask, ["label", "other"], SELECTION)
    assert [c.text for c in chosen] == [first.text, adds.text]


def test_the_bottom_line_never_repeats_a_sentence_inside_a_longer_one() -> None:
    first = candidate("more than 1.5 million adults use stimulants.", 1.0, doc="a", order=0)
    joined = candidate("more than 1.5 million adults use stimulants. these raise heart rate.", 0.9, doc="a", order=1)
    other = candidate("current use was not associated with cardiovascular events.", 0.5, doc="a", result=True, order=2)
    chosen = bottom_line([first, joined, other], Ask(terms={"stimul": 1.0, "heart": 1.0, "cardiovascular": 1.0}), ["a"], SELECTION)
    assert [c.order for c in chosen] == [0, 2]


def test_the_study_the_bottom_line_quotes_brings_its_effect_estimate() -> None:
    pool = [
        candidate("adhd is a common condition in adulthood", 1.0, doc="b", kind="abstract", order=0),
        replace(candidate("adhd medication use was not associated with cardiovascular events", 0.6, doc="a", kind="abstract",
                          result=True, order=100), bottom_score=3.0),
        candidate("the adjusted rate ratio was 0.83", 0.2, doc="a", kind="abstract", result=True, effect=True, order=101),
    ]
    pool[0] = replace(pool[0], bottom_score=1.0)
    pool[2] = replace(pool[2], bottom_score=0.0)
    selection = select(pool, Ask(terms={"adhd": 1.0, "cardiovascular": 1.0}), SELECTION)
    assert selection.bottom[0].document.id == "a"
    evidence = [c.text for c in selection.sections["evidence"]]
    assert evidence and evidence[0] == "the adjusted rate ratio was 0.83"  # lifted, and the answering study comes first


def test_another_study_s_finding_does_not_join_the_bottom_line() -> None:
    first = candidate("drug a improved survival", 1.0, doc="a", result=True)
    other = candidate("drug a dose 10 mg in study b", 0.9, doc="b", result=True, order=1000)
    chosen = bottom_line([first, other], Ask(terms={"drug": 1.0, "surviv": 1.0, "dose": 1.0}), ["a", "b"], SELECTION)
    assert [c.document.id for c in chosen] == ["a"]


def _option_pool() -> list:
    """Candidates for "is drug x an option": a silent guideline leads on relevance."""
    return [
        candidate("esmo gives no guidance on drugx", 1.0, doc="esmo", kind="guideline", body="ESMO", section="recommendation",
                  negative=True, recommend=True),
        candidate("esgo recommends drugx second line [I, A]", 0.4, doc="esgo", kind="guideline", body="ESGO",
                  section="recommendation", recommend=True, grade="I, A", order=1000),
        candidate("drugx has no us approval but is approved in the eu", 0.3, doc="fda", kind="label", body="FDA",
                  section="recommendation", recommend=True, regions=("US", "EU"), order=2000),
        candidate("drugx is approved in the eu", 0.35, doc="ema", kind="label", body="EMA", section="recommendation",
                  recommend=True, regions=("EU",), order=3000),
        candidate("in the squamous part of trial t median overall survival was 11 months with drugx and hazard ratio 0.73",
                  0.5, doc="t", result=True, effect=True, survival=True, order=4000),
        candidate("in the overall trial t population median overall survival was 12 months with drugx and hazard ratio 0.69",
                  0.2, doc="t", result=True, effect=True, survival=True, whole=True, order=4001),
    ]


def test_an_option_question_gets_a_bottom_line_of_slots() -> None:
    ask = Ask(intents=("recommendation",), topic=frozenset({"drugx"}), terms={"drugx": 1.0})
    chosen = bottom_line(_option_pool(), ask, ["esmo", "t", "esgo", "fda", "ema"], SELECTION)
    texts = [c.text for c in chosen]
    assert texts[0].startswith("esgo recommends")  # the positive graded statement leads, not the silent one
    assert texts[1].startswith("drugx has no us approval")  # status where regions differ, not one region's
    assert texts[2].startswith("in the overall trial")  # the whole population's effect, not a part's
    assert len(chosen) == 3


def test_the_status_slot_is_the_status_of_the_drug_asked_about() -> None:
    pool = [
        candidate("trial j: drugc with drugp was non-inferior to drugs with drugp, hazard ratio 0.99", 1.0, doc="j", result=True,
                  effect=True, survival=True),
        candidate("no us or eu approval of drugz added to drugp for this cancer", 0.9, doc="l", kind="label", body="FDA",
                  section="recommendation", recommend=True, regions=("US", "EU"), order=1000),
    ]
    ask = Ask(intents=("efficacy",), topic=frozenset({"drugc", "drugs", "drugp"}), lead_topic=frozenset({"drugc"}), terms={"drugc": 1.0})
    assert [c.document.id for c in bottom_line(pool, ask, ["j", "l"], SELECTION)] == ["j"]  # drugz's status is not drugc's


def test_a_document_whose_best_sentence_may_not_lead_does_not_push_the_answering_study_out() -> None:
    pool = [candidate(f"guideline {i} could not confirm drugx", 2.0 - i / 10, doc=f"g{i}", kind="guideline", body=f"B{i}",
                      section="recommendation", negative=True, subgroup=True, order=i) for i in range(3)]
    pool += [candidate(f"guideline {i} describes its panel", 0.3, doc=f"g{i}", kind="guideline", body=f"B{i}", order=10 + i)
             for i in range(3)]
    pool.append(candidate("in previously treated patients drugx gave 7 responses among 32 (21.9%)", 1.0, doc="t", result=True,
                          order=100))
    selection = select(pool, Ask(terms={"drugx": 1.0}), replace_settings(bottom_documents=3))
    assert selection.bottom[0].document.id == "t"


def test_what_a_named_body_says_comes_second_even_when_it_is_nothing() -> None:
    ask = Ask(intents=("recommendation",), bodies=("ESMO",), topic=frozenset({"drugx"}), terms={"drugx": 1.0})
    chosen = bottom_line(_option_pool(), ask, ["esmo", "t", "esgo", "fda", "ema"], SELECTION)
    assert [c.document.id for c in chosen[:2]] == ["esgo", "esmo"]


def test_slots_stay_off_without_a_drug_asked_about_or_for_a_dosing_question() -> None:
    pool = _option_pool()
    for ask in (Ask(intents=("recommendation",), terms={"drugx": 1.0}),
                Ask(intents=("dosing",), topic=frozenset({"drugx"}), terms={"drugx": 1.0})):
        assert not any(c.text.startswith("drugx has no us approval") for c in bottom_line(pool, ask, ["esmo", "t"], SELECTION))
    assert bottom_line(pool, Ask(intents=("recommendation",), topic=frozenset({"drugx"})), ["esmo"],
                       SELECTION.model_copy(update={"bottom_slots": False}))[0].text.startswith("esmo")


def test_for_a_drug_of_the_class_she_had_the_exclusion_leads() -> None:
    pool = [
        candidate("trial t of drugy: median overall survival 12 months", 1.0, doc="t", result=True),
        candidate("trial t excluded patients with prior drugx", 0.3, doc="g", kind="guideline", exclusion=True, order=1000),
    ]
    ask = Ask(topic=frozenset({"drugy"}), same_class=True, prior_tokens=frozenset({"drugx"}), terms={"drugy": 1.0})
    assert [c.text for c in bottom_line(pool, ask, ["t", "g"], SELECTION)] == ["trial t excluded patients with prior drugx"]
    other = Ask(topic=frozenset({"drugy"}), prior_tokens=frozenset({"drugx"}), terms={"drugy": 1.0})
    assert bottom_line(pool, other, ["t", "g"], SELECTION)[0].document.id == "t"


def test_documents_first_then_their_sentences_kept_together() -> None:
    pool = [
        candidate("study a result one", 1.0, doc="a", order=0, result=True),
        candidate("study b result", 0.95, doc="b", order=1000, result=True),
        candidate("study a result two", 0.9, doc="a", order=1, result=True),
    ]
    pool.append(candidate("study a result three", 0.85, doc="a", order=2, result=True))
    one_line = SELECTION.model_copy(update={"bottom_sentences": 1})
    selection = select(pool, Ask(terms={"result": 1.0}), one_line, full=True)
    evidence = [c.document.id for c in selection.sections["evidence"]]
    assert evidence.count("a") == 2 and evidence.count("b") == 1  # the bottom line took study a's best sentence
    positions = [i for i, d in enumerate(evidence) if d == "a"]
    assert positions == list(range(positions[0], positions[0] + 2))  # study a's sentences stand together, not around b


def test_the_word_budget_keeps_every_section_s_best_statement_first() -> None:
    long = " ".join(["word"] * 60)
    pool = [candidate(f"{long} evidence {i}", 1.0 - i / 100, doc=f"e{i}", order=i * 1000, result=True) for i in range(8)]
    pool += [candidate(f"{long} safety {i}", 0.9 - i / 100, doc=f"e{i}", section="safety", order=i * 1000 + 1) for i in range(8)]
    selection = select(pool, Ask(terms={"word": 1.0}), SelectionSettings(word_budget=300))
    words = sum(len(c.text.split()) for c in [*selection.bottom, *(c for v in selection.sections.values() for c in v)])
    assert words <= 300 and selection.omitted > 0
    assert selection.sections["safety"] and selection.sections["evidence"]  # breadth before depth


def test_after_each_section_s_best_the_budget_goes_to_the_strongest_statements() -> None:
    long = " ".join(["word"] * 40)
    pool = [candidate(f"{long} evidence {i}", 1.0 - i / 100, doc=f"e{i // 2}", order=i, result=True) for i in range(6)]
    pool += [candidate(f"{long} safety {i}", 0.5 - i / 10, doc="s", section="safety", order=100 + i) for i in range(3)]
    settings = SelectionSettings(word_budget=260, section_floor=0.0, global_floor=0.0, document_floor=0.0)
    selection = select(pool, Ask(terms={"word": 1.0}), settings)
    safety = [c.text.split()[-1] for c in selection.sections["safety"]]
    evidence = selection.sections["evidence"]
    assert safety == ["0"] and len(evidence) >= 3  # the weak safety tail gives way to strong evidence


def test_sections_are_ordered_by_what_was_asked() -> None:
    assert section_order(("dosing",))[0] == "safety"
    assert section_order(("efficacy",))[0] == "evidence"
    assert section_order(())[0] == "recommendation"


def test_what_a_named_body_says_on_the_drug_asked_about_comes_before_its_other_statements() -> None:
    pool = [
        candidate("nccn suggests surgery for local recurrence", 1.0, doc="nccn", kind="guideline", body="NCCN",
                  section="recommendation", recommend=True),
        candidate("whether nccn lists drugx as preferred could not be confirmed", 0.8, doc="nccn", kind="guideline", body="NCCN",
                  section="caveats", recommend=True, negative=True, order=1),
    ]
    ask = Ask(intents=("recommendation",), bodies=("NCCN",), topic=frozenset({"drugx"}), terms={"drugx": 1.0, "nccn": 1.0})
    pool.append(candidate("nccn recommends chemoradiation first", 0.9, doc="nccn", kind="guideline", body="NCCN",
                          section="recommendation", recommend=True, order=2))
    one = SELECTION.model_copy(update={"per_body": 1, "bottom_sentences": 1})
    selection = select(pool, ask, one, full=True)
    assert [c.text for c in selection.sections["recommendation"]] == ["whether nccn lists drugx as preferred could not be confirmed"]
    assert [c.text for c in select(pool, Ask(intents=("recommendation",), bodies=("NCCN",), terms={"nccn": 1.0}), one,
                                   full=True).sections["recommendation"]] == ["nccn recommends chemoradiation first"]


def test_a_sentence_pinned_to_another_qualifier_value_does_not_join_the_bottom_line() -> None:
    answer = candidate("stage ii: adjuvant chemotherapy is recommended", 1.0, doc="g", kind="guideline", recommend=True)
    other = candidate("stage ia: adjuvant chemotherapy is not recommended", 0.9, doc="g", kind="guideline", recommend=True, order=1)
    pinned = replace(other, features=Features(overlap=0.5, context_overlap=0.0, position=0, document_rank=0, qualifier_conflict=True))
    ask = Ask(terms={"adjuvant": 1.0, "chemotherapy": 1.0})
    assert [c.text for c in bottom_line([answer, other], ask, ["g"], SELECTION)] == [answer.text, other.text]
    assert [c.text for c in bottom_line([answer, pinned], ask, ["g"], SELECTION)] == [answer.text]


def test_a_sentence_pinned_to_another_value_leads_only_when_nothing_else_can() -> None:
    pinned_features = Features(overlap=0.5, context_overlap=0.0, position=0, document_rank=0, qualifier_conflict=True)
    children = replace(candidate("children with type 2 diabetes: start insulin if hba1c >9%", 1.0, doc="aap", kind="guideline",
                                 recommend=True), features=pinned_features)
    adults = candidate("adults with type 1 diabetes: aim for hba1c 48 mmol/mol or lower", 0.4, doc="nice", kind="guideline",
                       recommend=True, rank=3, order=1)
    ask = Ask(terms={"hba1c": 1.0, "target": 1.0})
    assert bottom_line([children, adults], ask, ["aap"], SELECTION)[0].text == adults.text  # beyond the top documents too
    assert bottom_line([children], ask, ["aap"], SELECTION)[0].text == children.text  # said when it is all there is


def test_an_effect_estimate_brings_the_arms_values_of_its_measure_into_the_bottom_line() -> None:
    analysis = candidate("Analysis of Mean Number of Doses Received: Gain-Framed vs Loss-Framed, Risk Ratio 1.16 (95% CI 1.05 to 1.28).",
                         1.0, doc="t", effect=True, result=True)
    other = candidate("Analysis of Mean Number of Doses Received: Offered vs Recommended, Risk Ratio 1.02 (95% CI 0.9 to 1.1).",
                      0.9, doc="t", effect=True, result=True, order=1)
    values = candidate("Mean Number of Doses Received: Gain-Framed: 1.10 (n=300); Loss-Framed: .78 (n=299).", 0.3, doc="t",
                       result=True, order=2)
    ask = Ask(terms={"doses": 1.0})
    assert [c.text for c in bottom_line([analysis, other, values], ask, ["t"], SELECTION)] == [analysis.text, values.text]


def test_rows_under_one_outcome_heading_are_one_measure_whatever_the_values_row_scores() -> None:
    heading = ("Results", "Primary outcome: Number of Participants With Prostate Cancer (Modified Crude Rate Approach)")

    def row(text: str, score: float, order: int, **flags) -> Candidate:
        made = candidate(text, 1.0, doc="t", result=True, order=order, **flags)
        return replace(made, passage=made.passage.model_copy(update={"section": heading}), bottom_score=score)

    analysis = row("Analysis of Number of Participants With Prostate Cancer (Modified): Placebo vs Drug, Relative Risk Reduction 23.1.",
                   17.7, 0, effect=True)
    restricted = replace(row("Analysis of Number of Participants With Prostate Cancer (Restricted): Placebo vs Drug, RRR 22.8.",
                             17.6, 1, effect=True), passage=analysis.passage.model_copy(update={"id": "t#other", "section": ("Results", "Other")}))
    values = row("Overall, n=3424, 3305: Placebo: 858 (n=3424); Drug: 659 (n=3305).", 12.7, 2)
    chosen = bottom_line([analysis, restricted, values], Ask(terms={"prostate": 1.0}), ["t"], SELECTION)
    assert [c.text for c in chosen] == [analysis.text, values.text]  # 5 logits below, under the 0.1 share: still its other half


def test_a_sentence_joined_to_the_one_it_depends_on_does_not_repeat_it() -> None:
    alone = candidate("most of the mortality gain is due to reduced cancer progression.", 1.0, section="evidence")
    joined = candidate("most of the mortality gain is due to reduced cancer progression. these findings favour quitting.", 0.9,
                       section="evidence", order=1, dependent=True)
    other = candidate("quitters had lower mortality.", 0.5, section="evidence", order=2)
    chosen = select([alone, joined, other], Ask(terms={"mortality": 1.0}), replace_settings(bottom_sentences=1, document_floor=0.0))
    page = [c.text for c in [*chosen.bottom, *chosen.sections["evidence"]]]
    assert sum("reduced cancer progression" in t for t in page) == 1, page


def test_two_joined_sentences_that_overlap_do_not_both_join_the_bottom_line() -> None:
    # "C. A." (A joined to C) and "A. B." (B joined to A) share A: the bottom line says A once
    ca = candidate("Women should exercise daily. Exercise lowers glucose.", 1.0, doc="a", order=0)
    ab = candidate("Exercise lowers glucose. Both walking and swimming work.", 0.95, doc="a", order=1, section="algorithm")
    chosen = bottom_line([ca, ab], Ask(terms={"exercis": 1.0, "glucos": 1.0, "walking": 1.0, "swimming": 1.0}), ["a"], SELECTION)
    assert [c.order for c in chosen] == [0]


def test_a_dosing_question_prefers_the_dose_a_label_recommends_over_the_dose_its_studies_gave() -> None:
    from rag.answer.selection import preferred

    ask = Ask(intents=("dosing",), terms={"drugx": 1.0})
    studied = candidate("Patients received drugx 35 mg/m2 twice daily.", 1.0, kind="label", section="evidence", dose=True, intent_match=True)
    labelled = candidate("The recommended dosage of drugx is 35 mg/m2 twice daily.", 0.9, kind="label", section="safety", dose=True,
                         intent_match=True, order=1)
    trial_arm = candidate("Arm: drugx 35 mg/m2 twice daily.", 0.9, kind="trial", section="evidence", dose=True, intent_match=True, order=2)
    assert not preferred(studied, ask) and preferred(labelled, ask) and preferred(trial_arm, ask)
