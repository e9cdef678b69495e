"""`rag eval answers`: run the answer composer on gold questions and score what it returns.

Per question (`score_answer`, a pure function of the gold question and the Answer):
- required facts: each regex of `required_facts` searched (case-insensitive) in the statements' text;
- bodies: each of `bodies` named by a statement (its `body` field or its text);
- abstention: did the engine decline, and should it have;
- citations: a fact statement's citation is valid when it cites at least one reference, every number
  it cites is in the answer's reference list, and (when the index is known) every cited passage id
  exists in the index under the same document;
- support: an independent lexical check, not the composer's own: every number in the statement occurs
  in its cited passages, and at least SUPPORT_OVERLAP of its content words (the BM25 tokenizer's
  stemmed, stop-word-free tokens) occur in them;
- section fill: how many of the five sections hold at least one fact statement;
- bottom line direct: the bottom line matches every `bottom` regex of the question and no
  `bottom_not` regex (answerable questions that have `bottom`);
- words: words of statements on the page (bottom line included), the page length a reader faces.

Aggregates are micro-averages over facts, bodies and statements; abstention precision and recall
take "abstained" as the positive class; latency percentiles are over warm calls (the composer is
created once, before timing).
"""

from __future__ import annotations

import datetime as dt
import re
import time
import unicodedata
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.answer.models import SECTION_ORDER, Answer
from rag.eval.gold import GoldQuestion

SUPPORT_OVERLAP = 0.6
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_MARKER = re.compile(r"\[\d+(?:\s*[,–-]\s*\d+)*\]")  # "[1]", "[1, 3]", "[2-4]" citation markers


class AnswerCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    expect: str
    abstained: bool
    latency: float | None = Field(default=None, description="Seconds for this question (warm).")
    error: str | None = Field(default=None, description="The composer raised instead of answering.")
    facts: int = 0
    facts_found: int = 0
    missing_facts: list[str] = Field(default_factory=list)
    bodies: int = 0
    bodies_named: int = 0
    missing_bodies: list[str] = Field(default_factory=list)
    statements: int = Field(default=0, description="Fact statements (gaps excluded).")
    validly_cited: int = 0
    supported: int = 0
    sections_filled: int = 0
    bottom_checked: bool = Field(default=False, description="The question has bottom regexes and was answered.")
    bottom_direct: bool = False
    bottom_line: str | None = None
    words: int = 0
    problems: list[str] = Field(default_factory=list)


class AnswerReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gold: str
    split: str
    index: str
    created: str
    questions: int
    fact_recall: float | None
    body_mention_rate: float | None
    abstention_precision: float | None
    abstention_recall: float | None
    valid_citation_rate: float | None
    supported_rate: float | None
    section_fill: float | None
    bottom_direct_rate: float | None = Field(default=None, description="Share of answered questions with `bottom` whose bottom line matches it.")
    words_p50: float | None = Field(default=None, description="Median words of statements per answered page.")
    words_p95: float | None = None
    latency_p50: float | None
    latency_p95: float | None
    startup_seconds: float | None = Field(default=None, description="Creating the composer (index and models loaded).")
    settings_hash: str | None = Field(default=None, description="Hash of the AnswerSettings the composer ran with.")
    counts: dict[str, str] = Field(default_factory=dict, description="What each rate is over, e.g. '41/52 facts'.")
    checks: list[AnswerCheck]


def _normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+", n) else n for n in _NUMBER.findall(text)}


def supports(statement: str, quotes: Sequence[str], tokenize: Callable[[str], list[str]]) -> bool:
    """Lexical support of `statement` by the passages it cites (see the module docstring)."""
    if not quotes:
        return False
    claim = _normalize(_MARKER.sub(" ", statement))
    evidence = _normalize("\n".join(quotes))
    if not _numbers(claim) <= _numbers(evidence):
        return False
    words = {t for t in tokenize(claim) if not _NUMBER.fullmatch(t)}
    if not words:
        return True
    return len(words & set(tokenize(evidence))) / len(words) >= SUPPORT_OVERLAP


