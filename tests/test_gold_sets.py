"""Every gold set — the default corpus's and those on real corpora the project did not write
(`eval/gold/<set>/`, documents read from ../shared/data) — is well formed and fair: dev and test
splits, enough answerable and out-of-scope questions, required facts that literally appear in a
relevant document, and a bottom line that one sentence of a key document can give."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest

from rag.eval.gold import load_gold
from rag.eval.goldcorpus import corpus_beside, load_gold_corpus
from rag.loaders import read_sources
from rag.models import Document
from rag.sentences import split_sentences

ROOT = Path(__file__).resolve().parent.parent
SETS = sorted((ROOT / "eval" / "gold").glob("*/questions.jsonl"))
DEFAULT = ROOT / "eval" / "gold" / "questions.jsonl"


@cache
def _documents(gold: Path) -> dict[str, Document]:
    spec = corpus_beside(gold)
    documents = load_gold_corpus(spec).documents() if spec else read_sources([ROOT / "corpus"]).documents
    return {d.id: d for d in documents}


def _text(document: Document) -> str:
    return unicodedata.normalize("NFKC", "\n".join([document.title, *(s.text for s in document.sections)]))


def test_there_are_gold_sets_on_three_corpora_the_project_did_not_write() -> None:
    names = {path.parent.name for path in SETS}
    assert {"ngc-diabetes", "scifact", "ctgov"} <= names
    for path in SETS:
        spec = load_gold_corpus(corpus_beside(path))
        assert all("shared/data" in source for source in spec.sources)  # real data, read in place, not copied


@pytest.mark.parametrize("gold", [*SETS, DEFAULT], ids=lambda p: p.parent.name if p != DEFAULT else "default")
def test_splits_and_sizes(gold: Path) -> None:
    questions = load_gold(gold)
    for split in ("dev", "test"):
        rows = [q for q in questions if q.split == split]
        answerable = [q for q in rows if q.expect == "answer"]
        assert len(answerable) >= (10 if gold != DEFAULT else 30), split
        assert sum(q.expect == "abstain" for q in rows) >= (4 if gold != DEFAULT else 8), split
    assert sum(q.expect == "answer" for q in questions) >= 20 and sum(q.expect == "abstain" for q in questions) >= 8
    assert all(q.bottom for q in questions if q.expect == "answer"), "every answerable row says what the bottom line must give"


@pytest.mark.parametrize("gold", [*SETS, DEFAULT], ids=lambda p: p.parent.name if p != DEFAULT else "default")
def test_facts_and_bottom_lines_come_from_the_sources(gold: Path) -> None:
    documents = _documents(gold)
    for question in load_gold(gold):
        assert all(doc in documents for doc in question.relevant), (question.id, question.relevant)
        texts = [_text(documents[d]) for d in question.relevant]
        for fact in question.required_facts:
            assert any(re.search(fact, t, re.IGNORECASE) for t in texts), (question.id, fact)
        if question.bottom:
            key = [documents[d] for d, grade in question.relevant.items() if grade == 2]
            sentences = [s for d in key for s in split_sentences(_text(d))]
            assert any(
                all(re.search(p, s, re.IGNORECASE) for p in question.bottom) and not any(re.search(p, s, re.IGNORECASE) for p in question.bottom_not)
                for s in sentences
            ), (question.id, question.bottom)
