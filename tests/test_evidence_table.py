"""The evidence table: one row per cited study, every cell a verbatim span of a passage the page cites
for that study, rendered in the text and Markdown pages with its reference marker.

The passages are copied from the default corpus (corpus/trial/empower-cervical-1-primary.md and
keynote-826-primary.md); the guideline and label passages are made up for the test."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from rag.answer.evidence import CELLS, evidence_table, study_name, study_row
from rag.answer.models import Answer, AnswerSection, EvidenceRow, Locator, Reference, Statement
from rag.answer.render import print_answer, to_markdown

EMPOWER_DESIGN = (
    "EMPOWER-Cervical 1/GOG-3016/ENGOT-cx9 was an open-label, randomized phase 3 trial of cemiplimab monotherapy versus "
    "investigator's-choice single-agent chemotherapy in women with recurrent cervical cancer that had progressed after "
    "first-line platinum-containing chemotherapy.\n"
    "In EMPOWER-Cervical 1, patients were randomized 1:1 to cemiplimab 350 mg intravenously every 3 weeks or to "
    "investigator's-choice chemotherapy, with treatment for up to 96 weeks."
)
EMPOWER_POPULATION = (
    "EMPOWER-Cervical 1 randomized 608 women with recurrent cervical cancer after first-line platinum, 304 to cemiplimab "
    "and 304 to chemotherapy, in 14 countries.\n"
    "In EMPOWER-Cervical 1, median age was 51.0 years in the cemiplimab arm and 50.0 years in the chemotherapy arm."
)
EMPOWER_OS = (
    "In the overall EMPOWER-Cervical 1 population, median overall survival was 12.0 months with cemiplimab versus 8.5 "
    "months with chemotherapy (hazard ratio for death 0.69; 95% CI 0.56–0.84; two-sided P<0.001).\n"
    "In the squamous cell carcinoma population of EMPOWER-Cervical 1, median overall survival was 11.1 months with "
    "cemiplimab versus 8.8 months with chemotherapy (hazard ratio 0.73; 95% CI 0.58–0.91; P=0.003)."
)
KEYNOTE_POPULATION = (
    "KEYNOTE-826 randomized 617 patients at 151 centres in 19 countries between November 2018 and January 2020, 308 to "
    "pembrolizumab and 309 to placebo.\n"
    "In KEYNOTE-826, 548 patients had a PD-L1 CPS of 1 or more and 317 patients had a CPS of 10 or more."
)
KEYNOTE_PFS = (
    "In KEYNOTE-826 patients with PD-L1 CPS ≥1, median progression-free survival was 10.4 months with "
    "pembrolizumab-chemotherapy versus 8.2 months with placebo-chemotherapy (hazard ratio 0.62; 95% CI 0.50–0.77; P<0.001).\n"
    "In the KEYNOTE-826 all-comer (intention-to-treat) population, median progression-free survival was 10.4 months with "
    "pembrolizumab-chemotherapy versus 8.2 months with placebo-chemotherapy (hazard ratio 0.65; 95% CI 0.53–0.79; P<0.001)."
)
GUIDELINE = "Cemiplimab is a category 1 preferred second-line option (hazard ratio 0.69; 95% CI 0.56–0.84; P<0.001)."
LABEL = "In the randomized trial, median overall survival was 12.0 months versus 8.5 months (HR 0.69; 95% CI 0.56–0.84)."


def _reference(number: int, doc_id: str, title: str, kind: str, quotes: list[str]) -> Reference:
    return Reference(
        number=number, doc_id=doc_id, title=title, kind=kind, body=None, source="test", year=2022, identifiers={},
        locators=[Locator(passage_id=f"{doc_id}#p{i}", section="Efficacy", quote=q) for i, q in enumerate(quotes)],
    )


EMPOWER = _reference(
    1, "empower-cervical-1-primary",
    "EMPOWER-Cervical 1/GOG-3016/ENGOT-cx9 (primary report): cemiplimab vs investigator's-choice chemotherapy",
    "trial", [EMPOWER_OS, EMPOWER_DESIGN, EMPOWER_POPULATION],
)
KEYNOTE = _reference(
    2, "keynote-826-primary",
    "KEYNOTE-826 (first interim analysis): pembrolizumab or placebo plus platinum-paclitaxel", "trial",
    [KEYNOTE_PFS, KEYNOTE_POPULATION],
)
NCCN = _reference(3, "nccn-cervical", "NCCN Guidelines: Cervical Cancer", "guideline", [GUIDELINE])
FDA = _reference(4, "cemiplimab-label", "LIBTAYO (cemiplimab-rwlc) injection: prescribing information", "label", [LABEL])
REFERENCES = [EMPOWER, KEYNOTE, NCCN, FDA]


def _statement(reference: Reference, passage: int, sentence: int) -> Statement:
    loc = reference.locators[passage]
    return Statement(text=loc.quote.split("\n")[sentence], citations=[reference.number], passages=[loc.passage_id])


STATEMENTS = [
    _statement(EMPOWER, 0, 0),
    _statement(KEYNOTE, 0, 1),  # the page quotes the all-comer sentence: its numbers are the row's
    _statement(NCCN, 0, 0),
    _statement(FDA, 0, 0),
]


@pytest.fixture(scope="module")
def table() -> list[EvidenceRow]:
    return evidence_table(STATEMENTS, REFERENCES)


def test_one_row_per_cited_study_in_reference_order(table: list[EvidenceRow]) -> None:
    # NCCN (guideline) and the FDA label state an HR too, but they are not studies: no row
    assert [row.reference for row in table] == [1, 2]
    assert [row.study for row in table] == ["EMPOWER-Cervical 1", "KEYNOTE-826"]


def test_cells_are_exact_spans(table: list[EvidenceRow]) -> None:
    empower, keynote = table
    assert empower.model_dump() == {
        "reference": 1,
        "study": "EMPOWER-Cervical 1",
        "design": "open-label, randomized phase 3",
        "n": "randomized 608 women",
        "arms": "cemiplimab monotherapy versus investigator's-choice single-agent chemotherapy",
        "endpoint": "overall survival",
        "median": "12.0 months with cemiplimab versus 8.5 months with chemotherapy",
        "hazard_ratio": "hazard ratio for death 0.69; 95% CI 0.56–0.84",
        "p_value": "two-sided P<0.001",
        "passages": ["empower-cervical-1-primary#p0", "empower-cervical-1-primary#p1", "empower-cervical-1-primary#p2"],
    }
    # the quoted sentence (all comers, HR 0.65) wins over the passage's first sentence (CPS >=1, HR 0.62)
    assert keynote.hazard_ratio == "hazard ratio 0.65; 95% CI 0.53–0.79"
    assert keynote.median == "10.4 months with pembrolizumab-chemotherapy versus 8.2 months with placebo-chemotherapy"
    assert keynote.endpoint == "progression-free survival"
    assert keynote.p_value == "P<0.001"
    assert keynote.n == "randomized 617 patients"
    assert keynote.design is None  # no cited passage of KEYNOTE-826 states its design here
    assert keynote.passages == ["keynote-826-primary#p0", "keynote-826-primary#p1"]


def test_every_cell_is_a_substring_of_a_cited_passage_of_its_reference(table: list[EvidenceRow]) -> None:
    by_number = {r.number: r for r in REFERENCES}
    for row in table:
        reference = by_number[row.reference]
        quotes = {loc.passage_id: loc.quote for loc in reference.locators}
        assert set(row.passages) <= set(quotes)
        for name in CELLS:
            value = getattr(row, name)
            if value is not None:
                assert any(value in quotes[p] for p in row.passages), (name, value)


def test_numbers_are_never_altered(table: list[EvidenceRow]) -> None:
    # every number in a cell appears, as written, in the passages of its row
    by_number = {r.number: r for r in REFERENCES}
    for row in table:
        text = by_number[row.reference].quote_of(row.passages)
        for name in CELLS:
            for number in re.findall(r"\d+(?:[.,]\d+)?", getattr(row, name) or ""):
                assert number in text, (name, number)


def test_guidelines_and_labels_give_no_row() -> None:
    assert evidence_table([_statement(NCCN, 0, 0), _statement(FDA, 0, 0)], [NCCN, FDA]) == []


def test_only_cited_studies() -> None:
    # KEYNOTE-826 is a reference but no statement cites it
    rows = evidence_table([_statement(EMPOWER, 0, 0)], [EMPOWER, KEYNOTE])
    assert [row.reference for row in rows] == [1]


def test_a_study_with_no_cell_gives_no_row() -> None:
    quiet = _reference(1, "pro-study", "EMPOWER-Cervical 1 patient-reported outcomes", "trial",
                       ["Patients completed questionnaires at baseline and every cycle."])
    assert study_row(quiet) is None
    assert evidence_table([_statement(quiet, 0, 0)], [quiet]) == []


def test_at_most_max_rows() -> None:
    refs = [_reference(n, f"t{n}", f"TRIAL-{n}", "trial", [EMPOWER_OS]) for n in range(1, 9)]
    statements = [_statement(r, 0, 0) for r in refs]
    assert [row.reference for row in evidence_table(statements, refs)] == [1, 2, 3, 4, 5, 6]
    assert len(evidence_table(statements, refs, max_rows=2)) == 2


@pytest.mark.parametrize(
    ("title", "name"),
    [
        ("KEYNOTE-826 final overall survival: first-line pembrolizumab", "KEYNOTE-826"),
        ("EMPOWER-Cervical 1/GOG-3016/ENGOT-cx9 (primary report): cemiplimab", "EMPOWER-Cervical 1"),
        ("GOG 240 (primary report): chemotherapy with or without bevacizumab", "GOG 240"),
        ("CheckMate 358 (phase 1/2): nivolumab monotherapy", "CheckMate 358"),
        ("innovaTV 301/ENGOT-cx12/GOG-3057: tisotumab vedotin vs chemotherapy", "innovaTV 301"),
        ("JCOG0505: paclitaxel plus carboplatin versus paclitaxel plus cisplatin", "JCOG0505"),
        ("BEATcc (ENGOT-Cx10/GEICO 68-C/JGOG1084/GOG-3030): atezolizumab", "BEATcc"),
        ("DESTINY-PanTumor02: trastuzumab deruxtecan in HER2-expressing solid tumours", "DESTINY-PanTumor02"),
        # no acronym (a year after a name is not one): the title up to its colon, cut short
        ("Single-agent paclitaxel in advanced or recurrent cervical cancer: GOG phase II trial (McGuire 1996)",
         "Single-agent paclitaxel in advanced or recurrent cervical…"),
        ("Trastuzumab in HER2-positive disease", "Trastuzumab in HER2-positive disease"),
    ],
)
def test_study_name(title: str, name: str) -> None:
    assert study_name(title) == name


@pytest.mark.parametrize(
    ("sentence", "cell", "value"),
    [
        # PubMed / NEJM style
        ("The hazard ratio for death, 0.69; 95% CI, 0.56 to 0.84; P<0.001, favoured treatment.", "hazard_ratio", "hazard ratio for death, 0.69; 95% CI, 0.56 to 0.84"),
        ("Overall survival was longer (HR 0.69 [95% CI 0.56-0.84]; p=0.0002).", "hazard_ratio", "HR 0.69 [95% CI 0.56-0.84]"),
        ("Overall survival was longer (HR 0.69 [95% CI 0.56-0.84]; p=0.0002).", "p_value", "p=0.0002"),
        ("Risk fell (adjusted hazard ratio [HR], 1.06; 95% CI, 0.89-1.26).", "hazard_ratio", "adjusted hazard ratio [HR], 1.06; 95% CI, 0.89-1.26"),
        ("Events fell (hazard ratio, 0.59; 95 percent confidence interval, 0.43 to 0.81; P=0.001).", "hazard_ratio", "hazard ratio, 0.59; 95 percent confidence interval, 0.43 to 0.81"),
        ("We randomly assigned 1,234 patients to the two groups.", "n", "randomly assigned 1,234 patients"),
        ("A total of 170 participants were randomized.", "n", "A total of 170 participants were randomized"),
        # CT.gov record lines
        ("Phase: Phase 3", "design", "Phase 3"),
        ("Enrollment: 320 (Actual)", "n", "Enrollment: 320 (Actual)"),
    ],
)
def test_patterns_generalize(sentence: str, cell: str, value: str) -> None:
    row = study_row(_reference(1, "x", "A study", "abstract", [sentence]))
    assert row is not None and getattr(row, cell) == value


def test_a_margin_is_not_a_hazard_ratio() -> None:
    text = "Non-inferiority was defined by a hazard ratio threshold of 1.29 at a one-sided alpha of 5%."
    row = study_row(_reference(1, "x", "A study", "trial", [text]))
    assert row is None or row.hazard_ratio is None


def test_follow_up_and_age_are_not_medians() -> None:
    text = "Median follow-up was 22.0 months.\nIn this trial, median age was 51.0 years."
    row = study_row(_reference(1, "x", "A study", "trial", [text]))
    assert row is None or row.median is None


def _answer(table: list[EvidenceRow]) -> Answer:
    sections = [AnswerSection(name="evidence", statements=[STATEMENTS[0], STATEMENTS[1]])]
    return Answer(question="Second-line options?", abstained=False, sections=sections, evidence_table=table, references=[EMPOWER, KEYNOTE])


def test_markdown_shows_the_table_with_markers(table: list[EvidenceRow]) -> None:
    page = to_markdown(_answer(table))
    assert "## Evidence table" in page
    assert page.index("## Evidence table") < page.index("## References")
    lines = page.splitlines()
    header = next(line for line in lines if line.startswith("| Study"))
    # every column is filled by some row, so all of them show
    assert header == "| Study | Design | n | Arms | Endpoint | Median | HR (95% CI) | p |"
    empower = next(line for line in lines if line.startswith("| EMPOWER-Cervical 1 [1]"))
    assert "| hazard ratio for death 0.69; 95% CI 0.56–0.84 [1] |" in empower
    assert "| two-sided P<0.001 [1] |" in empower
    keynote = next(line for line in lines if line.startswith("| KEYNOTE-826 [2]"))
    assert "| – |" in keynote  # no design cell: a dash, no marker
    assert "| hazard ratio 0.65; 95% CI 0.53–0.79 [2] |" in keynote


def test_markdown_escapes_pipes_and_drops_empty_columns() -> None:
    row = EvidenceRow(reference=1, study="A|B", hazard_ratio="HR 0.5 | 0.4")
    page = to_markdown(_answer([row]))
    assert "| Study | HR (95% CI) |" in page
    assert "| A\\|B [1] | HR 0.5 \\| 0.4 [1] |" in page


def test_empty_table_prints_nothing() -> None:
    page = to_markdown(_answer([]))
    assert "Evidence table" not in page
    console = Console(record=True, width=200)
    print_answer(_answer([]), console)
    assert "Evidence table" not in console.export_text()


def test_text_page_shows_the_table_with_markers(table: list[EvidenceRow]) -> None:
    console = Console(record=True, width=400, color_system=None)
    print_answer(_answer(table), console)
    text = console.export_text()
    assert "Evidence table" in text
    assert text.index("Evidence table") < text.index("References")
    assert "hazard ratio for death 0.69; 95% CI 0.56–0.84 [1]" in text
    assert "randomized 617 patients [2]" in text
    assert "KEYNOTE-826 [2]" in text
