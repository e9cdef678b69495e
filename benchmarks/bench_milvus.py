"""Milvus benchmark: the same N passages in the local backend (BM25 arrays + faiss + SQLite, as
bench_scale.py builds them) and in Milvus Lite (a `milvus-lite server` on 127.0.0.1, written by
rag.index.milvus); build time, query p50/p95 for bm25, dense and hybrid, RSS, and dense recall@10
against exact search over the same vectors.

Data, as bench_scale.py makes it:
- Text: the real passages of an index built from real sources (`--text-from`, default: build a
  BM25-only index of SciFact into the work folder); sizes above the real count repeat them under
  distinct ids (`<id>~<k>`).
- Vectors: real MiniLM embeddings of the first `--embed` passages (encoded here once, kept in the work
  folder's embedding cache, or read from `--vectors-from`); every other row gets one of those real
  vectors plus N(0, 0.01^2) noise per dimension, re-normalised (bench_scale.replicated_vectors).
- Queries: SciFact test claims, encoded by the index's ONNX query model.

Both backends are served by a fresh process per retriever that opens the index as `rag search` does
(`open_index` + `make_retriever`; for Milvus, `--index milvus://127.0.0.1:PORT/NAME`); RSS is that
process's peak, plus for Milvus the server's resident memory after the queries. Milvus's dense index is
`--milvus-index` (HNSW by default; FLAT is exact); the local one is faiss's kind for the size
(rag.dense.choose_kind). Recall@10: the backend's dense top 10 against exact inner-product search,
mean over the queries, also counted by source vector (replicated rows are near-duplicates whose exact
order is decided by the noise).

    python benchmarks/bench_milvus.py --sizes 10000,100000 --text-from /tmp/rag-bench-scale/real-text
    python benchmarks/bench_milvus.py                  # 10k, 100k, 1M (the 1M target: hours on 2 cores)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))
sys.path.insert(0, str(PROJECT / "benchmarks"))

import bench_scale  # noqa: E402 - after the path is set

SHARED = bench_scale.SHARED
MODEL = bench_scale.MODEL
RETRIEVERS = bench_scale.RETRIEVERS


def real_text(args: argparse.Namespace):
    """(passages, documents by id, indexed texts) of the real-text index."""
    from rag.chunking import indexed_text
    from rag.index.build import BuildSettings, build_index, current_build
    from rag.index.store import PassageStore

    root = Path(args.text_from) if args.text_from else args.work / "real-text"
    if not (root / "CURRENT").exists():
        print(f"building the real-text index (BM25 only) from {SHARED / 'scifact' / 'corpus.jsonl'} ...", flush=True)
        build_index([SHARED / "scifact" / "corpus.jsonl"], root, BuildSettings(dense=False))
    store = PassageStore(current_build(root))
    documents = {d.id: d for d in store.documents()}
    passages = store.all_passages()
    store.connection.close()
    texts = [indexed_text(documents[p.doc_id].title, p.section, p.text) for p in passages]
    print(f"real text: {len(passages):,} passages from {root}", flush=True)
    return passages, documents, texts


def real_vectors(texts: list[str], args: argparse.Namespace):
    """Real embeddings of the first `--embed` texts, through an embedding cache (encoded once)."""
    from rag.embedding import PassageEncoder, resolve_model
    from rag.index.build import _Silent, embed_texts
    from rag.index.embcache import model_slug
    from rag.index.querymodel import ensure_query_model

    root = Path(args.vectors_from) if args.vectors_from else args.work
    cache_dir = root / "embeddings" / model_slug(MODEL)
    encoder = PassageEncoder(MODEL, resolve_model(MODEL))
    t0 = time.perf_counter()
    vectors, reused, embedded = embed_texts(texts[: args.embed], cache_dir, encoder, _Silent())
    rate = embedded / (time.perf_counter() - t0) if embedded else None
    onnx = ensure_query_model(cache_dir, encoder, on_export=lambda: print("exporting the query model to ONNX ...", flush=True))
    print(f"real vectors: {len(vectors):,} ({embedded:,} encoded now, {reused:,} from {cache_dir})", flush=True)
    return vectors, onnx, root, rate


def start_server(args: argparse.Namespace) -> subprocess.Popen:
    data = args.work / "milvus-data"
    shutil.rmtree(data, ignore_errors=True)
    log = (args.work / "milvus-server.log").open("w")
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir", str(data), "--host", "127.0.0.1", "--port", str(args.port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    import socket

    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", args.port), timeout=1).close()
            return server
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"milvus-lite server did not start on 127.0.0.1:{args.port}; see {args.work / 'milvus-server.log'}")
            time.sleep(0.5)


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident, high-water) MB of a process."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return round(values["VmRSS"]), round(values["VmHWM"])


def build_milvus(n: int, real, vectors, uri: str, args: argparse.Namespace) -> dict:
    from rag.bm25 import BM25Settings
    from rag.chunking import ChunkSettings
    from rag.index.location import parse_milvus
    from rag.index.manifest import Counts, Manifest, ModelInfo
    from rag.index.milvus import write_milvus
    from rag.tokenize import TokenizerSettings, make_tokenizer

    passages, documents, texts = real
    base = len(passages)
    docs, rows = bench_scale.replicated(n, passages, documents)
    tokenize = make_tokenizer(TokenizerSettings())
    t0 = time.perf_counter()
    tokens = [tokenize(texts[i % base]) for i in range(n)]
    frequency: Counter[str] = Counter()
    for terms in tokens:
        frequency.update(set(terms))
    tokenize_s = time.perf_counter() - t0
    manifest = Manifest(
        build_id=os.urandom(16).hex(),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        sources=[f"bench_milvus: {n:,} passages"],
        corpus_hash="bench",
        model=ModelInfo(name=MODEL, dimension=int(vectors.shape[1]), max_seq_length=256, faiss=f"milvus:{args.milvus_index.lower()}"),
        chunking=ChunkSettings(max_tokens=256),
        tokenizer=TokenizerSettings(),
        bm25=BM25Settings(variant="lucene"),
        counts=Counts(documents=len(docs), passages=n, vocabulary=len(frequency), embedded=0),
    )
    t0 = time.perf_counter()
    write_milvus(parse_milvus(uri), manifest=manifest, documents=docs, passages=rows, tokens=tokens, vectors=vectors,
                 bodies={}, profile=None, lexicon=dict(frequency), index_type=args.milvus_index)
    write_s = time.perf_counter() - t0
    return {"tokenize_s": round(tokenize_s, 1), "write_s": round(write_s, 1), "passages_per_s": round(n / (write_s + tokenize_s))}


def recall(index, vectors, query_vectors, query_texts: list[str]) -> tuple[float, float]:  # noqa: ANN001
    import numpy as np

    embedded = None
    raw, by_source = [], []
    for q, text in zip(query_vectors, query_texts, strict=True):
        exact = np.argpartition(-(vectors @ q), 10)[:10]
        got = np.array([row for row, _ in index.dense_top(text, 10)])
        raw.append(len(set(exact.tolist()) & set(got.tolist())) / 10)
        embedded = embedded or recall.embedded
        sources = set((exact % embedded).tolist())
        by_source.append(len(sources & set((got % embedded).tolist())) / len(sources))
    return round(float(np.mean(raw)), 3), round(float(np.mean(by_source)), 3)


def serve_all(where: str, args: argparse.Namespace, queries_file: Path) -> list[dict]:
    out = []
    for retriever in RETRIEVERS:
        done = subprocess.run(
            [sys.executable, __file__, "--serve", where, "--retriever", retriever, "--queries-file", str(queries_file), "--queries", str(args.queries)],
            capture_output=True, text=True, timeout=3600, env=os.environ.copy(),
        )
        if done.returncode != 0:
            raise SystemExit(f"serving {retriever} at {where} failed:\n{done.stderr[-2000:]}")
        out.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return out


def table(results: list[dict], args: argparse.Namespace, notes: list[str]) -> str:
    lines = [
        "| passages | backend | dense index | build s (passages/s) | client peak RSS MB (bm25 / dense / hybrid) | server RSS MB | "
        "bm25 p50/p95 ms | dense p50/p95 ms | hybrid p50/p95 ms | dense recall@10 (by source) |",
        "|---:|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for backend in ("local", "milvus"):
            b = r[backend]
            s = {x["retriever"]: x for x in b["serving"]}
            lines.append(
                f"| {r['passages']:,} | {backend} | {b['dense_index']} | {b['build_s']} ({b['passages_per_s']:,}) | "
                f"{s['bm25']['peak_rss_mb']:.0f} / {s['dense']['peak_rss_mb']:.0f} / {s['hybrid']['peak_rss_mb']:.0f} | "
                f"{b.get('server_rss_mb', '-')} | {s['bm25']['p50_ms']} / {s['bm25']['p95_ms']} | {s['dense']['p50_ms']} / {s['dense']['p95_ms']} | "
                f"{s['hybrid']['p50_ms']} / {s['hybrid']['p95_ms']} | {b['recall_at_10']} ({b['recall_at_10_by_source']}) |"
            )
    return "\n".join(lines + [""] + notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-bench-milvus"))
    parser.add_argument("--text-from", help="index root whose passages are the real text (default: build one from SciFact)")
    parser.add_argument("--vectors-from", help="index root whose embedding cache holds real vectors (default: the work folder)")
    parser.add_argument("--embed", type=int, default=2000, help="real passages to embed (the rest are noise-replicated)")
    parser.add_argument("--queries", type=int, default=50, help="timed queries per retriever, backend and size")
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--milvus-index", default="HNSW", choices=["HNSW", "FLAT", "IVF_FLAT", "IVF_SQ8"])
    parser.add_argument("--port", type=int, default=19532)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--retriever", help=argparse.SUPPRESS)
    parser.add_argument("--queries-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        where = args.serve if args.serve.startswith("milvus://") else Path(args.serve)
        print(json.dumps(bench_scale.serve(where, args.retriever, args.queries_file, args.queries, 10)))
        return
    import numpy as np

    args.work.mkdir(parents=True, exist_ok=True)
    queries_file = args.work / "queries.jsonl"
    test_ids = {line.split("\t")[0] for line in (SHARED / "scifact" / "qrels" / "test.tsv").read_text().splitlines()[1:]}
    claims = [line for line in (SHARED / "scifact" / "queries.jsonl").read_text().splitlines() if json.loads(line)["_id"] in test_ids]
    queries_file.write_text("\n".join(claims) + "\n")
    query_texts = [json.loads(line)["text"] for line in claims[: args.queries]]

    passages, documents, texts = real_text(args)
    base_vectors, onnx, cache_root, embed_rate = real_vectors(texts, args)
    os.environ["RAG_EMBEDDINGS"] = str(cache_root)  # where a Milvus index finds its query model
    args.vectors_from = str(cache_root)  # bench_scale.build_size's query model
    args.queries_path = queries_file  # bench_scale.build_size's recall@10 (non-flat sizes)
    from rag.embedding import QueryEncoder
    from rag.index.load import open_index

    query_vectors = QueryEncoder(onnx).encode(query_texts)
    recall.embedded = len(base_vectors)
    server = start_server(args)
    results = []
    try:
        for n in (int(x) for x in args.sizes.split(",")):
            started = time.perf_counter()
            vectors = bench_scale.replicated_vectors(base_vectors, n, args.noise)
            row: dict = {"passages": n}
            # local backend: bench_scale's build (BM25Index, faiss of the size's kind, SQLite store, manifest)
            t0 = time.perf_counter()
            info = bench_scale.build_size(n, (passages, documents, texts, base_vectors), args, onnx)
            local_s = time.perf_counter() - t0
            local_root = args.work / f"n{n}"
            index = open_index(local_root)
            r, rs = recall(index, vectors, query_vectors, query_texts)
            index.close()
            row["local"] = {"dense_index": f"faiss {info['faiss']}", "build_s": round(local_s, 1), "passages_per_s": round(n / local_s),
                            "recall_at_10": r, "recall_at_10_by_source": rs, "serving": serve_all(str(local_root), args, queries_file)}
            shutil.rmtree(local_root, ignore_errors=True)
            print(json.dumps({"passages": n, "local": row["local"]}), flush=True)
            # Milvus
            uri = f"milvus://127.0.0.1:{args.port}/bench{n}"
            built = build_milvus(n, (passages, documents, texts), vectors, uri, args)
            print(json.dumps({"passages": n, "milvus_build": built}), flush=True)
            index = open_index(uri)
            r, rs = recall(index, vectors, query_vectors, query_texts)
            served = serve_all(uri, args, queries_file)
            rss, hwm = rss_mb(server.pid)
            row["milvus"] = {"dense_index": f"Milvus Lite {args.milvus_index}", "build_s": round(built["tokenize_s"] + built["write_s"], 1),
                             "passages_per_s": built["passages_per_s"], "recall_at_10": r, "recall_at_10_by_source": rs, "serving": served,
                             "server_rss_mb": rss, "server_peak_rss_mb": hwm, **built}
            index.client.drop_collection(index.collections.passages)
            for name in (index.collections.documents, index.collections.meta, f"bench{n}_current"):
                index.client.drop_collection(name)
            index.close()
            row["total_s"] = round(time.perf_counter() - started, 1)
            results.append(row)
            print(json.dumps({"passages": n, "milvus": row["milvus"]}), flush=True)
            del vectors
    finally:
        server.terminate()
        server.wait(timeout=60)
    notes = [
        f"Text: {len(passages):,} real passages, repeated under distinct ids above that. Vectors: {len(base_vectors):,} real MiniLM "
        f"embeddings, every other row one of them plus N(0, {args.noise}^2) noise, re-normalised. Queries: {args.queries} SciFact test claims.",
        "Local build = BM25 arrays + faiss + SQLite store (bench_scale.build_size); Milvus build = our tokenizer over the passages "
        "+ inserting passages, BM25 terms and vectors into a milvus-lite server over gRPC, flush, index, load (rag.index.milvus.write_milvus).",
        "Client RSS: the serving process (open_index + retriever). Server RSS: the milvus-lite server after the queries of that size "
        "(it holds every collection loaded so far minus the dropped ones).",
        f"Machine: 2 cores shared with other jobs (load average during the run {os.getloadavg()[0]:.1f}); times are wall clock.",
    ]
    if embed_rate:
        notes.append(f"Passage embedding here (sentence-transformers, CPU): {embed_rate:.1f} passages/s.")
    report = table(results, args, notes)
    (args.work / "results.json").write_text(json.dumps({"results": results}, indent=2))
    print()
    print(report)


if __name__ == "__main__":
    main()
