"""Train the bottom-line ranker (rag/answer/bottom_ranker.json) from the dev splits of the gold sets,
and report bottom-line directness on dev and test with and without it.

    python benchmarks/train_bottom.py                     # every gold set with a corpus.yaml, plus the default set
    python benchmarks/train_bottom.py --sets scifact ctgov --no-write
    python benchmarks/train_bottom.py --loco              # leave one corpus out: how the ranker does on a corpus it never saw

A candidate is a good bottom line when it matches every `bottom` regex of its question and no
`bottom_not` one — the same test `rag eval answers` applies to the page. Only dev questions train;
test questions are only scored. Indexes come from the evaluation cache (built if missing).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from rag.answer import Asker  # noqa: E402
from rag.answer.ranker import RANKER_FILE, train, vectorize  # noqa: E402
from rag.answer.selection import _leads  # noqa: E402
from rag.eval.answers import evaluate_answers  # noqa: E402
from rag.eval.gold import load_gold  # noqa: E402
from rag.eval.goldcorpus import gold_set_index  # noqa: E402

DEFAULT_GOLD = ROOT / "eval" / "gold" / "questions.jsonl"


def gold_sets(names: list[str] | None) -> dict[str, Path]:
    found = {p.parent.name: p for p in sorted((ROOT / "eval" / "gold").glob("*/questions.jsonl"))}
    found["default"] = DEFAULT_GOLD
    return {n: p for n, p in found.items() if not names or n in names}


def groups_of(asker: Asker, gold: Path, split: str) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for question in load_gold(gold, split=split):
        if question.expect != "answer" or not question.bottom:
            continue
        prepared = asker.prepare(question.question)
        candidates = asker.candidates(prepared, asker.gather(prepared))
        ask = asker.selection_ask(prepared)
        pool = [c for c in candidates if _leads(c, ask)]
        if not pool:
            continue
        x = np.vstack([vectorize(c, ask, asker.settings.scoring) for c in pool])
        y = np.array([
            float(all(re.search(p, c.text, re.IGNORECASE) for p in question.bottom)
                  and not any(re.search(p, c.text, re.IGNORECASE) for p in question.bottom_not))
            for c in pool
        ])
        out.append((x, y))
    return out


def _asker(index: Path, *, ranker=None, hand_set: bool = False) -> Asker:
    """An Asker with this ranker (or the hand-set relevance when `hand_set`)."""
    asker = Asker(index)
    asker.settings = asker.settings.model_copy(update={"selection": asker.settings.selection.model_copy(update={"use_ranker": not hand_set})})
    if ranker is not None:
        asker.bottom_scores = lambda candidates, ask: _scored(asker, ranker, candidates, ask)
    return asker


def _scored(asker: Asker, ranker, candidates, ask):
    from dataclasses import replace

    if not candidates:
        return candidates
    scores = ranker.scores(np.vstack([vectorize(c, ask, asker.settings.scoring) for c in candidates]))
    return [replace(c, bottom_score=float(s)) for c, s in zip(candidates, scores, strict=True)]


def _trained_without(groups: dict[str, list[tuple[np.ndarray, np.ndarray]]], left_out: str, l2: float):
    """A ranker trained on every set's groups but `left_out`'s."""
    return train([g for other, found in groups.items() if other != left_out for g in found], l2=l2)


def leave_one_corpus_out(sets: dict[str, Path], indexes: dict[str, Path], *, l2: float) -> None:
    """The shipped ranker is trained on every set's dev split, so its dev figures are in-sample; a user's corpus is
    one no ranker saw. Here each set is scored by a ranker trained on the other sets only."""
    groups = {name: groups_of(_asker(indexes[name], hand_set=True), gold, "dev") for name, gold in sets.items()}
    print("\n| set | split | bottom direct (hand-set) | bottom direct (ranker, this corpus left out) |\n|---|---|---|---|")
    for name, gold in sets.items():
        ranker = _trained_without(groups, name, l2)
        for split in ("dev", "test"):
            rates = [
                evaluate_answers(gold, split=split, index_root=indexes[name], composer=asker.ask).bottom_direct_rate
                for asker in (_asker(indexes[name], hand_set=True), _asker(indexes[name], ranker=ranker))
            ]
            print(f"| {name} | {split} | " + " | ".join("–" if r is None else f"{r:.3f}" for r in rates) + " |", flush=True)


def choose_l2(sets: dict[str, Path], indexes: dict[str, Path], grid: list[float]) -> None:
    """Leave-one-corpus-out on dev splits only: for each L2 strength, the mean bottom-line directness of each set's
    dev pages under a ranker trained on the other sets' dev questions. Choose the strength here; test splits stay unseen."""
    groups = {name: groups_of(_asker(indexes[name], hand_set=True), gold, "dev") for name, gold in sets.items()}
    hand = {name: evaluate_answers(gold, split="dev", index_root=indexes[name], composer=_asker(indexes[name], hand_set=True).ask).bottom_direct_rate
            for name, gold in sets.items()}
    print("\n| l2 | " + " | ".join(sets) + " | mean |\n|---|" + "---|" * (len(sets) + 1))
    print("| hand-set | " + " | ".join(f"{hand[n] or 0:.3f}" for n in sets) + f" | {sum(v or 0 for v in hand.values()) / len(sets):.3f} |")
    for l2 in grid:
        rates = {}
        for name, gold in sets.items():
            ranker = _trained_without(groups, name, l2)
            rates[name] = evaluate_answers(gold, split="dev", index_root=indexes[name], composer=_asker(indexes[name], ranker=ranker).ask).bottom_direct_rate or 0.0
        print(f"| {l2:g} | " + " | ".join(f"{rates[n]:.3f}" for n in sets) + f" | {sum(rates.values()) / len(sets):.3f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", help="gold set names (default: all)")
    parser.add_argument("--l2", type=float, default=0.3, help="L2 strength (chosen by --choose-l2: leave-one-corpus-out on dev splits)")
    parser.add_argument("--no-write", action="store_true", help="report only; keep the shipped weights")
    parser.add_argument("--loco", action="store_true", help="leave one corpus out (writes nothing): for each set, train on the "
                        "other sets' dev questions and score this set's dev and test pages, beside the hand-set relevance")
    parser.add_argument("--choose-l2", nargs="+", type=float, metavar="L2", help="leave one corpus out on dev splits only "
                        "(writes nothing): each set's dev bottom-line directness under rankers of these L2 strengths trained on the other sets")
    args = parser.parse_args()
    sets = gold_sets(args.sets)
    indexes = {name: gold_set_index(gold) for name, gold in sets.items()}
    if args.choose_l2:
        choose_l2(sets, indexes, args.choose_l2)
        return
    if args.loco:
        leave_one_corpus_out(sets, indexes, l2=args.l2)
        return
    started = time.perf_counter()
    groups: list[tuple[np.ndarray, np.ndarray]] = []
    for name, gold in sets.items():
        asker = Asker(indexes[name])
        asker.settings = asker.settings.model_copy(update={"selection": asker.settings.selection.model_copy(update={"use_ranker": False})})
        found = groups_of(asker, gold, "dev")
        groups += found
        reachable = sum(bool(y.any()) for _, y in found)
        print(f"{name}: {len(found)} dev questions, {reachable} with a good sentence among the candidates")
    ranker = train(groups, l2=args.l2)
    print(f"trained on {sum(bool(y.any()) for _, y in groups)} questions in {time.perf_counter() - started:.1f} s")
    if not args.no_write:
        RANKER_FILE.write_text(ranker.to_json(trained_on="dev splits of " + ", ".join(sets), l2=args.l2) + "\n")
        from rag.answer.ranker import load_ranker

        load_ranker.cache_clear()
        print(f"wrote {RANKER_FILE}")
    print("\n| set | split | bottom direct (hand-set) | bottom direct (ranker) | facts (ranker) |\n|---|---|---|---|---|")
    for name, gold in sets.items():
        for split in ("dev", "test"):
            rates = []
            for use in (False, True):
                asker = Asker(indexes[name])
                asker.settings = asker.settings.model_copy(update={"selection": asker.settings.selection.model_copy(update={"use_ranker": use})})
                report = evaluate_answers(gold, split=split, index_root=indexes[name], composer=asker.ask)
                rates.append(report)
            fmt = lambda r: f"{r.bottom_direct_rate:.3f}" if r.bottom_direct_rate is not None else "–"  # noqa: E731
            print(f"| {name} | {split} | {fmt(rates[0])} | {fmt(rates[1])} | {rates[1].fact_recall:.3f} |")


if __name__ == "__main__":
    main()
