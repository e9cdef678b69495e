"""Retrieval benchmark: prints one table (issue 2).

Rows:
- index build throughput (passages/s) of `rag index build` on the default corpus, next to raw
  `model.encode` throughput on the same passage texts;
- BM25 build time, query latency p50/p95 and queries/s for this project, rank-bm25, bm25s (numpy
  backend) and bm25s (numba backend) side by side at 10k, 100k and 1M passages (real text: SciFact
  corpus.jsonl, NGC guideline XML and ClinicalTrials.gov XML records, chunked by our chunker into
  up to 100k unique passages, which are repeated with distinct ids to reach the size — the 1M corpus
  is each passage ten times; all engines score the same tokens, so the comparison is of the engines,
  not of tokenizers; q/s is the best of 3 rounds over the same SciFact claims, to damp the noise of
  a shared machine; rank-bm25 is left out at 1M, where one query takes seconds);
- head to head: this project's BM25 and bm25s-numba in ONE process at 100k and 1M, rounds
  alternating (5 each), the best round of each, and how often the top-1 passages agree (both with
  Lucene's idf; a tie counts as agreement) — the fairest comparison on a machine with other load;
- dense and hybrid query latency (warm), faiss search at 10k/100k vectors;
- cold start of `rag search` (process start to printed hits, median of 5 runs);
- peak memory (RSS) of each BM25 engine at each size, of `rag search`, and of this benchmark.

Each BM25 engine runs in its own subprocess (`--worker`), so its peak RSS is its own.

    python benchmarks/bench_retrieval.py              # full run (~20-30 minutes on 2 cores; ~6 GB RAM at 1M)
    python benchmarks/bench_retrieval.py --quick      # 2k/10k passages, fewer queries (a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
SCIFACT = SHARED / "scifact"
NGC_TARBALL = SHARED / "ngc" / "ngc_summaries_full_xml.tar.gz"
CTGOV_XML = SHARED / "clinicaltrials" / "xml"
ROUNDS = 3  # q/s of a BM25 engine: the best of this many rounds over the same queries
DUEL_ROUNDS = 5
DEFAULT_CORPUS = ROOT / "corpus"
RAG = Path(sys.executable).with_name("rag")
COLD_QUERY = "libtayo cervical cancer after platinum"
CLINICAL_QUERIES = [
    COLD_QUERY,
    "pembrolizumab PD-L1 CPS ≥1 first-line cervical cancer",
    "tisotumab vedotin ocular toxicity",
    "cemiplimab overall survival hazard ratio",
    "bevacizumab added to chemotherapy survival",
    "management of immune-related pneumonitis",
    "fam-trastuzumab deruxtecan-nxki HER2 IHC 3+",
    "second-line options recurrent cervical cancer",
    "KEYNOTE-826 progression-free survival",
    "dose of cemiplimab 350 mg every 3 weeks",
]


# --------------------------------------------------------------------------- small helpers


def percentiles(seconds: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds."""
    values = np.asarray(seconds) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def timed(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def mib(kib: float) -> str:
    return f"{kib / 1024:,.0f} MiB"


def vm_hwm_kib() -> int:
    """Peak RSS of this process's own address space (VmHWM). Not ru_maxrss: a child started by
    vfork/fork from a large parent inherits the parent's high-water mark in ru_maxrss."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def launch(stdout_path: str, args: Sequence[str]) -> None:
    """`--launch`: fork + exec `args` from this small process, wait, print wall time and the child's
    ru_maxrss as JSON. Forked from a small launcher, the child's ru_maxrss is its own peak RSS."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        fd = os.open(stdout_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 2)
        try:
            os.execv(args[0], list(args))
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    print(json.dumps({"wall": wall, "code": os.waitstatus_to_exitcode(status), "maxrss_kib": usage.ru_maxrss}))


def run_measured(args: Sequence[str], stdout_path: Path) -> tuple[float, int, int]:
    """Run a command through the launcher: (wall seconds from fork to exit, exit code, peak RSS KiB)."""
    launched = subprocess.run([sys.executable, __file__, "--launch", str(stdout_path), *args], capture_output=True, text=True, check=True)
    result = json.loads(launched.stdout)
    return result["wall"], result["code"], result["maxrss_kib"]


class Table:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def section(self, title: str) -> None:
        self.rows.append((f"## {title}", "", ""))

    def add(self, what: str, value: str, note: str = "") -> None:
        self.rows.append((what, value, note))
        print(f"  {what:<58} {value:>22}  {note}", flush=True)

    def render(self) -> str:
        width = max(len(r[0]) for r in self.rows if not r[0].startswith("## "))
        vwidth = max(len(r[1]) for r in self.rows)
        lines = []
        for what, value, note in self.rows:
            if what.startswith("## "):
                lines.append("")
                lines.append(what[3:])
                lines.append("-" * (width + vwidth + 4))
            else:
                lines.append(f"{what:<{width}}  {value:>{vwidth}}  {note}".rstrip())
        return "\n".join(lines)


# --------------------------------------------------------------------------- data: real passages


def build_pool(folder: Path, target: int) -> tuple[Path, Path, dict]:
    """Chunk SciFact, NGC and CT.gov documents with our chunker (model-token budget) into at most `target`
    unique passages, tokenize them and the SciFact claims with our BM25 tokenizer, and write both
    as JSONL for the workers. Returns (passage tokens file, query tokens file, stats)."""
    from rag.chunking import ChunkSettings, chunk_document, indexed_text
    from rag.embedding import DEFAULT_MODEL, resolve_model, token_counter
    from rag.loaders import read_sources
    from rag.tokenize import TokenizerSettings, make_tokenizer

    count = token_counter(resolve_model(DEFAULT_MODEL))
    settings = ChunkSettings()
    start = time.perf_counter()
    scifact = read_sources([SCIFACT / "corpus.jsonl"]).documents
    ngc = read_sources([NGC_TARBALL]).documents
    ctgov = read_sources([CTGOV_XML]).documents
    load_seconds = time.perf_counter() - start

    def passages_of(documents):
        for document in documents:
            for passage in chunk_document(document, count, settings):
                yield indexed_text(document.title, passage.section, passage.text)

    # Alternate between the collections by passage count, so every prefix (the 10k set) mixes
    # abstracts, guideline text and trial records, until the smaller ones run out.
    streams = {"scifact": passages_of(scifact), "ngc": passages_of(ngc), "ctgov": passages_of(ctgov)}
    texts: list[str] = []
    sources = {"scifact": 0, "ngc": 0, "ctgov": 0}
    start = time.perf_counter()
    while len(texts) < target and streams:
        name = min(streams, key=lambda n: sources[n])
        text = next(streams[name], None)
        if text is None:
            del streams[name]
            continue
        texts.append(text)
        sources[name] += 1
    texts = texts[:target]
    chunk_seconds = time.perf_counter() - start

    tokenize = make_tokenizer(TokenizerSettings())
    start = time.perf_counter()
    tokens = [tokenize(t) for t in texts]
    tokenize_seconds = time.perf_counter() - start
    claims = [json.loads(line)["text"] for line in (SCIFACT / "queries.jsonl").read_text().splitlines() if line.strip()]
    query_tokens = [tokenize(q) for q in claims]
    query_tokenize = [timed(lambda q=q: tokenize(q)) for q in claims[:300]]

    passages_file, queries_file = folder / "passages.jsonl", folder / "queries.jsonl"
    passages_file.write_text("\n".join(json.dumps(t) for t in tokens), encoding="utf-8")
    queries_file.write_text("\n".join(json.dumps(t) for t in query_tokens if t), encoding="utf-8")
    stats = {
        "documents": {"scifact": len(scifact), "ngc": len(ngc), "ctgov": len(ctgov)},
        "passages": len(texts),
        "sources": sources,
        "mean_tokens": float(np.mean([len(t) for t in tokens])),
        "load_seconds": load_seconds,
        "chunk_seconds": chunk_seconds,
        "tokenize_per_s": len(texts) / tokenize_seconds,
        "query_tokenize_ms": percentiles(query_tokenize),
    }
    return passages_file, queries_file, stats


# --------------------------------------------------------------------------- BM25 worker (own process)


def best_round(search: Callable[[list[str]], object], queries: list[list[str]], rounds: int = ROUNDS) -> tuple[float, list[float]]:
    """(best q/s over `rounds` passes over the queries, every single-query latency of all passes)."""
    latencies: list[float] = []
    best = 0.0
    for _ in range(rounds):
        times = [timed(lambda q=q: search(q)) for q in queries]
        latencies += times
        best = max(best, len(times) / sum(times))
    return best, latencies


def worker(engine: str, size: int, passages_file: Path, queries_file: Path, n_queries: int) -> None:
    import psutil

    pool = [json.loads(line) for line in passages_file.read_text(encoding="utf-8").splitlines()]
    queries = [json.loads(line) for line in queries_file.read_text(encoding="utf-8").splitlines()][:n_queries]
    corpus = [pool[i % len(pool)] for i in range(size)]  # repeats are distinct passages (distinct rows/ids)
    del pool
    process = psutil.Process()
    rss_before = process.memory_info().rss
    result: dict = {"engine": engine, "size": size, "queries": len(queries)}
    rounds = ROUNDS

    if engine == "duel":
        duel(corpus, queries, result)
        result["peak_rss_kib"] = vm_hwm_kib()
        print(json.dumps(result))
        return
    if engine == "rag":
        from rag.bm25 import JIT_MIN_PASSAGES, BM25Index, BM25Settings

        start = time.perf_counter()
        index = BM25Index.build(corpus, BM25Settings())
        result["build_s"] = time.perf_counter() - start
        result["kernel"] = "numba" if size >= JIT_MIN_PASSAGES else "numpy"
        start = time.perf_counter()
        index.top_k(queries[0], 10)
        result["first_query_s"] = time.perf_counter() - start  # the numba import and cached-kernel load
        search = lambda q: index.top_k(q, 10)  # noqa: E731
        result["index_mib"] = (index.indptr.nbytes + index.indices.nbytes + index.weights.nbytes) / 2**20
    elif engine in ("bm25s", "bm25s-numba"):
        import bm25s

        backend = "numba" if engine == "bm25s-numba" else "numpy"
        start = time.perf_counter()
        retriever = bm25s.BM25(k1=1.5, b=0.75, backend=backend)  # default method (lucene idf); the cost does not depend on it
        retriever.index(corpus, show_progress=False)
        result["build_s"] = time.perf_counter() - start
        search = lambda q: retriever.retrieve([q], k=10, show_progress=False, n_threads=1)  # noqa: E731
        search(queries[0])
        batch = []
        for _ in range(rounds):
            start = time.perf_counter()
            retriever.retrieve(queries, k=10, show_progress=False, n_threads=1)
            batch.append(len(queries) / (time.perf_counter() - start))
        result["batch_qps"] = max(batch)
        result["index_mib"] = sum(a.nbytes for a in retriever.scores.values() if hasattr(a, "nbytes")) / 2**20
    elif engine == "rank-bm25":
        from rank_bm25 import BM25Okapi

        start = time.perf_counter()
        okapi = BM25Okapi(corpus, k1=1.5, b=0.75, epsilon=0.25)
        result["build_s"] = time.perf_counter() - start
        rounds = 1

        def search(q: list[str]) -> np.ndarray:
            scores = okapi.get_scores(q)
            top = np.argpartition(-scores, 10)[:10]
            return top[np.argsort(-scores[top])]
    else:
        raise SystemExit(f"unknown engine {engine}")

    result["qps"], latencies = best_round(search, queries, rounds)
    result["p50_ms"], result["p95_ms"] = percentiles(latencies)
    result["rss_growth_mib"] = (process.memory_info().rss - rss_before) / 2**20
    result["peak_rss_kib"] = vm_hwm_kib()
    print(json.dumps(result))


def duel(corpus: list[list[str]], queries: list[list[str]], result: dict) -> None:
    """This project's BM25 (numba kernel) and bm25s-numba in one process, rounds alternating; both with
    Lucene's idf (bm25s's default), so their top-1 passages can be compared: agreement when bm25s's
    top passage scores, under our index, the same as our top passage (a tie is agreement)."""
    import bm25s

    from rag.bm25 import BM25Index, BM25Settings

    ours = BM25Index.build(corpus, BM25Settings(variant="lucene"))
    ours.engine = "numba"
    theirs = bm25s.BM25(k1=1.5, b=0.75, backend="numba")
    theirs.index(corpus, show_progress=False)
    del corpus
    ours.top_k(queries[0], 10)
    theirs.retrieve([queries[0]], k=10, show_progress=False, n_threads=1)
    engines = {
        "rag": lambda: [ours.top_k(q, 10) for q in queries],
        "bm25s-numba": lambda: [theirs.retrieve([q], k=10, show_progress=False, n_threads=1) for q in queries],
        "bm25s-numba-batch": lambda: theirs.retrieve(queries, k=10, show_progress=False, n_threads=1),
    }
    rounds: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(DUEL_ROUNDS):
        for name, run in engines.items():
            rounds[name].append(len(queries) / timed(run))
    result["duel_qps"] = {name: max(values) for name, values in rounds.items()}
    result["duel_rounds"] = {name: [round(v) for v in values] for name, values in rounds.items()}
    agree = compared = 0
    for q in queries:
        top = ours.top_k(q, 1)
        docs, _ = theirs.retrieve([q], k=1, show_progress=False, n_threads=1)
        if not top:
            continue
        compared += 1
        agree += abs(float(ours.scores(q)[int(docs[0][0])]) - top[0][1]) <= 1e-5 * top[0][1]
    result["top1_agree"] = (agree, compared)


def run_worker(engine: str, size: int, passages_file: Path, queries_file: Path, n_queries: int) -> dict:
    args = [sys.executable, __file__, "--worker", engine, str(size), str(passages_file), str(queries_file), str(n_queries)]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"worker {engine} {size} failed (exit {done.returncode}): {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- dense, hybrid, cold start


class StageClock:
    """A build Progress that records when each stage starts (for per-stage timings)."""

    def __init__(self) -> None:
        self.marks: list[tuple[str, float]] = []

    def stage(self, name: str, total: int | None) -> None:
        self.marks.append((name, time.perf_counter()))

    def advance(self, n: int = 1) -> None:
        pass

    def durations(self, end: float) -> dict[str, float]:
        marks = [*self.marks, ("end", end)]
        return {name: marks[i + 1][1] - t for i, (name, t) in enumerate(marks[:-1])}


def main(quick: bool, bm25_only: bool = False) -> None:
    sizes = [2_000, 10_000] if quick else [10_000, 100_000, 1_000_000]
    duel_sizes = [10_000] if quick else [100_000, 1_000_000]
    n_queries = 60 if quick else 300
    rank_queries = {sizes[0]: 10 if quick else 50, sizes[1]: 5 if quick else 10}  # rank-bm25 is not run at 1M
    table = Table()
    started = time.perf_counter()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start", flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as tmp:
        tmp_path = Path(tmp)

        # ---------------------------------------------------------------- BM25 at scale
        pool_target = 12_000 if quick else 100_000
        print("preparing real passages (SciFact + NGC + CT.gov, chunked and tokenized)...", flush=True)
        passages_file, queries_file, pool = build_pool(tmp_path, pool_target)
        table.section("Data for the BM25 rows")
        table.add("unique passages (chunked by our chunker)", f"{pool['passages']:,}",
                  f"SciFact {pool['sources']['scifact']:,} + NGC {pool['sources']['ngc']:,} + CT.gov {pool['sources']['ctgov']:,}; "
                  f"mean {pool['mean_tokens']:.0f} BM25 tokens each; repeated with distinct ids to reach size")
        table.add("BM25 tokenizer throughput (ours)", f"{pool['tokenize_per_s']:,.0f} passages/s")
        table.add("query tokenization p50 / p95 (ours)", "{:.3f} / {:.3f} ms".format(*pool["query_tokenize_ms"]),
                  "SciFact claims; not included in the engine latencies below")

        results: list[dict] = []
        for size in sizes:
            for engine in ("rag", "bm25s", "bm25s-numba", "rank-bm25"):
                if engine == "rank-bm25" and size not in rank_queries:
                    continue
                nq = rank_queries[size] if engine == "rank-bm25" else n_queries
                print(f"BM25 {engine} at {size:,} passages ({nq} queries)...", flush=True)
                results.append(run_worker(engine, size, passages_file, queries_file, nq))
        duels = []
        for size in duel_sizes:
            print(f"BM25 head to head at {size:,} passages ({n_queries} queries)...", flush=True)
            duels.append(run_worker("duel", size, passages_file, queries_file, n_queries))

        names = {"rag": "this project (rag.bm25)", "bm25s": "bm25s 0.3, numpy backend", "bm25s-numba": "bm25s 0.3, numba backend",
                 "rank-bm25": "rank-bm25 BM25Okapi"}
        for size in sizes:
            table.section(f"BM25 at {size:,} passages (same tokens for all; k=10; one query at a time, 1 thread; q/s best of {ROUNDS} rounds)")
            for r in (r for r in results if r["size"] == size):
                name = names[r["engine"]]
                sampled = f"[sampled: {r['queries']} queries, 1 round]" if r["engine"] == "rank-bm25" else f"[{r['queries']} queries]"
                if r["engine"] == "rag":
                    sampled += f" {r['kernel']} top-k; first query {r['first_query_s'] * 1000:.0f} ms"
                table.add(f"{name}: latency p50 / p95", f"{r['p50_ms']:.2f} / {r['p95_ms']:.2f} ms", sampled)
                table.add(f"{name}: queries/s", f"{r['qps']:,.0f}",
                          f"batched retrieve: {r['batch_qps']:,.0f} q/s" if "batch_qps" in r else "")
                table.add(f"{name}: index build", f"{r['build_s']:.1f} s", f"{size / r['build_s']:,.0f} passages/s")
                table.add(f"{name}: peak RSS (whole worker process)", mib(r["peak_rss_kib"]),
                          f"growth during build+queries {r['rss_growth_mib']:,.0f} MiB"
                          + (f"; score arrays {r['index_mib']:,.0f} MiB" if "index_mib" in r else ""))
        for r in duels:
            table.section(f"BM25 head to head at {r['size']:,} passages: one process, rounds alternating (best of {DUEL_ROUNDS}; Lucene idf; k=10)")
            qps = r["duel_qps"]
            table.add("this project (rag.bm25, numba kernel): queries/s", f"{qps['rag']:,.0f}", f"rounds {r['duel_rounds']['rag']}")
            table.add("bm25s-numba, one query at a time: queries/s", f"{qps['bm25s-numba']:,.0f}", f"rounds {r['duel_rounds']['bm25s-numba']}")
            table.add("bm25s-numba, all queries in one batch: queries/s", f"{qps['bm25s-numba-batch']:,.0f}",
                      f"rounds {r['duel_rounds']['bm25s-numba-batch']}")
            best_theirs = max(qps["bm25s-numba"], qps["bm25s-numba-batch"])
            agree, compared = r["top1_agree"]
            table.add("this project / best bm25s-numba", f"{qps['rag'] / best_theirs:.2f}x",
                      f"top-1 agreement {agree}/{compared}; peak RSS {mib(r['peak_rss_kib'])} (both indexes)")

        if bm25_only:
            sections_done(table, quick, started)
            return

        # ---------------------------------------------------------------- dense build on the default corpus
        from rag.index.build import BuildSettings, build_index

        index_root = tmp_path / "default-index"
        clock = StageClock()
        print("building the default corpus (dense + BM25) into a temporary index...", flush=True)
        # The build imports sentence-transformers (torch) lazily at its first encode; time that import
        # on its own so the embedding stage below compares with raw model.encode like for like.
        import_seconds = timed(lambda: __import__("sentence_transformers"))
        start = time.perf_counter()
        report = build_index([DEFAULT_CORPUS], index_root, BuildSettings(), progress=clock)
        end = time.perf_counter()
        build_seconds = end - start + import_seconds
        stages = clock.durations(end)
        n_passages = report.manifest.counts.passages
        embed_seconds = stages.get("embedding", float("nan"))

        from rag.chunking import indexed_text
        from rag.index.load import open_index

        index = open_index(index_root)
        texts = [indexed_text(index.store.document(p.doc_id).title, p.section, p.text) for p in index.store.all_passages()]
        from sentence_transformers import SentenceTransformer

        from rag.embedding import DEFAULT_MODEL, resolve_model

        model = SentenceTransformer(str(resolve_model(DEFAULT_MODEL)), device="cpu")
        model.encode(texts[:8], batch_size=32)
        print("raw model.encode on the same texts...", flush=True)
        raw_seconds = timed(lambda: model.encode(texts, batch_size=32, show_progress_bar=False))

        table.section(f"Index build: default corpus ({report.manifest.counts.documents} documents, {n_passages} passages, empty cache)")
        table.add("rag index build, end to end", f"{n_passages / build_seconds:,.1f} passages/s",
                  f"{build_seconds:.1f} s: import torch/sentence-transformers {import_seconds:.1f}s, "
                  + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items() if v >= 0.05))
        table.add("rag index build, embedding stage only", f"{n_passages / embed_seconds:,.1f} passages/s",
                  f"{embed_seconds:.1f} s, incl. loading the model (~0.4 s)")
        table.add("raw model.encode, same texts (batch 32)", f"{n_passages / raw_seconds:,.1f} passages/s", f"{raw_seconds:.1f} s")
        rebuild_clock = StageClock()
        start = time.perf_counter()
        rebuild = build_index([DEFAULT_CORPUS], index_root, BuildSettings(), progress=rebuild_clock)
        table.add("rebuild, unchanged corpus (cache hit)", f"{time.perf_counter() - start:.1f} s",
                  f"{rebuild.embedded} embedded, {rebuild.reused} from cache")

        # ---------------------------------------------------------------- warm query latency
        from rag.dense import build_faiss, search_faiss
        from rag.retrievers import make_retriever

        index = open_index(index_root)
        table.section(f"Query latency, warm, in-process (default corpus, {n_passages} passages; {len(CLINICAL_QUERIES)} queries x 5)")
        queries = CLINICAL_QUERIES * 5
        encoder = index.query_encoder
        encoder.encode([queries[0]])
        lat = [timed(lambda q=q: encoder.encode([q])) for q in queries]
        table.add("ONNX query encoding (torch-free)", "{:.1f} / {:.1f} ms".format(*percentiles(lat)), "p50 / p95")
        for name in ("bm25", "dense", "hybrid"):
            retriever = make_retriever(index, name)
            retriever.search(queries[0], 10)
            lat = [timed(lambda q=q, r=retriever: r.search(q, 10)) for q in queries]
            note = "p50 / p95; RRF k=60 over bm25@100 + dense@100" if name == "hybrid" else "p50 / p95"
            table.add(f"{name} search, k=10", "{:.1f} / {:.1f} ms".format(*percentiles(lat)), note)

        rng = np.random.default_rng(0)
        for size in sizes[:2]:
            vectors = rng.standard_normal((size, 384)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            faiss_index = build_faiss(vectors, "flat")
            probes = rng.standard_normal((100, 384)).astype(np.float32)
            probes /= np.linalg.norm(probes, axis=1, keepdims=True)
            lat = [timed(lambda p=p: search_faiss(faiss_index, p[None, :], 100)) for p in probes]
            table.add(f"faiss flat search at {size:,} vectors (k=100)", "{:.2f} / {:.2f} ms".format(*percentiles(lat)),
                      "p50 / p95; random unit vectors (search cost does not depend on content)")
            del faiss_index, vectors
        bm25_big = next(r for r in results if r["size"] == sizes[1] and r["engine"] == "rag")
        table.add(f"hybrid at {sizes[1]:,} passages (estimate)",
                  f"~{bm25_big['p50_ms'] + percentiles(lat)[0] + percentiles([timed(lambda: encoder.encode([COLD_QUERY])) for _ in range(20)])[0]:.0f} ms",
                  "sum of p50s: BM25 + faiss + ONNX encode (embedding 100k passages here takes ~90 min)")

        # ---------------------------------------------------------------- cold start
        table.section("Cold start: `rag search` process start to printed hits (median of 5; default corpus)")
        for name in ("bm25", "dense", "hybrid"):
            runs = []
            peak = 0
            for _ in range(5):
                out = tmp_path / "cold.txt"
                wall, code, rss = run_measured([str(RAG), "search", COLD_QUERY, "--retriever", name, "--index", str(index_root)], out)
                if code != 0 or "hits for" not in out.read_text():
                    raise SystemExit(f"rag search --retriever {name} failed (exit {code})")
                runs.append(wall)
                peak = max(peak, rss)
            table.add(f"rag search --retriever {name}", f"{statistics.median(runs):.2f} s",
                      f"min {min(runs):.2f} s, max {max(runs):.2f} s; peak RSS {mib(peak)}" + ("  (target <= 1.5 s)" if name == "hybrid" else ""))

        table.section("Memory")
        table.add("peak RSS of this benchmark process", mib(vm_hwm_kib()),
                  "includes torch + the model, chunking of the pool and the faiss runs")

    sections_done(table, quick, started)


def sections_done(table: Table, quick: bool, started: float) -> None:
    print()
    print(f"Retrieval benchmark ({'quick' if quick else 'full'}) — {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} cores, load average now {os.getloadavg()[0]:.2f}, took {time.perf_counter() - started:.0f} s")
    print(table.render())


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--bm25-only", action="store_true", help="only the BM25 sections (no default-corpus build, dense or cold start)")
    parser.add_argument("--worker", nargs=5, metavar=("ENGINE", "SIZE", "PASSAGES", "QUERIES", "N_QUERIES"), help=argparse.SUPPRESS)
    if sys.argv[1:2] == ["--launch"]:  # internal: python bench_retrieval.py --launch STDOUT_FILE CMD...
        launch(sys.argv[2], sys.argv[3:])
        sys.exit(0)
    arguments = parser.parse_args()
    if arguments.worker:
        engine, size, passages, queries_path, n = arguments.worker
        worker(engine, int(size), Path(passages), Path(queries_path), int(n))
    else:
        main(arguments.quick, arguments.bm25_only)
