"""The typed gold-set loader: good lines load, bad lines fail with file:line and the field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.errors import EvalError
from rag.eval.gold import default_gold, gold_queries, load_gold

GOOD = {
    "id": "io-01", "split": "dev", "question": "Cemiplimab OS benefit after platinum?", "expect": "answer",
    "relevant": {"empower-cervical-1-primary": 2, "empower-cervical-1-final-os": 1},
    "required_facts": ["12\\.0 months", "0\\.69"], "bodies": [], "note": "EMPOWER-Cervical 1",
}
ABSTAIN = {"id": "off-01", "split": "test", "question": "Best pizza in Naples?", "expect": "abstain", "relevant": {}}


def write(path: Path, *records: dict | str) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records), encoding="utf-8")
    return path


def test_loads_and_splits(tmp_path: Path):
    path = write(tmp_path / "q.jsonl", GOOD, "", ABSTAIN)
    questions = load_gold(path)
    assert [q.id for q in questions] == ["io-01", "off-01"]
    assert questions[0].relevant == {"empower-cervical-1-primary": 2, "empower-cervical-1-final-os": 1}
    assert [q.id for q in load_gold(path, split="test")] == ["off-01"]
    queries, qrels = gold_queries(questions)
    assert queries == {"io-01": GOOD["question"]}  # an abstention question has no relevant documents
    assert qrels == {"io-01": GOOD["relevant"]}


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({**GOOD, "relevant": {"doc": 3}}, r"q\.jsonl:2: field 'relevant': .*grade of 'doc' is 3"),
        ({**GOOD, "required_facts": ["12.0 (months"]}, r"q\.jsonl:2: field 'required_facts': .*not a valid regex"),
        ({**GOOD, "split": "train"}, r"q\.jsonl:2: field 'split'"),
        ({**GOOD, "expect": "maybe"}, r"q\.jsonl:2: field 'expect'"),
        ({**GOOD, "answer": "x"}, r"q\.jsonl:2: field 'answer': Extra inputs are not permitted"),
        ({k: v for k, v in GOOD.items() if k != "question"}, r"q\.jsonl:2: field 'question': Field required"),
        ("{not json", r"q\.jsonl:2: not valid JSON"),
        (GOOD, r"q\.jsonl:2: id 'io-01' already used on line 1"),
    ],
)
def test_bad_lines(tmp_path: Path, record, message: str):
    path = write(tmp_path / "q.jsonl", GOOD, record)
    with pytest.raises(EvalError, match=message):
        load_gold(path)


def test_unknown_split_and_empty(tmp_path: Path):
    path = write(tmp_path / "q.jsonl", GOOD)
    with pytest.raises(EvalError, match="unknown split 'train'"):
        load_gold(path, split="train")
    with pytest.raises(EvalError, match="no questions in split 'test'"):
        load_gold(path, split="test")
    with pytest.raises(EvalError, match="cannot read the gold set"):
        load_gold(tmp_path / "missing.jsonl")


def test_the_project_gold_set_loads():
    questions = load_gold(default_gold())
    assert {q.split for q in questions} <= {"dev", "test"}


def test_the_project_gold_set_resolves_to_the_shipped_corpus():
    """Every relevant id is a document of corpus/, every required fact is literally in one of the
    question's relevant documents, and the set has the size and mix the corpus issue asks for."""
    from rag.loaders import read_sources
    from rag.paths import PROJECT_ROOT

    corpus = {d.id: " ".join(s.text for s in d.sections) for d in read_sources([PROJECT_ROOT / "corpus"]).documents}
    questions = load_gold(default_gold())
    assert len(questions) >= 80
    out_of_scope = [q for q in questions if q.expect == "abstain"]
    assert len(out_of_scope) >= 15 and {q.split for q in out_of_scope} == {"dev", "test"}
    for question in questions:
        assert set(question.relevant) <= set(corpus), question.id
        assert all(grade in (1, 2) for grade in question.relevant.values()), question.id
        if question.expect == "answer":
            assert question.relevant and question.required_facts, question.id
        for fact in question.required_facts:
            assert any(re.search(fact, corpus[doc], re.IGNORECASE) for doc in question.relevant), (question.id, fact)
