"""Every knob of the reranker, described, in one settings model: how it is trained (recorded whole in
the folder's rerank.json) and how it rescores hits at query time (top_n, fused_weight, threads; the
values in rerank.json are the defaults, `--rerank-top` and `--rerank-weight` override them)."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.bm25 import BM25Settings
from rag.embedding import DEFAULT_MODEL
from rag.errors import RerankError
from rag.tokenize import TokenizerSettings


class RerankSettings(BaseModel):
    """A cross-encoder initialised from the embedder's weights (a fresh one-logit head on its pooled [CLS]),
    trained with a softmax cross-entropy over each query's group: its positive passage first, then its
    BM25-mined hard negatives (the loss is low when the positive out-scores every negative of its group)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # ---- training
    base_model: str = Field(default=DEFAULT_MODEL, min_length=1, description="Weights to start from: packaged name, local folder or cached HF name.")
    layers: int | None = Field(
        default=None, ge=1, le=48,
        description="Keep only the base model's first this many transformer layers (None: all). Fewer layers score faster "
        "at query time (the cost is about proportional) and usually rank worse.",
    )
    epochs: int = Field(default=1, ge=1, le=100, description="Passes over the training pairs.")
    batch_size: int = Field(
        default=4, ge=1, le=1024,
        description="Pairs (queries) per step; each brings 1 + negatives passages to score. Small: SciFact's few hundred "
        "claims make few steps, and the new head needs steps to learn.",
    )
    learning_rate: float = Field(default=5e-5, gt=0, le=1e-2, description="AdamW peak learning rate of the encoder (pretrained weights).")
    head_learning_rate: float = Field(
        default=1e-3, gt=0, le=1e-1,
        description="AdamW peak learning rate of the new one-logit head. Its weights start random (std 0.02): at the encoder's "
        "rate a run of a few hundred steps barely moves them (a first SciFact run at 5e-5 ended at loss 1.31, a random guess's 1.39).",
    )
    warmup_ratio: float = Field(
        default=0.1, ge=0, lt=1, description="Share of the steps over which the learning rate rises linearly to its peak (then falls linearly to 0)."
    )
    negatives: int = Field(default=3, ge=1, le=16, description="BM25-mined hard negatives per pair (the rest of its softmax group).")
    negative_depth: int = Field(
        default=30, ge=1, le=1000,
        description="Hard negatives are drawn at random from this many best BM25 hits of the query that are not judged "
        "relevant to it; a pair with fewer is topped up with random documents.",
    )
    max_length: int = Field(
        default=192, ge=16, le=512,
        description="Tokens of query + passage together (the longer of the two is cut first), in training and at query time. "
        "The cost of scoring grows with it: 192 keeps a SciFact train run on 2 CPU cores near 15 minutes.",
    )
    holdout: float = Field(
        default=0.0, ge=0, lt=1,
        description="Share of the qrels split's queries left out of training, a seeded sample recorded in rerank.json: a dev "
        "set to choose top_n and fused_weight on without touching the test split (0: train on every query).",
    )
    max_pairs: int | None = Field(default=None, ge=1, description="Train on at most this many pairs, a seeded random sample (None: all).")
    seed: int = Field(default=13, ge=0, description="Seeds the holdout, the pair sample, the negatives drawn, the step order, the new head and dropout.")
    tokenizer: TokenizerSettings = Field(
        default=TokenizerSettings(stopwords=True, stemmer="porter", split_compounds=True),
        description="BM25 tokenizer for mining (the BEIR evaluation profile).",
    )
    bm25: BM25Settings = Field(default=BM25Settings(variant="lucene", k1=0.9, b=0.4), description="BM25 for mining (the BEIR evaluation profile).")
    # ---- query time
    top_n: int = Field(
        default=20, ge=1, le=1000,
        description="Rescore this many best hits of the first-stage retriever; hits below keep their order beneath them.",
    )
    fused_weight: float = Field(
        default=0.0, ge=0, le=1,
        description="0: a reranked hit's score is the reranker's logit. Above 0: (1 - w) x the logit min-max scaled over the "
        "top_n + w x the first-stage rank scaled to (0, 1] ((top_n + 1 - rank) / top_n), so the first stage can keep a say.",
    )
    threads: int = Field(
        default=1, ge=1, le=64,
        description="onnxruntime threads when scoring. 1 by default, as for the query encoder: on this 2-core machine the "
        "second thread competes with BM25, faiss and other work.",
    )

    def digest(self) -> str:
        """12 hex chars of sha256 of the settings (the reranker's configuration stamp)."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()[:12]

    def mining(self):  # -> rag.tune.settings.TuneSettings
        """The settings rag.tune.negatives reads (negatives, depth, seed, tokenizer, BM25), from these."""
        from rag.tune.settings import TuneSettings

        return TuneSettings(
            negatives=self.negatives, negative_depth=self.negative_depth, seed=self.seed, tokenizer=self.tokenizer, bm25=self.bm25
        )


def rerank_settings(base: RerankSettings | None = None, **values: Any) -> RerankSettings:
    """`base` (default: the defaults) with the keyword values that are not None, or RerankError naming the
    first bad field."""
    given = {key: value for key, value in values.items() if value is not None}
    try:
        return RerankSettings(**{**(base.model_dump() if base else {}), **given})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        value = given.get(str(first["loc"][0])) if first["loc"] else None
        raise RerankError(f"{field}={value!r}: {first['msg'].lower()}") from None
