"""Reranker benchmark (issue 11 item 5): does a cross-encoder trained here on SciFact's train claims lift
hybrid retrieval on SciFact test, and what does it cost per query?

Stages (each prints as it goes; everything lands in --out/bench.json and --out/bench.md):
1. train: `rag rerank train --dataset SCIFACT --split train --holdout 0.2 --out RERANKER` unless RERANKER
   already holds a reranker (its rerank.json gives the train time either way);
2. dev: the 20% of train claims held out of training (ids in rerank.json), never the test split:
   nDCG@10 of hybrid (RRF) and of hybrid+rerank for every top_n x fused_weight of the grid, each
   (claim, passage) pair scored once; the best setting (ties: smaller top_n, then smaller weight);
3. test: `rag eval retrieval --dataset SCIFACT --split test --retriever hybrid --rerank RERANKER
   --rerank-top 20,50[,dev's top_n] --rerank-weight <dev's weight>` (the library call behind it), then
   `rag eval compare` of the hybrid run against each hybrid+rerank run (paired randomization test);
4. latency: warm p50/p95 per query of hybrid and hybrid+rerank (top 10 and 20; 1 and 2 onnxruntime
   threads) on the default corpus index (--index; built from the project corpus with `rag index build`),
   over the gold set's 108 questions (--rounds passes), after 10 warm-up questions per searcher.

    PYTHONPATH=. python benchmarks/bench_rerank.py --dataset ../shared/data/scifact \\
        --reranker indexes/rerank/scifact-train80 --index indexes/default --out eval/runs/rerank-bench
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOPS = (10, 20, 30, 50)
WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.5)
TEST_TOPS = (20, 50)
WARMUP = 10  # questions run before timing each searcher
DEV_DEPTH = 100  # documents per dev query: nDCG@10 needs the first 10 (one passage per abstract)


def train(dataset: Path, target: Path) -> dict:
    if not (target / "rerank.json").is_file():
        rag = Path(sys.executable).with_name("rag")
        command = [str(rag), "rerank", "train", "--dataset", str(dataset), "--split", "train", "--holdout", "0.2", "--out", str(target)]
        print("training:", " ".join(command), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=True)
        print(f"  {time.perf_counter() - started:.0f} s wall", flush=True)
    manifest = json.loads((target / "rerank.json").read_text())
    return {
        "folder": str(target), "pairs": manifest["data"]["pairs"], "held_out": len(manifest["data"]["held_out"]),
        "steps": manifest["training"]["steps"], "train_seconds": manifest["train_seconds"], "run_seconds": manifest["seconds"],
        "epoch_loss": manifest["training"]["epoch_loss"], "last_loss": manifest["training"]["last_loss"], "settings_digest": manifest["settings_digest"],
        "settings": {k: manifest["settings"][k] for k in ("epochs", "batch_size", "learning_rate", "head_learning_rate", "negatives", "max_length", "holdout")},
        "torch_threads": manifest["training"]["threads"], "onnx_max_abs_diff": manifest["onnx_max_abs_diff"],
    }


def eval_index(dataset: Path):
    """The cached BEIR evaluation index of the dataset's corpus (what rag eval retrieval opens)."""
    from rag.eval.beir import load_beir
    from rag.eval.indexing import beir_settings, ensure_index
    from rag.index.load import open_index
    from rag.loaders.beir import iter_documents

    data = load_beir(dataset, split="test")
    documents = list(iter_documents(data.corpus))
    built = ensure_index(data.name, documents, beir_settings(), sources=[data.corpus])
    return open_index(Path(built.path))


