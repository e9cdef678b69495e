"""Section-aware, sentence-aware chunking sized in the embedding model's own tokens.

A passage is a run of whole sentences from one section whose *indexed text* (title, section path
and body, see `indexed_text`) fits the model's maximum sequence length, so nothing is silently
truncated at embedding time. Sentences of one paragraph are joined by a space, paragraphs and list
items by a blank line, so a passage splits back into the same sentences. A single sentence too long for the budget is the only thing ever cut,
at clause boundaries ("; ", ", ") first, then between words, then between characters (a run with no
space). Cost is linear in the text: no piece longer than `MAX_CHARS_PER_TOKEN` characters per token of
budget is ever handed to the tokenizer or kept as a passage, and a giant sentence is cut into windows
before it is split.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from rag.models import Document, Passage
from rag.sentences import iter_units

CHUNKER_VERSION = 4  # 2: paragraph and list-item breaks kept in passage text; 3: clause cuts fit with their mark, linear cutting;
# 4: a bracketed note after a sentence's end (a guideline's rating) stays with that sentence
SPECIAL_TOKENS = 2  # [CLS] … [SEP]
# Longest passage, in characters per model token of budget: prose runs at ~4-6 characters a token,
# so only runs a tokenizer collapses (a 100-letter "word" is one [UNK]) or drops (control characters)
# come near it. 254 tokens -> 4,064 characters. A longer piece is cut before it is ever tokenized.
MAX_CHARS_PER_TOKEN = 16
# A sentence longer than this many passage lengths is cut into windows of that size before it is
# split (16,256 characters for 254 tokens; the longest real sentence seen, a trial's adverse event
# list, is 6,520), so no list of words or clauses of a whole giant sentence is ever built.
WINDOW_PASSAGES = 4


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int:
        """Number of model tokens in `text`, special tokens excluded."""
        ...


class ChunkSettings(BaseModel):
    """Recorded in the index manifest; a change forces a rebuild."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(default=256, ge=16, description="Model max sequence length, special tokens included.")
    target_tokens: int = Field(default=120, ge=8, description="Close a passage once it reaches this size.")
    mode: Literal["sentences", "document", "windows"] = Field(
        default="sentences",
        description="sentences: passages of whole sentences that fit max_tokens; document: one passage per document "
        "(its sections joined), which the embedder truncates at its max length, as standard BEIR evaluation does; "
        "windows: the document mode's text as overlapping windows of whole words that each fit max_tokens, for "
        "max-passage scoring (a document that fits is its one document-mode passage).",
    )
    window_tokens: int | None = Field(
        default=None, ge=1,
        description="windows only: model tokens of text per window (title excluded); None: as many as fit max_tokens "
        "beside the title.",
    )
    window_stride: int = Field(
        default=128, ge=1,
        description="windows only: model tokens from one window's start to the next one's. Below the window size the "
        "windows overlap (128 of the ~230 a MiniLM window holds beside a title: about half, as in Dai & Callan's MaxP); "
        "a stride above it is cut to the window size, so windows never leave a gap.",
    )
    version: int = CHUNKER_VERSION

    @model_serializer(mode="wrap")
    def _window_fields_only_for_windows(self, handler: SerializerFunctionWrapHandler) -> dict:
        """The window settings are recorded (manifest, eval cache key) only in windows mode, so the
        record of a sentences or document index is what it was before windows existed."""
        data = handler(self)
        if self.mode != "windows":
            data.pop("window_tokens", None)
            data.pop("window_stride", None)
        return data


def indexed_text(title: str, section: Iterable[str], text: str) -> str:
    """What is embedded and BM25-indexed for a passage: its context line, then its text."""
    context = " > ".join([title, *section])
    return f"{context}\n{text}"


def passage_id(doc_id: str, section: tuple[str, ...], text: str) -> str:
    digest = hashlib.sha256("\x1f".join([doc_id, *section, text]).encode("utf-8")).hexdigest()
    return f"{doc_id}#{digest[:12]}"


