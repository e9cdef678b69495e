"""NGC guideline summaries (the real 2018 archive in ../shared/data/ngc): every recommendation is kept
with its strength-of-evidence rating; developer and release date become body and year."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from rag.chunking import ChunkSettings, chunk_document
from rag.errors import CorpusError
from rag.loaders import loader_for, ngc, read_sources

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
ARCHIVE = SHARED / "ngc" / "ngc_summaries_full_xml.tar.gz"
pytestmark = pytest.mark.skipif(not ARCHIVE.exists(), reason="shared NGC data not present")


@pytest.fixture(scope="module")
def archive_documents():
    loaded = ngc.read(ARCHIVE)
    return {d.id: d for d in loaded.documents}, loaded.problems


def _member(name: str) -> bytes:
    with tarfile.open(ARCHIVE) as archive:
        return archive.extractfile(f"summaries/{name}.xml").read()


def _section_with(document, text: str):
    found = [s for s in document.sections if text in s.text]
    assert found, f"no section of {document.id} contains {text!r}"
    return found[0]


def test_the_archive_is_detected_and_every_summary_read(archive_documents) -> None:
    documents, problems = archive_documents
    assert loader_for(ARCHIVE) is ngc
    assert len(documents) == 1416 and problems == []  # SOURCE.txt: 1,416 full structured summaries
    assert all(d.kind == "guideline" and d.body and d.year for d in documents.values())


def test_recommendation_keeps_its_rating_and_heading(archive_documents) -> None:
    document = archive_documents[0]["ngc-9890"]
    assert document.title.startswith("Long-term management of the successful adult liver transplant")
    assert document.body == "American Association for the Study of Liver Diseases; American Society of Transplantation"
    assert document.year == 2013 and document.identifiers == {"ngc": "9890"}
    section = _section_with(document, "Liver histology should be obtained when parenchymal injury is suspected")
    assert section.path == ("Major Recommendations", "Liver Tests")
    assert section.text.endswith("(Grade 1, Level A).")
    # one recommendation per section: the next one in the list is not in it
    assert "Depending on the pattern of liver tests" not in section.text


def test_developer_suffix_and_release_year(archive_documents) -> None:
    document = archive_documents[0]["ngc-2052"]
    # "American Academy of Neurology - Medical Specialty Society"; "2000 Jul (reaffirmed 2014 Aug 9)"
    assert document.body == "American Academy of Neurology"
    assert document.year == 2000 and document.as_of == "2000 Jul (reaffirmed 2014 Aug 9)"
    section = _section_with(document, "thymectomy is recommended as an option")
    assert section.path == ("Major Recommendations", "Practice Recommendation") and section.text.endswith("(Class II).")


def test_rating_label_above_recommendations_goes_into_the_path(archive_documents) -> None:
    # ACCF/AHA style: an underlined "Class IIb" paragraph, then the recommendations it rates.
    section = _section_with(archive_documents[0]["ngc-10036"], "Exercise testing in asymptomatic patients with AS")
    assert section.path[-1] == "Class IIb" and "(Level of evidence B)" in section.text


def test_rating_printed_after_a_recommendation_is_joined_to_it(archive_documents) -> None:
    # A.S.P.E.N.: "... (Strong)." then a separate paragraph "Evidence Grade: Low".
    section = _section_with(archive_documents[0]["ngc-10077"], "All hospitalized patients, regardless of BMI, should be screened")
    assert section.text.endswith("(Strong). Evidence Grade: Low")


def test_table_rows_keep_column_names(archive_documents) -> None:
    section = _section_with(archive_documents[0]["ngc-10668"], "US duplex Doppler upper extremity")
    assert section.text.startswith("Radiologic Procedure: US duplex Doppler upper extremity; Rating: 9; Comments:")


def test_rating_stays_in_the_indexed_passage(archive_documents, count_tokens) -> None:
    passages = chunk_document(archive_documents[0]["ngc-9890"], count_tokens, ChunkSettings(max_tokens=256))
    hit = [p for p in passages if "Liver histology should be obtained" in p.text]
    assert len(hit) == 1 and "(Grade 1, Level A)" in hit[0].text


def test_scope_and_population_sections(archive_documents) -> None:
    document = archive_documents[0]["ngc-2052"]
    scope = next(s for s in document.sections if s.path == ("Scope",))
    assert "Disease/Condition(s): Nonthymomatous autoimmune myasthenia gravis" in scope.text
    assert "Clinical Specialty: Neurology" in scope.text
    population = next(s for s in document.sections if s.path == ("Target Population",))
    assert population.text == "Patients with nonthymomatous autoimmune myasthenia gravis"
    assert not any(s.path[0] in {"Copyright Statement", "NGC Disclaimer"} for s in document.sections)


def test_an_extracted_summary_reads_the_same(tmp_path: Path, archive_documents) -> None:
    path = tmp_path / "ngc-2052.xml"
    path.write_bytes(_member("ngc-2052"))
    assert loader_for(path) is ngc
    assert ngc.load(path)[0].model_dump(exclude={"source_path"}) == archive_documents[0]["ngc-2052"].model_dump(exclude={"source_path"})


def test_a_damaged_member_is_reported_and_the_rest_kept(tmp_path: Path) -> None:
    good, bad = _member("ngc-2052"), _member("ngc-9890")[:5000]  # cut mid-element
    path = tmp_path / "ngc-mixed.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for name, data in (("summaries/ngc-2052.xml", good), ("summaries/ngc-9890.xml", bad)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    result = read_sources([path])
    assert [d.id for d in result.documents] == ["ngc-2052"]
    assert len(result.problems) == 1 and "ngc-9890.xml: not well-formed XML" in result.problems[0].message
    with pytest.raises(CorpusError, match="ngc-9890.xml"):
        ngc.load(path)  # the plain loader interface is all-or-nothing


def test_not_an_ngc_summary(tmp_path: Path) -> None:
    path = tmp_path / "ngc-1.xml"
    path.write_text('<Version><xmlSource>National Guideline Clearinghouse</xmlSource></Version>')
    with pytest.raises(CorpusError, match=r"ngc-1\.xml: field 'Guideline Title' missing"):
        ngc.load(path)
