"""`rag ask` latency on the default corpus: warm (one Asker, every gold question) and cold (a new
`rag ask` process per question, process start to printed page). Prints a table.

    python benchmarks/bench_ask.py [--index indexes/default] [--cold-runs 10]
Targets (issue "`rag ask`"): warm p50 <= 150 ms, cold <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "indexes" / "default")
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args()

    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "eval" / "gold" / "questions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    from rag.answer.compose import Asker

    start = time.perf_counter()
    asker = Asker(args.index)
    asker.ask(questions[0])  # first question loads the lazy parts (BM25 arrays, faiss, ONNX session)
    first = time.perf_counter() - start
    warm = []
    for question in questions:
        t0 = time.perf_counter()
        asker.ask(question)
        warm.append(time.perf_counter() - t0)

    rag = Path(sys.executable).with_name("rag")
    cold = []
    for question in questions[: args.cold_runs]:
        t0 = time.perf_counter()
        done = subprocess.run([str(rag), "ask", question, "--index", str(args.index)], capture_output=True, text=True)
        cold.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"rag ask failed: {done.stderr.strip()}")

    rows = [
        ("warm ask (Asker reused)", len(warm), statistics.median(warm), percentile(warm, 0.95), "p50 <= 0.150 s"),
        ("cold `rag ask` process", len(cold), statistics.median(cold), percentile(cold, 0.95), "<= 2.0 s"),
        ("first ask in a process (load)", 1, first, first, ""),
    ]
    print(f"{'measure':<32}{'n':>5}{'p50 s':>10}{'p95 s':>10}  target")
    for name, n, p50, p95, target in rows:
        print(f"{name:<32}{n:>5}{p50:>10.3f}{p95:>10.3f}  {target}")


if __name__ == "__main__":
    main()
