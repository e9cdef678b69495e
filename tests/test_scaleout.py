"""The index on Milvus and encoding on Ray, against the local build of the same fixture corpus.

Server tests need the servers `.ci/run` starts and names in the environment:
    RAG_TEST_MILVUS_URI   milvus://127.0.0.1:19531   (milvus-lite server)
    RAG_TEST_RAY_ADDRESS  127.0.0.1:6380             (ray start --head)
Without them those tests skip, saying which variable is missing; the rest run anywhere.

What "the same" means here:
- dense: Milvus FLAT inner product and faiss flat on the same cached vectors give the same passages in
  the same order (a swap is allowed only between scores equal to 1e-5: a tie), scores equal to 1e-5;
- BM25: the Milvus field holds our own tokens (hex-encoded, so Milvus's analyzer keeps them whole),
  and Milvus scores with Lucene's idf; so its top 10 equals our BM25Index with variant="lucene" on the
  same tokens (ties allowed). Against the default index (okapi idf, whose floor for common terms
  differs) the top 10 overlaps by at least 7 of 10 on average, and the best hit is the same document;
- hybrid: Milvus's RRFRanker(60) over both lists against our RRF: top-10 overlap at least 8 of 10 on average;
- `rag ask`: the same statements, citing the same passages, for a few questions;
- Ray: the same passages and bit-identical vectors as the local build.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import numpy as np
import pytest

from conftest import FIXTURE_CORPUS, one_line_error

MILVUS = os.environ.get("RAG_TEST_MILVUS_URI", "").strip()
RAY = os.environ.get("RAG_TEST_RAY_ADDRESS", "").strip()
needs_milvus = pytest.mark.skipif(not MILVUS, reason="RAG_TEST_MILVUS_URI not set: no Milvus server (.ci/run starts one)")
needs_ray = pytest.mark.skipif(not RAY, reason="RAG_TEST_RAY_ADDRESS not set: no Ray cluster (.ci/run starts one)")
TIE = 1e-5
QUESTIONS = [
    "cemiplimab in recurrent cervical cancer after platinum",
    "what is the dose of carboplatin",
    "pembrolizumab with chemoradiation for locally advanced cervical cancer",
]


# --------------------------------------------------------------------------- no server needed


@pytest.mark.parametrize(
    ("text", "client_uri", "name"),
    [
        ("milvus://127.0.0.1:19531", "http://127.0.0.1:19531", "rag"),
        ("milvus://127.0.0.1:19531/", "http://127.0.0.1:19531", "rag"),
        ("milvus://db.example:19530/guidelines_2026", "http://db.example:19530", "guidelines_2026"),
        ("http://127.0.0.1:19531", "http://127.0.0.1:19531", "rag"),
        ("milvus:///tmp/x/rag.db", "/tmp/x/rag.db", "rag"),
        ("milvus:///tmp/x/rag.db/trials", "/tmp/x/rag.db", "trials"),
    ],
)
def test_milvus_uris(text: str, client_uri: str, name: str):
    from rag.index.location import parse_milvus

    location = parse_milvus(text)
    assert (location.client_uri, location.name, str(location)) == (client_uri, name, text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("milvus://127.0.0.1/rag", "no port"),
        ("milvus://127.0.0.1:19531/9lives", "not a Milvus collection name"),
        ("milvus://127.0.0.1:19531/a-b", "not a Milvus collection name"),
        ("milvus:///tmp/x/folder", "names a .db file"),
        ("postgres://x:1/y", "not a Milvus URI"),
    ],
)
def test_bad_milvus_uris_say_what_to_write(text: str, fragment: str):
    from rag.errors import IndexStateError
    from rag.index.location import parse_milvus

    with pytest.raises(IndexStateError, match=fragment):
        parse_milvus(text)


def test_encoded_terms_come_back_whole_from_milvus_analyzer():
    """Our tokens (hyphens, slashes, digits, accents) survive Milvus Lite's standard analyzer unchanged,
    one for one: what makes its BM25 statistics ours."""
    standard = pytest.importorskip("milvus_lite.analyzer.standard")
    from rag.index.milvus import encode_terms

    tokens = ["5-fu", "her2/neu", "pd-l1", "carboplatin", "auc5", "über", "β-blocker", "1.25"]
    analyzed = standard.StandardAnalyzer().tokenize(encode_terms(tokens))
    assert [bytes.fromhex(t).decode("utf-8") for t in analyzed] == tokens


def test_milvus_build_without_a_server_named_fails_in_one_line(rag, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("RAG_MILVUS_URI", raising=False)
    result = rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--backend", "milvus")
    one_line_error(result, "RAG_MILVUS_URI")
    result = rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--backend", "solr")
    one_line_error(result, "--backend 'solr'")


def test_unreachable_milvus_is_one_line(rag):
    result = rag("search", "cervical cancer", "--index", "milvus://127.0.0.1:9/rag", timeout=120)
    one_line_error(result, "milvus://127.0.0.1:9/rag")


# --------------------------------------------------------------------------- Milvus server


@pytest.fixture(scope="module")
def milvus_index(fixture_index) -> str:
    """The fixture corpus built into Milvus, sharing the session build's embedding cache."""
    if not MILVUS:
        pytest.skip("RAG_TEST_MILVUS_URI not set: no Milvus server (.ci/run starts one)")
    from rag.index.build import BuildSettings
    from rag.index.location import parse_milvus
    from rag.index.milvus import build_milvus_index, connect

    location = f"{MILVUS.rstrip('/')}/t{uuid.uuid4().hex[:10]}"
    report = build_milvus_index([FIXTURE_CORPUS], location, BuildSettings(), cache_root=fixture_index.root)
    assert (report.embedded, report.reused) == (0, fixture_index.report.manifest.counts.passages)  # every vector from the cache
    yield location
    client = connect(parse_milvus(location))
    prefix = parse_milvus(location).name + "_"
    for name in client.list_collections():
        if name.startswith(prefix):
            client.drop_collection(name)