def _split_long(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut one over-long sentence into pieces that fit, preferring clause boundaries ("; " then ", "),
    then words, then characters (a run with no space at all)."""
    if fits(sentence):
        return [sentence]
    for separator in ("; ", ", ", " "):
        parts = sentence.split(separator)
        if len(parts) > 1:
            pieces = _pack(parts, separator, fits)
            if pieces is not None:
                return pieces
    return _cut_characters(sentence, fits)


def _longest(count: int, fits_first: Callable[[int], bool], guess: int = 1) -> int:
    """The largest k in 1..count with fits_first(k), assuming fitting is monotone (a longer prefix
    never fits when a shorter one does not); 0 when even k=1 does not fit. Gallops from `guess` (the
    size of the previous piece: consecutive pieces are alike) then bisects: O(log |k - guess|) calls,
    each on text about the size of one piece, so cutting a long run stays linear."""
    guess = min(max(guess, 1), count)
    if fits_first(guess):
        good, step = guess, 1
        while good < count:
            probe = min(count, good + step)
            if not fits_first(probe):
                return _bisect(good, probe, fits_first)
            good, step = probe, step * 2
        return good
    bad, step = guess, 1
    while bad > 1:
        probe = max(1, bad - step)
        if fits_first(probe):
            return _bisect(probe, bad, fits_first)
        bad, step = probe, step * 2
    return 0


def _bisect(good: int, bad: int, fits_first: Callable[[int], bool]) -> int:
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits_first(middle) else (good, middle)
    return good


def _pack(parts: list[str], separator: str, fits: Callable[[str], bool]) -> list[str] | None:
    """Greedy runs of `parts` re-joined by `separator`; a run that is not the last keeps the
    separator's mark ("a; b;"). None when one part alone does not fit."""
    mark = separator.rstrip()
    pieces: list[str] = []
    start = taken = 0

    def piece(first: int, count: int) -> str:
        end = first + count
        return separator.join(parts[first:end]) + (mark if end < len(parts) else "")

    while start < len(parts):
        taken = _longest(len(parts) - start, lambda count, first=start: fits(piece(first, count)), taken)
        if taken == 0:
            return None
        pieces.append(piece(start, taken))
        start += taken
    return pieces


def _cut_characters(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Pieces of a run without separators ('-----...', one giant 'word'): greedy character prefixes."""
    pieces: list[str] = []
    start = taken = 0
    while start < len(text):
        taken = max(1, _longest(len(text) - start, lambda count, first=start: fits(text[first : first + count]), taken))
        pieces.append(text[start : start + taken])
        start += taken
    return pieces


def _windows(sentence: str, max_chars: int) -> Iterator[str]:
    """`sentence` in pieces of at most `max_chars` characters, each cut at the last "; ", ", " or space
    of its second half when there is one, else mid-word. Bounds what `_split_long` splits at once (a
    50 MB one-line body would otherwise become a list of millions of words)."""
    start = 0
    while len(sentence) - start > max_chars:
        end = start + max_chars
        cut, skip = next(
            ((at, len(separator)) for separator in ("; ", ", ", " ") if (at := sentence.rfind(separator, start + max_chars // 2, end)) > 0),
            (end, 0),
        )
        mark = sentence[cut : cut + skip].rstrip()
        yield sentence[start:cut] + mark
        start = cut + skip
    if start < len(sentence):
        yield sentence[start:]


def chunk_document(document: Document, count_tokens: TokenCounter, settings: ChunkSettings) -> list[Passage]:
    """Split every section of `document` into passages that fit `settings.max_tokens` (mode "sentences"),
    make the whole document one passage (mode "document"), or cut that passage's text into overlapping
    windows (mode "windows", see `document_windows`)."""
    if settings.mode == "document":
        return [_whole_document(document)]
    if settings.mode == "windows":
        return document_windows(document, count_tokens, settings)
    passages: list[Passage] = []
    for section in document.sections:
        for text in _chunk_texts(document.title, section.path, section.text, count_tokens, settings):
            passages.append(
                Passage(
                    id=passage_id(document.id, section.path, text),
                    doc_id=document.id,
                    section=section.path,
                    text=text,
                    ordinal=len(passages),
                    page=section.page,
                )
            )
    return _dedupe_ids(passages)


def _whole_document(document: Document) -> Passage:
    text = "\n\n".join(s.text for s in document.sections if s.text.strip())
    page = document.sections[0].page if document.sections else None
    return Passage(id=passage_id(document.id, (), text), doc_id=document.id, section=(), text=text, ordinal=0, page=page)


def _dedupe_ids(passages: list[Passage]) -> list[Passage]:
    """Identical text twice in one section would share an id: suffix repeats so ids stay unique."""
    seen: dict[str, int] = {}
    out: list[Passage] = []
    for passage in passages:
        count = seen.get(passage.id, 0)
        seen[passage.id] = count + 1
        out.append(passage if count == 0 else passage.model_copy(update={"id": f"{passage.id}-{count}"}))
    return out


def _chunk_texts(
    title: str, path: tuple[str, ...], text: str, count_tokens: TokenCounter, settings: ChunkSettings
) -> Iterator[str]:
    """Greedy packing of whole sentences. `count_tokens` counts without special tokens; WordPiece-style
    tokenizers pre-split on whitespace, so the count of space-joined sentences is the sum of their counts.
    Each emitted passage is re-counted whole, so a tokenizer without that property is still never over.

    Linear in the length of `text`: sentences are read one at a time, a giant sentence is cut into
    windows first, the tokenizer never sees a piece over `max_chars` characters, and a passage closes
    at `max_chars` characters even if its tokens are few (runs the tokenizer collapses or drops)."""
    limit = settings.max_tokens - SPECIAL_TOKENS
    max_chars = limit * MAX_CHARS_PER_TOKEN
    context = indexed_text(title, path, "")
    if len(context) > max_chars:
        raise ValueError(f"title and headings of {title[:80]!r} are {len(context):,} characters: they leave no room for passage text")
    budget = limit - count_tokens(context)
    if budget < 16:
        raise ValueError(f"title and headings of {title!r} leave only {budget} tokens for passage text")

    def fits(piece: str) -> bool:
        return len(piece) <= max_chars and count_tokens(indexed_text(title, path, piece)) <= limit

    def join(group: list[tuple[str, bool]]) -> str:
        return "".join(("\n\n" if new_block else " ") + piece if i else piece for i, (piece, new_block) in enumerate(group))

    def emit(group: list[tuple[str, bool]]) -> Iterator[str]:
        joined = join(group)
        if len(group) == 1 or fits(joined):
            yield joined
        else:  # the additive estimate was off for this tokenizer: split the group in two
            middle = len(group) // 2
            yield from emit(group[:middle])
            yield from emit(group[middle:])

    current: list[tuple[str, bool]] = []
    used = chars = 0
    for sentence, new_block in iter_units(text):
        windows = _windows(sentence, max_chars * WINDOW_PASSAGES)
        pieces = (piece for window in windows for piece in _split_long(window, fits))
        for number, piece in enumerate(pieces):
            cost = count_tokens(piece) + (1 if new_block and current else 0)
            if current and (used + cost > budget or chars + len(piece) + 2 > max_chars):
                yield from emit(current)
                current, used, chars = [], 0, 0
            current.append((piece, new_block and number == 0))
            used += cost
            chars += len(piece) + 2
            if used >= settings.target_tokens:
                yield from emit(current)
                current, used, chars = [], 0, 0
    if current:
        yield from emit(current)


_WORD = re.compile(r"\S+")


def document_windows(document: Document, count_tokens: TokenCounter, settings: ChunkSettings) -> list[Passage]:
    """The document-mode text of `document` as overlapping windows, for max-passage scoring.

    Each window is a run of whole words (the exact text between its first and last word) whose indexed
    text fits `max_tokens`; it holds `window_tokens` model tokens (default: all that fit beside the
    title), and the next window starts `window_stride` tokens later (at the first word past that
    point, never past the window's end). The first window starts at the first word and the last ends
    at the last word, so every word is in at least one window. A document that fits in one window is
    exactly its document-mode passage (same id, same text), so its embedding is shared with a
    document-mode index. A word too long for a window on its own is cut as the sentence chunker cuts
    one (between characters). Counting is per word (WordPiece tokenizers pre-split on whitespace) and
    each window is re-counted whole, as `_chunk_texts` does."""
    whole = _whole_document(document)
    body = whole.text
    limit = settings.max_tokens - SPECIAL_TOKENS
    max_chars = limit * MAX_CHARS_PER_TOKEN
    context = indexed_text(document.title, (), "")
    if len(context) > max_chars:
        raise ValueError(f"title of {document.title[:80]!r} is {len(context):,} characters: it leaves no room for passage text")
    budget = limit - count_tokens(context)
    if budget < 16:
        raise ValueError(f"title of {document.title!r} leaves only {budget} tokens for passage text")
    size = budget if settings.window_tokens is None else min(settings.window_tokens, budget)
    stride = min(settings.window_stride, size)

    def fits(piece: str) -> bool:
        return len(piece) <= max_chars and count_tokens(indexed_text(document.title, (), piece)) <= limit

    if len(body) <= max_chars and count_tokens(body) <= size and fits(body):
        return [whole]
    units = list(_word_units(body, count_tokens, size, max_chars))
    starts = [start for start, _, _ in units]
    ends = [end for _, end, _ in units]
    before = [0]  # before[i]: tokens of units[:i]
    for _, _, tokens in units:
        before.append(before[-1] + tokens)
    texts: list[str] = []
    first = 0
    while True:
        by_tokens = bisect_right(before, before[first] + size) - 1
        by_chars = bisect_right(ends, starts[first] + max_chars)
        last = max(first + 1, min(by_tokens, by_chars))  # one past the window's last unit
        while last - first > 1 and not fits(body[starts[first] : ends[last - 1]]):  # a tokenizer that is not additive
            last -= 1
        texts.append(body[starts[first] : ends[last - 1]])
        if last == len(units):
            break
        first = min(last, max(first + 1, bisect_left(before, before[first] + stride)))
    passages = [
        Passage(id=passage_id(document.id, (), text), doc_id=document.id, section=(), text=text, ordinal=number, page=whole.page)
        for number, text in enumerate(texts)
    ]
    return _dedupe_ids(passages)


def _word_units(body: str, count_tokens: TokenCounter, size: int, max_chars: int) -> Iterator[tuple[int, int, int]]:
    """(start, end, tokens) of each word of `body`; a word of more than `size` tokens or `max_chars`
    characters comes as consecutive pieces that fit (cut between characters, as `_split_long` cuts a
    run with no space)."""
    counts: dict[str, int] = {}  # words repeat: each distinct one is counted once

    def fits_alone(piece: str) -> bool:
        return len(piece) <= max_chars and count_tokens(piece) <= size

    for match in _WORD.finditer(body):
        word, at = match.group(), match.start()
        if len(word) <= max_chars:
            tokens = counts.get(word)
            if tokens is None:
                tokens = counts[word] = count_tokens(word)
            if tokens <= size:
                yield at, match.end(), tokens
                continue
        for window in _windows(word, max_chars * WINDOW_PASSAGES):  # no separator in a word: pieces join back exactly
            for piece in _cut_characters(window, fits_alone):
                yield at, at + len(piece), count_tokens(piece)
                at += len(piece)