def dev(dataset: Path, reranker_dir: Path) -> dict:
    from rag.eval.beir import load_beir
    from rag.eval.metrics import evaluate
    from rag.eval.retrieval import run_queries
    from rag.rerank.retriever import RerankRetriever
    from rag.rerank.scorer import Reranker
    from rag.retrievers import make_retriever

    reranker = Reranker(reranker_dir)
    held = reranker.manifest.data.held_out
    train = load_beir(dataset, split="train")
    queries = {q: train.queries[q] for q in held}
    qrels = {q: train.qrels[q] for q in held}
    index = eval_index(dataset)
    hybrid = make_retriever(index, "hybrid")
    run, _, _seconds = run_queries(index, "hybrid", queries, depth=DEV_DEPTH, search=hybrid)
    grid = {"hybrid": round(evaluate(qrels, run, ["ndcg@10"]).means["ndcg@10"], 4)}
    print(f"dev: {len(queries)} held-out train claims; hybrid nDCG@10 {grid['hybrid']:.4f}", flush=True)
    cache: dict = {}
    started = time.perf_counter()
    for top in sorted(TOPS, reverse=True):  # the deepest first: it scores every pair the others need
        for weight in WEIGHTS:
            searcher = RerankRetriever(index, hybrid, reranker, top_n=top, fused_weight=weight, cache=cache)
            run, _, _ = run_queries(index, searcher.name, queries, depth=DEV_DEPTH, search=searcher)
            grid[f"top{top}-w{weight}"] = round(evaluate(qrels, run, ["ndcg@10"]).means["ndcg@10"], 4)
            print(f"  top_n {top:>2} fused_weight {weight:.1f}: nDCG@10 {grid[f'top{top}-w{weight}']:.4f}", flush=True)
    best = max(((top, weight) for top in TOPS for weight in WEIGHTS), key=lambda tw: (grid[f"top{tw[0]}-w{tw[1]}"], -tw[0], -tw[1]))
    print(f"  chosen on dev: top_n {best[0]}, fused_weight {best[1]} ({grid[f'top{best[0]}-w{best[1]}']:.4f})", flush=True)
    return {"queries": len(queries), "grid": grid, "top_n": best[0], "fused_weight": best[1], "seconds": round(time.perf_counter() - started, 1)}


def test(dataset: Path, reranker_dir: Path, out: Path, top_n: int, weight: float) -> dict:
    from rag.eval.compare import compare_files
    from rag.eval.retrieval import evaluate_retrieval

    tops = sorted({*TEST_TOPS, top_n})
    print(f"test: rag eval retrieval --retriever hybrid --rerank {reranker_dir} --rerank-top {','.join(map(str, tops))} --rerank-weight {weight}", flush=True)
    report = evaluate_retrieval(dataset, split="test", retrievers=["hybrid"], rerank=reranker_dir, rerank_top=tops, rerank_weight=weight, out_dir=out / "test")
    rows = {name: {"ndcg@10": round(r.metrics["ndcg@10"], 4), "recall@100": round(r.metrics["recall@100"], 4), "seconds": r.seconds,
                   "ms_per_query": round(1000 * r.seconds / r.queries, 1), "run_file": r.run_file} for name, r in report.results.items()}
    for name, row in rows.items():
        print(f"  {name:<18} nDCG@10 {row['ndcg@10']:.4f}  R@100 {row['recall@100']:.4f}  {row['ms_per_query']} ms/query", flush=True)
    comparisons = {}
    for name in rows:
        if name != "hybrid":
            c = compare_files(Path(rows["hybrid"]["run_file"]), Path(rows[name]["run_file"]), dataset=dataset, split="test", metric="ndcg@10")
            m = next(x for x in c.metrics if x.metric == "ndcg@10")
            comparisons[name] = {"delta": round(m.delta, 4), "p_randomization": m.p_randomization, "p_ttest": m.p_ttest,
                                 "wins": m.wins, "losses": m.losses, "ties": m.ties}
            print(f"  hybrid -> {name}: delta {m.delta:+.4f}, p (randomization) {m.p_randomization:.4g}, p (t) {m.p_ttest:.4g}, "
                  f"wins/losses/ties {m.wins}/{m.losses}/{m.ties}", flush=True)
    return {"rows": rows, "compare": comparisons, "fusion": report.fusion, "out": str(out / "test")}