@pytest.fixture(scope="module")
def both(fixture_index, milvus_index):
    from rag.index.load import open_index

    local, served = open_index(fixture_index.root), open_index(milvus_index)
    yield local, served
    local.close()
    served.close()


@pytest.fixture(autouse=True)
def _share_query_model(monkeypatch: pytest.MonkeyPatch, request) -> None:
    if "milvus_index" in request.fixturenames or "both" in request.fixturenames:
        root = request.getfixturevalue("fixture_index").root
        monkeypatch.setenv("RAG_EMBEDDINGS", str(root))  # the query model exported by the session build


def _same_up_to_ties(a: list, b: list) -> None:
    """Hit lists equal, except that passages whose scores tie (to TIE) may swap."""
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert abs(x.score - y.score) <= TIE * max(1.0, abs(x.score)), (x, y)
        if x.passage_id != y.passage_id:
            tied = {h.passage_id for h in a if abs(h.score - x.score) <= TIE * max(1.0, abs(x.score))}
            assert y.passage_id in tied, (x, y)


@needs_milvus
def test_manifest_facts_travel_with_the_milvus_index(both):
    local, served = both
    a, b = local.manifest, served.manifest
    assert b.corpus_hash == a.corpus_hash and b.chunking == a.chunking and b.tokenizer == a.tokenizer
    assert (b.model.name, b.model.dimension, b.model.max_seq_length) == (a.model.name, a.model.dimension, a.model.max_seq_length)
    assert (b.counts.documents, b.counts.passages, b.counts.vocabulary) == (a.counts.documents, a.counts.passages, a.counts.vocabulary)
    assert (b.bm25.variant, b.bm25.k1, b.bm25.b) == ("lucene", a.bm25.k1, a.bm25.b)  # Milvus's idf, recorded as such
    assert served.lexicon.vocabulary.keys() == local.bm25.vocabulary.keys()
    assert all(served.lexicon.document_frequency(t) == local.bm25.document_frequency(t) for t in local.bm25.vocabulary)
    assert served.profile.summary == local.profile.summary
    assert served.store.passages_of("tisotumab-vedotin-phase2") == local.store.passages_of("tisotumab-vedotin-phase2")


