"""The evidence table: the studies a page cites, side by side — design, n, arms, endpoint, median,
hazard ratio (95% CI), p. Every cell is a short span copied verbatim from a passage the page cites
for that study; nothing is computed or reworded, and a cell that no cited passage states is None.

Pure: it reads the final references and statements of a page (`assemble()`'s output) and returns
rows. The patterns are field-independent (trial vocabulary, no drug or disease names)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.answer.models import EvidenceRow, Reference, Statement
from rag.answer.support import normalize
from rag.sentences import sentence_spans

STUDY_KINDS: frozenset[str] = frozenset({"trial", "abstract", "other"})  # never guideline, label, review
MAX_ROWS = 6
STUDY_NAME_CHARS = 60
CELLS = ("design", "n", "arms", "endpoint", "median", "hazard_ratio", "p_value")

_NUM = r"\d+(?:[.,·]\d+)?"
_DASH = r"(?:\s*[-–—‑]\s*|\s+to\s+|\s*,\s*)"
_CI = (
    rf"(?:\d\d(?:\.\d)?\s?(?:%|percent)\s*)?(?:CI|confidence intervals?)(?:\s*[\[(](?:\d\d\s?%\s*)?CI[\])])?"
    rf"\s*(?:[,:=]|of|was)?\s*(?:\(\s*{_NUM}{_DASH}{_NUM}\s*\)|{_NUM}{_DASH}{_NUM})"
)
_RANGE = rf"{_NUM}\s*[-–—‑]\s*{_NUM}"

# "hazard ratio 0.62; 95% CI 0.50–0.77", "hazard ratio for death, 0.69; 95% CI, 0.56 to 0.84",
# "HR 0.69 (95% CI 0.56-0.84)", "hazard ratios were 0.74 (95% CI 0.54–1.01)", "Hazard Ratio (HR) 0.69 (95% CI 0.56 to 0.84)"
_HR = re.compile(
    rf"(?:\b(?i:adjusted\s+)?(?i:hazard\s+ratios?)|\b(?:a)?HR\b)"
    rf"(?:(?!(?i:margin|threshold|bound|limit|boundary|up to|more than|less than|greater than|at least|below|above|exceed))[^\d.;]){{0,40}}?"
    rf"(?<![\d.])\d*\.\d+(?![\d%])"
    rf"(?:\s*[(\[]\s*{_CI}(?:\s*[)\]])?|\s*[;,]\s*{_CI}|(?:\s[^\d();.]{{0,60}}?)?\s*\(\s*{_CI}\s*\)|\s*\(\s*{_RANGE}\s*\)|,\s*{_RANGE}(?![\d.]))?"
)
# "two-sided P<0.001", "P = .003", "p-value 0.003", "p<0.0001"
_P = re.compile(
    r"(?:\b(?:two|one)-sided\s+)?(?<![\w-])[Pp](?:[- ](?:value|for\s+\w+))?\s*(?:[<>=≤≥]|&lt;|&gt;|,|:)?\s*[<>=≤≥]\s*0?\.\d+(?:\s*[x×]\s*10[-−‑]?\d+)?"
    r"|(?<![\w-])[Pp][- ]value\s*(?:of|was|[,:=])?\s*0?\.\d+"
)
_UNIT = r"(?:months?|mos?\.?|weeks?|wks?|years?|yrs?|days?)\b"
# "median overall survival was 12.0 months with cemiplimab versus 8.5 months with chemotherapy"
_VERSUS = rf"(?:\s+(?:with|in|for)\s+[^,;()]{{1,40}}?)?,?\s+(?:vs\.?|versus|compared with|and|or)\s+(?:(?!(?i:median))[^\d,;()]){{0,40}}?{_NUM}\s*{_UNIT}"
_MEDIAN = re.compile(
    rf"\b(?i:median)\b(?P<what>[^.;]{{0,80}}?)(?P<cell>(?<![\d.])"
    rf"(?:{_NUM}\s*{_UNIT}(?:\s*\([^()]*\))?(?:{_VERSUS})?|{_NUM}(?:\s*\([^()]*\))?{_VERSUS})"
    rf"(?:\s+(?:with|in|for)\s+[^\d,;()]{{1,40}}?(?=\s*[(,;]|\.?$))?)"
)
_NOT_OUTCOME = re.compile(r"(?i)follow|\bage\b|aged|treatment duration|duration of (?:treatment|therapy|exposure)|number of|cycles|dose")
_ENDPOINT = re.compile(
    r"(?i:\b(?:overall|progression[- ]free|disease[- ]free|event[- ]free|relapse[- ]free|recurrence[- ]free|"
    r"metastasis[- ]free|failure[- ]free|[a-z]+-specific)\s+survival\b|\btime to (?:progression|treatment failure|recurrence|death|relapse)\b|"
    r"\b(?:objective|overall|complete|partial)\s+response(?:\s+rate)?\b|\bduration of response\b|\bmortality\b|\bdeath\b)"
    r"|\b(?:OS|PFS|DFS|EFS|RFS|MFS|TTP|ORR|DoR|DOR)\b"
)
_DESIGN_CORE = (
    r"phase\s*(?:[1-4]|I{1,3}V?|IV)(?:\s*[/-]\s*(?:[1-4]|I{1,3}V?|IV))?[ab]?\b|randomi[sz]ed|non-?randomi[sz]ed|"
    r"double-blind(?:ed)?|single-blind(?:ed)?|open-label|single-arm|placebo-controlled|retrospective|prospective|"
    r"observational|pooled|cross-over|crossover|cluster-randomi[sz]ed|non-?inferiority|basket|umbrella|post[- ]hoc"
)
_DESIGN_WORD = rf"(?:{_DESIGN_CORE}|multi-?cent(?:er|re)|single-cent(?:er|re)|international|controlled|parallel-group|comparative|multinational)"
_DESIGN = re.compile(rf"(?i)\b{_DESIGN_WORD}(?:(?:,\s?|\s|\s(?:and|or)\s){_DESIGN_WORD})*")
_DESIGN_CORE_RE = re.compile(rf"(?i)\b(?:{_DESIGN_CORE})")
_STUDY_NOUN = re.compile(r"(?i)^\s*(?:[\w-]+\s+){0,3}?(?:trial|study|analysis|cohort|registry|programme|program)s?\b")
_PEOPLE = r"(?:patients|participants|subjects|women|men|adults|children|adolescents|infants|people|individuals|persons|volunteers|pts)"
_COUNT = r"(?<![\w.,-])(?:\d{1,3}(?:,\d{3})+|\d+)(?![\d.,]\d)"
_N = re.compile(
    rf"\b(?i:randomi[sz]ed|randomly assigned|randomly allocated|enrolled|enrolling|recruited|included|assigned|treated|analy[sz]ed)"
    rf"(?:\s+(?i:a total of))?\s+{_COUNT}\s+(?:[\w-]+\s+){{0,3}}?{_PEOPLE}\b"
    rf"|(?i:a total of\s+)?{_COUNT}\s+(?:[\w-]+\s+){{0,3}}?{_PEOPLE}\s+(?:were|was|had been)\s+"
    rf"(?i:randomi[sz]ed|randomly assigned|randomly allocated|enrolled|recruited|included|assigned|treated)"
    r"|\bEnrollment:\s*\d[\d,]*(?:\s*\((?:Actual|Anticipated|Estimated)\))?"
)
_ARM_PART = r"(?:[^,;.()\n]|\.(?=\d))"
_ARM = rf"(?!(?:a|an|the)\s)(?!\d)(?:(?!\s(?:of|with)\s){_ARM_PART}){{3,80}}?"
_ARM_END = rf"(?!\d)(?:{_ARM_PART}){{2,80}}?(?<![\d%])"
_ARMS = re.compile(
    rf"(?:\b(?:of|comparing|compared|with)\s+(?P<cell>{_ARM}\s(?:versus|vs\.?|with or without)\s{_ARM_END})"
    rf"|\b(?:randomi[sz]ed|randomly assigned|assigned|allocated)(?:\s+\d+:\d+)?\s+to\s+(?:receive\s+)?(?P<randomized>{_ARM}\s(?:versus|vs\.?|or)\s{_ARM_END}))"
    rf"(?=\s+(?:in|among|for|as|with|every|at|after|on|until)\s|\s*[,;.(]|$)"
    r"|\bInterventions:\s*(?P<listed>[^\n]{3,160})(?=\n|$)"
)
_BLOCK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)|\n(?=[A-Z][\w ]{1,30}:\s)")

# a trial acronym in a title: KEYNOTE-826, EMPOWER-Cervical 1, GOG 240, CheckMate 358, innovaTV 301, JCOG0505, BEATcc
_ACRONYM = re.compile(
    r"(?<![\w-])(?:"
    r"(?:[A-Z]{3,}[a-z]*|[a-z]+[A-Z]{2,}[a-z]*|[A-Z][a-z]+[A-Z][A-Za-z]*)(?:-[A-Z0-9][A-Za-z0-9]*)+(?:\s\d+[A-Za-z]?\b)?"
    r"|(?:[A-Z]{3,}|[a-z]+[A-Z]{2,}|[A-Z][a-z]+[A-Z][A-Za-z]*)[\s-]?(?!(?:19|20)\d\d\b)\d+[A-Za-z]?\b"
    r"|[A-Z]{3,}[a-z]{1,3}\b"
    r")(?!-[a-z])"
)


@dataclass(frozen=True)
class _Sentence:
    passage_id: str
    quote: str
    start: int
    end: int

    @property
    def text(self) -> str:
        return self.quote[self.start : self.end]


def study_name(title: str, *, limit: int = STUDY_NAME_CHARS) -> str:
    """A trial acronym from the title ('KEYNOTE-826', 'EMPOWER-Cervical 1'), else the title cut short."""
    match = _ACRONYM.search(title)
    if match:
        return match.group(0).strip()
    head = title.split(":")[0].strip() or title
    if len(head) <= limit:
        return head
    cut = head[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;(")
    return cut + "…"


def evidence_table(statements: Iterable[Statement], references: Sequence[Reference], *, max_rows: int = MAX_ROWS) -> list[EvidenceRow]:
    """One row per study reference the statements cite (reference order, at most `max_rows`), cells
    read from its cited passages: first the sentences the statements quote, then the rest of those
    passages. A study none of whose cells is found gets no row."""
    statements = list(statements)
    cited = {n for st in statements for n in st.citations}
    rows: list[EvidenceRow] = []
    for reference in references:
        if len(rows) >= max_rows:
            break
        if reference.kind not in STUDY_KINDS or reference.number not in cited:
            continue
        quoted = [normalize(st.text) for st in statements if reference.number in st.citations and st.kind == "fact"]
        row = study_row(reference, quoted)
        if row is not None:
            rows.append(row)
    return rows


def study_row(reference: Reference, quoted: Sequence[str] = ()) -> EvidenceRow | None:
    """The row of one study; `quoted` are the (normalised) statement texts that cite it, read first."""
    sentences = _ordered_sentences(reference, quoted)
    cells: dict[str, _Sentence | None] = {}
    values: dict[str, str | None] = dict.fromkeys(CELLS)

    def take(name: str, sentence: _Sentence, span: tuple[int, int]) -> None:
        values[name] = sentence.quote[sentence.start + span[0] : sentence.start + span[1]].strip()
        cells[name] = sentence

    result = next((s for s in sentences if _HR.search(s.text)), None) or next((s for s in sentences if _median(s.text)), None)
    if result is not None:
        text = result.text
        hr = _HR.search(text)
        if hr:
            take("hazard_ratio", result, hr.span())
        median = _median(text)
        if median:
            take("median", result, median)
        p = _P.search(text, hr.end() if hr else 0) or _P.search(text)
        if p:
            take("p_value", result, p.span())
        endpoint = _endpoint(text, hr.start() if hr else (median[0] if median else len(text)))
        if endpoint:
            take("endpoint", result, endpoint)
            if values["median"] is None:  # the median of the same endpoint, from another sentence
                name = normalize(values["endpoint"] or "")
                for sentence in sentences:
                    found = _median(sentence.text)
                    if found and name in normalize(sentence.text):
                        take("median", sentence, found)
                        break
    for name, find in (("design", _design), ("n", _n), ("arms", _arms)):
        for sentence in sentences:
            span = find(sentence.text)
            if span:
                take(name, sentence, span)
                break
    if all(v is None for v in values.values()):
        return None
    used = {s.passage_id for s in cells.values() if s is not None}
    passages = [loc.passage_id for loc in reference.locators if loc.passage_id in used]  # in the reference's order
    return EvidenceRow(reference=reference.number, study=study_name(reference.title), passages=passages, **values)


def _ordered_sentences(reference: Reference, quoted: Sequence[str]) -> list[_Sentence]:
    """The sentences of the cited passages: those a statement quotes first (in statement order), then the others."""
    sentences = [
        _Sentence(loc.passage_id, loc.quote, block_start + s, block_start + e)
        for loc in reference.locators
        for block_start, block in _blocks(loc.quote)
        for s, e in sentence_spans(block)
    ]
    normalized = [normalize(s.text) for s in sentences]
    first: list[int] = []
    for text in quoted:
        core = text.rstrip(" .")
        for i, sentence in enumerate(normalized):
            if i not in first and core and (core in sentence or sentence.rstrip(" .") in text):
                first.append(i)
    return [sentences[i] for i in first] + [s for i, s in enumerate(sentences) if i not in first]


def _blocks(text: str) -> list[tuple[int, str]]:
    """(offset, block) for the paragraphs and list items of a passage, so 'Phase: 3' lines stay apart."""
    out, start = [], 0
    for match in _BLOCK.finditer(text):
        out.append((start, text[start : match.start()]))
        start = match.end()
    out.append((start, text[start:]))
    return [(s, b) for s, b in out if b.strip()]


def _median(text: str) -> tuple[int, int] | None:
    for match in _MEDIAN.finditer(text):
        if not _NOT_OUTCOME.search(match.group("what")):
            return match.span("cell")
    return None


def _endpoint(text: str, before: int) -> tuple[int, int] | None:
    """The endpoint named nearest before `before` (the HR or median), else the first one after it."""
    found = list(_ENDPOINT.finditer(text))
    ahead = [m for m in found if m.start() < before]
    match = ahead[-1] if ahead else (found[0] if found else None)
    if match and match.group(0).lower() == "death" and len(ahead) > 1:  # "overall survival ... (hazard ratio for death"
        match = ahead[-2]
    return match.span() if match else None


def _design(text: str) -> tuple[int, int] | None:
    best = None
    for match in _DESIGN.finditer(text):
        if not _DESIGN_CORE_RE.search(match.group(0)):
            continue
        followed = text[match.end() :]
        if re.match(r"\s*\d", followed):  # "randomized 617 patients" is a verb
            continue
        if re.search(r"(?i)phase", match.group(0)) or _STUDY_NOUN.match(followed) or text[: match.start()].rstrip().endswith(":"):
            return match.span()
        best = best or match.span()
    return best


def _n(text: str) -> tuple[int, int] | None:
    match = _N.search(text)
    return match.span() if match else None


def _arms(text: str) -> tuple[int, int] | None:
    match = _ARMS.search(text)
    if not match:
        return None
    for group in ("cell", "randomized", "listed"):
        if match.group(group):
            return match.span(group)
    return None
