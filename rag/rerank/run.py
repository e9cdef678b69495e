"""`rag rerank train`: train the cross-encoder and write its folder (layout in rag.rerank.manifest).

Stages: check the target and the base model -> read the pairs (holding out the dev queries) -> mine BM25
hard negatives -> load the base weights with a new head -> train (rag.rerank.trainer) -> save the weights
and tokenizer, export rerank.onnx, score check pairs with torch and onnxruntime (their largest difference
is recorded, and a difference above ONNX_TOLERANCE fails the run) -> rerank.json -> rename the staging
folder into place. An interrupted or failed run leaves no folder at the target (nor replaces the one there).
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import time
from pathlib import Path

from rag.errors import RerankError, writing
from rag.modelfolder import make_readable, move_into_place
from rag.index.integrity import Artifact, sha256_of
from rag.rerank.data import RerankData, rerank_data
from rag.rerank.manifest import ONNX_FILE, RERANK_FILE, RerankDataSummary, RerankManifest
from rag.rerank.settings import RerankSettings

ONNX_TOLERANCE = 1e-3
"""Largest |ONNX - torch| logit accepted on the check pairs (fp32 export: ~1e-6 seen here)."""
CHECK_PAIRS = 16
SAVE_ADVICE = "free disk space and run rag rerank train again"


def check_target(target: Path, *, force: bool) -> None:
    """Refuse an existing target unless `force`; and `force` replaces only a folder rag rerank train wrote."""
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise RerankError(f"{target}: already exists; pass --force to replace it, or choose another --out")
    if target.is_symlink() or not target.is_dir() or not (target / RERANK_FILE).is_file():
        raise RerankError(f"{target}: not a reranker folder (no {RERANK_FILE}); --force replaces only those; choose another --out")


def train_reranker(
    target: Path,
    settings: RerankSettings,
    *,
    pairs: str = "qrels",
    dataset: Path | None = None,
    split: str | None = None,
    corpus: list[Path] | None = None,
    force: bool = False,
    progress=None,
) -> RerankManifest:
    """Train a reranker from settings.base_model on the pairs named and write its folder `target` atomically."""
    from rag.embedding import _offline, resolve_model

    started = time.perf_counter()
    target = target.expanduser().absolute()
    check_target(target, force=force)
    base_dir = resolve_model(settings.base_model)  # ModelError for an unknown name, before any work
    if not (base_dir / "tokenizer.json").is_file():
        raise RerankError(f"{base_dir}: the base model has no tokenizer.json (a fast tokenizer file); pass another --model")
    data = rerank_data(settings, pairs=pairs, dataset=dataset, split=split, corpus=corpus, progress=progress)
    staging = target.parent / f".{target.name}.rerank-{os.getpid()}.partial"
    _offline()
    try:
        with writing(target.parent, "reranker", SAVE_ADVICE, error=RerankError):
            target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        from rag.rerank.encode import PairEncoder
        from rag.rerank.trainer import load_base, train

        if progress:
            progress.stage("loading model", None)
        model = load_base(base_dir, settings)
        encoder = PairEncoder(base_dir / "tokenizer.json", settings.max_length)
        run = train(model, encoder, data.pairs, data.negatives, data.pool, settings, progress=progress)
        with writing(staging, "reranker", SAVE_ADVICE, error=RerankError):
            if progress:
                progress.stage("saving and exporting (ONNX)", None)
            difference = _save(model, base_dir, staging, check_pairs(data), settings)
            manifest = RerankManifest(
                created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                path=str(target),
                base_model=settings.base_model,
                base_model_path=str(base_dir),
                layers=int(model.config.num_hidden_layers),
                data=summary(data),
                settings=settings,
                settings_digest=settings.digest(),
                training=run,
                train_seconds=run.seconds,
                seconds=0.0,
                onnx_max_abs_diff=difference,
                files={name: Artifact(size=(staging / name).stat().st_size, sha256=sha256_of(staging / name)) for name in (ONNX_FILE, "tokenizer.json")},
                versions=_versions(),
            )
            manifest = manifest.model_copy(update={"seconds": round(time.perf_counter() - started, 3)})
            (staging / RERANK_FILE).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
            make_readable(staging)
            move_into_place(staging, target, check=lambda t: check_target(t, force=force))
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def summary(data: RerankData) -> RerankDataSummary:
    from rag.tune.negatives import negatives_digest

    return RerankDataSummary(
        source=data.data.source, origin=data.data.origin, split=data.data.split, anchors=data.data.anchors, pairs=len(data.pairs),
        pairs_available=data.pairs_available,
        pool=len(data.pool), pairs_sha256=data.data.digest(), negatives_sha256=negatives_digest(data.pool, data.negatives),
        held_out=data.held_out,
    )


def check_pairs(data: RerankData) -> list[tuple[str, str]]:
    """Up to CHECK_PAIRS (query, text) pairs of the training data, positives and negatives, for the export check."""
    out: list[tuple[str, str]] = []
    for pair, rows in zip(data.pairs, data.negatives, strict=True):
        out += [(pair.anchor, pair.positive), *((pair.anchor, data.pool[row].text) for row in rows[:1])]
        if len(out) >= CHECK_PAIRS:
            break
    return out[:CHECK_PAIRS]


def _save(model, base_dir: Path, staging: Path, pairs: list[tuple[str, str]], settings: RerankSettings) -> float:
    """Weights and tokenizer files into `staging`, then rerank.onnx; the largest |ONNX - torch| logit on `pairs`."""
    import torch

    from rag.rerank.encode import PairEncoder
    from rag.rerank.export import export_onnx
    from rag.rerank.scorer import onnx_logits

    staging.mkdir(parents=True)
    model.save_pretrained(str(staging), safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (base_dir / name).is_file():
            shutil.copyfile(base_dir / name, staging / name)
    encoder = PairEncoder(staging / "tokenizer.json", settings.max_length)
    sample = encoder.encode_pairs(pairs)
    with torch.no_grad():  # before the export: tracing leaves this transformers model scoring differently afterwards
        expected = model(**{name: torch.from_numpy(array) for name, array in sample.items()}).logits[:, 0].numpy()
    export_onnx(model, staging / ONNX_FILE, sample)
    difference = float(abs(onnx_logits(staging / ONNX_FILE, sample) - expected).max())
    if not difference <= ONNX_TOLERANCE:
        raise RerankError(f"{staging / ONNX_FILE}: the ONNX export scores {difference:.2e} away from torch (tolerance {ONNX_TOLERANCE}); report this")
    return difference






def _versions() -> dict[str, str]:
    import onnxruntime
    import tokenizers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnxruntime": onnxruntime.__version__,
        "tokenizers": tokenizers.__version__,
    }
