"""The default corpus (corpus/) is fully reachable: every document by its own title, every passage by
its own indexed text. Built BM25-only (--no-dense: no model weights, a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import PROJECT_ROOT

from rag.chunking import indexed_text
from rag.index.load import Index, open_index
from rag.retrievers import BM25Retriever

CORPUS = PROJECT_ROOT / "corpus"


@pytest.fixture(scope="module")
def default_corpus_index(tmp_path_factory: pytest.TempPathFactory, rag) -> Index:
    root: Path = tmp_path_factory.mktemp("default-corpus") / "index"
    result = rag("index", "build", "--no-dense", "--corpus", str(CORPUS), "--index", str(root))
    assert result.returncode == 0, result.stderr
    index = open_index(root)
    assert index.manifest.counts.documents > 0 and not index.manifest.problems, index.manifest.problems
    return index


def test_every_document_is_found_by_its_title(default_corpus_index: Index) -> None:
    retriever = BM25Retriever(default_corpus_index)
    missed = []
    for document in default_corpus_index.store.documents():
        top_docs = [hit.doc_id for hit in retriever.search(document.title, 10)]
        if document.id not in top_docs:
            missed.append(f"{document.id}: title {document.title!r} -> {top_docs[:3]}")
    assert not missed, "\n".join(missed)


def test_every_passage_is_found_first_by_its_own_text(default_corpus_index: Index) -> None:
    store = default_corpus_index.store
    retriever = BM25Retriever(default_corpus_index)
    missed = []
    for passage in store.all_passages():
        query = indexed_text(store.document(passage.doc_id).title, passage.section, passage.text)
        hits = retriever.search(query, 1)
        if not hits or hits[0].passage_id != passage.id:
            missed.append(f"{passage.id} -> {hits[0].passage_id if hits else None}")
    assert not missed, f"{len(missed)} passages not first for their own text:\n" + "\n".join(missed[:20])


def test_no_passage_shows_an_internal_document_id(default_corpus_index: Index) -> None:
    """A statement quotes its passage: a document id in passage text ('see esmo-cervical-2017') would reach the page."""
    ids = [p.stem for p in CORPUS.rglob("*.md")]  # each document's id is its file name
    assert len(ids) == default_corpus_index.manifest.counts.documents
    texts = [p.text for p in default_corpus_index.store.by_rows(list(range(default_corpus_index.manifest.counts.passages)))]
    shown = sorted({i for i in ids for t in texts if i in t and len(i) > 12})
    assert not shown, shown
