"""What people read: rich tables in the terminal, the same tables in Markdown, report.json, and a PNG
bar chart of nDCG@10 per retriever against the published baselines. One row builder feeds both the
terminal and the Markdown table, so they cannot disagree."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from rag.eval.metrics import LABELS, METRICS

if TYPE_CHECKING:
    from rich.console import Console

    from rag.eval.answers import AnswerReport
    from rag.eval.compare import Comparison
    from rag.eval.retrieval import RetrievalReport

DASH = "–"
HEADERS = ["System", *[LABELS[m] for m in METRICS], "Queries", "Seconds"]


def _console():  # -> rich.console.Console
    """A console for tables: at least 110 columns wide when not writing to a terminal (logs, pipes)."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = max(console.width, 110)
    return console


def _text(value: str):  # -> rich.text.Text
    from rich.text import Text

    return Text(value)


def _plain(cells: list[str]) -> list:  # -> list[rich.text.Text]
    """Cells as literal text: ids and regexes like `\\[V, A\\]` must not be read as rich markup."""
    from rich.text import Text

    return [Text(cell) for cell in cells]


def _num(value: float | None, digits: int = 4) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def retrieval_rows(report: RetrievalReport) -> list[tuple[list[str], bool]]:
    """(cells, ours) per row: this project's retrievers, then the published baselines."""
    rows: list[tuple[list[str], bool]] = []
    for name, result in report.results.items():
        cells = [f"rag {name}", *[_num(result.metrics[m]) for m in METRICS], str(result.queries), f"{result.seconds:.1f}"]
        rows.append((cells, True))
    for baseline in report.baselines:
        rows.append(([baseline.name, *[_num(baseline.metric(m)) for m in METRICS], DASH, DASH], False))
    return rows


def reproduction_line(report: RetrievalReport) -> str | None:
    check = report.reproduction
    if check is None:
        return None
    verdict = "reproduced" if check.passed else "NOT reproduced"
    return (
        f"{verdict}: rag {check.retriever} {LABELS.get(check.metric, check.metric)} {check.ours:.4f} vs "
        f"{check.baseline} {check.published:.4f} ({check.delta:+.4f}; tolerance ±{check.tolerance})"
    )


def index_line(report: RetrievalReport, *, maxp: bool = False) -> str:
    """The index the document-level retrievers ran on, or (`maxp`) the windows index of the -maxp ones."""
    index = report.maxp_index if maxp else report.index
    if index is None:
        return ""
    how = f"built in {index.seconds:.0f} s, {index.embedded} passages embedded" if index.built else "cached"
    return f"{'windows index' if maxp else 'index'} {index.path} ({index.documents} documents, {index.passages} passages; {how})"


def print_retrieval(report: RetrievalReport, console: Console | None = None) -> None:
    from rich.table import Table

    console = console or _console()
    queries = next(iter(report.results.values())).queries if report.results else 0
    table = Table(title=_text(f"{report.dataset} · {report.split} · {queries} queries"), title_justify="left")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i == 0 else "right", no_wrap=i == 0)
    for cells, ours in retrieval_rows(report):
        table.add_row(*_plain(cells), style="bold" if ours else "dim")
    console.print(table)
    line = reproduction_line(report)
    if line:
        console.print(_text(line), style="green" if report.reproduction and report.reproduction.passed else "red")
    console.print(_text(index_line(report)), style="dim")
    if report.maxp_index is not None:
        console.print(_text(index_line(report, maxp=True)), style="dim")
    if report.judged_not_in_corpus:
        missing = report.judged_not_in_corpus
        console.print(_text(f"warning: {len(missing)} judged documents are not in the corpus: {', '.join(missing[:5])}"), style="yellow")
    for name, result in report.results.items():
        if result.failed_queries:
            console.print(_text(f"{name}: {len(result.failed_queries)} queries refused (scored 0): {', '.join(result.failed_queries[:5])}"))
    console.print(_text(f"total {report.seconds:.1f} s" + (f"; report in {report.out_dir}" if report.out_dir else "")), style="dim")


