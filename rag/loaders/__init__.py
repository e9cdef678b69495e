"""Reading sources: detect each file's format, load it, report what could not be read.

Each loader module offers `can_load(path) -> bool` and `load(path) -> list[Document]` (raising
CorpusError with a one-line message naming the file). A loader may also offer `read(path) -> Loaded`
when one file can yield more than documents: per-member problems of an archive (the readable members
are kept) or deletions (PubMed update files). `read_sources` walks files and folders, keeps every
document it can read, and returns one `LoadProblem` per file (or archive member) it could not.

Formats: Markdown with front matter, BEIR corpus.jsonl, NGC guideline summary XML (and .tar.gz),
ClinicalTrials.gov legacy XML and API v2 JSON, PubMed/MEDLINE XML (.xml, .xml.gz), PDF, HTML,
DailyMed SPL XML.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import CorpusError, describe
from rag.models import Document


class LoadProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    message: str


class Loaded(BaseModel):
    """What one source file yields (the result of a loader's optional `read`)."""

    model_config = ConfigDict(extra="forbid")

    documents: list[Document]
    problems: list[LoadProblem] = Field(default_factory=list, description="Unreadable members of an archive.")
    deletions: list[str] = Field(default_factory=list, description="Ids of documents this file deletes (PubMed <DeleteCitation>).")
    replaces: bool = Field(default=False, description="A document here replaces an earlier one with the same id (newer record).")


class LoadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[Document]
    problems: list[LoadProblem]
    files: int
    deletions: list[str] = Field(
        default_factory=list,
        description="Document ids deleted by update files read after them; build_index drops these documents.",
    )


from rag.loaders import beir, ctgov, html, markdown, ngc, pdf, pubmed, spl  # noqa: E402 - they import Loaded from here

LOADERS: list[ModuleType] = [ngc, ctgov, pubmed, spl, pdf, html, markdown, beir]


def loader_for(path: Path) -> ModuleType | None:
    for loader in LOADERS:
        if loader.can_load(path):
            return loader
    return None


def _files(sources: Sequence[Path]) -> Iterable[Path]:
    for source in sources:
        if not source.exists():
            raise CorpusError(f"{source}: no such file or folder; pass an existing --corpus/--source path")
        if source.is_file():
            yield source
            continue
        for path in sorted(source.rglob("*")):
            if path.is_file() and not any(part.startswith(".") for part in path.relative_to(source).parts):
                yield path


def _load(loader: ModuleType, path: Path) -> Loaded:
    reader = getattr(loader, "read", None)
    if reader is not None:
        return reader(path)
    return Loaded(documents=loader.load(path))


def read_sources(sources: Sequence[Path], *, on_file: Callable[[Path], None] | None = None) -> LoadResult:
    """Documents from every readable file under `sources`; unreadable files become problems.
    Files no loader recognises are skipped silently inside folders and reported when named directly.

    Files are read in order (folders sorted by path). A deletion (PubMed update file) removes the
    documents read before it; a document read after its deletion is kept. A newer record of the same
    id from a `replaces` file (PubMed update) takes the place of the earlier one."""
    documents: dict[int, Document] = {}
    position: dict[str, int] = {}  # id -> key in `documents` of its replaceable record
    problems: list[LoadProblem] = []
    deleted: dict[str, None] = {}
    files = 0
    named = {s.resolve() for s in sources if s.is_file()}
    for path in _files(sources):
        loader = loader_for(path)
        if loader is None:
            if path.resolve() in named:
                problems.append(LoadProblem(path=str(path), message=f"{path}: unknown format (no loader recognises this file)"))
            continue
        files += 1
        if on_file:
            on_file(path)
        try:
            loaded = _load(loader, path)
        except CorpusError as error:
            problems.append(LoadProblem(path=str(path), message=str(error) or f"{path}: unreadable"))  # one line; a name's newline is shown escaped
            continue
        except (ValueError, OSError, UnicodeError, RecursionError, MemoryError) as error:  # a parser choked: still one line
            problems.append(LoadProblem(path=str(path), message=f"{path}: {describe(error)}"))
            continue
        problems.extend(loaded.problems)
        for document in loaded.documents:
            deleted.pop(document.id, None)
            if loaded.replaces and document.id in position:
                documents[position[document.id]] = document
                continue
            key = len(documents)
            documents[key] = document
            if loaded.replaces:
                position[document.id] = key
        for doc_id in loaded.deletions:
            deleted[doc_id] = None
    return LoadResult(documents=list(documents.values()), problems=problems, files=files, deletions=list(deleted))
