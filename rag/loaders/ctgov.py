"""ClinicalTrials.gov study records: the legacy XML (`<clinical_study>`, public.xsd) and the API v2
JSON (`{"protocolSection": ...}`), one study per file.

Both are read into one `Trial` shape, then written as sections: an overview (NCT id, status, phase,
study type, conditions, interventions, enrollment, dates, sponsor, design), summary, description,
arms and interventions, registered outcomes, eligibility and, when results are posted, one section
per outcome result (per-group values with their analysis: p-value, estimate, CI), participant flow,
baseline and adverse events. id = NCT id; body = lead sponsor; year = first posted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree

from rag.errors import CorpusError
from rag.loaders.common import clean, clean_block_text, first_year, head, local, one_line, parse_xml, read_bytes
from rag.loaders.limits import limits, over_limit
from rag.models import Document, Section

NCT = re.compile(r"^NCT\d{8}$")
MAX_EVENTS = 40  # adverse event terms listed per table (the rest are counted)


@dataclass
class Measure:
    """A results table: values per group for each class/category row, plus analyses."""

    title: str
    kind: str = ""  # Primary / Secondary / Other / baseline
    description: str = ""
    time_frame: str = ""
    population: str = ""
    units: str = ""
    param: str = ""
    dispersion: str = ""
    groups: dict[str, str] = field(default_factory=dict)
    analyzed: dict[str, str] = field(default_factory=dict)
    rows: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    analyses: list[str] = field(default_factory=list)


@dataclass
class Trial:
    nct: str
    title: str
    official_title: str = ""
    acronym: str = ""
    sponsor: str = ""
    collaborators: list[str] = field(default_factory=list)
    status: str = ""
    phase: str = ""
    study_type: str = ""
    conditions: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    mesh: list[str] = field(default_factory=list)
    design: list[str] = field(default_factory=list)
    enrollment: str = ""
    start: str = ""
    completion: str = ""
    first_posted: str = ""
    last_update: str = ""
    summary: str = ""
    description: str = ""
    arms: list[str] = field(default_factory=list)
    interventions: list[str] = field(default_factory=list)
    intervention_names: list[str] = field(default_factory=list)
    outcomes: list[tuple[str, str]] = field(default_factory=list)  # (Primary/Secondary/Other, text)
    eligibility: str = ""
    results: list[Measure] = field(default_factory=list)
    flow: list[str] = field(default_factory=list)
    baseline: list[Measure] = field(default_factory=list)
    adverse_events: list[str] = field(default_factory=list)
    pmids: list[str] = field(default_factory=list)
    synonyms: list[str] = field(default_factory=list)  # "name | other name | ..." per intervention


def can_load(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix == ".xml":
        return b"<clinical_study" in head(path, 2048)
    if suffix == ".json":
        data = head(path, 4096)
        return b'"protocolSection"' in data or b'"nctId"' in data
    return False


def load(path: Path) -> list[Document]:
    data = read_bytes(path)
    where = str(path)
    trial = _from_json(data, where) if path.suffix.lower() == ".json" else _from_xml(data, where)
    return [to_document(trial, where)]


# --- legacy XML -----------------------------------------------------------------------------------


def _t(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    return clean("".join(found.itertext())) if found is not None else ""


def _all(element: etree._Element | None, path: str) -> list[str]:
    if element is None:
        return []
    return [clean("".join(e.itertext())) for e in element.findall(path) if clean("".join(e.itertext()))]


def _block(element: etree._Element | None, path: str) -> str:
    if element is None:
        return ""
    found = element.find(path)
    return _dedent("".join(found.itertext())) if found is not None else ""


def _dedent(text: str) -> str:
    """Registry text blocks: hard-wrapped lines, blank lines between paragraphs, '-' bullets. Each
    paragraph and each bullet becomes one block (blank-line separated)."""
    blocks: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text.replace("\r", "")):
        merged: list[str] = []
        for line in (line.strip() for line in paragraph.splitlines()):
            if not line:
                continue
            if merged and not re.match(r"^([-*•]|\d+[.)])\s", line):
                merged[-1] += " " + line
            else:
                merged.append(line)
        blocks.extend(merged)
    return clean_block_text("\n\n".join(blocks))


def _from_xml(data: bytes, where: str) -> Trial:
    root = parse_xml(data, where)
    if local(root.tag) != "clinical_study":
        raise CorpusError(f"{where}: root element <{local(root.tag)}> is not a ClinicalTrials.gov <clinical_study>")
    nct = _t(root, "id_info/nct_id")
    if not NCT.match(nct):
        raise CorpusError(f"{where}: field 'id_info/nct_id' missing or not an NCT id ({nct!r})")
    title = _t(root, "brief_title") or _t(root, "official_title")
    if not title:
        raise CorpusError(f"{where}: field 'brief_title' missing")
    design = root.find("study_design_info")
    trial = Trial(
        nct=nct,
        title=title,
        official_title=_t(root, "official_title"),
        acronym=_t(root, "acronym"),
        sponsor=_t(root, "sponsors/lead_sponsor/agency"),
        collaborators=_all(root, "sponsors/collaborator/agency"),
        status=_t(root, "overall_status"),
        phase=_t(root, "phase"),
        study_type=_t(root, "study_type"),
        conditions=_all(root, "condition"),
        keywords=_all(root, "keyword"),
        mesh=_all(root, "condition_browse/mesh_term"),
        design=[f"{local(e.tag).replace('_', ' ').capitalize()}: {clean(e.text)}" for e in (design if design is not None else []) if clean(e.text)],
        enrollment=" ".join(x for x in [_t(root, "enrollment"), f"({root.find('enrollment').get('type')})" if root.find("enrollment") is not None and root.find("enrollment").get("type") else ""] if x),
        start=_t(root, "start_date"),
        completion=_t(root, "completion_date") or _t(root, "primary_completion_date"),
        first_posted=_t(root, "study_first_posted") or _t(root, "study_first_submitted"),
        last_update=_t(root, "last_update_posted"),
        summary=_block(root, "brief_summary/textblock"),
        description=_block(root, "detailed_description/textblock"),
        eligibility=_block(root, "eligibility/criteria/textblock"),
        pmids=_all(root, "reference/PMID") + _all(root, "results_reference/PMID"),
    )
    eligibility = root.find("eligibility")
    facts = [f"{name}: {_t(eligibility, tag)}" for tag, name in (("gender", "Sex"), ("minimum_age", "Minimum age"), ("maximum_age", "Maximum age"), ("healthy_volunteers", "Healthy volunteers")) if _t(eligibility, tag)]
    if facts:
        trial.eligibility = "\n\n".join(x for x in [trial.eligibility, "; ".join(facts)] if x)
    for arm in root.findall("arm_group"):
        label, kind, text = _t(arm, "arm_group_label"), _t(arm, "arm_group_type"), _t(arm, "description")
        trial.arms.append(" ".join(x for x in [f"Arm: {label}", f"({kind})" if kind else "", f"- {text}" if text else ""] if x))
    for intervention in root.findall("intervention"):
        kind, name = _t(intervention, "intervention_type"), _t(intervention, "intervention_name")
        trial.intervention_names.append(f"{kind}: {name}" if kind else name)
        other = _all(intervention, "other_name")
        if other:
            trial.synonyms.append(" | ".join([name, *other]))
        text = _t(intervention, "description")
        arms = _all(intervention, "arm_group_label")
        trial.interventions.append(
            " ".join(x for x in [f"{kind}: {name}" if kind else name, f"(also: {', '.join(other)})" if other else "", f"- {text}" if text else "", f"Arms: {', '.join(arms)}." if arms else ""] if x)
        )
    for tag, kind in (("primary_outcome", "Primary"), ("secondary_outcome", "Secondary"), ("other_outcome", "Other")):
        for outcome in root.findall(tag):
            text = _outcome_text(_t(outcome, "measure"), _t(outcome, "time_frame"), _t(outcome, "description"))
            if text:
                trial.outcomes.append((kind, text))
    results = root.find("clinical_results")
    if results is not None:
        _xml_results(results, trial)
    return trial


def _xml_groups(element: etree._Element | None) -> dict[str, str]:
    if element is None:
        return {}
    return {g.get("group_id", ""): _t(g, "title") for g in element.findall("group_list/group")}


def _xml_measure(measure: etree._Element, groups: dict[str, str]) -> Measure:
    out = Measure(
        title=_t(measure, "title"),
        description=_t(measure, "description"),
        population=_t(measure, "population"),
        units=_t(measure, "units"),
        param=_t(measure, "param"),
        dispersion=_t(measure, "dispersion"),
        groups=groups,
    )
    for count in measure.findall("analyzed_list/analyzed/count_list/count")[: len(groups) or None]:
        out.analyzed.setdefault(count.get("group_id", ""), count.get("value", ""))
    for klass in measure.findall("class_list/class"):
        class_title = _t(klass, "title")
        for category in klass.findall("category_list/category"):
            label = " - ".join(x for x in [class_title, _t(category, "title")] if x)
            values = {m.get("group_id", ""): _value(m.get("value"), m.get("spread"), m.get("lower_limit"), m.get("upper_limit"), text=clean(m.text)) for m in category.findall("measurement_list/measurement")}
            out.rows.append((label, values))
    return out


def _xml_results(results: etree._Element, trial: Trial) -> None:
    flow = results.find("participant_flow")
    if flow is not None:
        groups = _xml_groups(flow)
        for period in flow.findall("period_list/period"):
            for milestone in period.findall("milestone_list/milestone"):
                counts = "; ".join(f"{groups.get(p.get('group_id', ''), p.get('group_id', ''))}: {p.get('count', '')}" for p in milestone.findall("participants_list/participants"))
                trial.flow.append(f"{_t(period, 'title')} - {_t(milestone, 'title')}: {counts}")
    baseline = results.find("baseline")
    if baseline is not None:
        groups = _xml_groups(baseline)
        for measure in baseline.findall("measure_list/measure"):
            trial.baseline.append(_xml_measure(measure, groups))
    for outcome in results.findall("outcome_list/outcome"):
        groups = _xml_groups(outcome)
        measure_element = outcome.find("measure")
        measure = _xml_measure(measure_element, groups) if measure_element is not None else Measure(title=_t(outcome, "title"), groups=groups)
        measure.title = _t(outcome, "title") or measure.title
        measure.kind = _t(outcome, "type")
        measure.time_frame = _t(outcome, "time_frame")
        measure.description = _t(outcome, "description") or measure.description
        measure.population = _t(outcome, "population") or measure.population
        for analysis in outcome.findall("analysis_list/analysis"):
            names = [groups.get(g, g) for g in _all(analysis, "group_id_list/group_id")]
            measure.analyses.append(
                _analysis_text(names, _t(analysis, "p_value"), _t(analysis, "method"), _t(analysis, "param_type"), _t(analysis, "param_value"),
                               _t(analysis, "ci_percent"), _t(analysis, "ci_lower_limit"), _t(analysis, "ci_upper_limit"), _t(analysis, "estimate_desc") or _t(analysis, "method_desc"))
            )
        trial.results.append(measure)
    events = results.find("reported_events")
    if events is not None:
        groups = _xml_groups(events)
        for tag, name in (("serious_events", "Serious adverse events"), ("other_events", "Other adverse events")):
            table = events.find(tag)
            if table is None:
                continue
            lines = []
            for category in table.findall("category_list/category"):
                for event in category.findall("event_list/event"):
                    counts = "; ".join(
                        f"{groups.get(c.get('group_id', ''), c.get('group_id', ''))} {c.get('subjects_affected', '?')}/{c.get('subjects_at_risk', '?')}"
                        for c in event.findall("counts")
                    )
                    lines.append(f"{_t(event, 'sub_title')}: {counts}")
            trial.adverse_events.extend(_event_lines(name, lines))


# --- API v2 JSON ----------------------------------------------------------------------------------


def _g(data: Any, *keys: str | int, default: Any = "") -> Any:
    for key in keys:
        if isinstance(key, int) and isinstance(data, list) and -len(data) <= key < len(data):
            data = data[key]
        elif isinstance(key, str) and isinstance(data, dict) and key in data:
            data = data[key]
        else:
            return default
    return data


_MARKDOWN_ESCAPE = re.compile(r"\\([\[\]<>*_()#+\-.!`{}|~\\])")


def _unescape(text: str) -> str:
    """API v2 text fields are Markdown: '\\[Eichenfeld 2004\\]', '\\<0.1 IU/ml'."""
    return _MARKDOWN_ESCAPE.sub(r"\1", text)


def _s(data: Any, *keys: str | int) -> str:
    value = _g(data, *keys)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    return clean(_unescape(str(value))) if isinstance(value, str | int | float) else ""


def _list(data: Any, *keys: str) -> list:
    value = _g(data, *keys, default=[])
    return value if isinstance(value, list) else []


def _enum(value: str) -> str:
    if not value or not value.isupper():
        return value
    return value.replace("_", " ").capitalize()


def _phase(values: list) -> str:
    names = []
    for value in values:
        value = str(value)
        match = re.match(r"^(EARLY_)?PHASE(\d)$", value)
        if match:
            names.append(("Early Phase " if match.group(1) else "Phase ") + match.group(2))
        elif value in {"NA", "N/A"}:
            names.append("N/A")
        elif value:
            names.append(_enum(value))
    return "/".join(names)


def _from_json(data: bytes, where: str) -> Trial:
    _check_json_size(data, where)
    try:
        record = json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise CorpusError(f"{where}: not UTF-8 text ({error.reason} at byte {error.start})") from error
    except ValueError as error:
        raise CorpusError(f"{where}: not valid JSON ({one_line(error)})") from error
    except RecursionError as error:
        raise CorpusError(f"{where}: JSON nested too deeply") from error
    if isinstance(record, dict) and isinstance(record.get("studies"), list) and len(record["studies"]) == 1:
        record = record["studies"][0]  # a one-study search response
    if not isinstance(record, dict) or not isinstance(record.get("protocolSection"), dict):
        raise CorpusError(f"{where}: not a ClinicalTrials.gov API v2 study (no 'protocolSection' object)")
    protocol = record["protocolSection"]
    nct = _s(protocol, "identificationModule", "nctId")
    if not NCT.match(nct):
        raise CorpusError(f"{where}: field 'protocolSection.identificationModule.nctId' missing or not an NCT id ({nct!r})")
    ident = _g(protocol, "identificationModule", default={})
    title = _s(ident, "briefTitle") or _s(ident, "officialTitle")
    if not title:
        raise CorpusError(f"{where}: field 'identificationModule.briefTitle' missing")
    status = _g(protocol, "statusModule", default={})
    design = _g(protocol, "designModule", default={})
    info = _g(design, "designInfo", default={})
    design_facts = [
        f"{name}: {_enum(value)}"
        for name, value in (
            ("Allocation", _s(info, "allocation")),
            ("Intervention model", _s(info, "interventionModel")),
            ("Primary purpose", _s(info, "primaryPurpose")),
            ("Masking", _s(info, "maskingInfo", "masking")),
            ("Observational model", _s(info, "observationalModel")),
            ("Time perspective", _s(info, "timePerspective")),
        )
        if value
    ]
    enrollment = _s(design, "enrollmentInfo", "count")
    eligibility = _g(protocol, "eligibilityModule", default={})
    trial = Trial(
        nct=nct,
        title=title,
        official_title=_s(ident, "officialTitle"),
        acronym=_s(ident, "acronym"),
        sponsor=_s(protocol, "sponsorCollaboratorsModule", "leadSponsor", "name"),
        collaborators=[_s(c, "name") for c in _list(protocol, "sponsorCollaboratorsModule", "collaborators") if _s(c, "name")],
        status=_enum(_s(status, "overallStatus")),
        phase=_phase(_list(design, "phases")),
        study_type=_enum(_s(design, "studyType")),
        conditions=[clean(str(c)) for c in _list(protocol, "conditionsModule", "conditions") if isinstance(c, str)],
        keywords=[clean(str(c)) for c in _list(protocol, "conditionsModule", "keywords") if isinstance(c, str)],
        mesh=[_s(m, "term") for m in _list(record, "derivedSection", "conditionBrowseModule", "meshes") if _s(m, "term")],
        design=design_facts,
        enrollment=" ".join(x for x in [enrollment, f"({_enum(_s(design, 'enrollmentInfo', 'type'))})" if enrollment and _s(design, "enrollmentInfo", "type") else ""] if x),
        start=_s(status, "startDateStruct", "date"),
        completion=_s(status, "completionDateStruct", "date") or _s(status, "primaryCompletionDateStruct", "date"),
        first_posted=_s(status, "studyFirstPostDateStruct", "date") or _s(status, "studyFirstSubmitDate"),
        last_update=_s(status, "lastUpdatePostDateStruct", "date"),
        summary=_dedent(_s_raw(protocol, "descriptionModule", "briefSummary")),
        description=_dedent(_s_raw(protocol, "descriptionModule", "detailedDescription")),
        eligibility=_dedent(_s_raw(eligibility, "eligibilityCriteria")),
        pmids=[_s(r, "pmid") for r in _list(protocol, "referencesModule", "references") if _s(r, "pmid")],
    )
    facts = [f"{name}: {_enum(_s(eligibility, key))}" for key, name in (("sex", "Sex"), ("minimumAge", "Minimum age"), ("maximumAge", "Maximum age"), ("healthyVolunteers", "Healthy volunteers")) if _s(eligibility, key)]
    if facts:
        trial.eligibility = "\n\n".join(x for x in [trial.eligibility, "; ".join(facts)] if x)
    arms = _g(protocol, "armsInterventionsModule", default={})
    for arm in _list(arms, "armGroups"):
        label, kind, text = _s(arm, "label"), _enum(_s(arm, "type")), _s(arm, "description")
        names = [str(n) for n in _list(arm, "interventionNames")]
        trial.arms.append(" ".join(x for x in [f"Arm: {label}", f"({kind})" if kind else "", f"- {text}" if text else "", f"Interventions: {', '.join(names)}." if names else ""] if x))
    for intervention in _list(arms, "interventions"):
        kind, name = _enum(_s(intervention, "type")), _s(intervention, "name")
        trial.intervention_names.append(f"{kind}: {name}" if kind else name)
        other = [str(n) for n in _list(intervention, "otherNames")]
        if other:
            trial.synonyms.append(" | ".join([name, *other]))
        text = _s(intervention, "description")
        trial.interventions.append(" ".join(x for x in [f"{kind}: {name}" if kind else name, f"(also: {', '.join(other)})" if other else "", f"- {text}" if text else ""] if x))
    for key, kind in (("primaryOutcomes", "Primary"), ("secondaryOutcomes", "Secondary"), ("otherOutcomes", "Other")):
        for outcome in _list(protocol, "outcomesModule", key):
            text = _outcome_text(_s(outcome, "measure"), _s(outcome, "timeFrame"), _s(outcome, "description"))
            if text:
                trial.outcomes.append((kind, text))
    results = record.get("resultsSection")
    if isinstance(results, dict):
        _json_results(results, trial)
    return trial


def _check_json_size(data: bytes, where: str) -> None:
    """Refuse more '{' and '[' (an upper bound of the objects and arrays) than max_elements before
    json.loads builds them: 100 MB of '{},' would be 33M dicts, ~2 GB."""
    bound = limits().max_elements
    marks = data.count(b"{") + data.count(b"[")
    if marks > bound:
        raise over_limit(where, f"{marks:,} JSON objects and arrays", "max_elements", bound)


def _s_raw(data: Any, *keys: str) -> str:
    value = _g(data, *keys)
    return _unescape(value) if isinstance(value, str) else ""


def _json_groups(module: Any) -> dict[str, str]:
    return {_s(g, "id"): _s(g, "title") for g in _list(module, "groups") if isinstance(g, dict)}


def _json_measure(measure: Any, groups: dict[str, str]) -> Measure:
    out = Measure(
        title=_s(measure, "title"),
        kind=_enum(_s(measure, "type")),
        description=_s(measure, "description"),
        time_frame=_s(measure, "timeFrame"),
        population=_s(measure, "populationDescription"),
        units=_s(measure, "unitOfMeasure"),
        param=_enum(_s(measure, "paramType")),
        dispersion=_enum(_s(measure, "dispersionType")),
        groups=groups,
    )
    for denom in _list(measure, "denoms")[:1]:
        for count in _list(denom, "counts"):
            out.analyzed[_s(count, "groupId")] = _s(count, "value")
    for klass in _list(measure, "classes"):
        for category in _list(klass, "categories"):
            label = " - ".join(x for x in [_s(klass, "title"), _s(category, "title")] if x)
            values = {
                _s(m, "groupId"): _value(_s(m, "value"), _s(m, "spread"), _s(m, "lowerLimit"), _s(m, "upperLimit"), text=_s(m, "comment"))
                for m in _list(category, "measurements")
            }
            out.rows.append((label, values))
    for analysis in _list(measure, "analyses"):
        names = [groups.get(str(g), str(g)) for g in _list(analysis, "groupIds")]
        out.analyses.append(
            _analysis_text(names, _s(analysis, "pValue"), _s(analysis, "statisticalMethod"), _s(analysis, "paramType"), _s(analysis, "paramValue"),
                           _s(analysis, "ciPctValue"), _s(analysis, "ciLowerLimit"), _s(analysis, "ciUpperLimit"), _s(analysis, "estimateComment") or _s(analysis, "statisticalComment"))
        )
    return out


def _json_results(results: dict, trial: Trial) -> None:
    flow = results.get("participantFlowModule")
    groups = _json_groups(flow)
    for period in _list(flow, "periods"):
        for milestone in _list(period, "milestones"):
            counts = "; ".join(f"{groups.get(_s(a, 'groupId'), _s(a, 'groupId'))}: {_s(a, 'numSubjects')}" for a in _list(milestone, "achievements"))
            trial.flow.append(f"{_s(period, 'title')} - {_enum(_s(milestone, 'type'))}: {counts}")
    baseline = results.get("baselineCharacteristicsModule")
    groups = _json_groups(baseline)
    trial.baseline.extend(_json_measure(m, groups) for m in _list(baseline, "measures"))
    for measure in _list(results, "outcomeMeasuresModule", "outcomeMeasures"):
        trial.results.append(_json_measure(measure, _json_groups(measure)))
    events = results.get("adverseEventsModule")
    if isinstance(events, dict):
        groups = _json_groups({"groups": _list(events, "eventGroups")})
        totals = []
        for group in _list(events, "eventGroups"):
            parts = [
                f"{name} {_s(group, affected)}/{_s(group, at_risk)}"
                for name, affected, at_risk in (("deaths", "deathsNumAffected", "deathsNumAtRisk"), ("serious", "seriousNumAffected", "seriousNumAtRisk"), ("other", "otherNumAffected", "otherNumAtRisk"))
                if _s(group, affected)
            ]
            totals.append(f"{_s(group, 'title')}: {', '.join(parts)}")
        if totals:
            trial.adverse_events.append("Participants affected (affected/at risk): " + "; ".join(totals))
        for key, name in (("seriousEvents", "Serious adverse events"), ("otherEvents", "Other adverse events")):
            lines = []
            for event in _list(events, key):
                counts = "; ".join(f"{groups.get(_s(s, 'groupId'), _s(s, 'groupId'))} {_s(s, 'numAffected')}/{_s(s, 'numAtRisk')}" for s in _list(event, "stats"))
                lines.append(f"{_s(event, 'term')}: {counts}")
            trial.adverse_events.extend(_event_lines(name, lines))


# --- shared rendering -----------------------------------------------------------------------------


def _value(value: str | None, spread: str | None, lower: str | None, upper: str | None, *, text: str = "") -> str:
    out = clean(value or "") or "NA"
    if spread:
        out += f" ± {clean(spread)}"
    if lower or upper:
        out += f" ({clean(lower or '')} to {clean(upper or '')})"
    if text and out == "NA":
        out = f"NA ({text})"
    return out


def _analysis_text(groups: list[str], p: str, method: str, param: str, value: str, ci: str, lower: str, upper: str, note: str) -> str:
    parts = []
    if groups:
        parts.append(" vs ".join(groups))
    if param or value:
        estimate = " ".join(x for x in [_enum(param), value] if x)
        if lower or upper:
            estimate += f" ({ci or '95'}% CI {lower} to {upper})"
        parts.append(estimate)
    if p:
        parts.append(f"p={p}" if p[:1].isdigit() or p[:1] == "." else f"p{p}" if p[:1] in "<>≤≥=" else f"p {p}")
    if method:
        parts.append(_enum(method))
    text = "Analysis: " + ", ".join(parts)
    return f"{text}. {note}" if note else text + "."


def _outcome_text(measure: str, time_frame: str, description: str) -> str:
    if not measure:
        return ""
    text = measure + (f" [time frame: {time_frame}]" if time_frame else "")
    return f"{text}. {description}" if description else text


def _event_lines(name: str, lines: list[str]) -> list[str]:
    if not lines:
        return []
    shown = lines[:MAX_EVENTS]
    rest = f" (and {len(lines) - MAX_EVENTS} more terms)" if len(lines) > MAX_EVENTS else ""
    return [f"{name} (affected/at risk): " + "; ".join(shown) + rest]


TITLED_ROW_WORDS = 30  # a result row without a label, or an analysis, names its measure's title up to this long


def _measure_blocks(measure: Measure) -> list[str]:
    header = []
    if measure.time_frame:
        header.append(f"Time frame: {measure.time_frame}.")
    if measure.units or measure.param:
        header.append("Measure: " + ", ".join(x for x in [measure.units, measure.param, measure.dispersion] if x) + ".")
    blocks = [" ".join(header)] if header else []
    if measure.description:
        blocks.append(measure.description)
    for label, values in measure.rows:
        parts = []
        for group_id, value in values.items():
            name = measure.groups.get(group_id, group_id)
            n = measure.analyzed.get(group_id)
            parts.append(f"{name}: {value}" + (f" (n={n})" if n else ""))
        if parts:  # a row names its measure when it has no label of its own: "EASI-75 at week 16: Placebo: 19.6 (n=97); …"
            head = label or (measure.title if len(measure.title.split()) <= TITLED_ROW_WORDS else "")
            blocks.append((f"{head}: " if head else "") + "; ".join(parts) + ".")
    titled = len(measure.title.split()) <= TITLED_ROW_WORDS  # "Analysis of <measure>: A vs B, hazard ratio …"
    blocks.extend(a.replace("Analysis: ", f"Analysis of {measure.title}: ", 1) if titled and measure.title else a for a in measure.analyses)
    if measure.population:
        blocks.append(f"Population: {measure.population}")
    return [b for b in blocks if b]


def to_document(trial: Trial, where: str) -> Document:
    overview = [
        f"NCT id: {trial.nct}" + (f" ({trial.acronym})" if trial.acronym else ""),
        f"Official title: {trial.official_title}" if trial.official_title and trial.official_title != trial.title else "",
        f"Status: {trial.status}" if trial.status else "",
        f"Phase: {trial.phase}" if trial.phase else "",
        f"Study type: {trial.study_type}" if trial.study_type else "",
        f"Conditions: {'; '.join(trial.conditions)}" if trial.conditions else "",
        f"Interventions: {'; '.join(trial.intervention_names)}" if trial.intervention_names else "",
        f"Enrollment: {trial.enrollment}" if trial.enrollment else "",
        "Dates: " + "; ".join(x for x in [f"start {trial.start}" if trial.start else "", f"completion {trial.completion}" if trial.completion else "", f"first posted {trial.first_posted}" if trial.first_posted else ""] if x)
        if trial.start or trial.completion or trial.first_posted
        else "",
        f"Sponsor: {trial.sponsor}" + (f"; collaborators: {', '.join(trial.collaborators)}" if trial.collaborators else "") if trial.sponsor else "",
        f"Design: {'; '.join(trial.design)}" if trial.design else "",
        f"Keywords: {'; '.join(trial.keywords)}" if trial.keywords else "",
        f"MeSH terms: {'; '.join(trial.mesh)}" if trial.mesh else "",
    ]
    sections = [Section(path=("Overview",), text="\n\n".join(x for x in overview if x))]
    for name, text in (("Brief summary", trial.summary), ("Detailed description", trial.description)):
        if text:
            sections.append(Section(path=(name,), text=text))
    if trial.arms or trial.interventions:
        sections.append(Section(path=("Arms and interventions",), text="\n\n".join(trial.arms + trial.interventions)))
    for kind in ("Primary", "Secondary", "Other"):
        texts = [t for k, t in trial.outcomes if k == kind]
        if texts:
            sections.append(Section(path=("Outcome measures", f"{kind} outcomes"), text="\n\n".join(texts)))
    if trial.eligibility:
        sections.append(Section(path=("Eligibility",), text=trial.eligibility))
    for measure in trial.results:
        blocks = _measure_blocks(measure)
        if blocks:
            label = f"{measure.kind} outcome: {measure.title}" if measure.kind else measure.title
            sections.append(Section(path=("Results", label[:200]), text="\n\n".join(blocks)))
    if trial.flow:
        sections.append(Section(path=("Results", "Participant flow"), text="\n\n".join(trial.flow)))
    baseline = [f"{m.title}: " + " ".join(_measure_blocks(m)) for m in trial.baseline if m.rows]
    if baseline:
        sections.append(Section(path=("Results", "Baseline characteristics"), text="\n\n".join(baseline)))
    if trial.adverse_events:
        sections.append(Section(path=("Results", "Adverse events"), text="\n\n".join(trial.adverse_events)))
    identifiers = {"nct": trial.nct, "url": f"https://clinicaltrials.gov/study/{trial.nct}"}
    year = first_year(trial.first_posted) or first_year(trial.start)
    try:
        return Document(
            id=trial.nct,
            title=trial.title[:500],
            kind="trial",
            body=trial.sponsor[:300] or None,
            year=year,
            identifiers=identifiers,
            as_of=trial.last_update or None,
            facets=_facets(
                conditions=trial.conditions, mesh=trial.mesh, keywords=trial.keywords,
                interventions=[n.split(": ", 1)[-1] for n in trial.intervention_names], synonyms=trial.synonyms,
                acronym=[trial.acronym] if trial.acronym else [],
            ),
            sections=sections,
            source_path=where,
        )
    except ValueError as error:
        raise CorpusError(f"{where}: {one_line(error)}") from error


def _facets(**values: list[str]) -> dict[str, list[str]]:
    """The non-empty facet lists, each value cleaned and bounded."""
    return {key: [v[:200] for v in items if v][:100] for key, items in values.items() if any(items)}
