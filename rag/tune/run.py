"""`rag tune`: fine-tune the embedder on pairs from labels or from the corpus, and write a model folder
that `--model` accepts everywhere.

Stages: check the target and the base model -> read the pairs -> mine BM25 hard negatives -> train
(rag.tune.trainer) -> save the sentence-transformers model, its ONNX query export and tune.json into a
staging folder beside the target -> rename it into place. An interrupted or failed run leaves no
folder at the target (nor replaces the one there); a staging folder is removed on the way out.

The model folder:
    modules.json, config.json, model.safetensors, tokenizer files, 1_Pooling/ ...   sentence-transformers
    onnx/model.onnx, onnx/tokenizer.json, onnx/query_model.json, onnx/checksums.json  the torch-free query
                     encoder, laid out as the index caches it (rag.index.querymodel); a build links it
    tune.json        base model, data hashes, every setting, steps, losses, train seconds, versions
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import shutil
import time
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.embedding import TUNE_FILE
from rag.errors import TuneError, writing
from rag.modelfolder import make_readable, move_into_place
from rag.tune.pairs import ANCHOR_KINDS, AnchorKind, TrainingData, corpus_data, qrels_data
from rag.tune.settings import TuneSettings
from rag.tune.trainer import TrainingRun

QUERY_DIR = "onnx"  # as rag.index.querymodel lays out a cached export
FORMAT_VERSION = 1
PAIR_SOURCES = ("qrels", "corpus")


class TuneData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="'qrels' (judged pairs of a split) or 'corpus' (title/heading or sentence -> text, no labels).")
    origin: list[str] = Field(description="Files the pairs were read from.")
    split: str | None = None
    anchors: AnchorKind | None = Field(
        default=None,
        description="Corpus pairs' anchors: titles (title/heading -> text), sentences (last sentence -> the rest) or both; None for qrels.",
    )
    pairs: int = Field(description="Pairs trained on.")
    pairs_available: int = Field(description="Pairs the data gave (more than `pairs` when max_pairs sampled).")
    pool: int = Field(description="Candidate texts hard negatives were mined from.")
    pairs_sha256: str = Field(description="sha256 of the pairs trained on (anchor, positive, positive document), in order.")
    negatives_sha256: str = Field(description="sha256 of the mined negatives (document id and text of each), in order.")


class TuneManifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT_VERSION
    created: str
    path: str = Field(description="Where the model was written (pass it as --model).")
    base_model: str
    base_model_path: str
    data: TuneData
    settings: TuneSettings
    settings_digest: str = Field(description="12 hex chars of sha256 of the settings.")
    training: TrainingRun
    train_seconds: float = Field(description="Wall time of the training steps.")
    seconds: float = Field(description="Wall time of the whole run: reading, mining, training, saving, ONNX export.")
    dimension: int
    max_seq_length: int = Field(description="The saved model's max_seq_length (the base model's; training used settings.max_seq_length).")
    query_model: str = Field(default=QUERY_DIR, description="Folder of the ONNX query export, inside the model folder.")
    versions: dict[str, str] = Field(description="python, torch, transformers, sentence-transformers.")


def check_target(target: Path, *, force: bool) -> None:
    """Refuse an existing target unless `force`; and `force` replaces only a folder rag tune wrote."""
    if not target.exists() and not target.is_symlink():
        return
    if not force:
        raise TuneError(f"{target}: already exists; pass --force to replace it, or choose another --out")
    if target.is_symlink() or not target.is_dir() or not (target / TUNE_FILE).is_file():
        raise TuneError(f"{target}: not a model folder written by rag tune (no {TUNE_FILE}); --force replaces only those; choose another --out")


def training_data(
    pairs: str, *, dataset: Path | None, split: str | None, corpus: list[Path] | None, anchors: str | None = None
) -> TrainingData:
    """The pairs named on the command line: --pairs qrels (--dataset, --split) or --pairs corpus
    (--dataset and/or --corpus, no labels; --anchors titles, sentences or both, default titles)."""
    if pairs not in PAIR_SOURCES:
        raise TuneError(f"--pairs {pairs!r}: choose qrels (judged pairs of --dataset's --split) or corpus (title/heading -> text)")
    if anchors is not None and anchors not in ANCHOR_KINDS:
        raise TuneError(f"--anchors {anchors!r}: choose titles (title/heading -> text), sentences (last sentence -> the rest) or both")
    if pairs == "qrels":
        if anchors is not None:
            raise TuneError(f"--anchors {anchors}: --pairs qrels pairs are anchored by their queries; drop --anchors (or use --pairs corpus)")
        if dataset is None:
            raise TuneError("--pairs qrels needs --dataset: a BEIR folder with corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
        if corpus:
            raise TuneError("--corpus gives unlabelled pairs; add --pairs corpus (or drop --corpus)")
        return qrels_data(dataset, split or "train")
    if split is not None:
        raise TuneError(f"--split {split}: --pairs {pairs} reads no labels; drop --split (or use --pairs qrels)")
    sources = ([dataset] if dataset is not None else []) + list(corpus or [])
    if not sources:
        raise TuneError(f"--pairs {pairs} needs --dataset (a BEIR folder: its corpus.jsonl) or --corpus PATH")
    return corpus_data(sources, anchors=anchors or "titles")  # type: ignore[arg-type]  # checked against ANCHOR_KINDS above


def sample_pairs(data: TrainingData, settings: TuneSettings) -> TrainingData:
    """At most settings.max_pairs pairs, a seeded random sample kept in the data's order."""
    if settings.max_pairs is None or settings.max_pairs >= len(data.pairs):
        return data
    rng = np.random.default_rng(settings.seed)
    keep = sorted(int(i) for i in rng.choice(len(data.pairs), size=settings.max_pairs, replace=False))
    return data.model_copy(update={"pairs": [data.pairs[i] for i in keep]})