@needs_milvus
def test_dense_hits_are_the_local_ones(both, queries):
    from rag.retrievers import make_retriever

    local, served = both
    for query in queries:
        _same_up_to_ties(make_retriever(local, "dense").search(query["query"], 10), make_retriever(served, "dense").search(query["query"], 10))


@needs_milvus
def test_bm25_on_milvus_is_our_bm25_with_lucene_idf(both, queries):
    """The oracle: BM25Index(variant="lucene") built from the same passages' tokens."""
    from rag.bm25 import BM25Index, BM25Settings
    from rag.chunking import indexed_text
    from rag.models import Hit

    local, served = both
    passages = local.store.all_passages()
    titles = {d.id: d.title for d in local.store.documents()}
    settings = BM25Settings(variant="lucene", k1=local.manifest.bm25.k1, b=local.manifest.bm25.b)
    oracle = BM25Index.build((local.tokenize(indexed_text(titles[p.doc_id], p.section, p.text)) for p in passages), settings)
    for query in queries:
        tokens = local.tokenize(query["query"])
        expected = [Hit(passage_id=passages[r].id, doc_id=passages[r].doc_id, score=s, rank=i + 1) for i, (r, s) in enumerate(oracle.top_k(tokens, 10))]
        got = [Hit(passage_id=passages[r].id, doc_id=passages[r].doc_id, score=s, rank=i + 1) for i, (r, s) in enumerate(served.bm25_top(tokens, 10))]
        _same_up_to_ties_relative(expected, got)


def _same_up_to_ties_relative(a: list, b: list, tolerance: float = 1e-4) -> None:
    assert [h.passage_id for h in a] and len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert abs(x.score - y.score) <= tolerance * x.score, (x, y)  # float32 in Milvus
        if x.passage_id != y.passage_id:
            assert y.passage_id in {h.passage_id for h in a if abs(h.score - x.score) <= tolerance * x.score}, (x, y)


@needs_milvus
def test_bm25_and_hybrid_agree_with_the_local_backend(both, queries):
    from rag.retrievers import make_retriever

    local, served = both
    overlaps = {"bm25": [], "hybrid": []}
    for query in queries:
        for name in overlaps:
            a = make_retriever(local, name).search(query["query"], 10)
            b = make_retriever(served, name).search(query["query"], 10)
            overlaps[name].append(len({h.passage_id for h in a} & {h.passage_id for h in b}) / 10)
            if name == "bm25":
                assert a[0].doc_id == b[0].doc_id, query
    assert np.mean(overlaps["bm25"]) >= 0.7, overlaps["bm25"]
    assert np.mean(overlaps["hybrid"]) >= 0.8, overlaps["hybrid"]


