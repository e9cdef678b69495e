"""`rag eval retrieval`: index a dataset (cached), run its queries through the engine's retrievers,
score the document runs, and write the report folder.

A dataset is either a BEIR folder (its corpus indexed with the BEIR profile, see indexing.py) or the
project's gold set, a `.jsonl` file (the project corpus indexed with the engine's own settings).
Both then take the same path: queries -> retriever.search -> MaxP document run -> metrics -> report.

The max-passage retrievers (bm25-maxp, dense-maxp, hybrid-maxp; BEIR only, never in 'all') run on a
second index of the same corpus, each document cut into overlapping windows that fit the model
(indexing.beir_settings(max_passage=True)), and rank documents by their windows (rag.maxpassage):
plain MaxP and RRF, no labels used. With --tune-fusion-on, the rest shares and the convex fusion of
the two document rankings are chosen on that split and scored as 'hybrid-convex-maxp'.

Report folder (`--out`):
    <dataset>-<split>.<retriever>.trec   TREC run files (qid Q0 docid rank score tag)
    report.json                          everything below, machine-readable
    fusion.json                          with --tune-fusion-on: the convex fusion chosen on that split
    maxp.json                            with --tune-fusion-on and a -maxp retriever: the max-passage settings chosen
    report.md                            the comparison table with published baselines
    ndcg10.png                           nDCG@10 per retriever vs baselines
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError, QueryError
from rag.eval.baselines import Baseline, ReproductionCheck, load_baselines, reproduction
from rag.eval.indexing import DEFAULT_MODEL, EvalIndex
from rag.eval.metrics import METRICS
from rag.eval.runs import Run, doc_run, write_trec_run
from rag.paths import PROJECT_ROOT

RETRIEVER_NAMES: tuple[str, ...] = ("bm25", "dense", "hybrid", "ask")  # what 'all' runs
MAXP_NAMES: tuple[str, ...] = ("bm25-maxp", "dense-maxp", "hybrid-maxp")  # = rag.retrievers.MAXP_RETRIEVERS
KNOWN_NAMES: tuple[str, ...] = RETRIEVER_NAMES + MAXP_NAMES
CHOICES = "bm25, dense, hybrid, ask, bm25-maxp, dense-maxp, hybrid-maxp or all"
DEPTH = 1000  # documents per query in each run, as in Anserini's regressions (-hits 1000)


class RetrieverResult(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    metrics: dict[str, float] = Field(description="metric -> mean over the judged queries.")
    queries: int
    seconds: float = Field(description="Wall time of running every query through this retriever.")
    failed_queries: list[str] = Field(default_factory=list, description="Queries the retriever refused (scored 0).")
    run_file: str | None = None


class RetrievalReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset: str = Field(description="Dataset name: the BEIR folder's name, or 'gold'.")
    dataset_path: str
    kind: str = Field(description="'beir' or 'gold'.")
    split: str
    created: str
    depth: int
    results: dict[str, RetrieverResult]
    per_query: dict[str, dict[str, dict[str, float]]] = Field(description="retriever -> metric -> {qid: value}.")
    index: EvalIndex
    maxp_index: EvalIndex | None = Field(default=None, description="The windows index the -maxp retrievers ran on.")
    baselines: list[Baseline] = Field(default_factory=list)
    reproduction: ReproductionCheck | None = None
    seconds: float = Field(description="Total wall time, indexing included.")
    judged_not_in_corpus: list[str] = Field(default_factory=list, description="Judged doc ids the corpus lacks (a qrels or gold-set error).")
    out_dir: str | None = None
    fusion: dict | None = Field(default=None, description="How 'hybrid' fused (rag.fusion.FusionSettings); with tuning, also 'hybrid-convex'.")
    fusion_tuning: dict | None = Field(default=None, description="The tuning grid and RRF's score on the tuning split, when tuned; with --fusion, the settings given and their file.")
    max_passage: dict | None = Field(
        default=None, description="How the -maxp retrievers scored documents (rag.maxpassage.MaxPassageSettings); None without one."
    )
    max_passage_tuning: dict | None = Field(
        default=None, description="With --tune-fusion-on: the share grids, the fusion grid and what hybrid-convex-maxp used."
    )
    rerank: dict | None = Field(
        default=None,
        description="With --rerank: the reranker folder, its settings digest, base model and training data, and the top_n "
        "and fused_weight of each hybrid+rerank@N row (the reranked 'hybrid' ranking).",
    )

    def summary(self) -> dict:
        """The `--format json` shape: {"dataset", "split", "results": {retriever: {metric..., queries, seconds}}}."""
        return {
            "dataset": self.dataset,
            "split": self.split,
            "results": {
                name: {**{m: result.metrics[m] for m in METRICS}, "queries": result.queries, "seconds": result.seconds}
                for name, result in self.results.items()
            },
        }


def parse_retrievers(value: str) -> list[str]:
    """'all' -> bm25, dense, hybrid, ask; else a comma-separated list of those names and the
    max-passage ones (bm25-maxp, dense-maxp, hybrid-maxp)."""
    if value == "all":
        return list(RETRIEVER_NAMES)
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in KNOWN_NAMES]
    if unknown or not names:
        raise EvalError(f"unknown retriever {(unknown or [value])[0]!r}; choose {CHOICES}")
    return list(dict.fromkeys(names))


def parse_tops(value: str | None) -> list[int] | None:
    """'20,50' -> [20, 50] (--rerank-top); None -> None; EvalError for anything but positive integers."""
    if value is None:
        return None
    try:
        tops = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        tops = []
    if not tops or min(tops) < 1:
        raise EvalError(f"--rerank-top {value!r}: give hit counts of at least 1, comma-separated (e.g. 20,50)")
    return tops


def default_out_dir(dataset: str, split: str) -> Path:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return PROJECT_ROOT / "eval" / "runs" / f"{dataset}-{split}-{stamp}"


def _load(dataset_path: Path, split: str):
    """(name, kind, queries, qrels, documents, sources, settings_factory)."""
    from rag.eval.indexing import beir_settings, engine_settings

    if dataset_path.is_file() and dataset_path.suffix == ".jsonl":
        from rag.eval.gold import gold_queries, load_gold
        from rag.loaders import read_sources
        from rag.paths import default_corpus

        queries, qrels = gold_queries(load_gold(dataset_path, split=split))
        if not qrels:
            raise EvalError(f"{dataset_path}: no question of split {split!r} names relevant documents")
        corpus = default_corpus()
        result = read_sources([corpus])  # unreadable files are skipped, as `rag index build` does
        gone = set(getattr(result, "deletions", None) or ())  # records deleted by update files, as in build_index
        documents = [d for d in result.documents if d.id not in gone]
        if not documents:
            raise EvalError(f"{corpus}: no readable documents to evaluate the gold set against (set RAG_CORPUS?)")
        return "gold", "gold", queries, qrels, documents, [corpus], engine_settings
    from rag.eval.beir import load_beir
    from rag.loaders.beir import iter_documents

    data = load_beir(dataset_path, split=split)
    documents = list(iter_documents(data.corpus))
    return data.name, "beir", data.queries, data.qrels, documents, [data.corpus], beir_settings


def run_queries(
    index, retriever: str, queries: Mapping[str, str], *, depth: int = DEPTH, progress=None, search=None
) -> tuple[Run, list[str], float]:
    """(document run, refused query ids, seconds). Enough passages are fetched that MaxP can fill `depth`
    documents: depth x the mean passages per document, at most every passage (a retriever that ranks
    documents, `ranks_documents`, is asked for `depth` documents and reads as deep itself). `search`: a
    retriever to use instead of make_retriever(index, retriever) (named `retriever` in the progress line)."""
    from rag.retrievers import make_retriever

    search = search or make_retriever(index, retriever)
    if getattr(search, "ranks_documents", False):
        k = depth
    else:
        counts = index.manifest.counts
        per_doc = math.ceil(counts.passages / max(1, counts.documents))
        k = max(1, min(counts.passages, depth * per_doc))
    run: Run = {}
    refused: list[str] = []
    if progress:
        progress.stage(f"{retriever} queries", len(queries))
    started = time.perf_counter()
    for qid, text in queries.items():
        try:
            hits = search.search(text, k)
        except QueryError:
            refused.append(qid)
            hits = []
        run[qid] = doc_run(hits, depth=depth)
        if progress:
            progress.advance()
    return run, refused, time.perf_counter() - started


def evaluate_retrieval(
    dataset_path: Path,
    *,
    split: str = "test",
    retrievers: Sequence[str] = RETRIEVER_NAMES,
    model: str = DEFAULT_MODEL,
    out_dir: Path | None = None,
    index_cache: Path | None = None,
    depth: int = DEPTH,
    progress=None,
    write: bool = True,
    tune_fusion_on: str | None = None,
    index_at: Path | str | None = None,
    fusion: Path | None = None,
    rerank: Path | None = None,
    rerank_top: Sequence[int] | None = None,
    rerank_weight: float | None = None,
) -> RetrievalReport:
    """Index (cached), run and score `retrievers` on `dataset_path`; write the report folder when `write`.

    `tune_fusion_on`: another split of the same BEIR dataset (e.g. train); the convex fusion weight and
    normaliser are chosen on it (rag.eval.fusion_tuning), written as fusion.json beside the index and
    in the report folder, and scored on `split` as 'hybrid-convex' next to RRF's 'hybrid'. With a
    -maxp retriever, the max-passage shares and fusion are chosen on it too (rag.eval.maxp_tuning),
    written as maxp.json in the report folder and scored as 'hybrid-convex-maxp'.
    `index_at`: run on this index instead (a folder or a Milvus URI) — it must hold the dataset's corpus.
    `fusion`: a fusion.json chosen elsewhere (another dataset's tuning: no label of this one), scored as
    'hybrid-convex' next to RRF's 'hybrid'.
    `rerank`: a reranker folder (rag rerank train); the 'hybrid' ranking with its best N hits rescored by it is
    scored as 'hybrid+rerank@N' for each N of `rerank_top` (default: the reranker's recorded top_n), every
    (query, passage) pair scored once however many N."""
    from rag.eval.indexing import ensure_index
    from rag.eval.metrics import evaluate
    from rag.index.load import open_index

    if not dataset_path.exists():
        raise EvalError(f"{dataset_path}: no such dataset; pass a BEIR folder or a gold-set .jsonl file")
    unknown = [r for r in retrievers if r not in KNOWN_NAMES]
    if unknown or not retrievers:
        raise EvalError(f"unknown retriever {(unknown or [''])[0]!r}; choose {CHOICES}")
    maxp = [r for r in retrievers if r in MAXP_NAMES]
    plain = [r for r in retrievers if r not in MAXP_NAMES]
    if maxp and index_at is not None:
        raise EvalError(f"--index with {maxp[0]}: the max-passage retrievers run on a windows index built here; leave out --index")
    if fusion is not None and tune_fusion_on is not None:
        raise EvalError("--fusion and --tune-fusion-on both set hybrid-convex; choose one")
    given_fusion = None
    if fusion is not None:
        from rag.fusion import load_fusion

        given_fusion = load_fusion(fusion)
        if given_fusion is None:
            raise EvalError(f"{fusion}: no such fusion file; pass a fusion.json (e.g. from --tune-fusion-on or benchmarks/fusion_across_corpora.py)")
    if tune_fusion_on is not None and tune_fusion_on == split:
        raise EvalError(f"--tune-fusion-on {tune_fusion_on}: the split being scored; tune on another one (e.g. train) so the weight is not fit to the test queries")
    reranker = None
    if rerank is not None:  # a bad folder or setting fails before any indexing
        from rag.rerank.scorer import Reranker
        from rag.rerank.settings import rerank_settings

        reranker = Reranker(rerank)
        rerank_top = list(dict.fromkeys(rerank_top or [reranker.settings.top_n]))
        for n in rerank_top:
            rerank_settings(reranker.settings, top_n=n, fused_weight=rerank_weight)
    elif rerank_top or rerank_weight is not None:
        raise EvalError("--rerank-top and --rerank-weight set how a reranker rescores; add --rerank DIR")
    started = time.perf_counter()
    name, kind, queries, qrels, documents, sources, settings_for = _load(dataset_path, split)
    if tune_fusion_on is not None and kind != "beir":
        raise EvalError("--tune-fusion-on needs a BEIR dataset (a train split with qrels); the gold set has none")
    if maxp and kind != "beir":
        raise EvalError(f"{maxp[0]} needs a BEIR dataset; the gold set's index already ranks documents by their best sentence passage")
    tune_plain = tune_fusion_on is not None and bool(plain)
    needs_dense = tune_plain or reranker is not None or any(r in ("dense", "hybrid", "ask") for r in plain)
    known = {d.id for d in documents}
    missing = sorted({doc for docs in qrels.values() for doc in docs} - known)
    if index_at is None:
        eval_index = ensure_index(
            name, documents, settings_for(model, dense=needs_dense), sources=sources, root=index_cache, progress=progress
        )
        index = open_index(Path(eval_index.path))
    else:
        from rag.eval.indexing import given_index

        index = open_index(index_at)
        eval_index = given_index(index, str(index_at), documents)
    from rag.fusion import FusionSettings
    from rag.maxpassage import MaxPassageSettings
    from rag.retrievers import HybridMaxPassageRetriever, HybridRetriever, make_retriever

    maxp_eval_index = windows = None
    if maxp:
        maxp_dense = tune_fusion_on is not None or any(r in ("dense-maxp", "hybrid-maxp") for r in maxp)
        maxp_eval_index = ensure_index(
            name, documents, settings_for(model, dense=maxp_dense, max_passage=True), sources=sources, root=index_cache, progress=progress
        )
        windows = open_index(Path(maxp_eval_index.path))
    searchers = {r: (windows, make_retriever(windows, r)) if r in MAXP_NAMES else (index, make_retriever(index, r)) for r in retrievers}
    tuning = maxp_tuning = None
    if tune_fusion_on is not None:
        from rag.eval.beir import load_beir

        train = load_beir(dataset_path, split=tune_fusion_on)
        label = f"{name} {tune_fusion_on}"
        if tune_plain:
            from rag.eval.fusion_tuning import tune_fusion

            tuning = tune_fusion(index, train.queries, train.qrels, label=label, progress=progress)
            if "hybrid" in searchers:  # scored against RRF explicitly, whatever fusion.json said before
                searchers["hybrid"] = (index, HybridRetriever(index, settings=FusionSettings()))
            searchers["hybrid-convex"] = (index, HybridRetriever(index, settings=tuning.settings))
        if maxp:
            from rag.eval.maxp_tuning import tune_max_passage

            maxp_tuning = tune_max_passage(windows, train.queries, train.qrels, label=label, progress=progress)
            searchers["hybrid-convex-maxp"] = (windows, HybridMaxPassageRetriever(windows, settings=maxp_tuning.settings))
    if given_fusion is not None:
        if "hybrid" in searchers:  # RRF explicitly, whatever fusion.json beside the index says
            searchers["hybrid"] = (index, HybridRetriever(index, settings=FusionSettings()))
        searchers["hybrid-convex"] = (index, HybridRetriever(index, settings=given_fusion))
    hybrid = searchers.get("hybrid", (None, None))[1]
    rerank_info = None
    if reranker is not None:
        from rag.rerank.retriever import RerankRetriever

        first = hybrid or make_retriever(index, "hybrid")
        shared: dict[tuple[str, str], float] = {}
        rows = {}
        for n in rerank_top:
            searcher = RerankRetriever(index, first, reranker, top_n=n, fused_weight=rerank_weight, cache=shared)
            searchers[f"hybrid+rerank@{n}"] = (index, searcher)
            rows[f"hybrid+rerank@{n}"] = {"top_n": n, "fused_weight": searcher.settings.fused_weight}
        manifest = reranker.manifest
        rerank_info = {
            "folder": str(reranker.folder.resolve()), "settings_digest": manifest.settings_digest, "base_model": manifest.base_model,
            "layers": manifest.layers, "max_length": manifest.settings.max_length, "trained_on": manifest.data.model_dump(exclude={"held_out"}),
            "held_out_queries": len(manifest.data.held_out), "rows": rows,
        }
    results: dict[str, RetrieverResult] = {}
    per_query: dict[str, dict[str, dict[str, float]]] = {}
    runs: dict[str, Run] = {}
    for retriever, (on, searcher) in searchers.items():
        run, refused, seconds = run_queries(on, retriever, queries, depth=depth, progress=progress, search=searcher)
        scores = evaluate(qrels, run, METRICS)
        runs[retriever] = run
        per_query[retriever] = scores.per_query
        results[retriever] = RetrieverResult(
            metrics=scores.means, queries=scores.queries, seconds=round(seconds, 3), failed_queries=refused
        )
    baseline_file = load_baselines(name, split) if kind == "beir" else None
    report = RetrievalReport(
        dataset=name,
        dataset_path=str(dataset_path.resolve()),
        kind=kind,
        split=split,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        depth=depth,
        results=results,
        per_query=per_query,
        index=eval_index,
        maxp_index=maxp_eval_index,
        baselines=baseline_file.baselines if baseline_file else [],
        reproduction=reproduction(baseline_file, {r: res.metrics for r, res in results.items()}),
        seconds=0.0,
        judged_not_in_corpus=missing,
        fusion=hybrid.settings.model_dump() if isinstance(hybrid, HybridRetriever) else None,
        fusion_tuning=tuning.model_dump() if tuning else {"settings": given_fusion.model_dump(), "from": str(fusion)} if given_fusion else None,
        max_passage=MaxPassageSettings().model_dump() if maxp else None,
        max_passage_tuning=maxp_tuning.model_dump() if maxp_tuning else None,
        rerank=rerank_info,
    )
    if write:
        folder = out_dir or default_out_dir(name, split)
        folder.mkdir(parents=True, exist_ok=True)
        for retriever, run in runs.items():
            path = write_trec_run(folder / f"{name}-{split}.{retriever}.trec", run, tag=f"rag-{retriever}")
            results[retriever] = results[retriever].model_copy(update={"run_file": str(path)})
        report = report.model_copy(update={"results": results, "out_dir": str(folder)})
        if tuning is not None:
            _save_tuned(tuning.settings, folder, Path(eval_index.path) if index_at is None else None)
        if maxp_tuning is not None:
            from rag.maxpassage import MAXP_FILE

            (folder / MAXP_FILE).write_text(maxp_tuning.settings.model_dump_json(indent=2) + "\n", encoding="utf-8")
    report = report.model_copy(update={"seconds": round(time.perf_counter() - started, 3)})
    if write:
        from rag.eval.report import write_retrieval_report

        write_retrieval_report(report, Path(report.out_dir))
    return report


def _save_tuned(settings, folder: Path, index_root: Path | None) -> None:
    """fusion.json in the report folder, and beside a local index so later hybrid searches use it."""
    from rag.fusion import FUSION_FILE, save_fusion

    save_fusion(settings, folder / FUSION_FILE)
    if index_root is None:
        return
    try:
        save_fusion(settings, index_root / FUSION_FILE)
    except OSError as error:  # a read-only shared index: the report folder still has it
        raise EvalError(f"{index_root / FUSION_FILE}: cannot write the tuned fusion beside the index ({error.strerror}); "
                        f"it is in {folder / FUSION_FILE}") from None