def score_answer(
    question: GoldQuestion,
    answer: Answer | None,
    *,
    latency: float | None = None,
    error: str | None = None,
    known_passages: Mapping[str, str] | None = None,
    tokenize: Callable[[str], list[str]] | None = None,
) -> AnswerCheck:
    """Check one answer against its gold question. `known_passages` maps passage id -> doc id of the
    index the answer came from (None: citations are checked against the answer's own references only)."""
    if tokenize is None:
        from rag.tokenize import TokenizerSettings, make_tokenizer

        tokenize = make_tokenizer(TokenizerSettings())
    check = AnswerCheck(id=question.id, expect=question.expect, abstained=bool(answer and answer.abstained), latency=latency)
    problems: list[str] = []
    if answer is None:
        check.error = error or "no answer"
        problems.append(f"composer error: {check.error}")
    expects_answer = question.expect == "answer"
    text = _normalize(answer.fact_text()) if answer and not answer.abstained else ""
    if expects_answer:
        check.facts = len(question.required_facts)
        check.missing_facts = [p for p in question.required_facts if not re.search(p, text, re.IGNORECASE)]
        check.facts_found = check.facts - len(check.missing_facts)
        check.bodies = len(question.bodies)
        named = " \n".join(
            [text.lower()] + [(st.body or "").lower() for s in (answer.sections if answer else []) for st in s.statements]
        ) if answer and not answer.abstained else ""
        check.missing_bodies = [b for b in question.bodies if b.lower() not in named]
        check.bodies_named = check.bodies - len(check.missing_bodies)
    if answer is not None:
        if answer.abstained and expects_answer:
            problems.append("abstained; an answer was expected" + (f" ({answer.abstain_reason})" if answer.abstain_reason else ""))
        if not answer.abstained and not expects_answer:
            problems.append("answered; abstention was expected")
    if check.missing_facts and not check.abstained and answer is not None:
        problems.append("missing facts: " + ", ".join(check.missing_facts))
    if check.missing_bodies and not check.abstained and answer is not None:
        problems.append("bodies not named: " + ", ".join(check.missing_bodies))
    if answer is not None and not answer.abstained and expects_answer and (question.bottom or question.bottom_not):
        bottom = _normalize(answer.bottom_line.text) if answer.bottom_line else ""
        check.bottom_checked = True
        check.bottom_line = bottom
        missing = [p for p in question.bottom if not re.search(p, bottom, re.IGNORECASE)]
        wrong = [p for p in question.bottom_not if re.search(p, bottom, re.IGNORECASE)]
        check.bottom_direct = not missing and not wrong
        if missing:
            problems.append("bottom line misses: " + ", ".join(missing))
        if wrong:
            problems.append("bottom line leads with what it must not: " + ", ".join(wrong))
    if answer is not None and not answer.abstained:
        check.words = answer.words()
        references = {r.number: r for r in answer.references}
        filled = sum(section.name in SECTION_ORDER and any(st.kind == "fact" for st in section.statements) for section in answer.sections)
        for statement in answer.statements():
            if statement.kind != "fact":
                continue
            check.statements += 1
            cited = [references.get(n) for n in statement.citations]
            located = {loc.passage_id: (r.doc_id, loc.quote) for r in cited if r is not None for loc in r.locators}
            valid = bool(cited) and all(r is not None for r in cited) and all(p in located for p in statement.passages)
            if valid and known_passages is not None:
                valid = all(known_passages.get(p) == located[p][0] for p in (statement.passages or list(located)))
            check.validly_cited += valid
            quotes = [located[p][1] for p in statement.passages if p in located] or [q for _, q in located.values()]
            check.supported += supports(statement.text, quotes, tokenize)
        check.sections_filled = filled
        if check.statements == 0:
            problems.append("no fact statements")
        else:
            if check.validly_cited < check.statements:
                problems.append(f"{check.statements - check.validly_cited} of {check.statements} statements lack valid citations")
            if check.supported < check.statements:
                problems.append(f"{check.statements - check.supported} of {check.statements} statements unsupported by their cited passages")
    check.problems = problems
    return check


