"""Training examples for the reranker, from the pair sources `rag tune` reads (rag.tune.pairs): the judged
(query, document) pairs of a qrels split, or the corpus's title/heading -> text pairs. Each pair gets
BM25-mined hard negatives (rag.tune.negatives: never a document judged relevant to its query).

With `holdout`, a seeded share of the qrels split's queries is left out before anything else, and their
ids are recorded: the dev set on which the query-time settings are chosen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.errors import RerankError
from rag.rerank.settings import RerankSettings
from rag.tune.pairs import Candidate, TrainingData, TrainingPair


class RerankData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    data: TrainingData = Field(description="The pairs trained on and the pool their negatives come from.")
    pairs_available: int = Field(description="Pairs of the source before the holdout and the max_pairs sample.")
    negatives: list[list[int]] = Field(description="Rows of data.pool: each pair's hard negatives.")
    held_out: list[str] = Field(default_factory=list, description="Query ids left out of training (the dev set).")

    @property
    def pairs(self) -> list[TrainingPair]:
        return self.data.pairs

    @property
    def pool(self) -> list[Candidate]:
        return self.data.pool


def held_out_queries(qids: list[str], share: float, seed: int) -> list[str]:
    """A seeded `share` of `qids` (at least one when share > 0), sorted."""
    if share <= 0:
        return []
    count = max(1, round(len(qids) * share))
    if count >= len(qids):
        raise RerankError(f"--holdout {share}: would leave none of the {len(qids)} queries to train on; use a smaller share")
    rng = np.random.default_rng(seed)
    return sorted(str(qids[i]) for i in rng.choice(len(qids), size=count, replace=False))


def rerank_data(
    settings: RerankSettings, *, pairs: str, dataset: Path | None, split: str | None, corpus: list[Path] | None, progress=None
) -> RerankData:
    """The pairs named on the command line (as `rag tune` reads them), minus the held-out queries, sampled
    to max_pairs, with their mined negatives."""
    from rag.tune.negatives import mine_negatives
    from rag.tune.run import sample_pairs, training_data

    if progress:
        progress.stage("reading pairs", None)
    available = training_data(pairs, dataset=dataset, split=split, corpus=corpus)
    held: list[str] = []
    data = available
    if settings.holdout > 0:
        if available.source != "qrels":
            raise RerankError(f"--holdout {settings.holdout}: holds out judged queries; it needs --pairs qrels (or --holdout 0)")
        from rag.eval.beir import load_beir

        assert dataset is not None
        judged = load_beir(dataset, split=available.split or "train")
        held = held_out_queries(sorted(judged.qrels), settings.holdout, settings.seed)
        left_out = {judged.queries[qid] for qid in held}
        data = available.model_copy(update={"pairs": [p for p in available.pairs if p.anchor not in left_out]})
    data = sample_pairs(data, settings.mining().model_copy(update={"max_pairs": settings.max_pairs}))
    negatives = mine_negatives(data.pairs, data.pool, settings.mining(), progress=progress)
    return RerankData(data=data, pairs_available=len(available.pairs), negatives=negatives, held_out=held)
