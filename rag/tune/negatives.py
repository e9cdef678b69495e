"""Hard negatives for `rag tune`, mined with the project's own BM25 (rag.bm25, rag.tokenize).

For each pair, the anchor is searched in a BM25 index of the candidate pool; hits from a document the
pair counts as relevant (its positive's document, or every document its query is judged relevant to)
and texts identical to the positive are dropped; `negatives` are drawn at random (seeded) from the
best `negative_depth` that remain. A pair with too few such hits is topped up with random candidates
that pass the same rule, so every pair has the same number of negatives (the loss needs whole columns).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence

import numpy as np

from rag.bm25 import BM25Index
from rag.errors import TuneError
from rag.tokenize import make_tokenizer
from rag.tune.pairs import Candidate, TrainingPair
from rag.tune.settings import TuneSettings


def mine_negatives(
    pairs: Sequence[TrainingPair], pool: Sequence[Candidate], settings: TuneSettings, *, progress=None
) -> list[list[int]]:
    """For each pair, `settings.negatives` row numbers of `pool`: never a text of a document in
    `pair.relevant`, never the positive's own text, no row twice."""
    wanted = settings.negatives
    if wanted == 0:
        return [[] for _ in pairs]
    tokenize = make_tokenizer(settings.tokenizer)
    if progress:
        progress.stage("indexing negatives (BM25)", len(pool))
    tokens = []
    for candidate in pool:
        tokens.append(tokenize(candidate.text))
        if progress:
            progress.advance()
    index = BM25Index.build(tokens, settings.bm25)
    rows_of_doc = Counter(c.doc_id for c in pool)
    rng = np.random.default_rng(settings.seed)
    if progress:
        progress.stage("mining hard negatives", len(pairs))
    mined: list[list[int]] = []
    for pair in pairs:

        def allowed(row: int, pair: TrainingPair = pair) -> bool:
            return pool[row].doc_id not in pair.relevant and pool[row].text != pair.positive

        depth = settings.negative_depth + sum(rows_of_doc[doc] for doc in pair.relevant) + 1  # room for the dropped hits
        hits = [row for row, _ in index.top_k(tokenize(pair.anchor), depth) if allowed(row)][: settings.negative_depth]
        chosen = [int(row) for row in rng.permutation(hits)[:wanted]] if hits else []
        if len(chosen) < wanted:
            chosen += _top_up(pool, allowed, set(chosen), wanted - len(chosen), rng, pair)
        mined.append(chosen)
        if progress:
            progress.advance()
    return mined


def _top_up(pool: Sequence[Candidate], allowed, taken: set[int], count: int, rng: np.random.Generator, pair: TrainingPair) -> list[int]:
    """`count` random allowed rows not in `taken` (a random order of the whole pool, read until enough)."""
    extra: list[int] = []
    for row in rng.permutation(len(pool)):
        row = int(row)
        if row not in taken and allowed(row):
            extra.append(row)
            if len(extra) == count:
                return extra
    raise TuneError(
        f"{len(pool)} candidate texts hold fewer than {len(taken) + count} negatives for {pair.anchor[:60]!r} outside its own "
        "document; add documents or lower --negatives"
    )


def negatives_digest(pool: Sequence[Candidate], mined: Sequence[Sequence[int]]) -> str:
    """sha256 of every pair's negatives (document id and text), in order."""
    digest = hashlib.sha256()
    for rows in mined:
        for row in rows:
            digest.update(f"{pool[row].doc_id}\x1f{pool[row].text}\x1d".encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()
