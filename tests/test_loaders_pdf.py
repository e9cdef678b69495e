"""PDF loader on the real PDFs in ../shared/data/formats/pdf: page numbers kept for citation, the CDC
draft's margin line numbers stripped, label headings found."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rag.chunking import ChunkSettings, chunk_document
from rag.errors import CorpusError
from rag.loaders import loader_for, pdf

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FOLDER = SHARED / "formats" / "pdf"
CDC = FOLDER / "CDC-2022-0024-0002_content.pdf"
VEKLURY = FOLDER / "REMDESIVIR.Oct2020.LabelContent.214787Orig1s000lbl.pdf"
pytestmark = pytest.mark.skipif(not CDC.exists(), reason="shared PDF data not present")


@pytest.fixture(scope="module")
def cdc():
    return pdf.load(CDC)[0]


def test_guideline_metadata(cdc) -> None:
    assert loader_for(CDC) is pdf
    assert cdc.id == "pdf-cdc-2022-0024-0002_content" and cdc.kind == "guideline"
    assert cdc.title == "CDC Clinical Practice Guideline for Prescribing Opioids–United States, 2022"
    assert (cdc.body, cdc.year) == ("CDC", 2022)
    # every page of the 211 has text except 168 (blank: only line numbers) and 210 (only the end of a
    # sentence begun on 209, which is kept with page 209)
    assert {s.page for s in cdc.sections} == set(range(1, 212)) - {168, 210}


def test_recommendation_cites_its_page(cdc, count_tokens) -> None:
    # Recommendation 5 starts on page 101 of the draft ("5. For patients already receiving higher ...")
    section = next(s for s in cdc.sections if "5. For patients already receiving higher opioid dosages" in s.text)
    assert section.page == 101 and section.path == ("Recommendations",)
    assert "(recommendation category: B, evidence type: 4)." in section.text
    passages = chunk_document(cdc, count_tokens, ChunkSettings(max_tokens=256))
    assert any(p.page == 101 and "For patients already receiving higher opioid dosages" in p.text for p in passages)


def test_margin_line_numbers_are_stripped(cdc) -> None:
    page21 = " ".join(s.text for s in cdc.sections if s.page == 21)
    # the PDF line reads "... risks of co-463" / "prescribed gabapentinoids": number gone, hyphen joined
    assert "risks of co-prescribed gabapentinoids" in page21
    assert "five systematic reviews (Chou et al., April 2020" in page21 and " 456" not in page21
    # page 211 ends the numbering at 5871; none of 5849..5871 is left in the text
    page211 = " ".join(s.text for s in cdc.sections if s.page == 211)
    assert page211.startswith("BOX 2. Interpretation of recommendation categories and evidence type Recommendation categories")
    assert not re.search(r"\b58[4-7]\d\b", page211)


def test_a_sentence_over_a_page_break_stays_on_its_first_page(cdc) -> None:
    # page 61 ends "... Evidence on long-term" and page 62 begins "effectiveness of opioids remains very limited;"
    section = next(s for s in cdc.sections if "Evidence on long-term effectiveness of opioids remains very limited" in s.text)
    assert section.page == 61


def test_label_sections_and_pages() -> None:
    label = pdf.load(VEKLURY)[0]
    assert label.kind == "label" and label.title == "VEKLURY® (remdesivir) for injection, for intravenous use"
    assert label.body == "Gilead Sciences, Inc." and label.year == 2020
    indications = next(s for s in label.sections if s.path == ("1 INDICATIONS AND USAGE",))
    assert indications.page == 2 and indications.text.startswith("VEKLURY is indicated for adults and pediatric patients")
    warnings = next(s for s in label.sections if s.path[:2] == ("5 WARNINGS AND PRECAUTIONS", "5.2 Increased Risk of Transaminase Elevations"))
    assert warnings.page == 8
    assert ("Highlights", "Adverse Reactions") in {s.path for s in label.sections}


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(b"%PDF-1.4\n% not really a PDF\n")
    with pytest.raises(CorpusError, match=r"scan\.pdf: unreadable PDF"):
        pdf.load(path)


def test_a_labels_numbered_headings_are_not_trials_in_its_profile(tmp_path: Path) -> None:
    """A label PDF's section headings ("4 CONTRAINDICATIONS", "HANDLING 17") are shaped like trial names; the label
    also writes those words as ordinary words ("Contraindications"), so the profile does not take them for trials."""
    from rag.index.build import BuildSettings, build_index
    from rag.index.load import open_index

    build_index([VEKLURY], tmp_path / "index", BuildSettings(dense=False))
    trials = {t.name for t in open_index(tmp_path / "index").profile.summary.trials}
    words = {re.sub(r"[- ]?\d+$", "", t).lower() for t in trials}
    assert not words & {"contraindications", "interactions", "studies", "handling", "than"}, trials
    assert "CoV-2" not in trials  # the end of SARS-CoV-2 is not a trial either
