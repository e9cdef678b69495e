"""Every knob of `rag tune`, described, in one settings model; the whole of it is recorded in the tuned
model's tune.json, so a figure measured with the model names the configuration that produced it."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.bm25 import BM25Settings
from rag.embedding import DEFAULT_MODEL
from rag.errors import TuneError
from rag.tokenize import TokenizerSettings


class TuneSettings(BaseModel):
    """How the embedder is fine-tuned: MultipleNegativesRankingLoss (each anchor against its positive, the
    other pairs' positives and negatives in the batch, and its own BM25-mined hard negatives)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    base_model: str = Field(default=DEFAULT_MODEL, min_length=1, description="Model to start from: packaged name, local folder or cached HF name.")
    epochs: int = Field(default=1, ge=1, le=100, description="Passes over the training pairs.")
    batch_size: int = Field(
        default=32, ge=2, le=4096, description="Pairs per step; each anchor's in-batch negatives are the other pairs' positives and negatives."
    )
    learning_rate: float = Field(default=2e-5, gt=0, le=1e-2, description="AdamW peak learning rate.")
    warmup_ratio: float = Field(default=0.1, ge=0, lt=1, description="Share of the steps over which the learning rate rises linearly to its peak (then falls linearly to 0).")
    negatives: int = Field(default=1, ge=0, le=16, description="BM25-mined hard negatives per pair (0: in-batch negatives only).")
    negative_depth: int = Field(
        default=10, ge=1, le=1000,
        description="Hard negatives are drawn at random from this many best BM25 hits of the anchor that are not a positive "
        "(nor of the positive's document); a pair with fewer is topped up with random documents.",
    )
    max_seq_length: int = Field(
        default=128, ge=8, le=512,
        description="Tokens per text while training (longer texts are truncated); the saved model keeps the base model's "
        "max_seq_length, so indexing and queries are unchanged. 128 keeps a SciFact run on 2 CPU cores under ~30 minutes.",
    )
    scale: float = Field(default=20.0, gt=0, description="MultipleNegativesRankingLoss scale (1 / temperature) on cosine similarities.")
    max_pairs: int | None = Field(default=None, ge=1, description="Train on at most this many pairs, a seeded random sample (None: all).")
    seed: int = Field(default=13, ge=0, description="Seeds the pair sample, the negatives drawn, the batch order and torch (dropout).")
    tokenizer: TokenizerSettings = Field(
        default=TokenizerSettings(stopwords=True, stemmer="porter", split_compounds=True),
        description="BM25 tokenizer for mining (the BEIR evaluation profile).",
    )
    bm25: BM25Settings = Field(default=BM25Settings(variant="lucene", k1=0.9, b=0.4), description="BM25 for mining (the BEIR evaluation profile).")

    def digest(self) -> str:
        """12 hex chars of sha256 of the settings (the model's configuration stamp)."""
        return hashlib.sha256(self.model_dump_json().encode("utf-8")).hexdigest()[:12]


def tune_settings(**values: Any) -> TuneSettings:
    """TuneSettings from keyword values (None: the default), or TuneError naming the first bad field."""
    try:
        return TuneSettings(**{key: value for key, value in values.items() if value is not None})
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "settings"
        given = values.get(str(first["loc"][0])) if first["loc"] else None
        raise TuneError(f"{field}={given!r}: {first['msg'].lower()}") from None
