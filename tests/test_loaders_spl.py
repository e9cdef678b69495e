"""DailyMed SPL XML on the real labels in ../shared/data/formats/spl_xml: LOINC-coded sections named
canonically (boxed warning, indications, dosage, warnings, adverse reactions), label metadata."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.loaders import loader_for, read_sources, spl

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FOLDER = SHARED / "formats" / "spl_xml"
pytestmark = pytest.mark.skipif(not FOLDER.exists(), reason="shared SPL data not present")


def _text(document, *path: str) -> str:
    texts = [s.text for s in document.sections if s.path[: len(path)] == path]
    assert texts, f"{document.id} has no section {path}"
    return "\n\n".join(texts)


def test_humira_boxed_warning_and_sections() -> None:
    path = FOLDER / "humira.xml"
    assert loader_for(path) is spl
    (label,) = spl.load(path)
    assert label.id == "spl-608d4f0d-b19f-46d3-749a-7159aa5f933d" and label.kind == "label"
    assert (label.title, label.body, label.year, label.version, label.as_of) == (
        "HUMIRA (adalimumab) injection, for subcutaneous use", "AbbVie Inc.", 2013, "1560", "2013-09-30")
    boxed = _text(label, "Boxed warning", "WARNING: SERIOUS INFECTIONS AND MALIGNANCY")
    assert "Patients treated with HUMIRA are at increased risk for developing serious infections" in boxed
    assert "Lymphoma and other malignancies, some fatal, have been reported" in boxed
    assert "HUMIRA is indicated for reducing signs and symptoms" in _text(label, "Indications and usage", "1.1 Rheumatoid Arthritis")
    assert "40 mg administered every other week" in _text(label, "Dosage and administration")
    assert _text(label, "Warnings and precautions", "5.1 Serious Infections")
    assert "The most common adverse reaction with HUMIRA was injection site reactions" in _text(label, "Adverse reactions")
    assert not any(s.path[0] in {"SPL PRODUCT DATA ELEMENTS SECTION", "PACKAGE LABEL.PRINCIPAL DISPLAY PANEL"} for s in label.sections)


def test_label_without_boxed_warning_and_otc_label() -> None:
    documents = {d.id: d for d in read_sources([FOLDER]).documents}
    assert len(documents) == 4
    lipitor = documents["spl-c6e131fe-e7df-4876-83f7-9156fc4e8228"]
    assert lipitor.version == "11" and not any(s.path[0] == "Boxed warning" for s in lipitor.sections)
    otc = documents["spl-00f66f25-3469-4c16-9baf-fba21e9628bd"]  # "Drug Facts" layout
    assert otc.title.startswith("TRIAMINIC Childrens Night Time Cold and Cough")
    assert "in a child under 4 years of age" in _text(otc, "Warnings", "Do not use")


def test_not_an_spl_document(tmp_path: Path) -> None:
    path = tmp_path / "label.xml"
    path.write_text('<document xmlns="urn:hl7-org:v3"><title>x</title></document>')
    with pytest.raises(CorpusError, match=r"label\.xml: no <setId> or <id>"):
        spl.load(path)
