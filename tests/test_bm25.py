"""BM25: oracle test against rank_bm25.BM25Okapi, the Lucene idf by hand, save/load, the tokenizer."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25Okapi

from rag.bm25 import BM25Index, BM25Settings
from rag.errors import IndexStateError
from rag.tokenize import TokenizerSettings, make_tokenizer

SETTINGS = settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
F64 = BM25Settings(dtype="float64")
F32 = BM25Settings(dtype="float32")


@pytest.fixture(scope="module")
def fixture_tokens() -> list[list[str]]:
    """The fixture corpus as BM25 sees it: every section's sentences, tokenized by our tokenizer.
    Words like "cervical" occur in more than half of them, so rank_bm25's negative-idf floor
    (epsilon * mean idf) is exercised; one empty passage tests a zero length."""
    from conftest import FIXTURE_CORPUS

    from rag.loaders import markdown

    tokenize = make_tokenizer(TokenizerSettings())
    texts = []
    for path in sorted(FIXTURE_CORPUS.glob("*.md")):
        for document in markdown.load(path):
            texts.extend(f"{document.title} {section.text}" for section in document.sections)
    return [tokenize(t) for t in texts] + [[]]


ORACLE_QUERIES = [
    "libtayo cervical cancer after platinum",
    "pembrolizumab PD-L1 CPS ≥1 CPS ≥1 pembrolizumab",  # repeated terms count again
    "fam-trastuzumab deruxtecan-nxki 5.4 mg/kg q3w",
    "cervical cancer",  # frequent terms: negative idf replaced by the floor
    "zzzunknown qqqnothing",  # unknown terms only: all scores 0
    "cervical zzzunknown",
]


def _oracle(corpus: list[list[str]], query: list[str]) -> np.ndarray:
    oracle = BM25Okapi(corpus, k1=1.5, b=0.75, epsilon=0.25)
    if oracle.average_idf <= 0:  # rank_bm25 matches nothing here; ours floors idf <= 0 at 0.25 * mean Lucene idf
        n = oracle.corpus_size
        df = {term: sum(term in doc for doc in oracle.doc_freqs) for term in oracle.idf}
        floor = 0.25 * sum(math.log(1 + (n - f + 0.5) / (f + 0.5)) for f in df.values()) / len(df)
        oracle.idf = {t: floor if math.log(n - f + 0.5) - math.log(f + 0.5) <= 0 else oracle.idf[t] for t, f in df.items()}
    return np.asarray(oracle.get_scores(query), dtype=np.float64)


@pytest.mark.parametrize("query", ORACLE_QUERIES)
def test_scores_equal_rank_bm25_on_the_fixture(fixture_tokens: list[list[str]], query: str) -> None:
    tokens = make_tokenizer(TokenizerSettings())(query)
    oracle = BM25Okapi(fixture_tokens, k1=1.5, b=0.75, epsilon=0.25)
    expected = np.asarray(oracle.get_scores(tokens), dtype=np.float64)
    strict = BM25Index.build(fixture_tokens, F64).scores(tokens)
    np.testing.assert_allclose(strict, expected, rtol=0, atol=1e-6)
    single = BM25Index.build(fixture_tokens, F32).scores(tokens)
    np.testing.assert_allclose(single, expected, rtol=1e-6, atol=1e-9)
    if query.startswith("zzz"):  # only unknown terms
        assert not expected.any() and not strict.any()


def test_the_fixture_really_has_negative_idf_terms(fixture_tokens: list[list[str]]) -> None:
    # Guard for the oracle test above: at least one term occurs in more than half the passages,
    # so log((N - n + 0.5) / (n + 0.5)) < 0 and the epsilon floor is what is being compared.
    n = len(fixture_tokens)
    df: dict[str, int] = {}
    for tokens in fixture_tokens:
        for term in set(tokens):
            df[term] = df.get(term, 0) + 1
    assert any(count > n / 2 for count in df.values())


corpus_st = st.lists(st.lists(st.sampled_from("abcdefgh"), max_size=12), min_size=1, max_size=30).filter(
    lambda docs: any(docs)  # rank_bm25 divides by the average length: it cannot score an all-empty corpus
)


@SETTINGS
@given(corpus=corpus_st, query=st.lists(st.sampled_from("abcdefghxy"), max_size=8))
def test_scores_equal_rank_bm25_on_random_corpora(corpus: list[list[str]], query: list[str]) -> None:
    """Tiny vocabularies make most terms frequent: negative idfs, floors, zero idfs, repeats."""
    expected = _oracle(corpus, query)
    np.testing.assert_allclose(BM25Index.build(corpus, F64).scores(query), expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(BM25Index.build(corpus, F32).scores(query), expected, rtol=1e-6, atol=1e-6)


def test_a_one_and_a_two_passage_index_match() -> None:
    # rank_bm25 gives every term of a 1-passage corpus idf ln(0.5 / 1.5) < 0, so its floor
    # 0.25 * mean idf is negative too and no query ever matches. Here: N = 1, n = 1 for every term,
    # mean Lucene idf = ln(1 + 0.5 / 1.5) = ln(4/3); floor = 0.25 * ln(4/3) = 0.0719205...
    # dl = avgdl, so norm = k1 and the weight of a tf = 1 term is floor * 2.5 / 2.5 = floor.
    one = BM25Index.build([["a", "b"]], F64)
    assert one.top_k(["a"], 3) == [(0, pytest.approx(0.25 * math.log(4 / 3), abs=1e-12))]
    # N = 2: a term in one passage has idf ln(1.5 / 1.5) = 0 and nothing would match either
    two = BM25Index.build([["a", "b"], ["c"]], F64)
    assert [row for row, _ in two.top_k(["c"], 3)] == [1] and [row for row, _ in two.top_k(["a"], 3)] == [0]
    np.testing.assert_allclose(two.scores(["a", "c"]), _oracle([["a", "b"], ["c"]], ["a", "c"]), rtol=0, atol=1e-12)


def test_repeated_query_terms_count_each_time() -> None:
    corpus = [["a", "b"], ["a"], ["c", "c", "a"], ["d"]]
    index = BM25Index.build(corpus, F64)
    once = index.scores(["c"])
    np.testing.assert_allclose(index.scores(["c", "c", "c"]), 3 * once, rtol=0, atol=1e-12)
    np.testing.assert_allclose(index.scores(["c", "c", "c"]), _oracle(corpus, ["c", "c", "c"]), rtol=0, atol=1e-6)


def test_empty_corpus_and_empty_query() -> None:
    index = BM25Index.build([], F64)
    assert index.n_docs == 0 and index.scores(["a"]).shape == (0,)
    assert index.top_k(["a"], 5) == []
    assert BM25Index.build([["a"]], F64).top_k([], 5) == []


def test_lucene_variant_against_a_hand_derived_value() -> None:
    # corpus: d0 = [a, b], d1 = [a], d2 = [c, c, a]; N = 3, avgdl = (2 + 1 + 3) / 3 = 2.
    # term c: n = 1, idf = ln(1 + (3 - 1 + 0.5) / (1 + 0.5)) = ln(1 + 2.5 / 1.5) = ln(8/3) = 0.980829...
    # d2: tf = 2, dl = 3: norm = k1 * (1 - b + b * dl / avgdl) = 1.5 * (0.25 + 0.75 * 1.5) = 2.0625
    # weight = idf * tf * (k1 + 1) / (tf + norm) = ln(8/3) * 2 * 2.5 / 4.0625 = 1.2071742...
    # term a occurs everywhere: idf = ln(1 + 0.5 / 3.5) = ln(8/7) > 0 (Lucene's idf is never negative).
    index = BM25Index.build([["a", "b"], ["a"], ["c", "c", "a"]], BM25Settings(variant="lucene", dtype="float64"))
    scores = index.scores(["c"])
    assert scores[2] == pytest.approx(math.log(8 / 3) * 5 / 4.0625, abs=1e-12)
    assert scores[2] == pytest.approx(1.2071742, abs=1e-6)
    assert scores[0] == scores[1] == 0.0
    # a in d1: tf = 1, dl = 1: norm = 1.5 * (0.25 + 0.75 * 0.5) = 0.9375; weight = ln(8/7) * 2.5 / 1.9375
    assert index.scores(["a"])[1] == pytest.approx(math.log(8 / 7) * 2.5 / 1.9375, abs=1e-12)


def test_top_k_orders_by_score_then_row_and_skips_zero_scores() -> None:
    # N = 6. d0 and d2 are identical, so they tie on "x"; the others lack "x" and must not be returned.
    # idf(x) = ln((6 - 2 + 0.5) / (2 + 0.5)) = ln(1.8) > 0; idf(z) = ln(5.5 / 1.5) = ln(3.67), larger,
    # and d1 has the same length as d0 and d2, so for the query "x z" d1 ranks first, then d0, d2 by row.
    corpus = [["x", "y"], ["y", "z"], ["x", "y"], ["w"], ["w"], ["v"]]
    index = BM25Index.build(corpus, F64)
    hits = index.top_k(["x"], 10)
    assert [row for row, _ in hits] == [0, 2]
    assert hits[0][1] == hits[1][1] > 0
    assert index.top_k(["x"], 1) == hits[:1]
    assert [row for row, _ in index.top_k(["x", "z"], 3)] == [1, 0, 2]
    assert [row for row, _ in index.top_k(["x", "z"], 2)] == [1, 0]  # the tie at the cut keeps the lower row


def test_save_load_round_trip(tmp_path, fixture_tokens: list[list[str]]) -> None:
    index = BM25Index.build(fixture_tokens, F32)
    index.save(tmp_path / "bm25")
    for mmap in (False, True):
        loaded = BM25Index.load(tmp_path / "bm25", mmap=mmap)
        assert loaded.vocabulary == index.vocabulary and loaded.n_docs == index.n_docs and loaded.settings == index.settings
        for name in ("indptr", "indices", "weights"):
            np.testing.assert_array_equal(getattr(loaded, name), getattr(index, name))
        assert loaded.weights.dtype == np.float32
        query = make_tokenizer(TokenizerSettings())("pembrolizumab PD-L1 CPS ≥1")
        np.testing.assert_array_equal(loaded.scores(query), index.scores(query))
        assert loaded.top_k(query, 5) == index.top_k(query, 5)


def test_load_refuses_a_damaged_folder(tmp_path) -> None:
    BM25Index.build([["a", "b"], ["b"]], F64).save(tmp_path / "bm25")
    (tmp_path / "bm25" / "weights.npy").write_bytes(b"\x93NUMPY broken")
    with pytest.raises(IndexStateError, match="weights.npy|lexical index unreadable"):
        BM25Index.load(tmp_path / "bm25")
    BM25Index.build([["a", "b"], ["b"]], F64).save(tmp_path / "bm25")
    np.save(tmp_path / "bm25" / "indptr.npy", np.zeros(7, dtype=np.int64))  # vocabulary has 2 terms, so 3 expected
    with pytest.raises(IndexStateError, match="disagree in size"):
        BM25Index.load(tmp_path / "bm25")
    (tmp_path / "bm25" / "weights.npy").write_bytes(b"")  # empty: numpy raises EOFError
    with pytest.raises(IndexStateError, match=r"weights.npy: lexical index unreadable \(EOFError"):
        BM25Index.load(tmp_path / "bm25")


DEFAULT = TokenizerSettings()
RAW = TokenizerSettings(stopwords=False, stemmer=None, split_compounds=False)

TOKENIZER_TABLE: list[tuple[str, TokenizerSettings, list[str]]] = [
    ("PD-L1", RAW, ["pd-l1"]),
    ("PD-L1", DEFAULT, ["pd-l1", "pd", "l1"]),  # whole compound, then its parts
    ("CPS ≥1", RAW, ["cps", "≥1"]),
    ("CPS ≥ 1", RAW, ["cps", "≥1"]),  # comparator glued to its number
    ("CPS >= 1", RAW, ["cps", "≥1"]),  # ASCII comparator canonicalised
    ("CPS ≥1", DEFAULT, ["cps", "≥1", "1"]),
    ("0.69", DEFAULT, ["0.69"]),  # decimals survive
    ("HR 0.69; p<0.001", DEFAULT, ["hr", "0.69", "p", "<0.001", "0.001"]),
    ("350 mg", DEFAULT, ["350", "mg"]),
    ("5.4 mg/kg", RAW, ["5.4", "mg/kg"]),
    ("fam-trastuzumab deruxtecan-nxki", RAW, ["fam-trastuzumab", "deruxtecan-nxki"]),
    ("fam-trastuzumab deruxtecan-nxki", DEFAULT,
     ["fam-trastuzumab", "fam", "trastuzumab", "deruxtecan-nxki", "deruxtecan", "nxki"]),
    ("r/m", RAW, ["r/m"]),
    ("r/m", DEFAULT, ["r/m", "r", "m"]),
    ("2L", DEFAULT, ["2l"]),
    ("q3w", DEFAULT, ["q3w"]),
    ("i.v.", DEFAULT, ["i.v"]),
    ("≥ 50%", DEFAULT, ["≥50%", "50%"]),
    ("Libtayo's label", DEFAULT, ["libtayo", "label"]),  # possessive stripped (fixed: was "libtayo's")
    ("the patients were treated", DEFAULT, ["patient", "treat"]),  # stop words out, Snowball stems
    ("The patients were treated", RAW, ["the", "patients", "were", "treated"]),
    # Non-ASCII letters are letters (fixed: "Barré" was "barr" and α/β vanished, so TNF-α == TNF-β).
    ("Guillain–Barré", RAW, ["guillain-barré"]),  # en dash normalised to '-'
    ("TNF-α vs. TNF-β", RAW, ["tnf-α", "vs", "tnf-β"]),
    ("5 μg", RAW, ["5", "μg"]),  # micro sign NFKC-normalised to Greek mu
]


@pytest.mark.parametrize(("text", "tok_settings", "expected"), TOKENIZER_TABLE, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(TOKENIZER_TABLE)])
def test_tokenizer_table(text: str, tok_settings: TokenizerSettings, expected: list[str]) -> None:
    assert make_tokenizer(tok_settings)(text) == expected


# --------------------------------------------------------------------------- the numba top-k kernel
# `top_k` on a large index runs rag.bm25_jit; it must give the numpy path's rows and scores bit for
# bit. Random corpora over tiny vocabularies are full of exact ties (duplicated passages), repeated
# query terms, zero-idf terms and long queries: the cases where a shortlist chosen from float32 sums
# could drop a passage of the true top k.

NUMBA_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def _both_engines(index: BM25Index, query: list[str], k: int) -> tuple[list, list]:
    index.engine = "numpy"
    expected = index.top_k(query, k)
    index.engine = "numba"
    return index.top_k(query, k), expected


@NUMBA_SETTINGS
@given(
    corpus=st.lists(st.lists(st.sampled_from("abcdefghij"), max_size=14), min_size=1, max_size=60),
    copies=st.integers(1, 4),
    query=st.lists(st.sampled_from("abcdefghijxy"), max_size=24),
    k=st.integers(1, 15),
    dtype=st.sampled_from(["float32", "float64"]),
    variant=st.sampled_from(["okapi", "lucene"]),
)
def test_numba_top_k_equals_numpy_on_random_corpora(corpus, copies, query, k, dtype, variant) -> None:
    index = BM25Index.build(corpus * copies, BM25Settings(dtype=dtype, variant=variant))
    got, expected = _both_engines(index, query, k)
    assert got == expected  # same rows, same order, same float64 scores (==, not approx)
    assert not index._buffers[-1][0].any() if index._buffers else True  # the scratch is left all zero


SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"


@pytest.mark.skipif(not (SCIFACT / "corpus.jsonl").exists(), reason="../shared/data/scifact not present")
def test_numba_top_k_equals_numpy_on_real_text() -> None:
    """SciFact abstracts (real text, real idf spread), repeated to 3 copies so every top passage ties
    with two others; 60 SciFact claims at k = 1, 10, 100; both dtypes. Both the scan of all slots
    (queries with many postings) and the touched-list path (few postings) are taken here."""
    import json

    tokenize = make_tokenizer(TokenizerSettings())
    lines = (SCIFACT / "corpus.jsonl").read_text(encoding="utf-8").splitlines()[:1500]
    passages = [tokenize(f"{d['title']} {d['text']}") for d in map(json.loads, lines)]
    claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines()[:60]]
    from rag import bm25_jit

    dense = 0
    for dtype in ("float32", "float64"):
        index = BM25Index.build(passages * 3, BM25Settings(dtype=dtype))
        for claim in claims:
            tokens = tokenize(claim)
            terms = index._query_terms(tokens)
            dense += sum(index.indptr[r + 1] - index.indptr[r] for r, _ in terms) * bm25_jit.DENSE_SHARE >= index.n_docs
            for k in (1, 10, 100):
                got, expected = _both_engines(index, tokens, k)
                assert got == expected, (claim, k, dtype)
    assert 0 < dense < 2 * len(claims)  # both paths of the kernel ran


def test_numba_top_k_by_hand() -> None:
    # The tie case of test_top_k_orders_by_score_then_row_and_skips_zero_scores, through the kernel:
    # d0 and d2 tie on "x"; for "x z" d1 ranks first, then d0 before d2 (lower row).
    index = BM25Index.build([["x", "y"], ["y", "z"], ["x", "y"], ["w"], ["w"], ["v"]], F64)
    index.engine = "numba"
    assert [row for row, _ in index.top_k(["x", "z"], 3)] == [1, 0, 2]
    assert [row for row, _ in index.top_k(["x", "z"], 2)] == [1, 0]
    hits = index.top_k(["x"], 10)
    # idf(x) = ln((6 - 2 + 0.5) / (2 + 0.5)) = ln(1.8); avgdl = 9/6 = 1.5, d0 has dl = 2, tf = 1:
    # weight = ln(1.8) * 2.5 / (1 + 1.5 * (0.25 + 0.75 * 2 / 1.5)) = ln(1.8) * 2.5 / 2.875 = 0.51111...
    assert [row for row, _ in hits] == [0, 2] and hits[0][1] == pytest.approx(math.log(1.8) * 2.5 / 2.875, abs=1e-12)
    assert index.top_k(["zzz"], 5) == [] and index.top_k(["x"], 0) == []


def test_numba_kernel_refuses_rows_outside_the_index() -> None:
    index = BM25Index.build([["a", "b"], ["b"], ["c"]], F64)
    index.engine = "numba"
    index.indices[0] = 7  # a damaged memory-mapped file would look like this: no write past the buffer
    with pytest.raises(IndexStateError, match="outside 0..2"):
        index.top_k(["a"], 2)


def test_numba_kernel_hands_negative_weights_to_numpy() -> None:
    # No index this module builds has a negative weight; one that does must still rank exactly.
    index = BM25Index.build([["a", "b"], ["b"], ["a", "c"], ["c"]], F64)
    index.weights[:] = index.weights - 0.5
    got, expected = _both_engines(index, ["a", "b", "c"], 3)
    assert got == expected
