"""Training pairs for `rag tune`, from labels or from the corpus alone.

- qrels (`qrels_data`): each judged relevant (query, document) of a BEIR split is a pair; the document
  reads as the BEIR evaluation index embeds it (title line, then text). Hard negatives are mined from
  the whole corpus and never include a document the split judges relevant to that query.
- corpus (`corpus_data`, no labels): a document with a real title gives title -> its text (the text
  without the title, else the pair would be a copy); a document with headed sections (the project's
  corpus format) gives "title: heading > subheading" -> that section's text. Hard negatives are mined
  from the other pairs' texts and never come from the positive's own document.

The pairs' content hash (`TrainingData.digest`) is recorded in tune.json.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.chunking import indexed_text
from rag.errors import TuneError
from rag.models import Document

MIN_SECTION_WORDS = 12
"""A headed section shorter than this is not a positive (a heading over one line says little)."""


class TrainingPair(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    anchor: str = Field(description="The query side: a query, a title, or a title and heading.")
    positive: str = Field(description="The text the anchor should retrieve.")
    positive_doc: str = Field(description="Document id of the positive.")
    relevant: frozenset[str] = Field(description="Document ids never used as this pair's negatives (its positives).")


class Candidate(BaseModel):
    """A text hard negatives are mined from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    doc_id: str
    text: str


class TrainingData(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(description="'qrels' or 'corpus'.")
    origin: list[str] = Field(description="Files the pairs were read from.")
    split: str | None = Field(default=None, description="qrels split (None for corpus pairs).")
    pairs: list[TrainingPair]
    pool: list[Candidate] = Field(description="Texts hard negatives are mined from.")

    def digest(self) -> str:
        """sha256 of the pairs (anchor, positive, positive document), in order."""
        return pairs_digest(self.pairs)


def pairs_digest(pairs: Iterable[TrainingPair]) -> str:
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update("\x1f".join((pair.anchor, pair.positive, pair.positive_doc)).encode("utf-8"))
        digest.update(b"\x1e")
    return digest.hexdigest()


def document_text(document: Document) -> str:
    """The document's text without its title, sections joined as document-mode chunking joins them."""
    return "\n\n".join(s.text.strip() for s in document.sections if s.text.strip())


def qrels_data(folder: Path, split: str) -> TrainingData:
    """One pair per relevant (query, document) of `qrels/<split>.tsv` in a BEIR folder."""
    from rag.eval.beir import load_beir
    from rag.loaders.beir import iter_documents

    data = load_beir(folder, split=split)  # EvalError naming the missing file or split
    documents = list(iter_documents(data.corpus))
    texts = {d.id: indexed_text(d.title, (), document_text(d)) for d in documents}
    qrels_path = folder / "qrels" / f"{split}.tsv"
    pairs: list[TrainingPair] = []
    for qid in sorted(data.qrels):
        relevant = frozenset(doc for doc, grade in data.qrels[qid].items() if grade > 0)
        for doc in sorted(relevant):
            if doc not in texts:
                raise TuneError(f"{qrels_path}: document {doc!r} (judged for query {qid!r}) is not in {data.corpus}")
            pairs.append(TrainingPair(anchor=data.queries[qid], positive=texts[doc], positive_doc=doc, relevant=relevant))
    if not pairs:
        raise TuneError(f"{qrels_path}: no relevant (query, document) pair to train on")
    pool = [Candidate(doc_id=d.id, text=texts[d.id]) for d in documents]
    return TrainingData(source="qrels", origin=[str(qrels_path), str(data.corpus)], split=split, pairs=pairs, pool=pool)


def corpus_pairs(documents: Sequence[Document]) -> list[TrainingPair]:
    """title -> text for untitled-section documents with a real title; "title: headings" -> section text
    for headed sections. An anchor seen twice keeps its first pair (two identical questions with
    different answers teach nothing)."""
    pairs: list[TrainingPair] = []
    seen: set[str] = set()

    def add(anchor: str, positive: str, doc: str) -> None:
        anchor, positive = anchor.strip(), positive.strip()
        if anchor and positive and anchor != positive and anchor not in seen:
            seen.add(anchor)
            pairs.append(TrainingPair(anchor=anchor, positive=positive, positive_doc=doc, relevant=frozenset({doc})))

    for document in documents:
        titled = document.title.strip() != document.id  # the BEIR loader uses the id when a record has no title
        headed = [s for s in document.sections if s.path and len(s.text.split()) >= MIN_SECTION_WORDS]
        if headed:
            for section in headed:
                add(f"{document.title}: {' > '.join(section.path)}", section.text, document.id)
        elif titled:
            add(document.title, document_text(document), document.id)
    return pairs


def corpus_data(sources: Sequence[Path]) -> TrainingData:
    """Corpus pairs of BEIR folders (their corpus.jsonl only: queries and qrels are never read) or of
    project corpus folders and files."""
    from rag.eval.beir import is_beir_folder
    from rag.loaders import read_sources

    files = [source / "corpus.jsonl" if is_beir_folder(source) else source for source in sources]
    result = read_sources(files)  # CorpusError for a path that does not exist
    gone = set(result.deletions)
    documents = [d for d in result.documents if d.id not in gone]
    named = ", ".join(str(s) for s in files)
    if not documents:
        problem = f" ({result.problems[0].message})" if result.problems else ""
        raise TuneError(f"{named}: no readable documents to take pairs from{problem}")
    pairs = corpus_pairs(documents)
    if not pairs:
        raise TuneError(
            f"{named}: no training pairs: no document has a title of its own or a headed section of {MIN_SECTION_WORDS}+ words"
        )
    pool = [Candidate(doc_id=p.positive_doc, text=p.positive) for p in pairs]
    return TrainingData(source="corpus", origin=[str(f) for f in files], pairs=pairs, pool=pool)
