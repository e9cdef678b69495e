"""`rag tune`: pairs from qrels and from the corpus, BM25 hard negatives that are never a positive,
clash-free batches."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import write_scifact_sample

from rag.errors import TuneError
from rag.models import Document, Section
from rag.tune.batches import plan_batches
from rag.tune.negatives import mine_negatives
from rag.tune.pairs import TrainingPair, corpus_data, corpus_pairs, qrels_data
from rag.tune.settings import TuneSettings


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """25 SciFact train claims (claim 35 judges two abstracts; claims 10 and 11 share one), 2 test claims,
    their abstracts and the first 30 abstracts, plus one record without a title."""
    folder = write_scifact_sample(tmp_path_factory.mktemp("tune") / "sci", test_queries=2, train_queries=25, first_documents=30)
    with (folder / "corpus.jsonl").open("a") as handle:
        handle.write(json.dumps({"_id": "untitled-1", "title": "", "text": "An abstract whose record has no title."}) + "\n")
    return folder


def _records(folder: Path) -> dict[str, dict]:
    return {r["_id"]: r for r in map(json.loads, (folder / "corpus.jsonl").read_text().splitlines())}


# --------------------------------------------------------------------------- pairs


def test_corpus_pairs_are_title_to_text_and_read_no_labels(sample: Path) -> None:
    records = _records(sample)
    data = corpus_data([sample])
    assert data.source == "corpus" and data.split is None and data.origin == [str(sample / "corpus.jsonl")]
    by_doc = {p.positive_doc: p for p in data.pairs}
    assert set(by_doc) == set(records) - {"untitled-1"}  # every titled record, and only those
    for doc, pair in by_doc.items():
        assert (pair.anchor, pair.positive) == (records[doc]["title"].strip(), records[doc]["text"].strip())
        assert pair.relevant == {doc}
    assert [c.text for c in data.pool] == [p.positive for p in data.pairs]


def test_corpus_pairs_take_headings_to_section_text() -> None:
    body = "Cemiplimab 350 mg every three weeks improved overall survival after platinum in the phase 3 trial."
    document = Document(id="g1", title="ESMO cervical", sections=[
        Section(path=("Recommendations", "Second line"), text=body),
        Section(path=("Notes",), text="Too short to teach."),  # under MIN_SECTION_WORDS words
        Section(path=(), text=body + " Untitled body."),  # no heading: no pair of its own
    ])
    untitled = Document(id="a1", title="a1", sections=[Section(text=body)])  # the BEIR loader's title for a record without one
    assert corpus_pairs([document, untitled]) == [
        TrainingPair(anchor="ESMO cervical: Recommendations > Second line", positive=body, positive_doc="g1", relevant=frozenset({"g1"}))
    ]


def test_qrels_pairs_are_every_relevant_query_document(sample: Path) -> None:
    data = qrels_data(sample, "train")
    rows = [line.split("\t") for line in (sample / "qrels" / "train.tsv").read_text().splitlines()[1:]]
    assert len(data.pairs) == len(rows) == 26  # 25 claims, one judging two abstracts
    assert {p.positive_doc for p in data.pairs if p.anchor == _query(sample, "35")} == {"5152028", "11705328"}
    records = _records(sample)
    for pair in data.pairs:
        record = records[pair.positive_doc]
        assert pair.positive == f"{record['title']}\n{record['text']}"  # as the BEIR evaluation index embeds it
        assert pair.relevant == {d for q, d, _ in rows if pair.anchor == _query(sample, q)}
    assert len(data.pool) == len(records)
    assert data.digest() == qrels_data(sample, "train").digest()


def _query(folder: Path, qid: str) -> str:
    return next(q["text"] for q in map(json.loads, (folder / "queries.jsonl").read_text().splitlines()) if q["_id"] == qid)


# --------------------------------------------------------------------------- negatives and batches


def test_mined_negatives_are_never_a_positive(sample: Path) -> None:
    """On corpus pairs a title's best BM25 hit is its own abstract (checked: the filter has work to do);
    on qrels pairs no negative is any abstract the claim is judged relevant to."""
    from rag.bm25 import BM25Index
    from rag.tokenize import make_tokenizer

    settings = TuneSettings(negatives=3, negative_depth=5)
    for data in (corpus_data([sample]), qrels_data(sample, "train")):
        tokenize = make_tokenizer(settings.tokenizer)
        index = BM25Index.build([tokenize(c.text) for c in data.pool], settings.bm25)
        tops = [data.pool[index.top_k(tokenize(p.anchor), 1)[0][0]].doc_id for p in data.pairs]
        assert sum(top in p.relevant for top, p in zip(tops, data.pairs)) >= len(data.pairs) // 2
        mined = mine_negatives(data.pairs, data.pool, settings)
        assert [len(rows) for rows in mined] == [3] * len(data.pairs)
        for pair, rows in zip(data.pairs, mined):
            assert len(set(rows)) == 3
            for row in rows:
                assert data.pool[row].doc_id not in pair.relevant and data.pool[row].text != pair.positive
        assert mine_negatives(data.pairs, data.pool, settings) == mined  # seeded


def test_negatives_come_from_bm25_depth_and_are_topped_up_when_short() -> None:
    pairs = corpus_pairs([Document(id=f"d{i}", title=t, sections=[Section(text=x)]) for i, (t, x) in enumerate([
        ("pembrolizumab cervical", "pembrolizumab in cervical cancer improved survival"),
        ("cemiplimab cervical", "cemiplimab in cervical cancer after platinum"),
        ("tisotumab vedotin", "tisotumab vedotin antibody drug conjugate response"),
        ("bevacizumab", "bevacizumab added to chemotherapy"),
    ])])
    from rag.tune.pairs import Candidate

    pool = [Candidate(doc_id=p.positive_doc, text=p.positive) for p in pairs]
    mined = mine_negatives(pairs, pool, TuneSettings(negatives=1, negative_depth=1))
    assert mined[0] == [1] and mined[1] == [0]  # 'cervical' is shared: the only BM25 hit besides the positive
    for pair, rows in zip(pairs[2:], mined[2:]):  # no other document matches: a random other one
        assert len(rows) == 1 and pool[rows[0]].doc_id != pair.positive_doc
    with pytest.raises(TuneError, match="fewer than 4 negatives"):
        mine_negatives(pairs, pool, TuneSettings(negatives=4))


def test_batches_hold_no_duplicate_and_no_false_negative() -> None:
    """q0 and q1 share abstract a; q2 judges a and b; q3's negative is a. In a batch with q0, none of
    q1 (same positive text), q2 (a is relevant to it) or q3 (its negative a is q0's positive) may sit."""
    from rag.tune.pairs import Candidate

    pool = [Candidate(doc_id=d, text=f"text of {d}") for d in "abcdef"]
    rows = {d: i for i, d in enumerate("abcdef")}

    def pair(anchor: str, doc: str, relevant: str) -> TrainingPair:
        return TrainingPair(anchor=anchor, positive=f"text of {doc}", positive_doc=doc, relevant=frozenset(relevant))

    pairs = [pair("q0", "a", "a"), pair("q1", "a", "a"), pair("q2", "b", "ab"), pair("q3", "c", "c"), pair("q4", "d", "d"), pair("q5", "e", "e")]
    negatives = [[rows["f"]], [rows["d"]], [rows["e"]], [rows["a"]], [rows["c"]], [rows["b"]]]
    for seed in range(20):
        batches = plan_batches(pairs, negatives, pool, batch_size=3, rng=np.random.default_rng(seed))
        assert sorted(i for b in batches for i in b) == list(range(6))
        for batch in batches:
            texts = [t for i in batch for t in (pairs[i].anchor, pairs[i].positive, *(pool[r].text for r in negatives[i]))]
            assert len(texts) == len(set(texts))
            for i in batch:
                others = {pairs[j].positive_doc for j in batch if j != i} | {pool[r].doc_id for j in batch if j != i for r in negatives[j]}
                assert not (pairs[i].relevant & others), (seed, batch)