def _markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    align = ["---" if i == 0 else "---:" for i in range(len(headers))]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def retrieval_markdown(report: RetrievalReport) -> str:
    rows = [[f"**{c[0]}**", *c[1:]] if ours else c for c, ours in retrieval_rows(report)]
    parts = [
        f"# Retrieval evaluation: {report.dataset} ({report.split})",
        "",
        f"{report.created} · dataset `{report.dataset_path}` · {report.depth} documents per query · "
        "metrics by ranx, trec_eval conventions (`-c`: every judged query counts)",
        "",
        _markdown_table(HEADERS, rows),
        "",
    ]
    line = reproduction_line(report)
    if line:
        parts += [f"**Reproduction check:** {line}", ""]
    if report.judged_not_in_corpus:
        parts += [f"**Warning:** judged documents not in the corpus: {', '.join(report.judged_not_in_corpus)}", ""]
    if report.baselines:
        parts += ["## Baselines", ""]
        parts += [f"- **{b.name}** — {b.method}. Source: {b.source}" for b in report.baselines]
        parts.append("")
    settings = report.index.settings
    model = settings.get("model") or {}
    parts += [
        "## How this project's rows were made",
        "",
        f"- {index_line(report)}",
        f"- chunking: {settings['chunking']}",
        f"- tokenizer: {settings['tokenizer']}",
        f"- BM25: {settings['bm25']}",
        f"- dense model: {model.get('name', DASH)} ({model.get('dimension', DASH)} dims, max {model.get('max_seq_length', DASH)} tokens)",
        f"- hybrid: {_fusion_line(report.fusion)} of the BM25 and dense passage rankings",
        *([f"- hybrid-convex: {_fusion_line(report.fusion_tuning['settings'])}"] if report.fusion_tuning else []),
        "- passage hits become document runs by MaxP (a document scores its best passage)",
        *(_maxp_lines(report) if report.maxp_index is not None else []),
        *(_rerank_lines(report.rerank) if report.rerank else []),
        "",
    ]
    runs = [f"- `{Path(r.run_file).name}`" for r in report.results.values() if r.run_file]
    if runs:
        parts += ["## Run files (TREC format)", "", *runs, ""]
    return "\n".join(parts)


def _rerank_lines(rerank: dict) -> list[str]:
    data = rerank["trained_on"]
    where = f"{data['source']} {data['split']}" if data.get("split") else data["source"]
    lines = [
        (f"- reranker: {rerank['folder']} (settings {rerank['settings_digest']}; {rerank['layers']}-layer cross-encoder from "
         f"{rerank['base_model']}, trained on {data['pairs']} {where} pairs, {rerank['held_out_queries']} queries held out; "
         f"query + passage cut to {rerank['max_length']} tokens)")
    ]
    for name, row in rerank["rows"].items():
        weight = "the reranker's logit" if not row["fused_weight"] else f"{1 - row['fused_weight']:g} x its scaled logit + {row['fused_weight']:g} x the scaled hybrid rank"
        lines.append(f"- {name}: hybrid's best {row['top_n']} passages rescored by {weight}; the rest keep hybrid's order below them")
    return lines


def _maxp_lines(report: RetrievalReport) -> list[str]:
    chunking = report.maxp_index.settings["chunking"]
    size = chunking.get("window_tokens") or "as many as fit beside the title"
    lines = [
        f"- {index_line(report, maxp=True)}",
        (f"- -maxp retrievers: each document as overlapping windows ({size} tokens, stride {chunking.get('window_stride')}), "
         f"scored by its windows: {_maxp_line(report.max_passage)}"),
    ]
    if report.max_passage_tuning:
        lines.append(f"- hybrid-convex-maxp: {_maxp_line(report.max_passage_tuning['settings'])}")
    return lines


def _maxp_line(settings: dict | None) -> str:
    if not settings:
        return DASH
    return (f"best window + {settings['bm25_rest_share']} x the rest (BM25), + {settings['dense_rest_share']} x the rest (dense); "
            f"the two document rankings fused by {_fusion_line(settings['fusion'])}")


