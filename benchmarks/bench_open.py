"""What the integrity checks cost when an index is opened (issue 12): median milliseconds per step
over fresh opens of one index, each step with and without its check.

    python benchmarks/bench_open.py --index indexes/default [--repeat 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from rag.dense import FAISS_FILE, check_vectors
from rag.index.checks import check_lexical
from rag.index.integrity import check_checksums, check_files
from rag.index.load import Index


def median_ms(step: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1000)
    return round(statistics.median(times), 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    index = Index(args.index)
    folder, artifacts = index.folder, index.manifest.artifacts
    n = args.repeat
    rows = {
        "open (manifest, store id, stat signatures)": median_ms(lambda: Index(args.index).close(), n),
        "  of which stat signatures": median_ms(lambda: check_files(folder, artifacts), n),
        "  of which store build id + count": median_ms(index._check_store_identity, n),
        "bm25 arrays check": median_ms(lambda: check_lexical(index.bm25, folder, full=True), n),
    }
    if index.manifest.model is not None:
        rows["faiss unit-vector check"] = median_ms(lambda: check_vectors(index.faiss, folder / "dense" / FAISS_FILE), n)
        rows["one query encode (for scale)"] = median_ms(lambda: index.query_encoder.encode(["cemiplimab cervical"]), n)
    rows["full re-hash (--verify)"] = median_ms(lambda: check_checksums(folder, artifacts), max(3, n // 5))
    size = sum(a.size for a in artifacts.values()) / 1e6
    print(f"{folder}: {index.manifest.counts.passages} passages, {len(artifacts)} files, {size:.1f} MB")
    for name, ms in rows.items():
        print(f"{name:<45} {ms:>8.2f} ms")


if __name__ == "__main__":
    main()
