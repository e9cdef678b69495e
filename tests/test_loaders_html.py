"""HTML loader on the real pages in ../shared/data/formats/html: headings become sections, boilerplate
(contents lists, references, metadata banners, scripts) is dropped."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.loaders import html, loader_for

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FOLDER = SHARED / "formats" / "html"
PDQ = FOLDER / "PDQ-summary.html"
HUMIRA = FOLDER / "2c9fb32d-4b1b-b5da-4bdf-6b06908ba8b3.html"
pytestmark = pytest.mark.skipif(not PDQ.exists(), reason="shared HTML data not present")


def test_pdq_summary_headings_as_sections() -> None:
    assert loader_for(PDQ) is html
    document = html.load(PDQ)[0]
    assert document.title == "Childhood Ependymoma Treatment (PDQ®)" and document.kind == "review"
    assert (document.body, document.year, document.identifiers) == ("National Cancer Institute (PDQ)", 2015, {"cdr": "CDR0000062843"})
    incidence = next(s for s in document.sections if s.path == ("General Information About Childhood Ependymoma", "Incidence"))
    assert incidence.text.startswith("Childhood ependymoma comprises approximately 9% of all childhood brain tumors")
    deep = ("Treatment of Newly Diagnosed Childhood Ependymoma or Anaplastic Ependymoma", "Adjuvant Therapy",
            "Treatment options for no residual disease, no disseminated disease", "Radiation therapy")
    assert deep in {s.path for s in document.sections}


def test_pdq_boilerplate_dropped() -> None:
    document = html.load(PDQ)[0]
    everything = " ".join(" ".join(s.path) + " " + s.text for s in document.sections)
    assert "References" not in {p for s in document.sections for p in s.path}  # 9 reference lists dropped
    assert "Cancer Cell 8 (4): 323-35, 2005" not in everything  # a citation from a dropped list
    assert "CDR0000062843;Treatment" not in everything and "background: none" not in everything  # banner, <style>


def test_fda_label_html() -> None:
    document = html.load(HUMIRA)[0]
    assert document.title == "HUMIRA (adalimumab) injection, for subcutaneous use" and document.kind == "label"
    assert (document.year, document.version, document.identifiers["setid"]) == (2013, "1560", "608d4f0d-b19f-46d3-749a-7159aa5f933d")
    paths = {s.path for s in document.sections}
    assert ("5 WARNINGS AND PRECAUTIONS", "5.1 Serious Infections") in paths
    assert not any("CONTENTS" in " ".join(p) for p in paths)  # the table of contents is boilerplate
    boxed = next(s for s in document.sections if s.path == ("WARNING: SERIOUS INFECTIONS AND MALIGNANCY",))
    assert "increased risk for developing serious infections" in boxed.text


def test_empty_page(tmp_path: Path) -> None:
    path = tmp_path / "empty.html"
    path.write_text("<html><head><script>var x = 1;</script></head><body><nav>Home | About</nav></body></html>")
    with pytest.raises(CorpusError, match=r"empty\.html: no text in the page body"):
        html.load(path)
