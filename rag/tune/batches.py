"""Batches for in-batch negatives: every other pair's positive and negatives are an anchor's negatives
too, so a batch must not hold the same text twice, nor a document relevant to one of its anchors as
another pair's text (SciFact claims share abstracts; one query can have two relevant abstracts).
sentence-transformers' NO_DUPLICATES batch sampler does the first; this also does the second."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from rag.tune.pairs import Candidate, TrainingPair


def plan_batches(
    pairs: Sequence[TrainingPair],
    negatives: Sequence[Sequence[int]],
    pool: Sequence[Candidate],
    *,
    batch_size: int,
    rng: np.random.Generator,
) -> list[list[int]]:
    """Pair numbers per step, all pairs once, in a seeded random order. A pair that would clash with the
    batch being filled waits for the next one; every batch but possibly the last few is full."""
    texts = [(p.anchor, p.positive, *(pool[row].text for row in rows)) for p, rows in zip(pairs, negatives, strict=True)]
    docs = [frozenset({p.positive_doc, *(pool[row].doc_id for row in rows)}) for p, rows in zip(pairs, negatives, strict=True)]
    waiting = deque(int(i) for i in rng.permutation(len(pairs)))
    batches: list[list[int]] = []
    while waiting:
        batch: list[int] = []
        seen_texts: set[str] = set()
        seen_docs: set[str] = set()
        relevant: set[str] = set()
        deferred: list[int] = []
        while waiting and len(batch) < batch_size:
            i = waiting.popleft()
            if seen_texts.intersection(texts[i]) or not docs[i].isdisjoint(relevant) or not pairs[i].relevant.isdisjoint(seen_docs):
                deferred.append(i)
                continue
            batch.append(i)
            seen_texts.update(texts[i])
            seen_docs.update(docs[i])
            relevant.update(pairs[i].relevant)
        waiting.extendleft(reversed(deferred))
        batches.append(batch)
    return batches
