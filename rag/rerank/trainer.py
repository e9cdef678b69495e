"""The reranker's training loop (imports torch and transformers; only `rag rerank train` pays for it).

The model is transformers' AutoModelForSequenceClassification with one label, loaded from the base
embedder's folder: its encoder weights, a new seeded linear head on the pooled [CLS]. Each step takes
`batch_size` pairs; each pair's group is its positive then its hard negatives, scored in one forward
pass; the loss is the softmax cross-entropy of the positive within its group. AdamW, linear warm-up
and decay, a plain loop (the library trainers need `datasets`/`accelerate`, not installed).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import RerankError
from rag.rerank.encode import PairEncoder
from rag.rerank.manifest import TrainingRun
from rag.rerank.settings import RerankSettings
from rag.tune.pairs import Candidate, TrainingPair
from rag.tune.trainer import linear_schedule, take_step


def load_base(folder: Path, settings: RerankSettings):  # -> transformers PreTrainedModel
    """The base weights with a fresh one-logit head (seeded), cut to settings.layers layers if set."""
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the head is new by design: no "newly initialized" report
    hf_logging.disable_progress_bar()
    torch.manual_seed(settings.seed)
    extra = {} if settings.layers is None else {"num_hidden_layers": settings.layers}
    try:
        model = AutoModelForSequenceClassification.from_pretrained(str(folder), num_labels=1, **extra)
    except Exception as error:  # any failure to load is the model folder's
        raise RerankError(f"{folder}: base model failed to load as a sequence classifier ({error}); pass another --model") from error
    return model.eval()


def train(
    model,  # PreTrainedModel, modified in place
    encoder: PairEncoder,
    pairs: Sequence[TrainingPair],
    negatives: Sequence[Sequence[int]],
    pool: Sequence[Candidate],
    settings: RerankSettings,
    *,
    progress=None,
) -> TrainingRun:
    import random

    import torch

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    epochs = [
        [order[i : i + settings.batch_size].tolist() for i in range(0, len(order), settings.batch_size)]
        for order in (rng.permutation(len(pairs)) for _ in range(settings.epochs))
    ]
    total = sum(len(batches) for batches in epochs)
    head = [p for name, p in model.named_parameters() if name.startswith("classifier.")]
    body = [p for name, p in model.named_parameters() if not name.startswith("classifier.")]
    if not head:
        raise RerankError(f"{type(model).__name__} has no 'classifier' head to train; use a BERT-like base model")
    optimizer = torch.optim.AdamW([{"params": body, "lr": settings.learning_rate}, {"params": head, "lr": settings.head_learning_rate}])
    scheduler = linear_schedule(optimizer, total, settings.warmup_ratio)
    group = 1 + settings.negatives
    if progress:
        progress.stage(f"training ({settings.epochs} epoch{'s' if settings.epochs > 1 else ''})", total)
    started = time.perf_counter()
    epoch_loss: list[float] = []
    last_loss = 0.0
    model.train()
    try:
        for batches in epochs:
            losses: list[float] = []
            for batch in batches:
                texts = [(pairs[i].anchor, text) for i in batch for text in (pairs[i].positive, *(pool[row].text for row in negatives[i]))]
                features = {name: torch.from_numpy(array) for name, array in encoder.encode_pairs(texts).items()}
                logits = model(**features).logits.view(len(batch), group)
                loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long))
                losses.append(take_step(loss, optimizer, scheduler))
                if progress:
                    progress.advance()
            epoch_loss.append(round(float(np.mean(losses)), 6) if losses else 0.0)
            last_loss = round(float(np.mean(losses[-max(1, len(losses) // 10) :])), 6) if losses else 0.0
    finally:
        model.eval()
    return TrainingRun(
        steps=total, seconds=round(time.perf_counter() - started, 3), epoch_loss=epoch_loss, last_loss=last_loss, threads=torch.get_num_threads()
    )
