"""Dense retrieval: faiss vs brute-force numpy (awkward sizes, k > n, ties), the torch-free ONNX query
encoder vs sentence-transformers, and fusion (RRF, weighted) on hand-derived examples."""

from __future__ import annotations

import numpy as np
import pytest

from rag.dense import (
    HNSW_FROM,
    IVF_FROM,
    IVF_NPROBE,
    NORM_TOLERANCE,
    PARALLEL_SEARCH_FROM,
    build_faiss,
    check_vectors,
    choose_kind,
    describe_faiss,
    ivf_cells,
    load_faiss,
    save_faiss,
    search_faiss,
)
from rag.errors import IndexStateError
from rag.fusion import RRF_K, reciprocal_rank_fusion, weighted_fusion
from rag.models import Hit


def _unit(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    x = rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _numpy_knn(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Brute force: every inner product in float64, then the k best (stable sort: ties by row)."""
    all_scores = queries.astype(np.float64) @ vectors.astype(np.float64).T
    order = np.argsort(-all_scores, axis=1, kind="stable")[:, : min(k, len(vectors))]
    return all_scores, order


def _assert_same_knn(scores: np.ndarray, rows: np.ndarray, all_scores: np.ndarray, ref_rows: np.ndarray) -> None:
    """faiss may order tied scores freely (faiss.contrib's check_ref_knn_with_draws has the same idea):
    require the exact top-k scores, distinct rows, and that every returned row truly has its score.
    Then the returned rows are a correct top-k, and equal the reference wherever scores do not tie."""
    ref_scores = np.take_along_axis(all_scores, ref_rows, axis=1)
    np.testing.assert_allclose(scores, ref_scores, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.take_along_axis(all_scores, rows, axis=1), scores, rtol=0, atol=1e-5)
    for q in range(len(rows)):
        assert len(set(rows[q])) == len(rows[q])
        distinct = np.array([np.sum(np.abs(all_scores[q] - v) <= 1e-5) == 1 for v in ref_scores[q]])  # no tie anywhere
        np.testing.assert_array_equal(rows[q][distinct], ref_rows[q][distinct])


@pytest.mark.parametrize(("n", "d", "k"), [(1, 8, 1), (1, 8, 5), (7, 5, 3), (33, 17, 10), (257, 384, 17), (1000, 64, 100), (50, 4, 500)])
def test_flat_faiss_equals_numpy(n: int, d: int, k: int) -> None:
    rng = np.random.default_rng(n * 1000 + d)
    vectors = _unit(rng, n, d)
    queries = _unit(rng, 13, d)
    scores, rows = search_faiss(build_faiss(vectors, "flat"), queries, k)
    all_scores, ref_rows = _numpy_knn(vectors, queries, k)
    assert rows.shape == (13, min(k, n))  # k > n is clamped to n, never padded with -1
    _assert_same_knn(scores, rows, all_scores, ref_rows)


def test_flat_faiss_with_ties_equals_numpy() -> None:
    # 40 vectors, each repeated 3 times (120 rows): every score occurs 3 times, and a 4-dim space
    # with only 40 directions gives k=10 cut points inside tie groups.
    rng = np.random.default_rng(7)
    base = _unit(rng, 40, 4)
    vectors = np.repeat(base, 3, axis=0)
    queries = np.vstack([base[:5], _unit(rng, 5, 4)])
    scores, rows = search_faiss(build_faiss(vectors, "flat"), queries, 10)
    all_scores, ref_rows = _numpy_knn(vectors, queries, 10)
    _assert_same_knn(scores, rows, all_scores, ref_rows)
    assert (np.abs(np.diff(scores, axis=1)) <= 1e-6).any()  # the case really has ties inside the top 10
    # a query equal to a stored vector finds its three copies first, with score 1
    assert set(rows[0][:3]) == {0, 1, 2}
    np.testing.assert_allclose(scores[0][:3], 1.0, atol=1e-6)


def test_saved_and_memory_mapped_index_searches_the_same(tmp_path) -> None:
    rng = np.random.default_rng(3)
    vectors, queries = _unit(rng, 301, 32), _unit(rng, 9, 32)
    index = build_faiss(vectors, "flat")
    save_faiss(index, tmp_path)
    loaded = load_faiss(tmp_path, mmap=True)
    for a, b in zip(search_faiss(index, queries, 11), search_faiss(loaded, queries, 11), strict=True):
        np.testing.assert_array_equal(a, b)


def test_hnsw_recall_is_high(tmp_path) -> None:
    """hnsw is approximate: recall@10 against exact search must still be >= 0.95 on 3,000 vectors."""
    rng = np.random.default_rng(11)
    vectors, queries = _unit(rng, 3000, 32), _unit(rng, 50, 32)
    _, approx = search_faiss(build_faiss(vectors, "hnsw"), queries, 10)
    _, exact = _numpy_knn(vectors, queries, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.95


def test_kind_follows_size() -> None:
    assert [choose_kind(n) for n in (1, HNSW_FROM - 1, HNSW_FROM, IVF_FROM - 1, IVF_FROM, 10 * IVF_FROM)] == [
        "flat", "flat", "hnsw", "hnsw", "ivfsq8", "ivfsq8"]


def _clustered(rng: np.random.Generator, n: int, d: int, centres: int, spread: float) -> np.ndarray:
    """Unit vectors around `centres` random directions (a corpus has topics; uniform noise has none)."""
    x = _unit(rng, centres, d)[rng.integers(0, centres, n)] + rng.normal(0, spread, (n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_ivfsq8_recall_is_high_with_its_stored_nprobe() -> None:
    """The kind chosen from IVF_FROM on, on 20,000 clustered vectors (312 cells, IVF_NPROBE of them
    scanned): recall@10 against exact search >= 0.95 (0.97 measured at nprobe 64). nprobe is what makes
    it: scanning one cell finds about a quarter of the neighbours."""
    rng = np.random.default_rng(5)
    vectors = _clustered(rng, 20_000, 48, 200, 0.15)
    queries = _clustered(rng, 100, 48, 200, 0.15)
    index = build_faiss(vectors, "ivfsq8")
    _, exact = _numpy_knn(vectors, queries, 10)

    def recall() -> float:
        _, approx = search_faiss(index, queries, 10)
        return float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)]))

    assert index.nlist == ivf_cells(20_000) == 312 and index.nprobe == IVF_NPROBE
    assert recall() >= 0.95
    index.nprobe = 1
    assert recall() < 0.8


def test_ivfsq8_settings_and_vectors_survive_save_and_load(tmp_path) -> None:
    """nprobe is a query-time setting: it is stored in vectors.faiss, so the loaded index serves with the
    tuned value. SQ8 decoding is approximate (8 bits per dimension of the residual to the cell centre):
    stored vectors come back within 3e-3 of the originals (4 bits would miss that), unit norm within
    NORM_TOLERANCE."""
    rng = np.random.default_rng(9)
    vectors, queries = _clustered(rng, 5_000, 384, 50, 0.05), _clustered(rng, 7, 384, 50, 0.05)
    index = build_faiss(vectors, "ivfsq8")
    save_faiss(index, tmp_path)
    loaded = load_faiss(tmp_path)
    assert describe_faiss(loaded) == describe_faiss(index) == f"IVF{ivf_cells(5_000)},SQ8 nprobe={min(IVF_NPROBE, ivf_cells(5_000))}"
    for a, b in zip(search_faiss(index, queries, 10), search_faiss(loaded, queries, 10), strict=True):
        np.testing.assert_array_equal(a, b)
    decoded = loaded.reconstruct_n(0, loaded.ntotal)
    assert np.abs(decoded - vectors).max() < 3e-3
    assert np.abs(np.linalg.norm(decoded, axis=1) - 1).max() < NORM_TOLERANCE
    check_vectors(loaded, tmp_path / "vectors.faiss")  # the load-time check accepts SQ8's decoding error


def test_search_leaves_faiss_threads_as_it_found_them() -> None:
    """One query searches on one thread (PARALLEL_SEARCH_FROM); the process-wide setting is restored."""
    import faiss

    rng = np.random.default_rng(2)
    index = build_faiss(_unit(rng, 500, 16), "flat")
    before = faiss.omp_get_max_threads()
    for count in (1, PARALLEL_SEARCH_FROM):
        search_faiss(index, _unit(rng, count, 16), 5)
        assert faiss.omp_get_max_threads() == before


def test_load_faiss_errors_name_the_file(tmp_path) -> None:
    with pytest.raises(IndexStateError, match="vectors.faiss: dense index missing"):
        load_faiss(tmp_path)
    save_faiss(build_faiss(_unit(np.random.default_rng(0), 10, 8), "flat"), tmp_path)
    data = (tmp_path / "vectors.faiss").read_bytes()
    (tmp_path / "vectors.faiss").write_bytes(data[: len(data) // 2])
    with pytest.raises(IndexStateError, match="vectors.faiss: dense index unreadable"):
        load_faiss(tmp_path)


# --------------------------------------------------------------------------- ONNX query encoder parity

LONG_QUERY = " ".join(
    ["In patients with recurrent or metastatic cervical cancer after platinum-based chemotherapy,"]
    + [f"does cemiplimab 350 mg i.v. q3w improve overall survival in subgroup {i} with PD-L1 CPS ≥{i}?" for i in range(25)]
)
PARITY_QUERIES = [
    "libtayo cervical cancer after platinum",
    "pembrolizumab PD-L1 CPS ≥1",
    "What is the dose of fam-trastuzumab deruxtecan-nxki?",
    "q3w",
    "HR 0.69 (95% CI 0.56-0.84)",
    "r/m cervical cancer 2L options",
    "tisotumab vedotin ocular toxicity",
    "Guillain–Barré syndrome after nivolumab",
    "TNF-α inhibitor infliximab 5 mg/kg for colitis",
    "a",
    "?!? cervical",
    "HPV vaccination single dose Kenya",
    "Calvert formula: dose = AUC × (GFR + 25)",
    "EMPOWER-Cervical 1 vs. KEYNOTE-826",
    "grade ≥3 immune-related adverse events",
    "bevacizumab 15 mg/kg fistula risk after pelvic radiation",
    "NTRK fusion larotrectinib 100 mg BID",
    "   leading and trailing spaces   ",
    "UPPER CASE QUERY ABOUT CEMIPLIMAB",
    "médicament anticancéreux du col de l'utérus",
    LONG_QUERY,
]


def test_long_query_really_exceeds_the_model_length(hf_tokenizer, max_seq_length: int) -> None:
    assert len(hf_tokenizer.encode(LONG_QUERY).ids) > max_seq_length  # so the parity test covers truncation


def test_onnx_query_vectors_equal_sentence_transformers(fixture_index, st_model) -> None:
    from rag.embedding import QueryEncoder

    encoder = QueryEncoder(fixture_index.folder / "dense")
    reference = st_model.encode(PARITY_QUERIES, convert_to_numpy=True, batch_size=8)
    reference = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    batched = encoder.encode(PARITY_QUERIES)  # one padded batch
    single = np.vstack([encoder.encode([q]) for q in PARITY_QUERIES])  # one at a time, as `rag search` does
    for vectors in (batched, single):
        assert vectors.shape == (len(PARITY_QUERIES), 384) and vectors.dtype == np.float32
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(vectors * reference, axis=1)
        assert cosines.min() >= 0.9999, dict(zip(PARITY_QUERIES, cosines.round(6), strict=True))


def test_index_vectors_are_the_passage_embeddings_in_row_order(fixture_index, st_model) -> None:
    """Row i of faiss is the embedding of row i of the passage store (what BM25 row i also is)."""
    from rag.chunking import indexed_text
    from rag.index.load import open_index

    index = open_index(fixture_index.root)
    passages = index.store.all_passages()
    texts = [indexed_text(index.store.document(p.doc_id).title, p.section, p.text) for p in passages]
    stored = index.faiss.reconstruct_n(0, index.faiss.ntotal)
    fresh = st_model.encode(texts, convert_to_numpy=True, batch_size=32)
    fresh = fresh / np.linalg.norm(fresh, axis=1, keepdims=True)
    assert np.sum(stored * fresh, axis=1).min() >= 0.9999


# --------------------------------------------------------------------------- fusion


def _hits(pairs: list[tuple[str, float]]) -> list[Hit]:
    return [Hit(passage_id=p, doc_id=p.split("#")[0], score=s, rank=i + 1) for i, (p, s) in enumerate(pairs)]


BM25_RUN = _hits([("a#1", 12.0), ("b#1", 8.0), ("c#1", 4.0)])
DENSE_RUN = _hits([("c#1", 0.9), ("a#1", 0.5), ("d#1", 0.1)])


def test_reciprocal_rank_fusion_hand_derived() -> None:
    # a: 1/(60+1) + 1/(60+2) = 0.016393 + 0.016129 = 0.032522
    # c: 1/(60+3) + 1/(60+1) = 0.015873 + 0.016393 = 0.032266
    # b: 1/(60+2) = 0.016129;  d: 1/(60+3) = 0.015873
    fused = reciprocal_rank_fusion([BM25_RUN, DENSE_RUN], 10)
    assert RRF_K == 60
    assert [h.passage_id for h in fused] == ["a#1", "c#1", "b#1", "d#1"]
    assert [h.rank for h in fused] == [1, 2, 3, 4]
    assert fused[0].score == pytest.approx(1 / 61 + 1 / 62)
    assert fused[1].score == pytest.approx(1 / 63 + 1 / 61)
    assert fused[3].score == pytest.approx(1 / 63)
    assert fused[0].doc_id == "a"
    assert [h.passage_id for h in reciprocal_rank_fusion([BM25_RUN, DENSE_RUN], 2)] == ["a#1", "c#1"]


def test_reciprocal_rank_fusion_breaks_ties_by_passage_id() -> None:
    # z and y each appear once at rank 1: equal scores 1/61, so the smaller id comes first.
    fused = reciprocal_rank_fusion([_hits([("z#1", 3.0)]), _hits([("y#1", 0.2)])], 10)
    assert [h.passage_id for h in fused] == ["y#1", "z#1"]
    assert fused[0].score == fused[1].score == pytest.approx(1 / 61)
    assert reciprocal_rank_fusion([[], []], 5) == []


def test_weighted_fusion_hand_derived() -> None:
    # min-max per run: BM25 12, 8, 4 -> 1, 0.5, 0;  dense 0.9, 0.5, 0.1 -> 1, 0.5, 0.
    # weights 0.3 (bm25), 0.7 (dense):
    # a = 0.3*1 + 0.7*0.5 = 0.65;  c = 0.3*0 + 0.7*1 = 0.70;  b = 0.3*0.5 = 0.15;  d = 0.7*0 = 0
    fused = weighted_fusion([BM25_RUN, DENSE_RUN], [0.3, 0.7], 10)
    assert [h.passage_id for h in fused] == ["c#1", "a#1", "b#1", "d#1"]
    assert [h.score for h in fused] == pytest.approx([0.70, 0.65, 0.15, 0.0])
    # equal weights: a = 0.5 + 0.25 = 0.75 beats c = 0.5
    assert [h.passage_id for h in weighted_fusion([BM25_RUN, DENSE_RUN], [0.5, 0.5], 2)] == ["a#1", "c#1"]
    # a run whose scores are all equal normalises to 1 (no division by zero)
    flat = weighted_fusion([_hits([("a#1", 2.0), ("b#1", 2.0)])], [1.0], 10)
    assert [h.score for h in flat] == [1.0, 1.0]
    with pytest.raises(ValueError, match="1 weights for 2 rankings"):
        weighted_fusion([BM25_RUN, DENSE_RUN], [1.0], 10)


def test_hybrid_retriever_fuses_its_two_parts(fixture_index) -> None:
    """HybridRetriever's output is exactly RRF over what BM25 and dense return at depth 100."""
    from rag.index.load import open_index
    from rag.retrievers import FUSION_DEPTH, BM25Retriever, DenseRetriever, HybridRetriever

    index = open_index(fixture_index.root)
    query = "libtayo cervical cancer after platinum"
    parts = [BM25Retriever(index).search(query, FUSION_DEPTH), DenseRetriever(index).search(query, FUSION_DEPTH)]
    assert HybridRetriever(index).search(query, 5) == reciprocal_rank_fusion(parts, 5)
    weighted = HybridRetriever(index, fusion="weighted", dense_weight=0.25).search(query, 5)
    assert weighted == weighted_fusion(parts, [0.75, 0.25], 5)
