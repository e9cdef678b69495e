"""Section-aware, sentence-aware chunking sized in the embedding model's own tokens.

A passage is a run of whole sentences from one section whose *indexed text* (title, section path
and body, see `indexed_text`) fits the model's maximum sequence length, so nothing is silently
truncated at embedding time. Sentences of one paragraph are joined by a space, paragraphs and list
items by a blank line, so a passage splits back into the same sentences. A single sentence too long for the budget is the only thing ever cut,
at clause boundaries ("; ", ", ") first, then between words.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from rag.models import Document, Passage
from rag.sentences import split_units

CHUNKER_VERSION = 2  # 2: paragraph and list-item breaks kept in passage text
SPECIAL_TOKENS = 2  # [CLS] … [SEP]


class TokenCounter(Protocol):
    def __call__(self, text: str) -> int:
        """Number of model tokens in `text`, special tokens excluded."""
        ...


class ChunkSettings(BaseModel):
    """Recorded in the index manifest; a change forces a rebuild."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int = Field(default=256, ge=16, description="Model max sequence length, special tokens included.")
    target_tokens: int = Field(default=120, ge=8, description="Close a passage once it reaches this size.")
    mode: Literal["sentences", "document"] = Field(
        default="sentences",
        description="sentences: passages of whole sentences that fit max_tokens; document: one passage per document "
        "(its sections joined), which the embedder truncates at its max length, as standard BEIR evaluation does.",
    )
    version: int = CHUNKER_VERSION


def indexed_text(title: str, section: Iterable[str], text: str) -> str:
    """What is embedded and BM25-indexed for a passage: its context line, then its text."""
    context = " > ".join([title, *section])
    return f"{context}\n{text}"


def passage_id(doc_id: str, section: tuple[str, ...], text: str) -> str:
    digest = hashlib.sha256("\x1f".join([doc_id, *section, text]).encode("utf-8")).hexdigest()
    return f"{doc_id}#{digest[:12]}"


def _split_long(sentence: str, fits: Callable[[str], bool]) -> list[str]:
    """Cut one over-long sentence into pieces that fit, preferring clause boundaries."""
    if fits(sentence):  # ends the halving below (a separator-free run would otherwise recurse forever)
        return [sentence]
    for separator in ("; ", ", ", " "):
        parts = sentence.split(separator)
        if len(parts) == 1:
            continue
        pieces: list[str] = []
        current = ""
        for part in parts:
            candidate = f"{current}{separator}{part}" if current else part
            if fits(candidate):
                current = candidate
                continue
            if current:
                pieces.append(current + (separator.rstrip() if separator != " " else ""))
            current = part
        if current:
            pieces.append(current)
        if all(fits(p) for p in pieces):
            return pieces
    # No separator gives small enough pieces: fall back to halving by characters (never observed in prose).
    half = len(sentence) // 2
    return _split_long(sentence[:half], fits) + _split_long(sentence[half:], fits)


def chunk_document(document: Document, count_tokens: TokenCounter, settings: ChunkSettings) -> list[Passage]:
    """Split every section of `document` into passages that fit `settings.max_tokens` (mode "sentences"),
    or make the whole document one passage (mode "document")."""
    if settings.mode == "document":
        return [_whole_document(document)]
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
    Each emitted passage is re-counted whole, so a tokenizer without that property is still never over."""
    limit = settings.max_tokens - SPECIAL_TOKENS
    budget = limit - count_tokens(indexed_text(title, path, ""))
    if budget < 16:
        raise ValueError(f"title and headings of {title!r} leave only {budget} tokens for passage text")

    def fits(piece: str) -> bool:
        return count_tokens(indexed_text(title, path, piece)) <= limit

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
    used = 0
    for sentence, new_block in split_units(text):
        pieces = [sentence] if fits(sentence) else _split_long(sentence, fits)
        for number, piece in enumerate(pieces):
            cost = count_tokens(piece) + (1 if new_block and current else 0)
            if current and used + cost > budget:
                yield from emit(current)
                current, used = [], 0
            current.append((piece, new_block and number == 0))
            used += cost
            if used >= settings.target_tokens:
                yield from emit(current)
                current, used = [], 0
    if current:
        yield from emit(current)
