"""Which answer section a corpus sentence belongs to, and the guideline grade it states.

The section comes first from the heading the sentence sits under (corpus headings such as
"Efficacy", "Safety", "Limitations", "Second-line and subsequent therapy"), then from the kind of
document and cue words in the sentence, so the rules work on any corpus, not only ours.
"""

from __future__ import annotations

import re

from rag.answer.models import SectionName

_HEADING_RULES: list[tuple[SectionName, tuple[str, ...]]] = [
    ("caveats", ("limitation", "supersede", "caveat", "uncertain", "not confirmed", "conflict", "gaps")),
    ("safety", ("safety", "adverse", "warning", "precaution", "toxicit", "dosage", "dosing", "administration",
                "immune-related", "irae", "grading", "management", "monitoring", "contraindication", "boxed")),
    ("algorithm", ("algorithm", "sequence", "first-line", "second-line", "subsequent", "biomarker", "line of therapy")),
    ("evidence", ("efficacy", "result", "subgroup", "survival", "response", "design", "population", "outcome",
                  "endpoint", "analysis", "patient-reported", "quality of life")),
    ("recommendation", ("recommendation", "indication", "regulatory", "approval", "key point", "summary", "statement")),
]

CAVEAT_CUES = re.compile(
    r"could not be (?:confirmed|verified)|not confirmed|unverified|supersed|limitation|post hoc|exploratory|"
    r"underpowered|not (?:a|the) recurrent|should be interpreted|caution|uncertain|no .{0,40} was found|withdr[ae]w",
    re.IGNORECASE,
)
ADVERSE_CUES = re.compile(
    r"adverse|toxicit|grade\s*(?:≥|>=)?\s*[2-5]|discontinu|warning|infusion|immune-(?:related|mediated)|irae|"
    r"corticosteroid|steroid|prednison|methylprednisolone|hepatitis|pneumonitis|colitis|myocarditis|neuropath|"
    r"ocular|keratitis|conjunctiv|bleeding|hemorrhage|fistula|perforation|hypertension|thrombo",
    re.IGNORECASE,
)
DOSE_CUES = re.compile(r"mg/kg|\bmg\b|every \d weeks|\bq[1-6]w\b|\bdose|dosing", re.IGNORECASE)


class _Either:
    """A sentence mentions adverse events or dosing (what the safety section reports)."""

    @staticmethod
    def search(text: str) -> bool:
        return bool(ADVERSE_CUES.search(text) or DOSE_CUES.search(text))


SAFETY_CUES = _Either()
RESULT_CUES = re.compile(
    r"\bmedian\b|\bHR\b|hazard ratio|95%\s*CI|confidence interval|\bORR\b|response rate|\bp\s*[<=>≤]|"
    r"\d+(?:\.\d+)?\s*(?:%|months)|\bn\s*=",
    re.IGNORECASE,
)
LINE_CUES = re.compile(
    r"first[- ]line|second[- ]line|third[- ]line|subsequent|later[- ]line|after (?:progression|platinum|first)|"
    r"progress(?:ed|ion) (?:on|after)|previously treated|\b[123]L\b|CPS\s*(?:≥|>=)|MSI-H|dMMR|TMB-H|HER2|NTRK|RET",
    re.IGNORECASE,
)
RECOMMEND_CUES = re.compile(
    r"recommend|preferred|category|option|approv|indicat|authori[sz]|should|consider|level of evidence|"
    r"\bLE\b|standard|useful in certain",
    re.IGNORECASE,
)
NEGATIVE = re.compile(  # a statement that a source says nothing on the matter
    r"\b(?:contains|gives|makes|has|offers|includes) no\b|\bno (?:\w+[ -]){0,3}(?:recommendation|guidance|statement|rating)s?\b|"
    r"could not|predates?|\bnot (?:be )?(?:confirmed|located|available|verified|mentioned|named)",
    re.IGNORECASE,
)
_GRADE = re.compile(
    r"(category\s+(?:1|2A|2B|3)(?:,\s*preferred)?|\bpreferred\b|other recommended|useful in certain circumstances|"
    r"\[\s*[IV]{1,3}\s*,\s*[A-E]\s*\]|level of evidence\s*[:=]?\s*[1-5IV]+[a-c]?|\bLE\s*[:=]?\s*[1-5]\b|"
    r"grade\s+[A-D]\b(?! *(?:adverse|toxicit|event))|evidence level\s+[1-5IV]+|\(\s*[IV]{1,3}\s*,\s*[A-E]\s*\))",
    re.IGNORECASE,
)


def heading_section(section_path: tuple[str, ...]) -> SectionName | None:
    """The answer section a corpus heading maps to, innermost heading first."""
    for heading in reversed(section_path):
        lowered = heading.lower()
        for name, keys in _HEADING_RULES:
            if any(key in lowered for key in keys):
                return name
    return None


def grade_of(sentence: str) -> str | None:
    """The category / level of evidence as the sentence states it ('category 2A', '[I, A]', 'LE:1')."""
    found = [m.group(0).strip() for m in _GRADE.finditer(sentence)]
    return "; ".join(dict.fromkeys(found)) if found else None


def assign_section(sentence: str, section_path: tuple[str, ...], kind: str) -> SectionName:
    """One section per sentence. Caveat wording wins, then the heading, then document kind + cues."""
    by_heading = heading_section(section_path)
    if CAVEAT_CUES.search(sentence) or by_heading == "caveats":
        return "caveats"
    if by_heading == "safety":
        return "safety"
    if kind == "guideline":
        if by_heading == "algorithm" or (LINE_CUES.search(sentence) and by_heading != "recommendation"):
            return "algorithm"
        if SAFETY_CUES.search(sentence) and not RECOMMEND_CUES.search(sentence):
            return "safety"
        return "recommendation"
    if kind == "label":
        if by_heading in ("recommendation", None) and not SAFETY_CUES.search(sentence):
            return "recommendation"
        if by_heading == "evidence" or RESULT_CUES.search(sentence) and not SAFETY_CUES.search(sentence):
            return "evidence"
        return "safety"
    if by_heading in ("evidence", "recommendation", "algorithm"):  # trial design and results: dosing stays here
        return "safety" if ADVERSE_CUES.search(sentence) and not RESULT_CUES.search(sentence) else "evidence"
    if SAFETY_CUES.search(sentence) and not RESULT_CUES.search(sentence):
        return "safety"
    return "evidence"


LINE_ORDER = [
    re.compile(p, re.IGNORECASE)
    for p in (r"first[- ]line|\b1L\b|frontline|newly diagnosed|locally advanced", r"second[- ]line|\b2L\b|after (?:progression|platinum|first)|previously treated|progress",
              r"third[- ]line|subsequent|later[- ]line|\b3L\b", r"CPS|MSI-H|dMMR|TMB-H|HER2|NTRK|RET|biomarker")
]


def line_rank(sentence: str) -> int:
    """Order of a sentence in the algorithm: first line, second line, later lines, biomarker-directed."""
    for rank, pattern in enumerate(LINE_ORDER):
        if pattern.search(sentence):
            return rank
    return len(LINE_ORDER)
