"""Chunking properties, measured with the model's real tokenizer (special tokens included) on the
text that is actually embedded (`rag.chunking.indexed_text`)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from rag.chunking import ChunkSettings, chunk_document, indexed_text, passage_id
from rag.models import Document, Passage, Section
from rag.sentences import split_sentences

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

# Words with the shapes clinical text has: abbreviations with inner periods, hyphenated drug names,
# comparators, doses, numbers, unicode. Sentences built from them never contain a boundary inside.
WORDS = [
    "patients", "received", "cemiplimab", "pembrolizumab", "fam-trastuzumab", "deruxtecan-nxki", "vs.", "et al.",
    "i.v.", "q3w", "PD-L1", "CPS", "≥1", "0.69", "350", "mg", "mg/kg", "r/m", "2L", "e.g.", "overall", "survival",
    "hazard", "ratio", "(95% CI 0.56-0.84)", "tisotumab", "vedotin", "Guillain-Barré", "μg", "was", "improved",
]
sentence_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=30).map(lambda ws: " ".join(["Then", *ws, "done."]))
section_st = st.tuples(
    st.lists(st.sampled_from(["Efficacy", "Safety", "Overall survival", "Dosing q3w", "PD-L1 subgroups"]), max_size=2).map(tuple),
    st.lists(sentence_st, min_size=1, max_size=25),
)
title_st = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)
# Two budgets: the model's own (256 tokens) and a tight one that forces many passages and cut sentences.
settings_st = st.sampled_from([ChunkSettings(), ChunkSettings(max_tokens=48, target_tokens=24)])


def _document(title: str, sections: list[tuple[tuple[str, ...], list[str]]]) -> Document:
    return Document(
        id="doc-1",
        title=title,
        sections=[Section(path=path, text=" ".join(sentences)) for path, sentences in sections],
    )


def _model_tokens(hf_tokenizer, passage: Passage, title: str) -> int:
    return len(hf_tokenizer.encode(indexed_text(title, passage.section, passage.text), add_special_tokens=True).ids)


def _normalised(text: str) -> str:
    return " ".join(text.split())


@SETTINGS
@given(title=title_st, sections=st.lists(section_st, min_size=1, max_size=4), chunking=settings_st)
def test_no_passage_exceeds_the_model_length_and_text_is_covered(
    title: str, sections, chunking: ChunkSettings, count_tokens: Callable[[str], int], hf_tokenizer
) -> None:
    document = _document(title, sections)
    passages = chunk_document(document, count_tokens, chunking)
    for passage in passages:
        assert _model_tokens(hf_tokenizer, passage, title) <= chunking.max_tokens
    # Joined passages reproduce the whole document text (whitespace-normalised), in order.
    assert " ".join(p.text for p in passages) == " ".join(_normalised(s.text) for s in document.sections)
    assert [p.ordinal for p in passages] == list(range(len(passages)))
    assert len({p.id for p in passages}) == len(passages)


@SETTINGS
@given(title=title_st, sections=st.lists(section_st, min_size=1, max_size=3))
def test_never_cuts_inside_a_sentence_that_fits(title: str, sections, count_tokens, max_seq_length: int) -> None:
    """With the model's budget every generated sentence fits, so each passage is a run of whole
    sentences of one section: walking the sentences in order consumes each passage exactly."""
    chunking = ChunkSettings(max_tokens=max_seq_length)
    document = _document(title, sections)
    passages = chunk_document(document, count_tokens, chunking)
    queue = [(path, sentence) for path, sentences in sections for sentence in sentences]
    for passage in passages:
        taken: list[str] = []
        while queue and " ".join(taken) != passage.text:
            path, sentence = queue.pop(0)
            assert path == passage.section, "a passage never spans two sections"
            taken.append(sentence)
        assert " ".join(taken) == passage.text, f"passage does not end at a sentence boundary: {passage.text[-60:]!r}"
    assert not queue


@SETTINGS
@given(title=title_st, sections=st.lists(section_st, min_size=2, max_size=4), data=st.data())
def test_ids_are_stable_and_an_edit_changes_only_its_passage(title: str, sections, data, count_tokens) -> None:
    chunking = ChunkSettings()
    sections = [((f"Part {i}", *path), sentences) for i, (path, sentences) in enumerate(sections)]
    before = chunk_document(_document(title, sections), count_tokens, chunking)
    again = chunk_document(_document(title, sections), count_tokens, chunking)
    assert [p.id for p in again] == [p.id for p in before]
    # A repeated passage text gets a "-n" suffix whose number depends on its neighbours; keep to unique texts.
    assume(all(p.id == passage_id("doc-1", p.section, p.text) for p in before))

    # Edit one sentence: swap its "Then" for "Thus" (both one WordPiece token, so packing is unchanged).
    s_index = data.draw(st.integers(0, len(sections) - 1), label="section")
    path, sentences = sections[s_index]
    k = data.draw(st.integers(0, len(sentences) - 1), label="sentence")
    assume(count_tokens(sentences[k]) == count_tokens(sentences[k].replace("Then", "Thus", 1)))
    edited = [*sections]
    edited[s_index] = (path, [*sentences[:k], sentences[k].replace("Then", "Thus", 1), *sentences[k + 1 :]])
    after = chunk_document(_document(title, edited), count_tokens, chunking)

    assert len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a.id != b.id]
    assert len(changed) == 1, "exactly one passage holds the edited sentence"
    assert "Thus" in after[changed[0]].text and after[changed[0]].section == path
    assert after[changed[0]].text == before[changed[0]].text.replace(sentences[k], edited[s_index][1][k], 1)


@SETTINGS
@given(title=title_st, sections=st.lists(section_st, min_size=2, max_size=4), extra=sentence_st)
def test_an_edit_in_one_section_leaves_other_sections_ids_alone(title: str, sections, extra: str, count_tokens) -> None:
    """Even an edit that changes packing (a whole sentence added) touches only its own section."""
    chunking = ChunkSettings()
    before = chunk_document(_document(title, sections), count_tokens, chunking)
    edited = [(sections[0][0], [extra, *sections[0][1]]), *sections[1:]]
    after = chunk_document(_document(title, edited), count_tokens, chunking)
    edited_section_ids = {p.id for p in before if p.section == sections[0][0]}
    untouched_before = [p.id for p in before if p.id not in edited_section_ids and p.section != sections[0][0]]
    untouched_after = [p.id for p in after if p.section != sections[0][0]]
    assert untouched_after == untouched_before


FREE_TEXT = st.lists(st.sampled_from([*"ab- .,;\n≥1", "PD-L1", "vs. ", "q3w", "-" * 20]), max_size=400).map("".join)


@SETTINGS
@given(text=FREE_TEXT, chunking=settings_st)
@example(text="Rule: " + "-" * 600 + " end.", chunking=ChunkSettings())  # 600 one-token dashes, no space inside
def test_any_text_fits_and_keeps_every_character(text: str, chunking: ChunkSettings, count_tokens, hf_tokenizer) -> None:
    """Arbitrary text, including punctuation runs with no space to cut at (a long '-----' line is
    ~1 token per character): every passage fits and every non-space character survives in order.
    (Before a fix, a separator-free run longer than the budget recursed forever.)"""
    assume(text.strip())
    document = Document(id="doc-1", title="T", sections=[Section(path=("S",), text=text)])
    passages = chunk_document(document, count_tokens, chunking)
    for passage in passages:
        assert _model_tokens(hf_tokenizer, passage, "T") <= chunking.max_tokens
    assert "".join("".join(p.text for p in passages).split()) == "".join(text.split())


def test_a_long_sentence_is_cut_at_clause_boundaries_first(count_tokens) -> None:
    # 40 clauses of 6 tokens ("clause N has some words here" -> 6 WordPiece tokens) joined by "; "
    # is ~280 tokens: over the 254-token text budget, so it must be cut, and only after a ";".
    sentence = "; ".join(f"clause {i} has some words here" for i in range(40)) + "."
    document = Document(id="doc-1", title="Long", sections=[Section(path=(), text=sentence)])
    passages = chunk_document(document, count_tokens, ChunkSettings())
    assert len(passages) >= 2
    for passage in passages[:-1]:
        assert passage.text.endswith(";")
    assert " ".join(p.text for p in passages) == sentence


def test_identical_text_twice_in_a_section_gets_distinct_ids(count_tokens) -> None:
    # target 8 tokens closes a passage after every sentence, so the repeated sentence becomes two
    # passages with the same content hash: the second is suffixed "-1".
    text = "Cemiplimab was given q3w. Cemiplimab was given q3w."
    document = Document(id="doc-1", title="T", sections=[Section(path=("S",), text=text)])
    passages = chunk_document(document, count_tokens, ChunkSettings(target_tokens=8))
    assert [p.text for p in passages] == ["Cemiplimab was given q3w.", "Cemiplimab was given q3w."]
    assert passages[1].id == passages[0].id + "-1"


def test_a_title_that_leaves_no_room_is_refused(count_tokens) -> None:
    document = Document(id="doc-1", title="word " * 60, sections=[Section(path=(), text="Some text.")])
    with pytest.raises(ValueError, match="leave only"):
        chunk_document(document, count_tokens, ChunkSettings(max_tokens=48, target_tokens=24))


def test_fixture_corpus_passages_fit_and_cover(count_tokens, hf_tokenizer, max_seq_length: int) -> None:
    from conftest import FIXTURE_CORPUS

    from rag.loaders import read_sources

    result = read_sources([FIXTURE_CORPUS])
    assert not result.problems and len(result.documents) == 20
    for document in result.documents:
        passages = chunk_document(document, count_tokens, ChunkSettings(max_tokens=max_seq_length))
        for passage in passages:
            assert _model_tokens(hf_tokenizer, passage, document.title) <= max_seq_length
        expected = " ".join(" ".join(split_sentences(s.text)) for s in document.sections)
        assert " ".join(p.text for p in passages) == expected