@pytest.fixture(scope="module")
def lucene_index(fixture_index, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The local index with Milvus's idf (BM25 variant "lucene"): a clone of the session index (hard
    links: its embedding cache and query model) rebuilt, so nothing is embedded again."""
    import shutil

    from rag.bm25 import BM25Settings
    from rag.index.build import BuildSettings, build_index

    root = tmp_path_factory.mktemp("lucene") / "index"
    shutil.copytree(fixture_index.root, root, copy_function=os.link)
    report = build_index([FIXTURE_CORPUS], root, BuildSettings(bm25=BM25Settings(variant="lucene")))
    assert report.embedded == 0
    return root


def _statements(answer) -> list[tuple[str, tuple[str, ...]]]:
    return [(s.text, tuple(s.passages)) for s in answer.statements()]


@needs_milvus
def test_ask_says_the_same_on_both_backends(fixture_index, lucene_index, milvus_index):
    """Against the local index with the same idf: the same statements citing the same passages. Against
    the default (okapi idf) index: most statements the same (the gathered passages differ a little)."""
    from rag.answer.compose import ask

    shared = []
    for question in QUESTIONS:
        local, served, default = (ask(question, index_root=root) for root in (lucene_index, milvus_index, fixture_index.root))
        assert local.abstained == served.abstained, question
        assert _statements(local) == _statements(served), question
        assert _statements(local) or local.abstained
        a, b = set(_statements(default)), set(_statements(served))
        shared.append(len(a & b) / max(1, len(a | b)))
    assert np.mean(shared) >= 0.6, shared


@needs_milvus
def test_cli_search_ask_show_and_eval_on_milvus(fixture_index, milvus_index, rag, tmp_path: Path, queries, monkeypatch):
    result = rag("search", "tisotumab vedotin ocular toxicity", "--index", milvus_index, "--format", "json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)["hits"]
    local = json.loads(rag("search", "tisotumab vedotin ocular toxicity", "--index", str(fixture_index.root), "--format", "json").stdout)["hits"]
    assert hits[0]["passage_id"] == local[0]["passage_id"] and hits[0]["title"] == local[0]["title"]
    result = rag("show", hits[0]["passage_id"], "--index", milvus_index, "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["passage"]["text"] == hits[0]["text"]
    result = rag("ask", QUESTIONS[0], "--index", milvus_index, "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout)["question"] == QUESTIONS[0]
    one_line_error(rag("search", "x y", "--index", f"{MILVUS.rstrip('/')}/no_such_index"), "no rag index named 'no_such_index'")

    # rag eval retrieval on the gold-set path over the fixture corpus: the same numbers for dense
    gold = tmp_path / "questions.jsonl"
    gold.write_text("".join(
        json.dumps({"id": f"fx-{i}", "split": "test", "question": q["query"], "expect": "answer",
                    "relevant": {doc: 2 if j == 0 else 1 for j, doc in enumerate(q["expected"])}}) + "\n"
        for i, q in enumerate(queries)
    ))
    monkeypatch.setenv("RAG_CORPUS", str(FIXTURE_CORPUS))
    reports = []
    for where in (str(fixture_index.root), milvus_index):
        result = rag("eval", "retrieval", "--dataset", str(gold), "--retriever", "dense,hybrid", "--index", where, "--format", "json",
                     "--out", str(tmp_path / f"run{len(reports)}"))
        assert result.returncode == 0, result.stderr
        reports.append(json.loads(result.stdout))
    dense = [r["results"]["dense"]["ndcg@10"] for r in reports]
    hybrid = [r["results"]["hybrid"]["ndcg@10"] for r in reports]
    assert dense[0] == pytest.approx(dense[1], abs=1e-9) and dense[0] > 0.5
    assert hybrid[1] == pytest.approx(hybrid[0], abs=0.05)


@needs_milvus
def test_eval_refuses_a_milvus_index_of_another_corpus(milvus_index, rag, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    import shutil

    other = tmp_path / "corpus"  # one document of the fixture corpus: another corpus
    other.mkdir()
    shutil.copy(FIXTURE_CORPUS / "hpv-screening-abstract.md", other)
    monkeypatch.setenv("RAG_CORPUS", str(other))
    gold = tmp_path / "questions.jsonl"
    gold.write_text(json.dumps({"id": "q1", "split": "test", "question": "cervical cancer", "expect": "answer", "relevant": {"x": 1}}) + "\n")
    result = rag("eval", "retrieval", "--dataset", str(gold), "--retriever", "bm25", "--index", milvus_index, "--out", str(tmp_path / "r"))
    one_line_error(result, "built from another corpus")


@needs_milvus
def test_cli_builds_an_hnsw_milvus_index_and_refuses_a_local_only_kind(fixture_index, rag, monkeypatch: pytest.MonkeyPatch):
    from rag.index.location import parse_milvus
    from rag.index.milvus import connect

    monkeypatch.setenv("RAG_EMBEDDINGS", str(fixture_index.root))
    location = f"{MILVUS.rstrip('/')}/h{uuid.uuid4().hex[:10]}"
    try:
        one_line_error(rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--backend", "milvus", "--uri", location,
                           "--index", str(fixture_index.root), "--dense-index", "ivfsq8"), "--dense-index 'ivfsq8'", "hnsw")
        result = rag("index", "build", "--corpus", str(FIXTURE_CORPUS), "--backend", "milvus", "--uri", location,
                     "--index", str(fixture_index.root), "--dense-index", "hnsw")
        assert result.returncode == 0, result.stderr
        status = json.loads(rag("index", "status", "--index", location, "--format", "json").stdout)
        assert status["manifest"]["model"]["faiss"] == "milvus:hnsw"
        hits = json.loads(rag("search", "tisotumab vedotin ocular toxicity", "--index", location, "--retriever", "dense",
                              "--format", "json", "-k", "1").stdout)["hits"]
        local = json.loads(rag("search", "tisotumab vedotin ocular toxicity", "--index", str(fixture_index.root), "--retriever", "dense",
                               "--format", "json", "-k", "1").stdout)["hits"]
        assert hits[0]["passage_id"] == local[0]["passage_id"]
    finally:
        client = connect(parse_milvus(location))
        prefix = parse_milvus(location).name + "_"
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)


@needs_milvus
def test_a_reader_of_a_replaced_build_reads_on_until_the_next_build(fixture_index):
    from rag.index.build import BuildSettings
    from rag.index.location import parse_milvus
    from rag.index.milvus import MilvusIndex, build_milvus_index, connect

    location = f"{MILVUS.rstrip('/')}/r{uuid.uuid4().hex[:10]}"
    client = connect(parse_milvus(location))
    prefix = parse_milvus(location).name + "_"
    try:
        build_milvus_index([FIXTURE_CORPUS], location, BuildSettings(), cache_root=fixture_index.root)
        reader = MilvusIndex.open(location, cache_root=fixture_index.root)
        first = reader.manifest.build_id
        build_milvus_index([FIXTURE_CORPUS], location, BuildSettings(), cache_root=fixture_index.root)
        assert MilvusIndex.open(location, cache_root=fixture_index.root).manifest.build_id != first  # the new build is current
        hits = reader.bm25_top(reader.tokenize("tisotumab vedotin ocular toxicity"), 3)  # ... and the old one still answers its reader
        assert hits and reader.store.by_rows([hits[0][0]])[0].text
        build_milvus_index([FIXTURE_CORPUS], location, BuildSettings(), cache_root=fixture_index.root)
        tags = {name.split("_")[1] for name in client.list_collections() if name.startswith(prefix) and not name.endswith("_current")}
        assert len(tags) == 2 and first[:12] not in tags  # two builds kept: the current one and the one it replaced
    finally:
        for name in client.list_collections():
            if name.startswith(prefix):
                client.drop_collection(name)


# --------------------------------------------------------------------------- Ray cluster


@needs_ray
def test_ray_build_gives_the_local_index(fixture_index, tmp_path: Path):
    """Chunked and embedded by Ray actors into an empty cache: the same passages, bit-identical vectors."""
    from rag.index.build import BuildSettings, build_index
    from rag.index.load import open_index

    report = build_index([FIXTURE_CORPUS], tmp_path / "index", BuildSettings(), ray=RAY)
    assert report.embedded == report.manifest.counts.passages  # nothing came from a cache
    ray_index, local = open_index(tmp_path / "index"), open_index(fixture_index.root)
    assert ray_index.store.all_passages() == local.store.all_passages()
    assert report.manifest.corpus_hash == local.manifest.corpus_hash and report.manifest.chunking == local.manifest.chunking
    got, expected = (i.faiss.reconstruct_n(0, i.faiss.ntotal) for i in (ray_index, local))
    assert got.shape == expected.shape and np.array_equal(got, expected)
    cache = tmp_path / "index" / "embeddings"
    assert sorted(p.name for p in cache.iterdir()) == sorted(p.name for p in (fixture_index.root / "embeddings").iterdir())