def bar_chart(report: RetrievalReport, path: Path, metric: str = "ndcg@10") -> Path:
    """Horizontal bars of `metric`: this project's retrievers (blue) above the baselines (grey)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bars = [(f"rag {n}", r.metrics[metric], True) for n, r in report.results.items()]
    bars += [(b.name, v, False) for b in report.baselines if (v := b.metric(metric)) is not None]
    labels = [b[0] for b in bars][::-1]
    values = [b[1] for b in bars][::-1]
    colors = ["#1f77b4" if b[2] else "#9e9e9e" for b in bars][::-1]
    figure, axes = plt.subplots(figsize=(8, 0.5 * len(bars) + 1.4), dpi=120)
    axes.barh(labels, values, color=colors)
    for y, value in enumerate(values):
        axes.text(value + 0.005, y, f"{value:.3f}", va="center", fontsize=9)
    axes.set_xlim(0, min(1.0, max(values, default=1.0) + 0.12))
    axes.set_xlabel(LABELS.get(metric, metric))
    axes.set_title(f"{report.dataset} {report.split}: {LABELS.get(metric, metric)} (blue: this project, grey: published)", fontsize=10)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def write_retrieval_report(report: RetrievalReport, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.json").write_text(report.model_dump_json(indent=2, by_alias=True), encoding="utf-8")
    (folder / "report.md").write_text(retrieval_markdown(report), encoding="utf-8")
    bar_chart(report, folder / "ndcg10.png")


# compare -----------------------------------------------------------------------------------------


def print_comparison(comparison: Comparison, console: Console | None = None, *, show: int = 10) -> None:
    from rich.table import Table

    console = console or _console()
    table = Table(
        title=_text(f"B = {comparison.run_b}  vs  A = {comparison.run_a} · {comparison.queries} queries"), title_justify="left"
    )
    for header in ("Metric", "A", "B", "B − A", "p (rand.)", "p (t)", "B wins", "B loses", "ties"):
        table.add_column(header, justify="left" if header == "Metric" else "right")
    for row in comparison.metrics:
        mark = " *" if row.significant else ""
        table.add_row(
            LABELS.get(row.metric, row.metric), f"{row.mean_a:.4f}", f"{row.mean_b:.4f}", f"{row.delta:+.4f}{mark}",
            f"{row.p_randomization:.4f}", f"{row.p_ttest:.4f}", str(row.wins), str(row.losses), str(row.ties),
        )
    console.print(table)
    console.print(
        f"* p < {comparison.alpha} (two-sided paired randomization test, {comparison.permutations} sign flips, seed {comparison.seed})",
        style="dim",
    )
    losses = [q for q in comparison.per_query if q.delta < 0][:show]
    wins = sorted((q for q in comparison.per_query if q.delta > 0), key=lambda q: (-q.delta, q.qid))[:show]
    for title, rows in ((f"largest losses of B ({LABELS.get(comparison.metric)})", losses),
                        (f"largest wins of B ({LABELS.get(comparison.metric)})", wins)):
        if not rows:
            continue
        detail = Table(title=title, title_justify="left")
        for header in ("query", "A", "B", "B − A"):
            detail.add_column(header, justify="left" if header == "query" else "right")
        for q in rows:
            detail.add_row(*_plain([q.qid, f"{q.a:.4f}", f"{q.b:.4f}", f"{q.delta:+.4f}"]))
        console.print(detail)


# answers -----------------------------------------------------------------------------------------

ANSWER_METRICS: tuple[tuple[str, str], ...] = (
    ("fact_recall", "required-fact recall"),
    ("body_mention_rate", "guideline-body mention rate"),
    ("abstention_precision", "abstention precision"),
    ("abstention_recall", "abstention recall"),
    ("valid_citation_rate", "statements with valid citations"),
    ("supported_rate", "statements passing the support check"),
    ("section_fill", "section fill"),
    ("bottom_direct_rate", "bottom line direct"),
    ("words_p50", "words of statements per page p50"),
    ("words_p95", "words of statements per page p95"),
    ("latency_p50", "latency p50 (s)"),
    ("latency_p95", "latency p95 (s)"),
)


def answer_rows(report: AnswerReport) -> list[list[str]]:
    rows = []
    for key, label in ANSWER_METRICS:
        value = getattr(report, key)
        count = report.counts.get(key, "")
        rows.append([label, _num(value, 3), str(count)])
    return rows


def failure_rows(report: AnswerReport) -> list[list[str]]:
    return [[c.id, c.expect, "abstained" if c.abstained else "answered", "; ".join(c.problems)] for c in report.checks if c.problems]


def print_answers(report: AnswerReport, console: Console | None = None) -> None:
    from rich.table import Table

    console = console or _console()
    table = Table(
        title=_text(f"answers · {report.split} · {report.questions} questions ({report.gold}) · settings {report.settings_hash}"),
        title_justify="left",
    )
    for header in ("Measure", "Value", "Over"):
        table.add_column(header, justify="left" if header != "Value" else "right")
    for row in answer_rows(report):
        table.add_row(*_plain(row))
    console.print(table)
    failures = failure_rows(report)
    if failures:
        detail = Table(title=f"{len(failures)} questions to act on", title_justify="left", show_lines=False)
        for header in ("id", "expect", "got", "problems"):
            detail.add_column(header, overflow="fold")
        for row in failures:
            detail.add_row(*_plain(row))
        console.print(detail)
    else:
        console.print("no failures", style="green")


def answers_markdown(report: AnswerReport) -> str:
    parts = [
        f"# Answer evaluation: {report.split} ({report.questions} questions)",
        "",
        f"gold set `{report.gold}` · index `{report.index}` · settings `{report.settings_hash}` · {report.created}",
        "",
        _markdown_table(["Measure", "Value", "Over"], answer_rows(report)),
        "",
    ]
    failures = failure_rows(report)
    if failures:
        parts += ["## Questions to act on", "", _markdown_table(["id", "expect", "got", "problems"], failures), ""]
    return "\n".join(parts)


def _fusion_line(fusion: dict | None) -> str:
    """One line describing a FusionSettings dump (None: the default, RRF)."""
    if not fusion or fusion.get("method", "rrf") == "rrf":
        return f"reciprocal rank fusion (k={(fusion or {}).get('rrf_k', 60)})"
    line = f"convex fusion, {fusion['normalizer']} scores, dense weight {fusion['dense_weight']:.2f} (BM25 {1 - fusion['dense_weight']:.2f})"
    if fusion.get("tuned_on"):
        line += f", chosen on {fusion['tuned_on']}"
    return line