def latency(index_root: Path, reranker_dir: Path, rounds: int) -> dict:
    from rag.eval.gold import default_gold
    from rag.index.load import open_index
    from rag.rerank.retriever import RerankRetriever
    from rag.rerank.scorer import Reranker
    from rag.retrievers import make_retriever

    questions = [json.loads(line)["question"] for line in default_gold().read_text().splitlines() if line.strip()]
    index = open_index(index_root)
    hybrid = make_retriever(index, "hybrid")
    out: dict = {"index": str(index_root), "queries": len(questions), "rounds": rounds, "passages": index.manifest.counts.passages}
    for threads in (1, 2):
        reranker = Reranker(reranker_dir, threads=threads)
        searchers = {"hybrid": hybrid, **{f"hybrid+rerank@{n}": RerankRetriever(index, hybrid, reranker, top_n=n) for n in (10, 20)}}
        for name, searcher in searchers.items():
            if name == "hybrid" and threads == 2:
                continue
            for q in questions[:WARMUP]:  # warm up: caches, onnxruntime's first runs
                searcher.search(q, 10)
            times = []
            for _ in range(rounds):
                for q in questions:
                    started = time.perf_counter()
                    searcher.search(q, 10)
                    times.append(1000 * (time.perf_counter() - started))
            times.sort()
            key = name if name == "hybrid" else f"{name} ({threads} thread{'s' if threads > 1 else ''})"
            out[key] = {"p50_ms": round(statistics.median(times), 1), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 1)}
            print(f"latency {key:<32} p50 {out[key]['p50_ms']:7.1f} ms  p95 {out[key]['p95_ms']:7.1f} ms", flush=True)
    return out


def markdown(results: dict) -> str:
    t, d = results["test"], results["dev"]
    lines = ["| run (SciFact test, 300 claims) | nDCG@10 | Recall@100 | Δ nDCG@10 vs hybrid | p (randomization) | p (t-test) | ms/query |",
             "|---|---|---|---|---|---|---|"]
    for name, row in t["rows"].items():
        c = t["compare"].get(name)
        delta, p_rand, p_t = ("", "", "") if c is None else (f"{c['delta']:+.4f}", f"{c['p_randomization']:.4g}", f"{c['p_ttest']:.4g}")
        lines.append(f"| {name} | {row['ndcg@10']:.4f} | {row['recall@100']:.4f} | {delta} | {p_rand} | {p_t} | {row['ms_per_query']} |")
    chosen = d["grid"]["top{}-w{}".format(d["top_n"], d["fused_weight"])]
    lines += ["", (f"Dev ({d['queries']} held-out train claims): hybrid {d['grid']['hybrid']:.4f}; chosen top_n {d['top_n']}, "
              f"fused_weight {d['fused_weight']} ({chosen:.4f}).")]
    tr = results["train"]
    lines += [(f"Training: {tr['pairs']} pairs, {tr['steps']} steps, {tr['train_seconds']:.0f} s of steps ({tr['run_seconds']:.0f} s in all) "
              f"on {tr['torch_threads']} torch threads; loss by epoch {tr['epoch_loss']}, last tenth of the steps {tr['last_loss']}.")]
    if "latency" in results:
        lat = results["latency"]
        lines += ["", f"Latency, warm, {lat['queries']} gold questions x {lat['rounds']} on {lat['index']} ({lat['passages']} passages):", ""]
        lines += [f"- {k}: p50 {v['p50_ms']} ms, p95 {v['p95_ms']} ms" for k, v in lat.items() if isinstance(v, dict)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--reranker", type=Path, default=ROOT / "indexes" / "rerank" / "scifact-train80")
    parser.add_argument("--index", type=Path, default=ROOT / "indexes" / "default", help="Default corpus index for the latency stage.")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "runs" / "rerank-bench")
    parser.add_argument("--rounds", type=int, default=1, help="Timed passes over the gold questions.")
    parser.add_argument("--latency-only", action="store_true", help="Only the latency stage (the reranker folder must exist).")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.latency_only:
        results = json.loads((args.out / "bench.json").read_text()) if (args.out / "bench.json").is_file() else {}
        results["latency"] = latency(args.index, args.reranker, args.rounds)
        (args.out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
        if "test" in results:
            (args.out / "bench.md").write_text(markdown(results))
        return
    results: dict = {"train": train(args.dataset, args.reranker)}
    results["dev"] = dev(args.dataset, args.reranker)
    results["test"] = test(args.dataset, args.reranker, args.out, results["dev"]["top_n"], results["dev"]["fused_weight"])
    if not args.skip_latency:
        results["latency"] = latency(args.index, args.reranker, args.rounds)
    (args.out / "bench.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "bench.md").write_text(markdown(results))
    print(markdown(results))


if __name__ == "__main__":
    main()