def _rate(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def summarize(
    checks: Sequence[AnswerCheck], *, gold: str, split: str, index: str, startup_seconds: float | None = None,
    settings_hash: str | None = None,
) -> AnswerReport:
    answered = [c for c in checks if c.error is None and not c.abstained]
    facts = sum(c.facts for c in checks)
    found = sum(c.facts_found for c in checks)
    bodies = sum(c.bodies for c in checks)
    named = sum(c.bodies_named for c in checks)
    abstained = [c for c in checks if c.abstained]
    should = [c for c in checks if c.expect == "abstain"]
    true_abstentions = sum(c.expect == "abstain" for c in abstained)
    statements = sum(c.statements for c in answered)
    cited = sum(c.validly_cited for c in answered)
    supported = sum(c.supported for c in answered)
    filled = sum(c.sections_filled for c in answered)
    slots = len(SECTION_ORDER) * len(answered)
    latencies = [c.latency for c in checks if c.latency is not None and c.error is None]
    bottoms = [c for c in checks if c.bottom_checked]
    direct = sum(c.bottom_direct for c in bottoms)
    words = [float(c.words) for c in answered]
    return AnswerReport(
        gold=gold,
        split=split,
        index=index,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        questions=len(checks),
        fact_recall=_rate(found, facts),
        body_mention_rate=_rate(named, bodies),
        abstention_precision=_rate(true_abstentions, len(abstained)),
        abstention_recall=_rate(true_abstentions, len(should)),
        valid_citation_rate=_rate(cited, statements),
        supported_rate=_rate(supported, statements),
        section_fill=_rate(filled, slots),
        bottom_direct_rate=_rate(direct, len(bottoms)),
        words_p50=_percentile(words, 50),
        words_p95=_percentile(words, 95),
        latency_p50=_percentile(latencies, 50),
        latency_p95=_percentile(latencies, 95),
        startup_seconds=startup_seconds,
        settings_hash=settings_hash,
        counts={
            "bottom_direct_rate": f"{direct}/{len(bottoms)} bottom lines",
            "words_p50": f"{len(words)} pages",
            "words_p95": f"{len(words)} pages",
            "fact_recall": f"{found}/{facts} facts",
            "body_mention_rate": f"{named}/{bodies} bodies",
            "abstention_precision": f"{true_abstentions}/{len(abstained)} abstentions",
            "abstention_recall": f"{true_abstentions}/{len(should)} expected",
            "valid_citation_rate": f"{cited}/{statements} statements",
            "supported_rate": f"{supported}/{statements} statements",
            "section_fill": f"{filled}/{slots} sections",
            "latency_p50": f"{len(latencies)} calls",
            "latency_p95": f"{len(latencies)} calls",
        },
        checks=list(checks),
    )


def _composer(index_root: Path, *, full: bool = False):  # -> (ask, settings hash)
    """A warm `rag ask`: one Asker, created before timing."""
    from rag.answer import Asker

    asker = Asker(index_root)
    return (lambda question: asker.ask(question, full=full)), asker.settings.config_hash()


def _known_passages(index_root: Path) -> Callable[[Collection[str]], Mapping[str, str]]:
    from rag.index.load import open_index

    store = open_index(index_root).store
    return lambda ids: {p.id: p.doc_id for p in store.by_ids(list(ids))}


def evaluate_answers(
    gold_path: Path,
    *,
    split: str | None,
    index_root: Path,
    composer: Callable[[str], Answer] | None = None,
    progress=None,
    full: bool = False,
) -> AnswerReport:
    """Ask every gold question of `split` and score the answers."""
    from rag.eval.gold import load_gold
    from rag.tokenize import TokenizerSettings, make_tokenizer

    questions = load_gold(gold_path, split=split)
    started = time.perf_counter()
    settings_hash = None
    if composer is not None:
        ask = composer
    else:
        ask, settings_hash = _composer(index_root, full=full)
    lookup = _known_passages(index_root)
    startup = time.perf_counter() - started
    tokenize = make_tokenizer(TokenizerSettings())
    if progress:
        progress.stage("asking", len(questions))
    checks: list[AnswerCheck] = []
    for question in questions:
        answer: Answer | None = None
        error: str | None = None
        begin = time.perf_counter()
        try:
            answer = ask(question.question)
        except Exception as exc:  # noqa: BLE001 - one failing question must not hide the others' scores
            error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        latency = time.perf_counter() - begin
        known = lookup([loc.passage_id for r in answer.references for loc in r.locators]) if answer else None
        checks.append(score_answer(question, answer, latency=latency, error=error, known_passages=known, tokenize=tokenize))
        if progress:
            progress.advance()
    return summarize(
        checks, gold=str(gold_path), split=split or "all", index=str(index_root), startup_seconds=round(startup, 3),
        settings_hash=settings_hash,
    )
