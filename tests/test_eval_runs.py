"""Passage hits -> document runs (MaxP), the ranking convention, TREC run and qrels files."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from rag.errors import EvalError
from rag.eval.runs import doc_run, ranked, read_qrels, read_trec_run, write_trec_run
from rag.models import Hit


def hit(passage: str, score: float, rank: int) -> Hit:
    return Hit(passage_id=passage, doc_id=passage.split("#")[0], score=score, rank=rank)


def test_maxp_keeps_best_passage_and_order():
    hits = [hit("b#1", 9.0, 1), hit("a#1", 7.0, 2), hit("b#2", 5.0, 3), hit("c#1", 4.0, 4), hit("a#2", 1.0, 5)]
    run = doc_run(hits)
    assert list(run.items()) == [("b", 9.0), ("a", 7.0), ("c", 4.0)]
    assert list(doc_run(hits, depth=2)) == ["b", "a"]


def test_maxp_takes_the_max_even_if_hits_are_not_sorted():
    assert doc_run([hit("a#1", 1.0, 1), hit("a#2", 3.0, 2)]) == {"a": 3.0}


def test_ranking_breaks_ties_like_trec_eval():
    assert ranked({"d1": 1.0, "d3": 2.0, "d2": 2.0}) == [("d3", 2.0), ("d2", 2.0), ("d1", 1.0)]


RUN = {
    "q2": {"doc-a": 0.1, "doc-b": 12.75, "doc-c": 1 / 3},
    "q10": {"x": -1.5e-7, "y": 2.0},
    "q1": {"only": 0.0},
}


def test_trec_run_round_trip(tmp_path: Path):
    original = copy.deepcopy(RUN)
    path = write_trec_run(tmp_path / "run.trec", RUN, tag="rag-bm25")
    assert RUN == original  # the caller's run is untouched
    lines = path.read_text().splitlines()
    assert lines[:3] == ["q1 Q0 only 1 0.0 rag-bm25", "q10 Q0 y 1 2.0 rag-bm25", "q10 Q0 x 2 -1.5e-07 rag-bm25"]
    assert lines[3].split()[:4] == ["q2", "Q0", "doc-b", "1"]
    run, tag = read_trec_run(path)
    assert run == RUN and tag == "rag-bm25"  # scores are bit-identical (repr)


def test_run_file_reads_in_ranx_the_same(tmp_path: Path):
    """The files speak the field's format: ranx's own TREC run reader sees the same run."""
    from ranx.utils import run_file_to_dict

    path = write_trec_run(tmp_path / "run.trec", RUN, tag="t")
    assert run_file_to_dict(str(path)) == RUN


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("q1 Q0 d1 1 0.5\n", r"run\.trec:1: expected 6 fields"),
        ("q1 Q0 d1 1 0.5 t\nq1 Q0 d1 2 0.4 t\n", r"run\.trec:2: document 'd1' listed twice for query 'q1'"),
        ("q1 Q0 d1 one 0.5 t\n", r"run\.trec:1: rank 'one' or score '0.5' is not a number"),
        ("\n", r"run\.trec: empty run file"),
    ],
)
def test_bad_run_files(tmp_path: Path, text: str, message: str):
    path = tmp_path / "run.trec"
    path.write_text(text)
    with pytest.raises(EvalError, match=message):
        read_trec_run(path)


def test_write_refuses_ids_with_spaces(tmp_path: Path):
    with pytest.raises(EvalError, match="doc id \\(query q\\) 'a b'"):
        write_trec_run(tmp_path / "r.trec", {"q": {"a b": 1.0}}, tag="t")


def test_qrels_beir_and_trec_formats(tmp_path: Path):
    beir = tmp_path / "test.tsv"
    beir.write_text("query-id\tcorpus-id\tscore\n1\t31715818\t1\n1\t999\t0\n3\t14717500\t2\n")
    trec = tmp_path / "qrels.txt"
    trec.write_text("1 0 31715818 1\n1 0 999 0\n3 0 14717500 2\n")
    expected = {"1": {"31715818": 1, "999": 0}, "3": {"14717500": 2}}
    assert read_qrels(beir) == expected == read_qrels(trec)
    trec.write_text("1 0 31715818\n1 x\n")
    with pytest.raises(EvalError, match=r"qrels\.txt:2: expected"):
        read_qrels(trec)
