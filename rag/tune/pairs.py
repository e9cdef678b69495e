"""Training pairs for `rag tune`, from labels or from the corpus alone.

- qrels (`qrels_data`): each judged relevant (query, document) of a BEIR split is a pair; the document
  reads as the BEIR evaluation index embeds it (title line, then text). Hard negatives are mined from
  the whole corpus and never include a document the split judges relevant to that query.
- corpus (`corpus_data`, no labels), with one of three anchor kinds (`AnchorKind`):
  - titles: a document with a real title gives title -> its text (the text without the title, else the
    pair would be a copy); a document with headed sections (the project's corpus format) gives
    "title: heading > subheading" -> that section's text.
  - sentences (inverse cloze task): a text (each headed section, else the document's text, titled or
    not) gives its last sentence -> the rest of the text with that sentence removed (`sentence_pair`).
    The last sentence is where most writing states what it found or recommends (an abstract's
    conclusion, a section's closing statement), the kind of statement a question or claim makes; the
    rest of the text must still retrieve it without the words it shares with it.
  - both: each document's title pairs, then its sentence pairs.
  Hard negatives are mined from the other pairs' texts and never come from the positive's own document.

The pairs' content hash (`TrainingData.digest`) is recorded in tune.json.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from rag.chunking import indexed_text
from rag.errors import TuneError
from rag.models import Document, Section
from rag.sentences import split_units

MIN_SECTION_WORDS = 12
"""A headed section shorter than this is not a positive (a heading over one line says little)."""

AnchorKind = Literal["titles", "sentences", "both"]
ANCHOR_KINDS: tuple[str, ...] = get_args(AnchorKind)

MIN_SENTENCES = 3
"""A text gives a sentence pair only with this many sentences: the anchor, and a rest of two or more."""

MIN_ANCHOR_WORDS = 5
"""A sentence shorter than this is not an anchor (a splitter's fragment, "1.", a one-word label)."""


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
    anchors: AnchorKind | None = Field(default=None, description="Corpus pairs' anchor kind: titles, sentences or both (None for qrels pairs).")
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


def corpus_pairs(documents: Sequence[Document], *, anchors: AnchorKind = "titles") -> list[TrainingPair]:
    """Titles: title -> text for untitled-section documents with a real title; "title: headings" -> section
    text for headed sections. Sentences: `sentence_pair` of each headed section, else of the document's
    text. Both: a document's title pairs, then its sentence pairs. An anchor seen twice keeps its first
    pair (two identical questions with different answers teach nothing)."""
    if anchors not in ANCHOR_KINDS:
        raise TuneError(f"anchors {anchors!r}: choose {', '.join(ANCHOR_KINDS)}")
    pairs: list[TrainingPair] = []
    seen: set[str] = set()
    split = {d.id: [split_units(text) for text in _sentence_texts(d)] for d in documents} if anchors != "titles" else {}
    shared = _shared_sentences(split.values())
    for document in documents:
        found = _title_pairs(document) if anchors != "sentences" else []
        found += [pair for units in split.get(document.id, []) if (pair := sentence_pair(units, shared=shared))]
        for anchor, positive in found:
            anchor, positive = anchor.strip(), positive.strip()
            if anchor and positive and anchor != positive and anchor not in seen:
                seen.add(anchor)
                pairs.append(TrainingPair(anchor=anchor, positive=positive, positive_doc=document.id, relevant=frozenset({document.id})))
    return pairs


def _headed(document: Document) -> list[Section]:
    return [s for s in document.sections if s.path and len(s.text.split()) >= MIN_SECTION_WORDS]


def _title_pairs(document: Document) -> list[tuple[str, str]]:
    """"title: heading > subheading" -> text of each headed section; else title -> text when the title is real."""
    if sections := _headed(document):
        return [(f"{document.title}: {' > '.join(s.path)}", s.text) for s in sections]
    titled = document.title.strip() != document.id  # the BEIR loader uses the id when a record has no title
    return [(document.title, document_text(document))] if titled else []


def _sentence_texts(document: Document) -> list[str]:
    """The texts sentence pairs are cut from: each headed section's, else the document's (titled or not)."""
    return [s.text for s in _headed(document)] or [document_text(document)]


def sentence_pair(units: Sequence[tuple[str, bool]], *, shared: frozenset[str] = frozenset()) -> tuple[str, str] | None:
    """(anchor, rest) of a text split by rag.sentences.split_units: the anchor is its last sentence of
    MIN_ANCHOR_WORDS+ words that is not in `shared` (boilerplate other documents repeat, e.g. a journal's
    closing line, would be an anchor pointing everywhere); the rest is every other sentence, paragraphs
    and list items kept apart as blank lines. None for a text of fewer than MIN_SENTENCES sentences, or
    without such a sentence."""
    if len(units) < MIN_SENTENCES:
        return None
    chosen = next(
        (i for i in range(len(units) - 1, -1, -1) if len(units[i][0].split()) >= MIN_ANCHOR_WORDS and units[i][0] not in shared), None
    )
    if chosen is None:
        return None
    rest = ""
    for i, (sentence, starts_block) in enumerate(units):
        if i == chosen:
            continue
        if rest:
            starts_block = starts_block or (i == chosen + 1 and units[chosen][1])  # the sentence after the anchor opens its block
            rest += ("\n\n" if starts_block else " ")
        rest += sentence
    return units[chosen][0], rest


def _shared_sentences(documents: Iterable[list[list[tuple[str, bool]]]]) -> frozenset[str]:
    """Sentences found in more than one document."""
    counts: Counter[str] = Counter()
    for texts in documents:
        counts.update({sentence for units in texts for sentence, _ in units})
    return frozenset(sentence for sentence, count in counts.items() if count > 1)


def corpus_data(sources: Sequence[Path], *, anchors: AnchorKind = "titles") -> TrainingData:
    """Corpus pairs of BEIR folders (their corpus.jsonl only: queries and qrels are never read) or of
    project corpus folders and files, with `anchors` (titles, sentences or both)."""
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
    pairs = corpus_pairs(documents, anchors=anchors)
    if not pairs:
        wanted = {
            "titles": f"a title of its own or a headed section of {MIN_SECTION_WORDS}+ words",
            "sentences": f"a text of {MIN_SENTENCES}+ sentences",
            "both": f"a title of its own, a headed section of {MIN_SECTION_WORDS}+ words or a text of {MIN_SENTENCES}+ sentences",
        }[anchors]
        raise TuneError(f"{named}: no training pairs ({anchors}): no document has {wanted}")
    pool = [Candidate(doc_id=p.positive_doc, text=p.positive) for p in pairs]
    return TrainingData(source="corpus", origin=[str(f) for f in files], anchors=anchors, pairs=pairs, pool=pool)
