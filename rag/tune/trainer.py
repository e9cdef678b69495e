"""The training loop of `rag tune` (imports torch; only `rag tune` pays for it).

sentence-transformers' MultipleNegativesRankingLoss on (anchor, positive, negative_1..n) columns, AdamW
with linear warm-up and decay, in a plain loop over `plan_batches`: the library's
SentenceTransformerTrainer would need `datasets` and `accelerate` (not installed, and heavy) for the same
steps. Each column is its own forward pass, so short anchors are not padded to the passages' length.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rag.tune.batches import plan_batches
from rag.tune.pairs import Candidate, TrainingPair
from rag.tune.settings import TuneSettings


class TrainingRun(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    steps: int
    seconds: float = Field(description="Wall time of the training steps (batch planning included, model loading and saving not).")
    epoch_loss: list[float] = Field(description="Mean loss of each epoch's steps.")
    threads: int = Field(description="torch CPU threads used.")


def seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def linear_schedule(optimizer, total: int, warmup_ratio: float):  # -> torch LambdaLR
    """Linear warm-up over `warmup_ratio` of the `total` steps, then linear decay to 0 (the transformers default)."""
    import torch

    warmup = int(total * warmup_ratio)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def take_step(loss, optimizer, scheduler) -> float:
    """Back-propagate `loss`, step the optimizer and the schedule, clear the gradients; the loss as a float."""
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return float(loss.detach())


def count_steps(pairs: Sequence[TrainingPair], negatives: Sequence[Sequence[int]], pool: Sequence[Candidate], settings: TuneSettings) -> list[list[list[int]]]:
    """Every epoch's batches, planned up front (the learning-rate schedule needs the total)."""
    rng = np.random.default_rng(settings.seed)
    return [plan_batches(pairs, negatives, pool, batch_size=settings.batch_size, rng=rng) for _ in range(settings.epochs)]


def train(
    model,  # SentenceTransformer, modified in place
    pairs: Sequence[TrainingPair],
    negatives: Sequence[Sequence[int]],
    pool: Sequence[Candidate],
    settings: TuneSettings,
    *,
    progress=None,
) -> TrainingRun:
    import torch
    from sentence_transformers.base.losses.merged_forward import column_merging_disabled
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    seed_everything(settings.seed)
    epochs = count_steps(pairs, negatives, pool, settings)
    total = sum(len(batches) for batches in epochs)
    base_length = model.max_seq_length
    model.max_seq_length = settings.max_seq_length
    loss_fn = MultipleNegativesRankingLoss(model, scale=settings.scale)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    scheduler = linear_schedule(optimizer, total, settings.warmup_ratio)
    if progress:
        progress.stage(f"training ({settings.epochs} epoch{'s' if settings.epochs > 1 else ''})", total)
    started = time.perf_counter()
    epoch_loss: list[float] = []
    model.train()
    try:
        for batches in epochs:
            losses: list[float] = []
            for batch in batches:
                columns = [[pairs[i].anchor for i in batch], [pairs[i].positive for i in batch]]
                columns += [[pool[negatives[i][n]].text for i in batch] for n in range(settings.negatives)]
                features = [model.preprocess(column) for column in columns]
                with column_merging_disabled():
                    loss = loss_fn(features, None)
                losses.append(take_step(loss, optimizer, scheduler))
                if progress:
                    progress.advance()
            epoch_loss.append(round(float(np.mean(losses)), 6) if losses else 0.0)
    finally:
        model.eval()
        model.max_seq_length = base_length
    return TrainingRun(
        steps=total, seconds=round(time.perf_counter() - started, 3), epoch_loss=epoch_loss, threads=torch.get_num_threads()
    )
