"""Dense index: normalised vectors in a faiss inner-product index (cosine similarity).

The index type follows the collection size: exact `flat` search up to `HNSW_FROM` vectors, `hnsw` graph
search above (both hold every float32 vector: 1.5 GB per million 384-d vectors), and `ivfsq8` from
`IVF_FROM`: an inverted file of nlist = 4 sqrt(n) k-means cells whose vectors are stored as 8-bit
scalar-quantised residuals to their cell centre (one byte a dimension: 384 MB per million; the lists
are memory-mapped by `load_faiss`, and the benchmark counts them as fully resident) and scanned in the
IVF_NPROBE cells nearest the query. SQ8 (per-dimension min/max ranges, no clipping) decodes each vector
within ~1e-3 of the original, which keeps the unit-norm checks below meaningful. Measured at 1M by
benchmarks/bench_scale.py (18k real MiniLM vectors replicated with noise up to 1M; the SciFact test
claims as queries; nprobe 128): recall@10 against exact search 0.959 with noise 0.01 per dimension and
0.983 with noise 0.03; built in ~3 min on 2 cores; the hybrid serving process (BM25 + store + faiss +
query model) peaks at 768 MB, 911 MB with every mapped page resident; hybrid 18/30 ms p50/p95 at load
~7. A sweep on such vectors (17.9k real, noise 0.01) gave 0.927/0.947/0.955/0.960 at nprobe 16/32/64/128,
and re-ranking the same 100 candidates exactly gives 0.963/0.984/0.993/0.998: past 64 probes the
misses are SQ8 mis-ordering near-duplicate replicas (score gaps ~1e-3), an artefact of replication
that real passages do not have. The earlier `ivfpq` (IVF-PQ 48-byte codes re-ranked against
memory-mapped float16 copies: recall@10 0.80 at 1M) can still be built on request (BuildSettings.faiss)
where memory matters more than recall.

Query-time settings (efSearch, nprobe, the ivfpq refine factor) are set by `build_faiss` and written
into vectors.faiss by faiss itself, so a loaded index serves with the tuned values; the manifest records
`describe_faiss` of the built index and loading refuses an index whose settings differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from rag.errors import IndexStateError

FaissKind = Literal["flat", "hnsw", "ivfsq8", "ivfpq"]
HNSW_FROM = 200_000
IVF_FROM = 500_000  # from here `choose_kind` answers ivfsq8 (float32 HNSW would need 1.5 GB per million)
HNSW_LINKS = 32  # hnsw: graph neighbours per vector (M)
HNSW_EF_CONSTRUCTION = 80  # hnsw: candidate list while building the graph
HNSW_EF_SEARCH = 64  # hnsw: candidate list while searching (stored in the faiss file)
IVF_CELLS_PER_SQRT_N = 4  # ivf kinds: nlist = 4 * sqrt(n) cells (4,000 at 1M, ~250 vectors a cell)
IVF_TRAIN_PER_CELL = 64  # ivf kinds: k-means trains on 64 sampled vectors per cell (faiss warns below 39)
IVF_NPROBE = 128  # ivfsq8: cells scanned per query (3% of 4,000 at 1M), tuned at 1M by benchmarks/bench_scale.py; stored in the file
IVFPQ_REFINE_FACTOR = 10  # ivfpq: re-rank 10 x k PQ candidates with the float16 vectors
FAISS_FILE = "vectors.faiss"
NORM_TOLERANCE = 1e-2  # stored vectors are unit norm (float16 copies in ivfpq: within ~1e-3; SQ8 residuals: ~1e-3)
# A search of fewer queries than this runs on one thread. faiss parallelises with OpenMP, whose wake-up
# and spinning cost far more than one query's work on 2 busy cores: flat search of one query over 10k
# vectors took 16 ms with 2 threads and 0.25 ms with 1 here (machine load ~8).
PARALLEL_SEARCH_FROM = 16
FULL_CHECK_FLOATS = 4_000_000  # check every vector at load up to this size (~10k x 384, ~10 ms); above, hits only


def choose_kind(n_vectors: int) -> FaissKind:
    if n_vectors >= IVF_FROM:
        return "ivfsq8"
    if n_vectors >= HNSW_FROM:
        return "hnsw"
    return "flat"


def ivf_cells(n_vectors: int) -> int:
    """nlist: IVF_CELLS_PER_SQRT_N * sqrt(n), but no more cells than the vectors can train."""
    return max(1, min(int(IVF_CELLS_PER_SQRT_N * np.sqrt(n_vectors)), n_vectors // IVF_TRAIN_PER_CELL))


def build_faiss(vectors: np.ndarray, kind: FaissKind | None = None, *, seed: int = 1234):
    """A faiss index over `vectors` (n x d, float32, unit norm) searched by inner product. Query-time
    settings (efSearch, nprobe, the refine factor) are set here and saved with the index."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, dim = vectors.shape
    kind = kind or choose_kind(n)
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    elif kind == "ivfsq8":
        nlist = ivf_cells(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
        index.referenced_objects = [quantizer]  # keep the Python wrapper alive with the C++ index
        index.train(_training_sample(vectors, nlist, seed))
        index.nprobe = min(nlist, IVF_NPROBE)
        index.add(vectors)
        index.make_direct_map()  # hit checks and `reconstruct` read a vector by its row (8 bytes a vector)
        return index
    elif kind == "ivfpq":
        nlist = ivf_cells(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFPQ(quantizer, dim, nlist, dim // 8 if dim % 8 == 0 else dim // 4, 8, faiss.METRIC_INNER_PRODUCT)
        index.train(_training_sample(vectors, nlist, seed))
        index.nprobe = max(32, nlist // 16)
        exact = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        refined = faiss.IndexRefine(index, exact)
        refined.k_factor = IVFPQ_REFINE_FACTOR
        refined.referenced_objects = [index, quantizer, exact]  # keep the Python wrappers alive with the C++ index
        index = refined
    else:
        raise ValueError(f"faiss kind {kind!r} unknown; use flat, hnsw, ivfsq8 or ivfpq")
    index.add(vectors)
    return index


def _training_sample(vectors: np.ndarray, nlist: int, seed: int) -> np.ndarray:
    n = len(vectors)
    rng = np.random.default_rng(seed)
    return vectors[np.sort(rng.choice(n, size=min(n, IVF_TRAIN_PER_CELL * nlist), replace=False))]


def describe_faiss(index) -> str:
    """The structure and query-time settings of a (loaded) faiss index, e.g. 'IVF4000,SQ8 nprobe=64'."""
    import faiss

    index = faiss.downcast_index(index)
    if isinstance(index, faiss.IndexRefine):
        return f"{describe_faiss(index.base_index)}, refined x{index.k_factor:g} by {describe_faiss(index.refine_index)}"
    if isinstance(index, faiss.IndexHNSW):
        return f"HNSW{index.hnsw.nb_neighbors(1)} efSearch={index.hnsw.efSearch} efConstruction={index.hnsw.efConstruction}"
    if isinstance(index, faiss.IndexIVFScalarQuantizer):
        bits = {faiss.ScalarQuantizer.QT_8bit: "SQ8", faiss.ScalarQuantizer.QT_fp16: "SQfp16"}.get(index.sq.qtype, "SQ")
        return f"IVF{index.nlist},{bits} nprobe={index.nprobe}"
    if isinstance(index, faiss.IndexIVFPQ):
        return f"IVF{index.nlist},PQ{index.pq.M}x{index.pq.nbits} nprobe={index.nprobe}"
    if isinstance(index, faiss.IndexScalarQuantizer):
        return "fp16" if index.sq.qtype == faiss.ScalarQuantizer.QT_fp16 else "SQ"
    return "Flat" if isinstance(index, faiss.IndexFlat) else type(index).__name__


def save_faiss(index, folder: Path) -> None:
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    faiss.write_index(index, str(folder / FAISS_FILE))


def load_faiss(folder: Path, *, mmap: bool = True):
    import faiss

    path = folder / FAISS_FILE
    if not path.exists():
        raise IndexStateError(f"{path}: dense index missing; rebuild with `rag index build`")
    try:
        # IO_FLAG_MMAP_IFC maps flat vector storage (flat, HNSW, the ivfpq re-ranking vectors) from the file
        attempts = [getattr(faiss, "IO_FLAG_MMAP_IFC", 0), faiss.IO_FLAG_MMAP] if mmap else []
        index = None
        for flag in attempts:
            if flag:
                try:
                    index = faiss.read_index(str(path), flag | faiss.IO_FLAG_READ_ONLY)
                    break
                except RuntimeError:  # some index types cannot be memory-mapped
                    continue
        return index if index is not None else faiss.read_index(str(path))
    except (RuntimeError, MemoryError) as error:
        raise IndexStateError(f"{path}: dense index unreadable ({str(error).splitlines()[0]}); rebuild with `rag index build`") from error


def search_faiss(index, query_vectors: np.ndarray, k: int, *, path: Path | str = FAISS_FILE) -> tuple[np.ndarray, np.ndarray]:
    """(scores, rows), each (n_queries x k); rows are -1 where fewer than k vectors exist. The vectors
    of the hits are checked (unit norm, score = inner product), so a damaged vector is never served."""
    import faiss

    k = max(1, min(k, index.ntotal))
    query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1 if len(query_vectors) < PARALLEL_SEARCH_FROM else threads)
    try:
        scores, rows = index.search(query_vectors, k)
    finally:
        faiss.omp_set_num_threads(threads)
    for query, row_scores, row_ids in zip(query_vectors, scores, rows):
        found = row_ids >= 0
        vectors = np.stack([index.reconstruct(int(r)) for r in row_ids[found]]) if found.any() else np.zeros((0, len(query)))
        _check_unit(vectors, path)
        if not np.allclose(vectors @ query, row_scores[found], atol=NORM_TOLERANCE):
            raise _damaged(path, "a hit's score is not its vector's inner product with the query")
    return scores, rows


def check_vectors(index, path: Path) -> None:
    """Refuse a faiss index whose stored vectors are not finite unit vectors (damaged bytes). Reads
    every vector up to FULL_CHECK_FLOATS (a few ms for thousands of passages); larger indexes are
    checked at search time, hit by hit."""
    if index.ntotal * index.d <= FULL_CHECK_FLOATS and index.ntotal:
        _check_unit(index.reconstruct_n(0, index.ntotal), path)


def _check_unit(vectors: np.ndarray, path: Path | str) -> None:
    with np.errstate(all="ignore"):
        squares = np.einsum("ij,ij->i", vectors, vectors)  # squared norms; inf or nan for damaged bytes
    if not np.all(np.isfinite(squares)) or np.any(np.abs(squares - 1.0) > 2 * NORM_TOLERANCE):
        raise _damaged(path, "stored vectors are not unit vectors")


def _damaged(path: Path | str, detail: str) -> IndexStateError:
    return IndexStateError(f"{path}: dense index unreadable ({detail}: the file is damaged); rebuild with `rag index build`")
