"""Issue 11's report rows on SciFact test (nDCG@10), each with a paired test against RRF hybrid:

- zero-shot:      the packaged MiniLM, no SciFact labels (dense, RRF hybrid);
- corpus-adapted: `rag tune --pairs corpus` (title -> abstract pairs of the SciFact corpus, no labels), RRF hybrid and
                  the convex fusion chosen on the other gold sets (`--fusion`); and its dense run fused with the
                  zero-shot BM25 and dense runs (`rag eval fuse`: RRF, and convex with that fusion's weights);
- corpus-adapted (sentences): `rag tune --pairs corpus --anchors sentences` (inverse cloze: an abstract's last
                  sentence -> the rest of it, no labels), RRF hybrid and the convex fusion chosen on the other
                  gold sets (`--fusion`: benchmarks/fusion_across_corpora.py's fusion.json; no convex row
                  when that file is missing);
- in-domain:      `rag tune --pairs qrels --split train` (SciFact's 809 train claims), plus the convex fusion
                  whose weight is chosen on the train split (`--tune-fusion-on train`).

Every row is produced by the `rag` commands printed as they run (models under indexes/tuned/, runs and
reports under eval/runs/tune-scifact/), then `rag eval compare` (paired t-test, randomisation test) of
each row's TREC run against the zero-shot RRF hybrid run. The test split is never trained or tuned on.
Takes about 2 hours on 2 cores (three fine-tunes of ~25 min, five corpus encodings).

    python benchmarks/tune_scifact.py [--data ../shared/data/scifact] [--skip-corpus]
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> str:
    command = ["rag", *args]
    print("$ " + shlex.join(command), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"error: {shlex.join(command)} failed:\n{result.stderr.strip()[-2000:]}")
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)
    return result.stdout


def tune(out: Path, *args: str) -> float:
    if not (out / "tune.json").exists():
        run("tune", "--out", str(out), *args)
    return float(json.loads((out / "tune.json").read_text())["train_seconds"])


def evaluate(out: Path, data: Path, retrievers: str, *extra: str) -> dict:
    if not (out / "report.json").exists():
        run("eval", "retrieval", "--dataset", str(data), "--split", "test", "--retriever", retrievers, "--out", str(out), *extra)
    return json.loads((out / "report.json").read_text())


def compare(reference: Path, challenger: Path, data: Path) -> dict:
    return json.loads(run("eval", "compare", str(reference), str(challenger), "--dataset", str(data), "--split", "test", "--format", "json"))


def paired(comparison: dict) -> list[str]:
    """The table cells of a comparison's nDCG@10 test: delta, paired t p, randomisation p, wins/losses."""
    test = next(m for m in comparison["metrics"] if m["metric"] == "ndcg@10")
    return [f"{test['delta']:+.3f}", f"{test['p_ttest']:.4f}", f"{test['p_randomization']:.4f}", f"{test['wins']}/{test['losses']}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "scifact")
    parser.add_argument("--runs", type=Path, default=ROOT / "eval" / "runs" / "tune-scifact")
    parser.add_argument("--models", type=Path, default=ROOT / "indexes" / "tuned")
    parser.add_argument("--corpus-pairs", type=int, default=2600, help="title -> abstract pairs for the corpus-adapted row")
    parser.add_argument("--skip-corpus", action="store_true", help="leave out the corpus-adapted rows (titles and sentences)")
    parser.add_argument("--fusion", type=Path, default=ROOT / "eval" / "runs" / "fusion-across" / "fusion.json",
                        help="convex fusion chosen without SciFact labels (benchmarks/fusion_across_corpora.py), scored on the corpus-adapted rows")
    args = parser.parse_args()
    data = args.data.resolve()

    rows: list[tuple[str, str, Path, float | None]] = []  # (row, retriever, report folder, train seconds)
    fused: list[tuple[str, str, Path, float | None]] = []  # (row, fusion, fused TREC run, train seconds)
    base = evaluate(args.runs / "zero-shot", data, "bm25,dense,hybrid")
    rows += [("zero-shot", r, args.runs / "zero-shot", None) for r in ("bm25", "dense", "hybrid")]
    if not args.skip_corpus:
        model = args.models / f"scifact-corpus-{args.corpus_pairs}"
        seconds = tune(model, "--pairs", "corpus", "--dataset", str(data), "--max-pairs", str(args.corpus_pairs))
        fusion = ("--fusion", str(args.fusion)) if args.fusion.is_file() else ()
        adapted = evaluate(args.runs / "corpus-adapted", data, "dense,hybrid", "--model", str(model), *fusion)
        rows += [("corpus-adapted", r, args.runs / "corpus-adapted", seconds)
                 for r in ("dense", "hybrid", *(n for n in adapted["results"] if "convex" in n))]
        # BM25 + zero-shot dense + corpus-adapted dense, fused without labels: RRF, and convex with the chosen fusion's
        # BM25 weight and its dense weight shared by the two dense runs
        parts = [str(args.runs / "zero-shot" / "scifact-test.bm25.trec"), str(args.runs / "zero-shot" / "scifact-test.dense.trec"),
                 str(args.runs / "corpus-adapted" / "scifact-test.dense.trec")]
        fused_dir = args.runs / "fused"
        if not (fused_dir / "three-rrf.trec").exists():
            run("eval", "fuse", *parts, "--out", str(fused_dir / "three-rrf.trec"))
        fused.append(("corpus-adapted + zero-shot dense + BM25", "RRF", fused_dir / "three-rrf.trec", seconds))
        if args.fusion.is_file():
            chosen = json.loads(args.fusion.read_text())
            dense_weight = float(chosen["dense_weight"])
            if not (fused_dir / "three-convex.trec").exists():
                run("eval", "fuse", *parts, "--method", "convex", "--normalizer", chosen["normalizer"],
                    "--weights", f"{1 - dense_weight},{dense_weight / 2},{dense_weight / 2}", "--out", str(fused_dir / "three-convex.trec"))
            fused.append(("corpus-adapted + zero-shot dense + BM25", f"convex ({chosen['normalizer']}, dense {dense_weight} shared)",
                          fused_dir / "three-convex.trec", seconds))
        model = args.models / f"scifact-ict-{args.corpus_pairs}"
        seconds = tune(model, "--pairs", "corpus", "--anchors", "sentences", "--dataset", str(data), "--max-pairs", str(args.corpus_pairs))
        ict = evaluate(args.runs / "corpus-ict", data, "dense,hybrid", "--model", str(model), *fusion)
        rows += [("corpus-adapted (sentences)", r, args.runs / "corpus-ict", seconds)
                 for r in ("dense", "hybrid", *(n for n in ict["results"] if "convex" in n))]
    model = args.models / "scifact-train-e3"
    seconds = tune(model, "--pairs", "qrels", "--dataset", str(data), "--split", "train", "--epochs", "3")
    evaluate(args.runs / "in-domain", data, "dense,hybrid", "--model", str(model), "--tune-fusion-on", "train")
    in_domain = json.loads((args.runs / "in-domain" / "report.json").read_text())
    rows += [("in-domain", r, args.runs / "in-domain", seconds) for r in ("dense", "hybrid", *(n for n in in_domain["results"] if "convex" in n))]

    trec = lambda folder, retriever: folder / f"scifact-test.{retriever}.trec"  # noqa: E731 - rag eval retrieval's run file names
    reference = trec(args.runs / "zero-shot", "hybrid")
    table = ["| row | retriever | nDCG@10 | vs zero-shot RRF hybrid: Δ | paired t p | randomisation p | wins/losses | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for row, retriever, folder, seconds in rows:
        report = json.loads((folder / "report.json").read_text())
        ndcg = report["results"][retriever]["metrics"]["ndcg@10"]
        if trec(folder, retriever) == reference:
            cells = ["–", "–", "–", "–"]
        else:
            cells = paired(compare(reference, trec(folder, retriever), data))
        table.append(f"| {row} | {retriever} | {ndcg:.3f} | " + " | ".join(cells) + f" | {'' if seconds is None else f'{seconds:.0f}'} |")
    for row, how, path, seconds in fused:
        comparison = compare(reference, path, data)
        ndcg = next(m for m in comparison["metrics"] if m["metric"] == "ndcg@10")["mean_b"]
        table.append(f"| {row} | {how} | {ndcg:.3f} | " + " | ".join(paired(comparison)) + f" | {'' if seconds is None else f'{seconds:.0f}'} |")
    print("\n" + "\n".join(table))
    print(f"\n(zero-shot RRF hybrid: {base['results']['hybrid']['metrics']['ndcg@10']:.3f})")


if __name__ == "__main__":
    main()
