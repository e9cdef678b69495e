"""Choose hybrid search's convex fusion without a label of the dataset it is scored on.

Issue 11's zero-shot row may use no SciFact label. Here the convex fusion (normaliser, dense weight) is
chosen on the dev questions of the other gold sets — NGC diabetes guidelines, ClinicalTrials.gov records,
the default cervical-cancer corpus — each searched on its own gold index (the corpus `rag ask` reads, its
questions' `relevant` documents as judgments): every grid point's nDCG@10 is averaged over the corpora
(each corpus weighs the same) and the best wins (rag.eval.fusion_tuning's grid and tie rule). The chosen
fusion is written as a fusion.json, then scored on SciFact test as `hybrid-convex` beside RRF:

    python benchmarks/fusion_across_corpora.py [--out eval/runs/fusion-across]
    rag eval retrieval --dataset ../shared/data/scifact --split test --retriever hybrid \\
        --fusion eval/runs/fusion-across/fusion.json --out eval/runs/fusion-across/scifact
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.eval.fusion_tuning import tune_fusion  # noqa: E402
from rag.eval.gold import default_gold, gold_queries, load_gold  # noqa: E402
from rag.eval.goldcorpus import gold_set_index  # noqa: E402
from rag.fusion import FusionSettings, save_fusion  # noqa: E402
from rag.index.load import open_index  # noqa: E402

SETS = {"ngc-diabetes": ROOT / "eval/gold/ngc-diabetes/questions.jsonl", "ctgov": ROOT / "eval/gold/ctgov/questions.jsonl",
        "default": default_gold()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--split", default="dev")
    parser.add_argument("--out", type=Path, default=ROOT / "eval" / "runs" / "fusion-across")
    args = parser.parse_args()
    by_point: dict[tuple[str, float], list[float]] = defaultdict(list)
    rrf: dict[str, float] = {}
    order: list[tuple[str, float]] = []
    for name in args.sets:
        queries, qrels = gold_queries(load_gold(SETS[name], split=args.split))
        tuning = tune_fusion(open_index(gold_set_index(SETS[name])), queries, qrels, label=f"{name} {args.split}")
        rrf[name] = tuning.rrf_ndcg10
        for point in tuning.grid:
            key = (point.normalizer, point.dense_weight)
            if key not in by_point:
                order.append(key)
            by_point[key].append(point.ndcg10)
        best = max(tuning.grid, key=lambda p: p.ndcg10)
        print(f"{name}: {tuning.queries} queries, RRF {tuning.rrf_ndcg10:.3f}, best here {best.normalizer} w={best.dense_weight} "
              f"{best.ndcg10:.3f}", flush=True)
    complete = [k for k in order if len(by_point[k]) == len(args.sets)]
    mean = {k: sum(by_point[k]) / len(by_point[k]) for k in complete}
    chosen = max(complete, key=lambda k: (mean[k], -complete.index(k)))  # ties: the earlier grid point
    print("\n| normaliser | dense weight | " + " | ".join(args.sets) + " | mean |\n|---|---|" + "---|" * (len(args.sets) + 1))
    for key in complete:
        if key[1] in (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 1.0) or key == chosen:
            mark = " **chosen**" if key == chosen else ""
            print(f"| {key[0]} | {key[1]:.2f} | " + " | ".join(f"{v:.3f}" for v in by_point[key]) + f" | {mean[key]:.3f}{mark} |")
    print("| RRF (k=60) | – | " + " | ".join(f"{rrf[n]:.3f}" for n in args.sets) + f" | {sum(rrf.values()) / len(rrf):.3f} |")
    settings = FusionSettings(
        method="convex", normalizer=chosen[0], dense_weight=chosen[1],  # type: ignore[arg-type]
        tuned_on=f"{args.split} splits of the gold sets {', '.join(args.sets)} (mean nDCG@10; no label of the scored dataset)",
        tuned_metric={"ndcg@10 convex": round(mean[chosen], 5), "ndcg@10 rrf": round(sum(rrf.values()) / len(rrf), 5)},
    )
    path = save_fusion(settings, args.out / "fusion.json")
    print(f"\nwrote {path}: {settings.normalizer}, dense weight {settings.dense_weight}")


if __name__ == "__main__":
    main()
