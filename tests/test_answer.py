"""`rag ask`: the answer schema, the support checker, question understanding from the index's profile,
and answers on the real default corpus (dense + BM25 index built once for this module) — grounded,
cited, deterministic, abstaining out of scope, and clinically careful (what the patient already had is
not offered; an exploratory subgroup never leads; regulatory status by region)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.answer.models import SECTION_ORDER, Answer, Locator, Reference, Statement
from rag.answer.support import supported_by, verify
from rag.errors import QueryError

ROOT = Path(__file__).resolve().parent.parent
GOLD = ROOT / "eval" / "gold" / "questions.jsonl"
QUOTE = (
    "In the overall EMPOWER-Cervical 1 population, median overall survival was 12.0 months with cemiplimab "
    "versus 8.5 months with chemotherapy (hazard ratio for death 0.69; 95% CI 0.56–0.84; two-sided P<0.001)."
)


def _reference(number: int, quote: str = QUOTE) -> Reference:
    return Reference(number=number, doc_id=f"d{number}", title="t", kind="trial", body=None, source="s", year=2022, identifiers={},
                     locators=[Locator(passage_id=f"d{number}#{number}", section="Efficacy", quote=quote)])


# ----------------------------------------------------------------------------- the support checker

SUPPORT_TABLE = [
    # (statement, kept?) against QUOTE
    (QUOTE, True),  # verbatim
    ("in the overall EMPOWER-Cervical 1 population, median overall survival was 12.0 months with cemiplimab "
     "versus 8.5 months with chemotherapy (hazard ratio for death 0.69; 95% CI 0.56-0.84; two-sided P<0.001).", True),  # case, dash
    ("Median overall survival was 12.0 months with cemiplimab versus 8.5 months with chemotherapy.", True),  # a clause of it
    ("Median overall survival was 13.0 months with cemiplimab versus 8.5 months with chemotherapy.", False),  # a changed number
    ("Median overall survival was 12.0 months with cemiplimab (HR 0.59).", False),  # a number not in the passage
    ("Cemiplimab is preferred by NCCN as category 1 second-line therapy.", False),  # a new claim
    ("", False),
]


@pytest.mark.parametrize(("text", "kept"), SUPPORT_TABLE)
def test_support_checker_table(text: str, kept: bool) -> None:
    assert supported_by(text, QUOTE) is kept


def test_verify_drops_uncited_and_unknown_citations_and_keeps_gaps() -> None:
    references = {1: _reference(1), 2: _reference(2, "Unrelated passage about dosing of 350 mg.")}
    fact = Statement(text=QUOTE, citations=[9, 2, 1, 1])
    kept = verify(fact, references)
    assert kept is not None and kept.citations == [1]  # unknown 9 dropped, duplicate 1 removed, 2 does not support it
    assert kept.passages == ["d1#1"]  # the passage that supports it
    assert verify(Statement(text=QUOTE, citations=[]), references) is None  # a fact must cite
    assert verify(Statement(text=QUOTE, citations=[2]), references) is None  # cites only a passage that does not support it
    lead_in = Reference(number=3, doc_id="d3", title="t", kind="guideline", body=None, source="s", year=2016, identifiers={}, locators=[
        Locator(passage_id="d3#a", section="Major Recommendations", quote="Drug a is recommended only if:"),
        Locator(passage_id="d3#b", section="Major Recommendations", quote="• the retinal thickness is 400 micrometres or more"),
    ])
    spanning = "Drug a is recommended only if: • the retinal thickness is 400 micrometres or more"
    kept = verify(Statement(text=spanning, citations=[3], passages=["d3#a", "d3#b"]), {3: lead_in})
    assert kept is not None and kept.passages == ["d3#a", "d3#b"]  # supported by the two passages it names, read in order
    assert verify(Statement(text=spanning, citations=[3], passages=["d3#a"]), {3: lead_in}) is None  # one of them is not enough
    assert verify(Statement(text=spanning, citations=[3]), {3: lead_in}) is None  # nor the reference's passages unnamed
    gap = verify(Statement(text="No ESMO recommendation on cemiplimab was found in the indexed corpus.", kind="gap", citations=[1]), references)
    assert gap is not None and gap.citations == []


# ----------------------------------------------------------------------------- answers on the default corpus


@pytest.fixture(scope="module")
def asker(tmp_path_factory: pytest.TempPathFactory):
    from rag.answer.compose import Asker
    from rag.index.build import build_index

    root = tmp_path_factory.mktemp("default-corpus-index") / "index"
    build_index([ROOT / "corpus"], root)
    return Asker(root)


def _gold(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


def _gold(split: str | None = None) -> list[dict]:
    rows = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    return [r for r in rows if split is None or r["split"] == split]


@pytest.mark.parametrize(
    ("question", "drugs", "bodies", "expansion"),
    [
        ("libtayo after platinum", ("cemiplimab",), (), None),  # a brand, from the drug dictionary
        ("Tivdak eye toxicity", ("tisotumab vedotin",), (), None),
        ("cemiplimap final OS", ("cemiplimab",), (), "overall survival"),  # misspelt
        ("pembrolizumb CPS>=1 r/m CC 2L per NCCN and ESMO", ("pembrolizumab",), ("NCCN", "ESMO"), "second-line"),
        ("Enhertu HER2 IHC 3+", ("trastuzumab deruxtecan",), (), None),
        ("carboplatin/paclitaxel/bev then pembro", ("carboplatin", "paclitaxel", "bevacizumab", "pembrolizumab"), (), None),
    ],
)
def test_questions_are_read_in_the_corpus_s_own_words(asker, question: str, drugs: tuple, bodies: tuple, expansion: str | None) -> None:
    prepared = asker.prepare(question)
    assert set(drugs) <= set(prepared.drugs), prepared.drugs
    assert prepared.bodies == bodies
    if expansion:
        assert expansion in prepared.expansions


def test_prior_therapy_and_line_are_read_from_the_question(asker) -> None:
    prepared = asker.prepare("progressed 7 months into first-line pembrolizumab + carboplatin/paclitaxel + bevacizumab - next?")
    assert {"pembrolizumab", "carboplatin", "paclitaxel", "bevacizumab"} <= set(prepared.prior)
    assert prepared.line == 2  # what follows first-line therapy
    after_io = asker.prepare("r/m cervical cancer after IO, options?")
    assert "pembrolizumab" in after_io.prior  # a class the abbreviation stands for
    assert asker.prepare("grade 3 colitis on pembrolizumab").prior == ()  # "on" is current therapy, not prior


def test_what_she_already_had_is_context_for_retrieval_and_coverage_not_the_topic(asker) -> None:
    prepared = asker.prepare("progressed 7 months into first-line pembrolizumab + carboplatin/paclitaxel + bevacizumab. "
                             "Best 2L option in IO-pretreated patients?")
    for drug in ("pembrolizumab", "carboplatin", "bevacizumab"):
        assert drug not in prepared.dense_query.lower() and drug not in prepared.query.lower() and drug not in prepared.topic
        assert drug in prepared.normalized  # still read: the page says it is not offered again
    assert "immune checkpoint inhibitor" not in prepared.query  # the "IO" of "IO-pretreated" is what she had
    assert "second-line" in prepared.query and "second-line" in prepared.dense_query  # which line comes next is the topic
    answer = asker.ask("49F recurrent SCC cervix, progressed 7 months into first-line pembrolizumab + carboplatin/paclitaxel + "
                       "bevacizumab (CPS 15), ECOG 1. Best 2L option, and is there randomized evidence in IO-pretreated patients?")
    assert not answer.abstained and "tisotumab" in answer.bottom_line.text  # the trial that admitted prior anti-PD-(L)1
    assert "pembrolizumab" not in answer.bottom_line.text.split(". ")[0]


def test_what_she_had_is_read_before_pretreated_and_after_treated_per(asker) -> None:
    prepared = asker.prepare("stage IIIC1 SCC treated per KEYNOTE-A18 (pembro + cisplatin chemoRT), now lung mets. "
                             "Libtayo in a PD-1-pretreated patient?")
    assert {"pembrolizumab", "cisplatin", "cemiplimab"} <= set(prepared.prior)  # PD-1: the class, cemiplimab included


def test_the_asking_sentence_sets_what_is_asked(asker) -> None:
    vignette = asker.prepare("recurrent SCC cervix after carboplatin/paclitaxel, PD-L1 not tested, ECOG 1. Is Libtayo a reasonable option?")
    assert vignette.intents[0] == "recommendation"  # not "screening" from "not tested" in the case description
    assert asker.prepare("PD-L1 testing in cervical cancer: when?").intents[0] == "screening"
    assert "screening" not in asker.prepare("Which regimen is being tested in the EMPOWER-Cervical 1 trial?").intents  # a trial tests


def test_a_toxicity_on_a_drug_reads_the_guidance_for_its_class(asker) -> None:
    question = "grade 3 colitis on pembrolizumb for cervical ca - steroid dose, hold or stop, how long taper?"
    assert "immune checkpoint inhibitor" in asker.prepare(question).query  # irAE guidance is written for the class
    bottom = asker.ask(question).bottom_line.text
    assert "1–2 mg/kg" in bottom and "200 mg every 3 weeks" not in bottom  # the steroid dose, not pembrolizumab's


def test_a_sample_size_the_question_states_is_not_a_question_about_design(asker) -> None:
    assert "design" not in asker.prepare("EMPOWER-Cervical 1 Japanese subgroup n=56 OS HR and TEAE rates").intents
    assert asker.prepare("EMPOWER-Cervical 1: phase and n?").intents[0] == "design"


def test_the_readme_question_leads_with_guidance_and_gives_status_by_region_and_the_trial_effect(asker) -> None:
    answer = asker.ask("Recurrent cervical cancer after platinum: is cemiplimab (Libtayo) an option, and what do NCCN and ESMO say?")
    sentences = answer.bottom_line.text
    first = sentences.split(". ")[0]
    assert "cemiplimab" in first and "recommends" in first and "no drug-specific guidance" not in first
    assert "ESMO 2017" in sentences  # what a body it names says, even when that is nothing
    assert "no FDA-approved indication" in sentences and "European Commission" in sentences  # status where regions differ
    effect = asker.ask("Recurrent cervical cancer after platinum: is cemiplimab (Libtayo) an option?").bottom_line.text
    assert "12.0 months" in effect and "0.69" in effect  # the whole trial population's effect, not a subgroup's


def test_a_drug_of_the_class_she_progressed_on_leads_with_the_evidence_that_excluded_her(asker) -> None:
    answer = asker.ask("progressed on first-line pembrolizumab + chemo: can I use EMPOWER-Cervical 1 to justify cemiplimab?")
    assert "prior immunotherapy" in answer.bottom_line.text


def test_an_approval_question_about_a_drug_of_the_class_she_had_is_answered(asker) -> None:
    answer = asker.ask("progressed on carboplatin/paclitaxel + pembrolizumab. Is cemiplimab FDA approved for cervical cancer?")
    assert "no FDA-approved indication in cervical cancer" in answer.bottom_line.text  # not "nothing: she had the class"


def test_shorthand_is_read_in_place(asker) -> None:
    terse = asker.prepare("libtayo cervical ca grade 3+ AEs vs chemo")
    assert not any("chemo" in c for c in terse.conditions), terse.conditions  # never "chemo cancer"
    compound = asker.prepare("2L r/m cc post pembro-chemo-bev, options?")
    words = compound.normalized.split()
    assert "pembro" not in words and "bev" not in words and "bevacizumab" in words  # the parts go with their meaning
    assert not asker.ask("2L r/m cc post pembro-chemo-bev, options?").abstained


def test_words_scattered_over_several_documents_do_not_cover_a_question(asker) -> None:
    # HPV is the field's cause and vaccines are named somewhere, but no one document is about vaccination schedules
    answer = asker.ask("HPV vaccination schedule for 9-14 year olds, 1 or 2 doses?")
    assert answer.abstained and "term coverage" in (answer.abstain_reason or ""), answer.bottom_line


def test_a_when_question_is_answered_by_a_date(asker) -> None:
    prepared = asker.prepare("Japanese patient progressing after chemo - is cemiplimab approved in Japan, and since when?")
    forms = [asker.knowledge.answer_types[i][1] for i in prepared.answer_types]
    dated = "Japan's MHLW approved cemiplimab for cervical cancer on 23 December 2022."
    assert any(f.search(dated) for f in forms)
    assert not any(f.search("Japan's MHLW approved cemiplimab for cervical cancer.") for f in forms)


def test_a_count_the_question_gives_is_not_a_count_it_asks_for(asker) -> None:
    count = asker.knowledge.answer_types[0][1]  # the vocabulary's first answer type: a count ("Enrollment: 194")
    asks_count = lambda q: any(asker.knowledge.answer_types[i][1] is count for i in asker.prepare(q).answer_types)  # noqa: E731
    assert asks_count("EMPOWER-Cervical 1 phase + n?")
    assert not asks_count("EMPOWER-Cervical 1 Japanese subgroup n=56: OS HR?")


def test_a_clipped_word_is_read_as_the_index_terms_it_begins(asker) -> None:
    clipped = asker.prepare("brachyth after EBRT for central recurrence?")
    assert asker.index.tokenize("brachytherapy")[0] in clipped.query.split("(")[-1]  # read as brachytherapy
    assert asker.prepare("ramadan fasting and chemotherapy?").query == "ramadan fasting and chemotherapy?"  # nothing it begins


def test_a_trial_s_sentence_that_names_no_drug_is_about_the_trial_s_drugs(asker) -> None:
    question = "progressed on the KEYNOTE-826 regimen (first-line pembrolizumab + carboplatin/paclitaxel + bevacizumab), CPS 15. Next option?"
    prepared = asker.prepare(question)
    unnamed = [c for c in asker.candidates(prepared, asker.gather(prepared))
               if c.document.id == "keynote-826-primary" and not asker._drug_tokens & c.info.tokens]
    assert unnamed and all(c.prior_topic for c in unnamed)  # "KEYNOTE-826 enrolled …": the regimen she progressed on
    assert "KEYNOTE-826" not in asker.ask(question).bottom_line.statements[0].text


def test_shorthand_inside_a_compound_is_read_through_its_expansion(asker) -> None:
    answer = asker.ask("after pembro-chemo-bev 1L, what 2L evidence exists in IO-pretreated patients?")
    assert not answer.abstained, answer.abstain_reason  # "IO" of "IO-pretreated" is immunotherapy, not a word the corpus lacks


def test_line_of_therapy_shorthand_is_not_a_trial_name(asker) -> None:
    prepared = asker.prepare("r/m CC 2L after platinum: cemiplimab OS?")
    assert prepared.trials == () and prepared.unknown_trials == ()  # "CC 2L" is second line, not a trial the index lacks


def test_a_sentence_that_only_says_where_results_are_reported_is_background(asker) -> None:
    classify = asker.classifier.place
    pointer = "Median overall survival from the final KEYNOTE-826 analysis is reported in the KEYNOTE-826 final overall survival report."
    assert classify(pointer, ("Efficacy",), "trial").role == "background"
    result = "In KEYNOTE-826 patients with PD-L1 CPS ≥1, final median overall survival was 28.6 months (hazard ratio 0.60)."
    assert classify(result, ("Efficacy",), "trial").role != "background"


def test_a_drug_named_as_context_after_the_class_asked_about_does_not_lead(asker) -> None:
    prepared = asker.prepare("grade 4 irAE: must the checkpoint inhibitor be stopped permanently? pt is on levothyroxine")
    assert prepared.unknown_drugs == ("levothyroxine",) and not prepared.leading_unknown
    answer = asker.ask("grade 4 irAE: must the checkpoint inhibitor be stopped permanently? pt is on levothyroxine")
    assert not answer.abstained and "levothyroxine" in answer.bottom_line.text  # said, not guessed: no passage on it
    assert asker.prepare("levothyroxine and checkpoint inhibitors").leading_unknown  # when it leads, it is the topic


def test_shorthand_whose_meaning_depends_on_its_case_is_read_as_written(asker) -> None:
    receptor = asker.prepare("EGFR-mutant cervical cancer: first-line treatment?")
    assert "epidermal growth factor receptor" in receptor.query and "glomerular" not in receptor.query
    kidney = asker.prepare("eGFR 25: can cisplatin be given?")
    assert "glomerular filtration rate" in kidney.query and "epidermal" not in kidney.query
    assert "glomerular" not in asker.prepare("egfr and cisplatin").query  # neither meaning is guessed


def test_a_sentence_that_excepts_what_the_question_is_about_answers_for_everyone_else(asker) -> None:
    sentence = "Platinum-based doublets are the standard first-line treatment (except for EGFR-positive patients)."
    egfr = asker.terms(asker.prepare("EGFR-positive cervical cancer: first-line treatment?").normalized)
    pdl1 = asker.terms(asker.prepare("PD-L1-positive cervical cancer: first-line treatment?").normalized)
    assert asker._excepts(sentence, egfr, 0.5)
    assert not asker._excepts(sentence, pdl1, 0.5)  # "positive" alone does not make the excepted group the asked one
    assert not asker._excepts("Platinum-based doublets are the standard first-line treatment.", egfr, 0.5)


def test_a_one_letter_compound_the_index_never_mentions_is_missing_not_read_through_its_parts(asker) -> None:
    prepared = asker.prepare("Are e-cigarettes better than nicotine patches in patients treated for cervical cancer?")
    assert "e-cigarettes" in prepared.unknown_drugs and prepared.leading_unknown  # not read as "cigarettes", which a corpus may hold
    answer = asker.ask("Are e-cigarettes better than nicotine patches in patients treated for cervical cancer?")
    assert answer.abstained and "e-cigarettes" in answer.abstain_reason
    assert "T-DXd" not in asker.prepare("T-DXd in HER2 IHC 3+ cervical cancer?").unknown_drugs  # the corpus names it
    assert asker.prepare("COVID-19 vaccination during pembrolizumab?").unknown_drugs == ()  # a number part is not a letter


def test_a_drug_the_index_never_mentions_is_named(asker) -> None:
    answer = asker.ask("metformin dose for type 2 diabetes")
    assert answer.abstained and answer.abstain_reason
    assert "diabetes" in answer.abstain_reason or "metformin" in answer.abstain_reason
    mixed = asker.ask("cemiplimab versus dostarlimab after platinum in cervical cancer")
    assert not mixed.abstained and mixed.bottom_line is not None
    assert mixed.bottom_line.statements[0].kind == "gap" and "dostarlimab" in mixed.bottom_line.statements[0].text


def test_answer_json_has_exactly_the_documented_shape(asker) -> None:
    answer = asker.ask("What is the dose of cemiplimab for recurrent cervical cancer?")
    data = json.loads(answer.model_dump_json())
    assert set(data) == {"question", "abstained", "abstain_reason", "bottom_line", "sections", "evidence_table", "references",
                         "related_questions", "omitted", "settings_hash"}
    assert set(data["bottom_line"]) == {"text", "citations", "statements"} and data["bottom_line"]["citations"]
    assert sorted(s["name"] for s in data["sections"]) == sorted(SECTION_ORDER)
    assert data["sections"][0]["name"] == "safety"  # a dosing question leads with safety and dosing
    for section in data["sections"]:
        assert set(section) == {"name", "statements"}
        for statement in section["statements"]:
            assert set(statement) == {"text", "citations", "passages", "kind", "body", "grade", "tags"}
            assert statement["kind"] in ("fact", "gap")
    for reference in data["references"]:
        assert set(reference) == {"number", "doc_id", "title", "kind", "body", "source", "year", "identifiers", "locators"}
        assert reference["locators"] and all(set(loc) == {"passage_id", "section", "page", "quote"} for loc in reference["locators"])
    assert len({r["doc_id"] for r in data["references"]}) == len(data["references"])  # one reference per source document
    assert 3 <= len(data["related_questions"]) <= 5
    assert Answer.model_validate(data) == answer


def test_every_fact_on_the_gold_set_is_cited_and_supported(asker) -> None:
    """The grounding invariant, on every gold question: each fact cites >= 1 reference, each citation
    resolves, a cited passage supports the sentence, and every number of it appears there."""
    checked = 0
    for row in _gold():
        answer = asker.ask(row["question"])
        references = {r.number: r for r in answer.references}
        assert [r.number for r in answer.references] == list(range(1, len(answer.references) + 1))
        for statement in answer.statements():
            if statement.kind == "gap":
                assert statement.citations == [] and ("indexed corpus" in statement.text or statement.tags)
                continue
            assert statement.citations and statement.passages, (row["id"], statement.text)
            quotes = {loc.passage_id: loc.quote for n in statement.citations for loc in references[n].locators}
            assert set(statement.passages) <= set(quotes), (row["id"], statement.text)
            together = "\n".join(quotes[p] for p in statement.passages)  # a lead-in and the list items after it
            assert any(supported_by(statement.text, quotes[p]) for p in statement.passages) or (
                len(statement.passages) > 1 and supported_by(statement.text, together)
            ), (row["id"], statement.text)
            checked += 1
    assert checked > 400  # the gold set exercises the composer, not an empty page


def test_reference_question_gets_a_cited_page_that_answers_first(asker) -> None:
    answer = asker.ask(
        "What treatment options are available for a patient with recurrent or metastatic cervical cancer who has failed "
        "platinum-based therapy, specifically considering cemiplimab (libtayo) and recommendations from NCCN or ESMO?",
        full=True,
    )
    assert not answer.abstained and answer.bottom_line is not None
    assert re.search(r"cemiplimab", answer.bottom_line.text, re.IGNORECASE)
    text = answer.fact_text()
    assert re.search(r"12\.0 months", text) and re.search(r"0\.69", text)  # EMPOWER-Cervical 1 primary OS
    assert answer.section("evidence").statements and answer.section("safety").statements
    assert any(r.doc_id == "empower-cervical-1-primary" for r in answer.references)


def test_the_readme_question_s_default_page_gives_the_trial_evidence(asker) -> None:
    # the named bodies' guideline documents score far above the trial: the trial is measured against studies only
    answer = asker.ask("Recurrent cervical cancer after platinum: is cemiplimab (Libtayo) an option, and what do NCCN and ESMO say?")
    evidence = " ".join(s.text for s in answer.section("evidence").statements)
    assert re.search(r"12\.0 months", evidence) and "0.69" in evidence, evidence


def test_related_questions_follow_the_drug_asked_about_not_the_one_she_had(asker) -> None:
    answer = asker.ask("Recurrent cervical cancer after platinum: is cemiplimab (Libtayo) an option?")
    assert any("cemiplimab" in q for q in answer.related_questions)
    gaps = [s.text for s in answer.section("caveats").statements if s.kind == "gap" and s.body]
    assert gaps and all("guidance on cemiplimab was found" in g for g in gaps), gaps  # not "on platinum and cemiplimab"
    assert not any("of platinum" in q or "support platinum" in q for q in answer.related_questions), answer.related_questions


def test_the_default_page_keeps_to_its_word_budget(asker) -> None:
    question = "cemiplimab after platinum in recurrent cervical cancer: evidence, safety and guideline status?"
    short, full = asker.ask(question), asker.ask(question, full=True)
    assert short.words() <= asker.settings.selection.word_budget < full.words()
    assert short.omitted > 0 and full.omitted == 0


def test_what_the_patient_progressed_on_is_not_offered(asker) -> None:
    answer = asker.ask("progressed on first-line pembrolizumab + carboplatin/paclitaxel + bevacizumab - what next?")
    assert answer.bottom_line is not None
    lead = answer.bottom_line.text.lower()
    assert not re.search(r"pembrolizumab (?:plus|with|and) (?:chemotherapy|carboplatin|paclitaxel)", lead)
    assert any("not offered" in st.tags for st in answer.section("caveats").statements)


def test_an_exploratory_subgroup_never_leads(asker) -> None:
    for question in ("innovaTV 301 overall survival result", "tisotumab vedotin after chemotherapy: does it work?"):
        answer = asker.ask(question)
        assert answer.bottom_line is not None
        assert not any("exploratory" in st.tags for st in answer.bottom_line.statements), answer.bottom_line.text
    tagged = [st for st in asker.ask("innovaTV 301 subgroups", full=True).statements() if "exploratory" in st.tags]
    assert all(re.search(r"exploratory|subgroup|post hoc", st.text, re.IGNORECASE) for st in tagged)


def test_regulatory_status_answers_for_the_region_asked(asker) -> None:
    us = asker.ask("Is Libtayo FDA approved for cervical cancer in the US?")
    assert us.bottom_line is not None
    assert re.search(r"withdr|no FDA-approved|no cervical cancer indication|not approved", us.bottom_line.text, re.IGNORECASE)


def test_gap_statements_name_only_bodies_with_nothing_cited(asker) -> None:
    answer = asker.ask("Tivdak ocular toxicity: premedication and eye care?", full=True)
    gaps = [st for st in answer.section("caveats").statements if st.kind == "gap" and st.body]
    cited_bodies = {r.body for r in answer.references}
    assert gaps  # the field file declares major bodies; some say nothing on eye care
    for gap in gaps:
        assert gap.body not in cited_bodies  # a gap is only said of a body with nothing cited
        assert gap.text.startswith(f"No {gap.body} ")


def test_answers_are_deterministic(asker) -> None:
    question = "KEYNOTE-826 PFS in CPS >=10"
    assert asker.ask(question) == asker.ask(question)


def test_out_of_scope_dev_questions_abstain_with_a_reason(asker) -> None:
    rows = [r for r in _gold("dev") if r["expect"] == "abstain"]
    assert len(rows) >= 8
    abstained = 0
    for row in rows:
        answer = asker.ask(row["question"])
        if answer.abstained:
            abstained += 1
            assert answer.abstain_reason and "It covers recurrent, persistent or metastatic cervical cancer" in answer.abstain_reason
            assert all(not s.statements for s in answer.sections) and answer.references == []
    assert abstained >= len(rows) - 1


def test_newer_guidance_leads_and_older_is_named_superseded(asker) -> None:
    answer = asker.ask("What did the ESMO cervical cancer guideline say about recurrent disease?", full=True)
    cited = {n for st in answer.section("recommendation").statements for n in st.citations}
    recommendation_docs = {r.doc_id for r in answer.references if r.number in cited}
    assert "esmo-cervical-2012" not in recommendation_docs  # superseded by esmo-cervical-2017
    caveats = " ".join(st.text for st in answer.section("caveats").statements)
    assert re.search(r"supersed", caveats, re.IGNORECASE)


@pytest.mark.parametrize("question", ["", "   ", "?!.", "x" * 10_000, "子宫颈癌的最佳治疗方法是什么"])
def test_bad_questions_raise_a_clear_error(asker, question: str) -> None:
    with pytest.raises(QueryError) as raised:
        asker.ask(question)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 200


def test_rag_ask_cli_prints_page_markdown_and_json(rag, asker) -> None:
    root = str(asker.index.root)
    page = rag("ask", "libtayo dose in cervical cancer", "--index", root)
    assert page.returncode == 0, page.stderr
    assert page.stdout.index("Bottom line") < page.stdout.index("Safety") < page.stdout.index("References")
    markdown = rag("ask", "libtayo dose in cervical cancer", "--index", root, "--format", "markdown")
    assert markdown.stdout.startswith("# libtayo dose") and "**Bottom line.**" in markdown.stdout and "## Safety" in markdown.stdout
    data = json.loads(rag("ask", "libtayo dose in cervical cancer", "--index", root, "--format", "json").stdout)
    assert data["abstained"] is False and data["references"] and data["bottom_line"]["text"]
    full = json.loads(rag("ask", "libtayo dose in cervical cancer", "--index", root, "--format", "json", "--full").stdout)
    assert full["omitted"] == 0 and sum(len(s["statements"]) for s in full["sections"]) >= sum(len(s["statements"]) for s in data["sections"])
    bad = rag("ask", "   ", "--index", root)
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
