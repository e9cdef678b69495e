"""Calibrate `rag ask` abstention on the gold DEV split only: print each question's coverage and
best dense similarity, then the outcome of a grid of thresholds (the defaults in
rag/answer/compose.py AbstainSettings were chosen from this table).

    python benchmarks/calibrate_abstention.py [--index indexes/default]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "indexes" / "default")
    args = parser.parse_args()

    from rag.answer.compose import AbstainSettings, Asker

    rows = [
        json.loads(line)
        for line in (ROOT / "eval" / "gold" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    dev = [r for r in rows if r["split"] == "dev"]
    asker = Asker(args.index)
    measured = []
    for row in dev:
        assessment = asker.assess(row["question"])
        scoped_out = asker.lexicon.outside_scope(assessment.question) is not None
        measured.append((row, assessment.coverage, assessment.top_dense, scoped_out))
    print(f"{'expect':<8}{'coverage':>9}{'dense':>7}  scope-rule  id")
    for row, coverage, dense, scoped_out in sorted(measured, key=lambda m: (m[0]["expect"], m[1])):
        print(f"{row['expect']:<8}{coverage:>9.2f}{dense:>7.2f}  {'out' if scoped_out else '':<10}  {row['id']}")

    print(f"\n{'min_cov':>8}{'conf_dense':>11}{'min_dense':>10}{'OOS abstained':>15}{'in-scope answered':>19}")
    current = AbstainSettings()
    for min_cov, confident, min_dense in itertools.product((0.35, 0.45, 0.55), (0.5, 0.6, 0.7), (0.25, 0.30)):
        settings = AbstainSettings(min_coverage=min_cov, confident_dense=confident, min_dense=min_dense)
        abstained = answered = 0
        for row, coverage, dense, scoped_out in measured:
            poorly = coverage < settings.min_coverage and dense < settings.confident_dense
            abstain = scoped_out or poorly or dense < settings.min_dense
            abstained += row["expect"] == "abstain" and abstain
            answered += row["expect"] == "answer" and not abstain
        n_out = sum(r["expect"] == "abstain" for r, *_ in measured)
        n_in = len(measured) - n_out
        mark = "  <- default" if settings == current else ""
        print(f"{min_cov:>8.2f}{confident:>11.2f}{min_dense:>10.2f}{abstained:>10}/{n_out:<4}{answered:>14}/{n_in:<4}{mark}")


if __name__ == "__main__":
    main()
