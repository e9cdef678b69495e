"""Overlapping windows of a document (ChunkSettings mode "windows"), what the max-passage retrievers
index: sizes in the model's own tokens, the stride, coverage of every word, and the record of the
setting (a document or sentence index reads as before windows existed)."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.chunking import ChunkSettings, chunk_document, document_windows, indexed_text
from rag.models import Document, Section

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def words_counter(text: str) -> int:
    """A stand-in tokenizer: one token per whitespace-separated word."""
    return len(text.split())


def _doc(text: str, *, title: str = "T", doc_id: str = "d1", sections: list[str] | None = None) -> Document:
    parts = sections if sections is not None else [text]
    return Document(id=doc_id, title=title, sections=[Section(path=(), text=part) for part in parts])


def _word_numbers(text: str) -> list[int]:
    return [int(word[1:]) for word in text.split()]


def test_windows_step_by_the_stride_and_cover_every_word():
    """1,000 one-token words, windows of 40 tokens every 15: window i holds words 15i .. 15i+39. The
    window starting at 945 ends at word 984, so one more starts at 960 and ends at the last word, 999:
    65 windows (starts 0, 15, ..., 960 = 15 x 64)."""
    document = _doc(" ".join(f"w{i}" for i in range(1000)))
    chunking = ChunkSettings(mode="windows", max_tokens=102, window_tokens=40, window_stride=15)
    passages = chunk_document(document, words_counter, chunking)
    windows = [_word_numbers(p.text) for p in passages]
    assert len(windows) == 65
    assert [w[0] for w in windows] == [15 * i for i in range(65)]
    assert all(w == list(range(w[0], w[0] + 40)) for w in windows)  # contiguous runs of 40 words
    assert windows[-1][-1] == 999
    assert [p.ordinal for p in passages] == list(range(65)) and len({p.id for p in passages}) == 65
    assert all(p.doc_id == "d1" and p.section == () for p in passages)


def test_default_window_fills_what_the_title_leaves_and_a_long_stride_leaves_no_gap():
    """max_tokens 52: 50 tokens beside [CLS]/[SEP]; the title 'A long title' takes 3, so a window holds
    47 words. A stride of 100 (longer than a window) is cut to 47: windows abut, none overlaps."""
    document = _doc(" ".join(f"w{i}" for i in range(120)), title="A long title")
    passages = document_windows(document, words_counter, ChunkSettings(mode="windows", max_tokens=52, window_stride=100))
    windows = [_word_numbers(p.text) for p in passages]
    assert windows == [list(range(47)), list(range(47, 94)), list(range(94, 120))]


def test_a_document_that_fits_is_its_document_mode_passage():
    """Same id and text as mode "document", so a document-mode index and a windows index share its
    embedding; sections are joined the same way."""
    document = _doc("", sections=["First part of the abstract.", "Second part."])
    windows = chunk_document(document, words_counter, ChunkSettings(mode="windows"))
    whole = chunk_document(document, words_counter, ChunkSettings(mode="document"))
    assert windows == whole and len(windows) == 1 and windows[0].text == "First part of the abstract.\n\nSecond part."


def test_windows_keep_the_exact_text_between_their_first_and_last_word():
    """Section breaks and runs of spaces inside a window are kept as they are in the document."""
    document = _doc("", sections=["a1 a2  a3", "b1\nb2 b3"])
    passages = document_windows(document, words_counter, ChunkSettings(mode="windows", max_tokens=20, window_tokens=4, window_stride=2))
    assert [p.text for p in passages] == ["a1 a2  a3\n\nb1", "a3\n\nb1\nb2 b3"]


unique_words = st.lists(
    st.sampled_from(["patients", "PD-L1", "≥1", "0.69", "(95%", "CI", "0.56-0.84)", "i.v.", "Guillain-Barré", "μg", "q3w",
                     "pembrolizumab", "—", "ratio,"]),
    min_size=1, max_size=700,
).map(lambda words: " ".join(f"{word}#{i}" for i, word in enumerate(words)))  # '#i' makes every word unique


@SETTINGS
@given(text=unique_words, title=st.sampled_from(["T", "Overall survival in cervical cancer: KEYNOTE-826"]),
       chunking=st.sampled_from([ChunkSettings(mode="windows"), ChunkSettings(mode="windows", window_tokens=60, window_stride=25),
                                 ChunkSettings(mode="windows", max_tokens=64, window_stride=500)]))
def test_windows_fit_the_model_and_cover_the_document_in_order(text: str, title: str, chunking: ChunkSettings, count_tokens, hf_tokenizer):
    """With the real tokenizer: every window's indexed text fits max_tokens (special tokens counted);
    windows are substrings of the document in order; the first holds its first character, the last
    its last, and each starts no later than where the previous one ended (no gap)."""
    document = _doc(text, title=title)
    passages = chunk_document(document, count_tokens, chunking)
    for passage in passages:
        assert len(hf_tokenizer.encode(indexed_text(title, (), passage.text)).ids) <= chunking.max_tokens
    spans, cursor = [], 0
    for passage in passages:
        start = text.find(passage.text, cursor)
        assert start >= 0, passage.text[:80]
        spans.append((start, start + len(passage.text)))
        cursor = start + 1
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(later[0] <= earlier[1] + 1 for earlier, later in pairwise(spans))  # +1: the space between words
    assert all(later[0] > earlier[0] for earlier, later in pairwise(spans))


def test_a_word_longer_than_a_window_is_cut_and_every_character_kept(count_tokens, hf_tokenizer):
    """A 3,000-letter run (a sequence, a table rule) between words: no window is over the model's
    length, and its letters all come through (overlapping windows may repeat some)."""
    text = "start " + "y" * 3000 + " end"
    passages = chunk_document(_doc(text), count_tokens, ChunkSettings(mode="windows", max_tokens=64))
    assert all(len(hf_tokenizer.encode(indexed_text("T", (), p.text)).ids) <= 64 for p in passages)
    assert passages[0].text.startswith("start") and passages[-1].text.endswith("y end") and len(passages) > 3
    assert sum(p.text.count("y") for p in passages) >= 3000
    assert all(set(p.text) <= set("start yend") for p in passages)


def test_window_settings_are_recorded_only_in_windows_mode():
    """The manifest and the eval cache key of a document or sentence index read as before windows
    existed (so cached indexes stay valid); the windows index gets its own key."""
    from rag.eval.indexing import beir_settings, cache_key

    assert set(ChunkSettings(mode="document").model_dump()) == {"max_tokens", "target_tokens", "mode", "version"}
    assert set(ChunkSettings().model_dump()) == {"max_tokens", "target_tokens", "mode", "version"}
    windows = ChunkSettings(mode="windows", window_stride=64)
    assert windows.model_dump()["window_stride"] == 64 and ChunkSettings.model_validate_json(windows.model_dump_json()) == windows
    keys = {cache_key("c" * 64, beir_settings()), cache_key("c" * 64, beir_settings(max_passage=True)),
            cache_key("c" * 64, beir_settings(max_passage=True).model_copy(update={"chunking": windows}))}
    assert len(keys) == 3
