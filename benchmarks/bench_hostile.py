"""Hostile-input benchmark for the chunker: is its cost linear in the length of one section?

For each kind of text and each size (default 1, 2 and 4 MB) a Markdown file with one section of that
text is written to a temporary folder, then a fresh child process loads it (`rag.loaders.markdown`)
and chunks it with the packaged model's tokenizer (`rag.chunking.chunk_document`), and reports its
seconds and peak RSS. Linear cost shows as flat seconds per MB across sizes; bounded memory as a peak
RSS that grows with the text itself (a few times its size), not with its square or the tokenizer's
appetite for one giant string.

Kinds:
- prose: ordinary clinical sentences in one paragraph (issue 12 measured ~25 s per MB here before the
  sentence splitter's look-behind was bounded);
- one-line: words with no sentence boundary at all, on one line (every piece is cut from one giant
  "sentence": windows, then clause and word packing);
- word: one giant word of letters and no space (cut by characters).

    python benchmarks/bench_hostile.py                  # 1, 2, 4 MB of each kind
    python benchmarks/bench_hostile.py --sizes 1 50 --kinds one-line
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
MB = 1_000_000
FRONT_MATTER = "---\nid: hostile\ntitle: Hostile input\nkind: other\nbody: Bench\nyear: 2024\nidentifiers: {url: x}\nas_of: 2024-01-01\n---\n# Results\n"
VOCABULARY = (
    "patients received pembrolizumab or placebo every three weeks and overall survival improved with a hazard ratio of "
    "0.69 (95% CI 0.56-0.84) in the PD-L1 positive population while grade 3 adverse events occurred in 12% of"
)
WORDS = VOCABULARY.split()


def _prose(size: int, rng: random.Random) -> str:
    sentences: list[str] = []
    total = 0
    while total < size:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30))).capitalize() + "."
        sentences.append(sentence)
        total += len(sentence) + 1
    return " ".join(sentences)


def _one_line(size: int, rng: random.Random) -> str:
    words: list[str] = []
    total = 0
    while total < size:
        word = rng.choice(WORDS).lower().rstrip(".")
        words.append(word)
        total += len(word) + 1
    return " ".join(words)


def _word(size: int, rng: random.Random) -> str:
    return "".join(rng.choice("abcdefghij") for _ in range(size))


KINDS = {"prose": _prose, "one-line": _one_line, "word": _word}


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over from the parent through
    fork and exec, so a child would report the parent's peak (here: the text it generated)."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def child(path: Path) -> None:
    """Load and chunk one file; print seconds and peak RSS as JSON."""
    from rag.chunking import ChunkSettings, chunk_document
    from rag.embedding import DEFAULT_MODEL, resolve_model, token_counter
    from rag.loaders import markdown

    count = token_counter(resolve_model(DEFAULT_MODEL))
    baseline = peak_rss_mb()
    started = time.perf_counter()
    (document,) = markdown.load(path)
    loaded = time.perf_counter()
    passages = chunk_document(document, count, ChunkSettings())
    done = time.perf_counter()
    peak = peak_rss_mb()
    longest = max(len(p.text) for p in passages)
    print(json.dumps({"load_s": loaded - started, "chunk_s": done - loaded, "passages": len(passages),
                      "longest_chars": longest, "baseline_mb": baseline, "peak_mb": peak}))


def run(kind: str, megabytes: float, folder: Path) -> dict:
    path = folder / f"{kind}-{megabytes}.md"
    path.write_text(FRONT_MATTER + KINDS[kind](int(megabytes * MB), random.Random(12)) + "\n", encoding="utf-8")
    result = subprocess.run([sys.executable, __file__, "--child", str(path)], capture_output=True, text=True, check=False)
    path.unlink()
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 2, 4], help="Section sizes in MB.")
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"{'kind':<9} {'MB':>5} {'load s':>7} {'chunk s':>8} {'s/MB':>6} {'passages':>9} {'longest':>8} {'base MB':>8} {'peak MB':>8}")
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        for kind in args.kinds:
            for size in args.sizes:
                row = run(kind, size, Path(folder))
                if "error" in row:
                    print(f"{kind:<9} {size:>5g} failed: {row['error']}")
                    continue
                total = row["load_s"] + row["chunk_s"]
                print(f"{kind:<9} {size:>5g} {row['load_s']:>7.2f} {row['chunk_s']:>8.2f} {total / size:>6.2f} {row['passages']:>9,} "
                      f"{row['longest_chars']:>8,} {row['baseline_mb']:>8.0f} {row['peak_mb']:>8.0f}", flush=True)


if __name__ == "__main__":
    main()
