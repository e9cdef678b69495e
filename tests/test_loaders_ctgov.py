"""ClinicalTrials.gov records (real files in ../shared/data): legacy XML and API v2 JSON read into the
same fields — NCT id, phase, status, conditions, interventions, arms, outcomes and posted results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from rag.errors import CorpusError
from rag.loaders import ctgov, loader_for, read_sources

SHARED = Path(os.environ.get("RAG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
LEGACY = SHARED / "clinicaltrials" / "xml"
V2 = SHARED / "formats" / "ctgov_v2_json"
pytestmark = pytest.mark.skipif(not LEGACY.exists() or not V2.exists(), reason="shared ClinicalTrials.gov data not present")


def _section(document, *path: str) -> str:
    texts = [s.text for s in document.sections if s.path[: len(path)] == path]
    assert texts, f"{document.id} has no section {path}"
    return "\n\n".join(texts)


def test_every_record_reads() -> None:
    legacy, v2 = read_sources([LEGACY]), read_sources([V2])
    assert (len(legacy.documents), len(v2.documents)) == (65, 7) and legacy.problems == v2.problems == []
    assert all(d.kind == "trial" and d.id == d.identifiers["nct"] and d.id.startswith("NCT") for d in legacy.documents + v2.documents)


def test_legacy_xml_fields() -> None:
    path = LEGACY / "NCT00055497.xml"
    assert loader_for(path) is ctgov
    document = ctgov.load(path)[0]
    assert (document.id, document.body, document.year) == ("NCT00055497", "Abbott", 2003)
    overview = _section(document, "Overview")
    assert "Phase: Phase 3" in overview and "Status: Completed" in overview and "Conditions: Crohn's Disease" in overview
    assert "Interventions: Biological: Double-blind (DB) adalimumab placebo; Biological: DB adalimumab 40 mg eow" in overview
    assert "Arm: Double-blind adalimumab 40 mg every other week (eow) (Experimental)" in _section(document, "Arms and interventions")
    assert "Clinical Remission at Week 56 - Non-Responder Imputation (NRI) [time frame: Week 56]" in _section(document, "Outcome measures", "Primary outcomes")


def test_legacy_xml_results() -> None:
    document = ctgov.load(LEGACY / "NCT00055497.xml")[0]
    primary = _section(document, "Results", "Primary outcome: Number of Randomized Participants Achieving Clinical Remission at Week 56 - Non-Responder Imputation (NRI)")
    # the XML's measurement_list: 6/18, 9/19, 12/18 remitters
    assert "Placebo: 6 (n=18); DB Adalimumab 40 mg Every Other Week (Eow): 9 (n=19); DB Adalimumab 40 mg Every Week (ew): 12 (n=18)." in primary
    assert ("Analysis of Number of Randomized Participants Achieving Clinical Remission at Week 56 - Non-Responder Imputation (NRI): "
            "Placebo vs DB Adalimumab 40 mg Every Other Week (Eow) vs DB Adalimumab 40 mg Every Week (ew)") in primary
    assert "Overall Study - STARTED: DB Placebo: 18" in _section(document, "Results", "Participant flow")
    assert "Total, serious adverse events: DB Placebo 2/18" in _section(document, "Results", "Adverse events")


def test_v2_json_fields_and_results() -> None:
    path = V2 / "NCT02210780.json"
    assert loader_for(path) is ctgov
    document = ctgov.load(path)[0]
    assert (document.id, document.body, document.year, document.as_of) == ("NCT02210780", "Regeneron Pharmaceuticals", 2014, "2020-05-07")
    overview = _section(document, "Overview")
    assert "Phase: Phase 2" in overview and "Status: Completed" in overview and "Conditions: Atopic Dermatitis" in overview
    assert "Interventions: Drug: Dupilumab; Drug: Placebo" in overview and "Enrollment: 194 (Actual)" in overview
    assert "Drug: Dupilumab (also: REGN668, SAR231893, Dupixent)" in _section(document, "Arms and interventions")
    results = _section(document, "Results", "Primary outcome: Percentage of Participants With a Positive Response (≥4-Fold Increase) to Tetanus Toxoid (the Adacel [Tdap] Vaccine) at Week 16")
    assert "Placebo qw: 83.7 (n=92); Dupilumab 300 mg qw: 83.3 (n=90)." in results
    # a row without a label of its own names its measure, so the sentence stands alone on an answer page
    assert "(the Adacel [Tdap] Vaccine) at Week 16: Placebo qw: 83.7 (n=92)" in results
    assert "Placebo qw: deaths 0/97, serious 0/97, other 29/97" in _section(document, "Results", "Adverse events")
    # Markdown escapes of the v2 text fields are undone
    assert "[Eichenfeld 2004]" in _section(document, "Eligibility") and "\\[" not in _section(document, "Eligibility")


def test_v2_record_without_results_has_no_results_sections() -> None:
    document = ctgov.load(V2 / "NCT00973089.json")[0]
    assert "Status: Withdrawn" in _section(document, "Overview") and "Phase: N/A" in _section(document, "Overview")
    assert not any(s.path[0] == "Results" for s in document.sections)


def test_bad_records_are_clean_errors(tmp_path: Path) -> None:
    record = json.loads((V2 / "NCT00973089.json").read_text())
    record["protocolSection"]["identificationModule"]["nctId"] = "12345"
    bad_id = tmp_path / "bad-id.json"
    bad_id.write_text(json.dumps(record))
    with pytest.raises(CorpusError, match=r"bad-id\.json: field 'protocolSection\.identificationModule\.nctId' missing or not an NCT id"):
        ctgov.load(bad_id)
    cut = tmp_path / "cut.json"
    cut.write_text((V2 / "NCT00973089.json").read_text()[:3000])
    with pytest.raises(CorpusError, match=r"cut\.json: not valid JSON"):
        ctgov.load(cut)