def tune_model(
    target: Path,
    settings: TuneSettings,
    *,
    pairs: str = "qrels",
    dataset: Path | None = None,
    split: str | None = None,
    corpus: list[Path] | None = None,
    anchors: str | None = None,
    force: bool = False,
    progress=None,
) -> TuneManifest:
    """Fine-tune settings.base_model on the pairs named and write the model folder `target` atomically."""
    from rag.embedding import resolve_model
    from rag.tune.negatives import mine_negatives, negatives_digest

    started = time.perf_counter()
    target = target.expanduser().absolute()
    check_target(target, force=force)
    base_dir = resolve_model(settings.base_model)  # ModelError for an unknown name, before any work
    if progress:
        progress.stage("reading pairs", None)
    available = training_data(pairs, dataset=dataset, split=split, corpus=corpus, anchors=anchors)
    data = sample_pairs(available, settings)
    negatives = mine_negatives(data.pairs, data.pool, settings, progress=progress)
    staging = target.parent / f".{target.name}.tune-{os.getpid()}.partial"
    try:
        with writing(target.parent, "tuned model", "free disk space and run rag tune again", error=TuneError):
            target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(staging, ignore_errors=True)
        model = _load(settings.base_model, base_dir, progress)
        from rag.tune.trainer import train

        run = train(model, data.pairs, negatives, data.pool, settings, progress=progress)
        with writing(staging, "tuned model", "free disk space and run rag tune again", error=TuneError):
            dimension = _save(model, staging, target, progress)
            manifest = TuneManifest(
                created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                path=str(target),
                base_model=settings.base_model,
                base_model_path=str(base_dir),
                data=TuneData(
                    source=data.source, origin=data.origin, split=data.split, anchors=data.anchors, pairs=len(data.pairs),
                    pairs_available=len(available.pairs),
                    pool=len(data.pool), pairs_sha256=data.digest(), negatives_sha256=negatives_digest(data.pool, negatives),
                ),
                settings=settings,
                settings_digest=settings.digest(),
                training=run,
                train_seconds=run.seconds,
                seconds=0.0,
                dimension=dimension,
                max_seq_length=int(model.max_seq_length),
                versions=_versions(),
            )
            manifest = manifest.model_copy(update={"seconds": round(time.perf_counter() - started, 3)})
            (staging / TUNE_FILE).write_text(manifest.model_dump_json(indent=2) + "\n", encoding="utf-8")
            move_into_place(staging, target, check=lambda t: check_target(t, force=force))
        return manifest
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _load(name: str, folder: Path, progress):  # -> SentenceTransformer
    from rag.embedding import PassageEncoder

    if progress:
        progress.stage("loading model", None)
    return PassageEncoder(name, folder).model  # ModelError when it does not load


def _save(model, staging: Path, target: Path, progress) -> int:
    """Save the model, reload it from disk (the folder must load as any --model does) and export its
    ONNX query encoder from the reloaded copy; the dimension."""
    from rag.embedding import PassageEncoder
    from rag.index.querymodel import ensure_query_model

    if progress:
        progress.stage("saving model", None)
    model.save(str(staging), create_model_card=False, safe_serialization=True)
    make_readable(staging)
    encoder = PassageEncoder(str(target), staging)
    ensure_query_model(staging, encoder, on_export=lambda: progress and progress.stage("exporting query model (ONNX)", None))
    return encoder.dimension






def _versions() -> dict[str, str]:
    import sentence_transformers
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "sentence-transformers": sentence_transformers.__version__,
    }
