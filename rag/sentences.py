"""Sentence splitting that knows clinical abbreviations ("vs.", "et al.", "i.v.", "approx.").

A boundary is a '.', '!' or '?' (optionally followed by closing quotes/brackets) that is followed by
whitespace and then a character that can open a sentence. It is not a boundary when the word before
the period is a known abbreviation, a single letter (an initial, "J. Clin"), or a dotted acronym
("i.v.", "e.g."). Spans are returned with their offsets so that joined sentences reproduce the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

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
# A short bracketed note right after a sentence's end, before the next sentence or the end of the text:
# a guideline's rating ("(Weak for; Reviewed)", "[Quality of Evidence: High]", "(1|+++O)").
_TRAILING_NOTE = re.compile(r"\s*[(\[][^()\[\]\n]{1,80}[)\]]\.?(?=\s+[\"'“‘(\[]?[A-Z0-9•\-–]|\s*$)")
# The word before a period is looked for in this many characters before it: enough for every
# abbreviation (a longer word is never one), and it keeps the look-up O(1) instead of a scan from
# the start of the text, which made splitting quadratic (~25 s for 1 MB of one paragraph).
_LOOKBEHIND = 64


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period at text[end] closes an abbreviation rather than a sentence."""
    if text[end] != ".":
        return False
    match = _WORD_BEFORE.search(text, max(0, end - _LOOKBEHIND), end)
    if not match:
        return False
    word = match.group(1).lower().rstrip(".")
    if len(word) == 1:  # an initial: "J. Clin Oncol", "A. Oaknin"
        return True
    return word in ABBREVIATIONS or ("." in word and len(word) <= 8)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of the sentences of `text`; whitespace between sentences is not inside any span."""
    return list(iter_sentence_spans(text))


def iter_sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """`sentence_spans`, one at a time (linear in the length of `text`)."""
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.start() < start or _is_abbreviation(text, match.start()):
            continue
        end = match.end()
        trailing = _TRAILING_NOTE.match(text, end)
        if trailing:  # "… is recommended. (B recommendation)": the rating belongs to the sentence before it
            end = trailing.end()
        span = _strip_span(text, start, end)
        if span[0] < span[1]:
            yield span
        start = end
    span = _strip_span(text, start, len(text))
    if span[0] < span[1]:
        yield span


def _strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


# Whitespace other than a lone space: replacing only these leaves ordinary text uncopied (re.sub
# builds a list of every piece between matches, ~50 bytes each: 500 MB for a 50 MB one-line body).
_SPACES = re.compile(r"\s{2,}|[^\S ]")
_BLOCKS = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


def split_units(text: str) -> list[tuple[str, bool]]:
    """(sentence, starts a block) for each sentence of `text`: paragraphs and newline-separated list
    items are blocks, so "Status: Completed" and "Phase: 2" stay apart even without periods."""
    return list(iter_units(text))


def iter_units(text: str) -> Iterator[tuple[str, bool]]:
    """`split_units`, one at a time: memory holds one sentence, not a list of every sentence of a
    section (millions for a hostile 50 MB section)."""
    start = 0
    for match in _BLOCKS.finditer(text):
        yield from _block_units(text[start : match.start()])
        start = match.end()
    yield from _block_units(text[start:])


def _block_units(block: str) -> Iterator[tuple[str, bool]]:
    first = True
    for start, end in iter_sentence_spans(block):
        sentence = _SPACES.sub(" ", block[start:end])
        if sentence:
            yield sentence, first
            first = False


def split_sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped; newlines-separated list items count as sentences too."""
    return [sentence for sentence, _ in split_units(text)]
