"""The drug dictionary a build reads (drug-named-entity-recognition, as installed): what it takes for a drug."""

from __future__ import annotations

import pytest

from rag.knowledge import load_vocabulary
from rag.profile.drugs import load_dictionary, names_in


@pytest.fixture(scope="module")
def dictionary():
    return load_dictionary(load_vocabulary().not_drugs)


def test_enzymes_and_targets_that_are_not_given_are_not_drugs(dictionary) -> None:
    text = "ALT (alanine aminotransferase) and transaminases rose; CYP3A4 and protein kinase C activity were measured."
    assert names_in(text, dictionary) == set()  # laboratory values, enzymes and targets, though MeSH lists them


def test_drugs_that_are_enzymes_or_proteins_stay(dictionary) -> None:
    text = "Asparaginase, alteplase, collagenase, pembrolizumab and cisplatin were given."
    assert {"asparaginase", "alteplase", "collagenase", "pembrolizumab", "cisplatin"} <= names_in(text.lower(), dictionary)
