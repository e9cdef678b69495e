"""Qrels and runs as plain dicts of ids, passage hits -> document runs, and TREC run files.

    Qrels = {qid: {docid: relevance}}     (relevance > 0 is relevant; 0 is judged non-relevant)
    Run   = {qid: {docid: score}}         (higher is better)

Functions here never mutate the run or qrels they are given; they return new dicts.

Ranking convention (trec_eval's): documents in decreasing score, ties broken by decreasing doc id.
The evaluation (metrics.py) and the run files written here both use it, so a run file read back
by trec_eval, ranx or `read_trec_run` is ranked exactly as it was scored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rag.errors import EvalError, reading
from rag.models import Hit

Qrels = dict[str, dict[str, int]]
Run = dict[str, dict[str, float]]
RUN_LINE = "'qid Q0 docid rank score tag'"


def doc_run(hits: Sequence[Hit], *, depth: int | None = None) -> dict[str, float]:
    """MaxP: each document scores its best passage's score. Documents keep the order of their first
    (best) passage in `hits` (best first), so the document ranking follows the passage ranking;
    `depth` keeps the first `depth` documents."""
    scores: dict[str, float] = {}
    for hit in hits:
        best = scores.get(hit.doc_id)
        if best is None:
            if depth is not None and len(scores) >= depth:
                continue
            scores[hit.doc_id] = float(hit.score)
        elif hit.score > best:  # only if `hits` were not best-first; order stays that of first appearance
            scores[hit.doc_id] = float(hit.score)
    return scores


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    """(doc id, score) best first: score descending, ties by doc id descending (as trec_eval does)."""
    return sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)


def copy_run(run: Mapping[str, Mapping[str, float]]) -> Run:
    return {qid: {doc: float(score) for doc, score in docs.items()} for qid, docs in run.items()}


def _check_id(value: str, what: str, where: str) -> None:
    if not value or any(ch.isspace() for ch in value):
        raise EvalError(f"{where}: {what} {value!r} is empty or contains whitespace; TREC run files are space-separated")


def write_trec_run(path: Path, run: Mapping[str, Mapping[str, float]], *, tag: str) -> Path:
    """Write `qid Q0 docid rank score tag` lines, queries in sorted order, documents ranked as above.
    Scores are written with repr() so they read back bit-identical."""
    _check_id(tag, "run tag", str(path))
    lines: list[str] = []
    for qid in sorted(run):
        _check_id(qid, "query id", str(path))
        for rank, (doc, score) in enumerate(ranked(run[qid]), start=1):
            _check_id(doc, f"doc id (query {qid})", str(path))
            lines.append(f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    tmp.replace(path)
    return path


def read_trec_run(path: Path) -> tuple[Run, str]:
    """(run, tag) from a TREC run file. Ranks in the file are not trusted (trec_eval ignores them too):
    the score orders documents. A repeated (qid, docid) is an error, as in trec_eval."""
    with reading(path, "run file", f"pass a TREC run file ({RUN_LINE} lines, UTF-8 text)", error=EvalError):
        text = path.read_text(encoding="utf-8")
    run: Run = {}
    tags: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 6:
            raise EvalError(f"{path}:{number}: expected 6 fields {RUN_LINE}, found {len(fields)}")
        qid, _, doc, rank, score, tag = fields
        try:
            int(rank)
            value = float(score)
        except ValueError as error:
            raise EvalError(f"{path}:{number}: rank {rank!r} or score {score!r} is not a number") from error
        docs = run.setdefault(qid, {})
        if doc in docs:
            raise EvalError(f"{path}:{number}: document {doc!r} listed twice for query {qid!r}")
        docs[doc] = value
        tags.add(tag)
    if not run:
        raise EvalError(f"{path}: empty run file (no {RUN_LINE} lines)")
    return run, ",".join(sorted(tags))


def read_qrels(path: Path) -> Qrels:
    """Qrels from a BEIR `qrels/<split>.tsv` (header `query-id corpus-id score`, 3 columns) or a TREC
    qrels file (`qid 0 docid relevance`, 4 columns)."""
    with reading(path, "qrels", "pass a BEIR qrels/<split>.tsv or a TREC qrels file (UTF-8 text)", error=EvalError):
        lines = path.read_text(encoding="utf-8").splitlines()
    qrels: Qrels = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        if number == 1 and fields[0] in ("query-id", "query_id", "qid"):
            continue
        if len(fields) == 3:
            qid, doc, value = fields
        elif len(fields) == 4:
            qid, _, doc, value = fields
        else:
            raise EvalError(f"{path}:{number}: expected 'query-id corpus-id score' (BEIR) or 'qid 0 docid rel' (TREC), found {len(fields)} fields")
        try:
            relevance = int(float(value))
        except ValueError as error:
            raise EvalError(f"{path}:{number}: relevance {value!r} is not a number") from error
        qrels.setdefault(qid, {})[doc] = relevance
    if not qrels:
        raise EvalError(f"{path}: no judgments")
    return qrels


def judged(qrels: Mapping[str, Mapping[str, int]]) -> Qrels:
    """A copy of the queries that have at least one relevant document (relevance > 0): a query with
    none has no defined nDCG, recall or MAP, so it is left out of the averages."""
    return {qid: dict(docs) for qid, docs in qrels.items() if any(v > 0 for v in docs.values())}


def restrict(run: Mapping[str, Mapping[str, float]], qids: Iterable[str]) -> Run:
    keep = set(qids)
    return {qid: dict(docs) for qid, docs in run.items() if qid in keep}
