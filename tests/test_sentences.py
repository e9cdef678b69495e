"""Sentence splitting: a raw -> sentences table for clinical abbreviations, and properties of spans."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.sentences import sentence_spans, split_sentences

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

TABLE: list[tuple[str, list[str]]] = [
    # "vs." is an abbreviation, even before a capital letter (a drug or arm name often follows).
    ("Pembrolizumab vs. Placebo was compared. OS improved.", ["Pembrolizumab vs. Placebo was compared.", "OS improved."]),
    # "et al." does not end a sentence, even before a year or a capital.
    ("Colombo et al. 2021 reported the trial. It enrolled 617 patients.",
     ["Colombo et al. 2021 reported the trial.", "It enrolled 617 patients."]),
    # dotted acronyms i.v., s.c., e.g., U.S. are not boundaries.
    ("Cemiplimab 350 mg i.v. Every 3 weeks is the schedule. Next.", ["Cemiplimab 350 mg i.v. Every 3 weeks is the schedule.", "Next."]),
    ("Approved by the U.S. FDA in 2021. Then in the EU.", ["Approved by the U.S. FDA in 2021.", "Then in the EU."]),
    ("Several agents, e.g. Nivolumab, were tested. Responses were rare.",
     ["Several agents, e.g. Nivolumab, were tested.", "Responses were rare."]),
    # A sentence that ENDS in a dose schedule or line of therapy: "q3w." and "2L." are real boundaries
    # (a digit before the last letter means it is not an initial like "J.").
    ("Given 350 mg i.v. q3w. Treatment lasted 96 weeks.", ["Given 350 mg i.v. q3w.", "Treatment lasted 96 weeks."]),
    ("Tisotumab vedotin is used in 2L. It targets tissue factor.", ["Tisotumab vedotin is used in 2L.", "It targets tissue factor."]),
    # Numbers: a decimal point is never a boundary; a period after a number or a bracket is.
    ("The HR was 0.69 (95% CI 0.56-0.84). Median OS was 16.9 months.",
     ["The HR was 0.69 (95% CI 0.56-0.84).", "Median OS was 16.9 months."]),
    ("Benefit was seen with PD-L1 CPS ≥1. Not below.", ["Benefit was seen with PD-L1 CPS ≥1.", "Not below."]),
    ("The dose is 5.4 mg/kg. 12 patients stopped.", ["The dose is 5.4 mg/kg.", "12 patients stopped."]),
    # Initials and journal abbreviations.
    ("As A. Oaknin and J. Smith wrote, it matured. Next.", ["As A. Oaknin and J. Smith wrote, it matured.", "Next."]),
    ("Published in J. Clin Oncol. The data matured.", ["Published in J. Clin Oncol.", "The data matured."]),
    ("See Fig. 2 and No. 5. Then stop.", ["See Fig. 2 and No. 5.", "Then stop."]),
    # ?, ! and closing quotes/brackets.
    ("Was it effective? Yes! It was.", ["Was it effective?", "Yes!", "It was."]),
    ('The panel said "use it." Then it changed.', ['The panel said "use it."', "Then it changed."]),
    # Lower-case after a period is not a new sentence.
    ("The rate was 24%. among responders it was higher.", ["The rate was 24%. among responders it was higher."]),
    # Line structure: blank lines and list items separate sentences; inner whitespace is normalised.
    ("- first item\n- second item. Third\n\nNew   paragraph\nwrapped.",
     ["- first item", "- second item.", "Third", "New paragraph wrapped."]),
    ("", []),
    ("   \n  ", []),
]


@pytest.mark.parametrize(("raw", "expected"), TABLE, ids=[raw[:40] or "empty" for raw, _ in TABLE])
def test_split_sentences_table(raw: str, expected: list[str]) -> None:
    assert split_sentences(raw) == expected


WORDS = st.sampled_from(
    ["patients", "received", "cemiplimab", "vs.", "et al.", "i.v.", "q3w", "PD-L1", "CPS ≥1", "0.69", "350 mg",
     "e.g.", "U.S.", "r/m", "2L", "(95% CI 0.56-0.84)", "HR", "OS", "mo", "Fig. 2", "A.", "J."]
)
FREE_TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ019 .!?;,\n\"')(-≥")), max_size=200)


@SETTINGS
@given(FREE_TEXT)
def test_spans_are_ordered_disjoint_and_cover_the_text(text: str) -> None:
    spans = sentence_spans(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[previous_end:start].strip(), "text between sentences must be whitespace only"
        assert text[start:end] == text[start:end].strip()
        previous_end = end
    assert not text[previous_end:].strip()


@SETTINGS
@given(st.lists(st.lists(WORDS, min_size=1, max_size=12), min_size=1, max_size=8))
def test_generated_sentences_split_back(word_lists: list[list[str]]) -> None:
    """Sentences made of clinical tokens, each starting with a capital word and ending in a plain
    word + '.', come back exactly: no abbreviation inside a sentence causes a split."""
    sentences = [" ".join(["Then", *words, "done."]) for words in word_lists]
    assert split_sentences(" ".join(sentences)) == sentences


def test_a_bracketed_rating_after_a_sentence_stays_with_it() -> None:
    text = "The Task Force recommends weight loss before pregnancy. (1|+++O) The Task Force recommends testing at 24 weeks. (2|++OO)"
    assert split_sentences(text) == [
        "The Task Force recommends weight loss before pregnancy. (1|+++O)",
        "The Task Force recommends testing at 24 weeks. (2|++OO)",
    ]
    rated = "A clinician may recommend bariatric surgery. [Quality of Evidence: Moderate, Strength of Recommendation: Weak]"
    assert split_sentences(rated) == [rated]
    # a bracket that opens the next sentence stays with that sentence
    assert split_sentences("Median OS was 12.0 months. (Figure 2) shows the curves.") == ["Median OS was 12.0 months.", "(Figure 2) shows the curves."]
