"""The reranker folder's manifest, `rerank.json`, and the check that opens a folder (no torch).

The folder `rag rerank train` writes:
    config.json, model.safetensors            the trained weights (transformers format, for retraining or torch scoring)
    tokenizer.json, tokenizer_config.json, vocab.txt, special_tokens_map.json   the tokenizer
    rerank.onnx                               what the query path runs (onnxruntime), inputs as rag.rerank.encode makes them
    rerank.json                               base model, data hashes, held-out query ids, every setting, losses, train
                                              time, versions, and the size and sha256 of the files the query path reads

Opening a folder checks that rerank.json reads and that the files it records are there with their
recorded sizes; anything else is a RerankError that names the file and says what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import READ_FAILURES, RerankError, reading
from rag.index.integrity import Artifact
from rag.rerank.settings import RerankSettings
from rag.tune.run import TuneData
from rag.tune.trainer import TrainingRun as TuneTrainingRun

RERANK_FILE = "rerank.json"
ONNX_FILE = "rerank.onnx"
FORMAT_VERSION = 1
RETRAIN = "train it again with `rag rerank train --force`"


class RerankDataSummary(TuneData):
    """What `rag tune` records of its pairs, and the queries held out of training."""

    pairs_available: int = Field(description="Pairs the source gave, before the holdout and the max_pairs sample.")
    held_out: list[str] = Field(description="Query ids of the split left out of training (the dev set); empty without --holdout.")


class TrainingRun(TuneTrainingRun):
    """What `rag tune` records of its steps, and the loss at the end (epoch_loss: ln(1 + negatives) is a random guess's)."""

    seconds: float = Field(description="Wall time of the training steps (model loading, export and saving not included).")
    last_loss: float = Field(description="Mean loss of the last tenth of the last epoch's steps.")


class RerankManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = FORMAT_VERSION
    created: str
    path: str = Field(description="Where the folder was written.")
    base_model: str
    base_model_path: str
    layers: int = Field(description="Transformer layers of the trained model.")
    data: RerankDataSummary
    settings: RerankSettings
    settings_digest: str = Field(description="RerankSettings.digest(): 12 hex chars naming the configuration.")
    training: TrainingRun
    train_seconds: float = Field(description="Wall time of the training steps.")
    seconds: float = Field(description="Wall time of the whole run: reading pairs, mining, loading, training, export, saving.")
    onnx_max_abs_diff: float = Field(description="Largest |ONNX - torch| logit on the check pairs scored after export.")
    files: dict[str, Artifact] = Field(description="Size and sha256 of the files the query path reads.")
    versions: dict[str, str]


def load_manifest(folder: Path) -> RerankManifest:
    """The manifest of reranker folder `folder`, its recorded files present at their sizes; else RerankError."""
    folder = Path(folder).expanduser()
    if not folder.exists():
        raise RerankError(f"{folder}: no such reranker folder; train one with `rag rerank train --out {folder}`")
    if not folder.is_dir():
        raise RerankError(f"{folder}: not a folder; pass the reranker folder `rag rerank train` wrote")
    path = folder / RERANK_FILE
    if not path.is_file():
        raise RerankError(f"{folder}: not a reranker folder (no {RERANK_FILE}); pass the folder `rag rerank train` wrote")
    with reading(path, "reranker manifest", RETRAIN, error=RerankError, failures=READ_FAILURES):
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or raw.get("format_version") != FORMAT_VERSION:
            version = raw.get("format_version") if isinstance(raw, dict) else None
            raise ValueError(f"format version {version!r}, this engine reads {FORMAT_VERSION}")
        manifest = RerankManifest.model_validate(raw)
    for name in (ONNX_FILE, "tokenizer.json"):
        if name not in manifest.files:
            raise RerankError(f"{path}: records no {name}; {RETRAIN}")
    for name, artifact in manifest.files.items():
        file = folder / name
        if not file.is_file():
            raise RerankError(f"{file}: missing from the reranker folder; {RETRAIN}")
        size = file.stat().st_size
        if size != artifact.size:
            raise RerankError(f"{file}: {size:,} bytes, {RERANK_FILE} records {artifact.size:,} (damaged or replaced); {RETRAIN}")
    return manifest
