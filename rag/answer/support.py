"""The support check every answer passes through: a `fact` statement stays only if the passages it
cites support it — its text is (lightly normalised) extracted from one cited passage, and every
number in it appears in that passage. Citations to unknown references are removed first."""

from __future__ import annotations

import re
import unicodedata

from rag.answer.models import Reference, Statement

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[a-z0-9]+(?:[.,'][a-z0-9]+)*")
MIN_TOKEN_SUPPORT = 0.9  # share of a statement's words that must appear in one cited passage


def normalize(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("–", "-").replace("‑", "-").replace("—", "-").replace("’", "'").replace("“", '"').replace("”", '"')
    return " ".join(text.lower().split())


def numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(normalize(text))}


def supported_by(text: str, quote: str) -> bool:
    """True when `quote` supports `text`: extractive (substring after normalisation) or nearly so
    (>= 90% of words present), and no number in `text` is missing from `quote`."""
    statement, passage = normalize(text), normalize(quote)
    if not statement.strip(" .;:"):
        return False
    if not numbers(statement) <= numbers(passage):
        return False
    if statement.rstrip(".") in passage:
        return True
    words = _WORD.findall(statement)
    if not words:
        return False
    passage_words = set(_WORD.findall(passage))
    return sum(w in passage_words for w in words) / len(words) >= MIN_TOKEN_SUPPORT


def verify(statement: Statement, references: dict[int, Reference]) -> Statement | None:
    """The statement with only valid citations, or None when it must be dropped. A fact must be
    supported by one passage it cites (`passages`; all passages of its cited references when it names
    none), or by the passages it names read in order (a lead-in and the list items after it)."""
    if statement.kind == "gap":
        return statement.model_copy(update={"citations": [], "passages": []})
    citations = [n for n in dict.fromkeys(statement.citations) if n in references]
    if not citations:
        return None
    located = {loc.passage_id: loc.quote for n in citations for loc in references[n].locators}
    wanted = [p for p in dict.fromkeys(statement.passages) if p in located] or list(located)
    supporting = [p for p in wanted if supported_by(statement.text, located[p])]
    named = [p for p in dict.fromkeys(statement.passages) if p in located]
    if not supporting and len(named) > 1 and supported_by(statement.text, "\n".join(located[p] for p in named)):
        supporting = named  # a lead-in and its list items, each kept as a passage by the source: supported together
    if not supporting:
        return None
    cited = [n for n in citations if any(loc.passage_id in supporting for loc in references[n].locators)]
    return statement.model_copy(update={"citations": cited, "passages": supporting})
