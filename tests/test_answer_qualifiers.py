"""Qualifier values: a sentence that pins the question's qualifier to other values answers another question."""

from __future__ import annotations

import pytest

from rag.answer.qualifiers import conflicts, population_conflict, populations, qualifier_values
from rag.knowledge import Knowledge, load_vocabulary

PATTERN = Knowledge(load_vocabulary()).qualifier


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("grade 2 irAE: prednisone starting dose?", {"grade": {"2"}}),
        ("for grades 2-4 toxicity", {"grade": {"2", "3", "4"}}),  # a range names every value in it
        ("grade ≥3 adverse events in 45.0%", {"grade": {"3", "4", "5", "6", "7"}}),  # an open range: 3 and the next few
        ("stage IVB or recurrent disease", {"stage": {"IVB"}}),
        ("type 1 or 2 diabetes", {"type": {"1", "2"}}),
        ("a class effect", {}),  # a qualifier word without a value pins nothing
    ],
)
def test_values_are_read_with_their_ranges(text: str, expected: dict) -> None:
    assert {w: set(v) for w, v in qualifier_values(text, PATTERN).items()} == expected


def test_only_other_values_of_an_asked_qualifier_conflict() -> None:
    asked = qualifier_values("grade 2 irAE prednisone dose", PATTERN)
    assert conflicts(asked, qualifier_values("For grade 3 events, prednisone 1-2 mg/kg/day", PATTERN))
    assert not conflicts(asked, qualifier_values("For grades 2-4 events, hold the drug", PATTERN))
    assert not conflicts(asked, qualifier_values("Prednisone 0.5-1 mg/kg/day is advised", PATTERN))  # silent on grade
    assert not conflicts({}, qualifier_values("grade 3", PATTERN))  # the question pins nothing


POPULATIONS = Knowledge(load_vocabulary()).population_pattern


def test_a_sentence_about_another_population_only_conflicts() -> None:
    adult = populations("T1DM adult A1c target", POPULATIONS)
    assert adult == {"adults"}
    assert population_conflict(adult, populations("insulin for children and adolescents with type 2 diabetes", POPULATIONS))
    assert not population_conflict(adult, populations("adults and adolescents with type 1 diabetes", POPULATIONS))
    assert not population_conflict(adult, populations("aim for an HbA1c of 48 mmol/mol", POPULATIONS))  # names none
    assert not population_conflict(frozenset(), populations("children with diabetes", POPULATIONS))  # none asked


def test_cps_is_a_qualifier_so_a_cps_1_statement_conflicts_with_a_cps_0_patient() -> None:
    asked = qualifier_values("PD-L1 CPS 0, is pembro an option?", PATTERN)
    assert conflicts(asked, qualifier_values("for PD-L1-positive (CPS ≥1) disease, pembrolizumab", PATTERN))
    assert not conflicts(asked, qualifier_values("regardless of CPS 0 or higher", PATTERN))
