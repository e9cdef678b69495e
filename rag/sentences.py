"""Sentence splitting that knows clinical abbreviations ("vs.", "et al.", "i.v.", "approx.").

A boundary is a '.', '!' or '?' (optionally followed by closing quotes/brackets) that is followed by
whitespace and then a character that can open a sentence. It is not a boundary when the word before
the period is a known abbreviation, a single letter (an initial, "J. Clin"), or a dotted acronym
("i.v.", "e.g."). Spans are returned with their offsets so that joined sentences reproduce the text.
"""

from __future__ import annotations

import re

ABBREVIATIONS: frozenset[str] = frozenset(
    """
    vs v al approx ca cf dr drs e.g i.e etc fig figs no nos vol pp pt pts min max mo mos yr yrs wk wks
    inc ltd co corp dept univ jr sr st mt prof incl excl resp ref refs eq est avg std sd
    i.v i.m s.c p.o b.i.d t.i.d q.d q.i.d p.r.n h.s a.m p.m u.s u.k e.u
    jan feb mar apr jun jul aug sep sept oct nov dec
    """.split()
)

_BOUNDARY = re.compile(r"[.!?][\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9•\-–])")
_WORD_BEFORE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z.]*)$")  # a whole word: "q3w." and "2L." end sentences


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period at text[end] closes an abbreviation rather than a sentence."""
    if text[end] != ".":
        return False
    match = _WORD_BEFORE.search(text, 0, end)
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    if len(word) == 1:  # an initial: "J. Clin Oncol", "A. Oaknin"
        return True
    return word in ABBREVIATIONS or ("." in word and len(word) <= 8)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`; whitespace between sentences is not inside any span."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        if _is_abbreviation(text, match.start()):
            continue
        end = match.end()
        if text[start:end].strip():
            spans.append((start, end))
        start = end
    if text[start:].strip():
        spans.append((start, len(text)))
    return [_strip_span(text, s, e) for s, e in spans]


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


_BLOCKS = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


def split_units(text: str) -> list[tuple[str, bool]]:
    """(sentence, starts a block) for each sentence of `text`: paragraphs and newline-separated list
    items are blocks, so "Status: Completed" and "Phase: 2" stay apart even without periods."""
    units: list[tuple[str, bool]] = []
    for block in _BLOCKS.split(text):
        for number, (start, end) in enumerate(sentence_spans(block)):
            sentence = " ".join(block[start:end].split())
            if sentence:
                units.append((sentence, number == 0))
    return units


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped; newlines-separated list items count as sentences too."""
    return [sentence for sentence, _ in split_units(text)]
