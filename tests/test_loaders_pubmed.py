"""PubMed/MEDLINE XML (real files in ../shared/data/formats/pubmed_xml): PMID, DOI, MeSH, labelled
abstract sections, the gzipped file, and <DeleteCitation> removing PMIDs from the index."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from rag.index.build import BuildSettings, build_index
from rag.index.load import open_index
from rag.loaders import loader_for, pubmed, read_sources

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FOLDER = SHARED / "formats" / "pubmed_xml"
pytestmark = pytest.mark.skipif(not FOLDER.exists(), reason="shared PubMed data not present")
DELETED_BY_1115 = "33952505"  # the first PMID of pubmed22n1115.xml's <DeleteCitation>


def test_structured_abstract_with_doi_and_mesh() -> None:
    path = FOLDER / "pubmed-29768149.xml"
    assert loader_for(path) is pubmed
    (document,) = pubmed.load(path)
    assert document.id == "pmid-29768149" and document.kind == "abstract"
    assert document.title == "Inhaled Combined Budesonide-Formoterol as Needed in Mild Asthma."
    assert (document.body, document.year) == ("The New England journal of medicine", 2018)
    assert document.identifiers == {"pmid": "29768149", "doi": "10.1056/NEJMoa1715274"}
    assert [s.path for s in document.sections[:4]] == [("Abstract", label) for label in ("BACKGROUND", "METHODS", "RESULTS", "CONCLUSIONS")]
    indexing = next(s.text for s in document.sections if s.path == ("Indexing",))
    assert indexing.startswith("MeSH terms: Administration, Inhalation; Adolescent;") and "Asthma (drug therapy)" in indexing
    assert "Formoterol Fumarate (" in indexing and "Terbutaline" in indexing
    assert len(re.findall(r"; ", indexing.splitlines()[0])) == 22  # 23 MeshHeadings (SOURCE.txt)


def test_gzipped_file() -> None:
    path = FOLDER / "test_current_medline.xml.gz"
    assert loader_for(path) is pubmed
    documents = pubmed.load(path)
    assert [d.id for d in documents] == ["pmid-36400559", "pmid-2930949", "pmid-11446611", "pmid-28786991"]
    assert documents[0].identifiers["doi"] == "10.1016/j.ncl.2022.07.002" and documents[0].body == "Neurologic clinics"


def test_whole_folder_and_deletions() -> None:
    result = read_sources([FOLDER])
    assert len(result.documents) == 18 and result.problems == []  # SOURCE.txt: 18 articles
    assert len(result.deletions) == 34 + 559 and f"pmid-{DELETED_BY_1115}" in result.deletions


def _baseline_with(tmp_path: Path, pmid: str) -> Path:
    """A baseline file holding the real article of PMID 151222 (pubmed.xml) under another PMID — no
    real baseline in the shared data contains a PMID that the update files delete."""
    text = (FOLDER / "pubmed.xml").read_text(encoding="utf-8")
    start = text.index("<PubmedArticle>", text.index("151222") - 400)
    article = text[start : text.index("</PubmedArticle>", start) + len("</PubmedArticle>")]
    article = article.replace(">151222<", f">{pmid}<")
    path = tmp_path / "baseline" / "pubmed22n0001.xml"
    path.parent.mkdir()
    path.write_text(f'<?xml version="1.0"?>\n<PubmedArticleSet>\n{article}\n</PubmedArticleSet>\n', encoding="utf-8")
    return path


def test_a_deleted_pmid_is_not_indexed(tmp_path: Path) -> None:
    baseline = _baseline_with(tmp_path, DELETED_BY_1115)
    update = FOLDER / "pubmed22n1115.xml"
    root = tmp_path / "index"
    report = build_index([baseline, update], root, BuildSettings(dense=False))
    ids = {d.id for d in open_index(root).store.documents()}
    assert f"pmid-{DELETED_BY_1115}" not in ids and report.deleted == 1
    assert ids == {"pmid-22395128", "pmid-20868729", "pmid-12657199"}  # the update file's own 3 articles stay
    # a record read *after* the update file that deletes it is a new record and is kept
    later = read_sources([update, baseline])
    assert f"pmid-{DELETED_BY_1115}" in {d.id for d in later.documents} and f"pmid-{DELETED_BY_1115}" not in later.deletions


def test_a_newer_record_replaces_the_older(tmp_path: Path) -> None:
    first = FOLDER / "pubmed-29768149.xml"
    revised = tmp_path / "pubmed22n9999.xml"
    shutil.copy(first, revised)
    revised.write_text(first.read_text(encoding="utf-8").replace("Inhaled Combined Budesonide-Formoterol", "REVISED Budesonide-Formoterol"), encoding="utf-8")
    result = read_sources([first, revised])
    assert [d.title for d in result.documents] == ["REVISED Budesonide-Formoterol as Needed in Mild Asthma."]
