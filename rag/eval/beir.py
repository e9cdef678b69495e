"""A BEIR dataset folder: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and
`qrels/<split>.tsv` (`query-id corpus-id score`, with a header line). The corpus is read by the
project's own BEIR loader (rag.loaders.beir), so evaluation indexes what `rag index build` would."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import EvalError
from rag.jsonl import iter_jsonl
from rag.eval.runs import Qrels, judged, read_qrels


class BeirDataset(BaseModel):
    """Queries and judgments of one split; the corpus stays on disk until indexing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Folder name, e.g. 'scifact'.")
    folder: Path
    split: str
    queries: dict[str, str] = Field(description="qid -> query text, only the queries judged in this split.")
    qrels: Qrels = Field(description="qid -> {doc id: relevance}, queries with at least one relevant document.")

    @property
    def corpus(self) -> Path:
        return self.folder / "corpus.jsonl"


def is_beir_folder(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").is_file() and (path / "queries.jsonl").is_file()


def splits(folder: Path) -> list[str]:
    return sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))


def read_queries(path: Path) -> dict[str, str]:
    """qid -> text from a BEIR queries.jsonl."""
    queries: dict[str, str] = {}
    for number, record in iter_jsonl(path, EvalError, what="queries", require="_id"):
        if not isinstance(record.get("text"), str):
            raise EvalError(f"{path}:{number}: field 'text' missing or not a string")
        queries[str(record["_id"])] = record["text"]
    return queries


def load_beir(folder: Path, *, split: str = "test") -> BeirDataset:
    """The queries and qrels of `split`; every judged query must have a text in queries.jsonl."""
    if not folder.is_dir():
        raise EvalError(f"{folder}: no such dataset folder; pass a BEIR folder (corpus.jsonl, queries.jsonl, qrels/)")
    for name in ("corpus.jsonl", "queries.jsonl"):
        if not (folder / name).is_file():
            raise EvalError(f"{folder / name}: missing; a BEIR folder has corpus.jsonl, queries.jsonl and qrels/<split>.tsv")
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.is_file():
        available = ", ".join(splits(folder)) or "none"
        raise EvalError(f"{qrels_path}: missing; splits available: {available}")
    qrels = judged(read_qrels(qrels_path))
    if not qrels:
        raise EvalError(f"{qrels_path}: no query has a relevant document")
    texts = read_queries(folder / "queries.jsonl")
    missing = [qid for qid in qrels if qid not in texts]
    if missing:
        raise EvalError(
            f"{folder / 'queries.jsonl'}: no query {missing[0]!r} (named in {qrels_path}; {len(missing)} missing in all)"
        )
    return BeirDataset(
        name=folder.resolve().name, folder=folder, split=split, queries={q: texts[q] for q in qrels}, qrels=qrels
    )
