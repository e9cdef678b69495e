"""`rag ask` on a corpus this project did not write: real NGC diabetes guideline summaries and
ClinicalTrials.gov records from ../shared/data, no field file. Nothing of the default field (cervical
cancer, its drugs, its guideline bodies) may appear in an answer or an abstention; what the index
covers comes from its own profile."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from rag.eval.goldcorpus import GoldCorpus

ROOT = Path(__file__).resolve().parent.parent
NGC = "../shared/data/ngc/ngc_summaries_full_xml.tar.gz"
CTGOV = "../shared/data/formats/ctgov_v2_json"
DIABETES = ["ngc-10781", "ngc-10856", "ngc-10643", "ngc-11052", "ngc-10307"]  # NICE/ICSI/WHO/ADA-era diabetes summaries


def _default_field_words() -> list[str]:
    """What only the default corpus is about: its field file's scope, bodies and drug names."""
    field = yaml.safe_load((ROOT / "corpus" / "field.yaml").read_text(encoding="utf-8"))
    return ["cervical", "cervix", *field["major_bodies"], *field["synonyms"], "EMPOWER", "KEYNOTE", "innovaTV"]


@pytest.fixture(scope="module")
def asker(tmp_path_factory: pytest.TempPathFactory):
    from rag.answer import Asker
    from rag.index.build import build_index

    corpus = GoldCorpus(name="mixed", sources=[NGC, CTGOV], include=[*DIABETES, "NCT00763412", "NCT02210780", "NCT02552212"])
    root = tmp_path_factory.mktemp("any-corpus") / "index"
    build_index(corpus.source_paths(), root, documents=corpus.documents())
    return Asker(root)


QUESTIONS = [
    ("T1DM adult HbA1c target?", "answer"),
    ("dupilumab atopic dermatitis vaccine response trial: how many participants?", "answer"),
    ("certolizumab pegol in non-radiographic axial spondyloarthritis: ASDAS major improvement at week 52?", "answer"),
    ("cemiplimab after platinum in recurrent cervical cancer: what do NCCN and ESMO say?", "abstain"),
    ("tirzepatide weekly dose for obesity?", "abstain"),
    ("How do I change a car tyre?", "abstain"),
    # the class word inside a drug's name ("insulin" of "insulin degludec") does not hide that the drug leads
    ("insulin degludec vs glargine for T1DM: which basal insulin?", "abstain"),
    # a results question needs a best document about the condition, not an exclusion criterion naming it
    ("certolizumab pegol in Crohn's disease: remission rate at week 26?", "abstain"),
    # a named condition keeps its compound modifier: pneumonia in exclusion criteria is not community-acquired pneumonia
    ("What's the recommended empiric antibiotic for an outpatient adult with community-acquired pneumonia?", "abstain"),
]


@pytest.mark.parametrize(("question", "expect"), QUESTIONS)
def test_no_answer_or_abstention_mentions_the_default_field(asker, question: str, expect: str) -> None:
    answer = asker.ask(question)
    page = "\n".join([answer.abstain_reason or "", answer.fact_text(), *answer.related_questions, *(r.title for r in answer.references)])
    asked = question.lower()
    for word in _default_field_words():
        if word.lower() in asked:
            continue  # the question itself may name them
        assert not re.search(rf"\b{re.escape(word)}\b", page, re.IGNORECASE), (question, word, page[:300])
    assert answer.abstained == (expect == "abstain"), (question, answer.abstain_reason, answer.bottom_line)


def test_the_abstention_names_what_this_index_covers(asker) -> None:
    answer = asker.ask("cemiplimab after platinum in recurrent cervical cancer: what do NCCN and ESMO say?")
    assert answer.abstained and "It covers 8 documents" in (answer.abstain_reason or "")
    assert "diabet" in answer.abstain_reason.lower() or "dermatitis" in answer.abstain_reason.lower()


def test_no_gap_statements_for_bodies_of_another_field(asker) -> None:
    answer = asker.ask("T1DM adult HbA1c target?", full=True)
    assert not answer.abstained and answer.bottom_line is not None
    gaps = [st for st in answer.statements() if st.kind == "gap"]
    assert all(st.body is None for st in gaps)  # no field file: no major bodies; the question names none


def test_the_profile_is_learned_from_the_documents(asker) -> None:
    profile = asker.profile.summary
    assert not profile.scope_declared and profile.field_file is None
    assert profile.documents == 8 and profile.kinds == {"guideline": 5, "trial": 3}
    assert profile.counts["drugs"] >= 20 and profile.drugs  # the summary shows the most-named; the table holds all
    assert set(asker.profile.aliases(["dupilumab", "metformin"])) == {"dupilumab", "metformin"}
    assert any("diabetes" in c.name for c in profile.conditions)
    # brands the sources name (CT.gov other names) resolve to the corpus's drug
    assert asker.prepare("Dupixent and vaccine responses").drugs == ("dupilumab",)
    # every registry record is a trial of the profile, under its NCT id
    assert set(asker.profile.trials(["NCT00763412", "NCT02210780", "NCT02552212"])) == {"nct00763412", "nct02210780", "nct02552212"}


def test_a_list_item_comes_with_its_lead_in_and_a_named_body_leads(asker) -> None:
    question = "WHO thresholds for diagnosing gestational diabetes on a 75 g OGTT"
    prepared = asker.prepare(question)
    texts = [c.text for c in asker.candidates(prepared, asker.gather(prepared))]
    # WHO's criteria are list items after "… based on any 1 of the following values:": never an item alone
    criteria = [t for t in texts if "5.1–6.9 mmol/l" in t]
    assert criteria and all("following values:" in t for t in criteria), criteria
    answer = asker.ask(question)
    assert {s.body for s in answer.bottom_line.statements} == {"WHO"}  # what the body named says


def test_a_design_question_is_not_answered_by_a_results_row(asker) -> None:
    # "Percentage of Participants With …: Placebo qw: 87.0 (n=92)" names participants and placebo, but says what
    # happened, not the study's phase or size: the design rows lead
    answer = asker.ask("dupilumab AD vaccine study phase + n")
    first = answer.bottom_line.statements[0].text
    assert first.startswith(("Phase:", "Enrollment:")), first
