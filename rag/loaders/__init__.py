"""Reading sources: detect each file's format, load it, report what could not be read.

Each loader module offers `can_load(path) -> bool` and `load(path) -> list[Document]` (raising
CorpusError with a one-line message naming the file). `read_sources` walks files and folders,
keeps every document it can read, and returns one `LoadProblem` per file it could not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import ModuleType

from pydantic import BaseModel, ConfigDict

from rag.errors import CorpusError
from rag.loaders import beir, markdown
from rag.models import Document


class LoadProblem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    message: str


class LoadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    documents: list[Document]
    problems: list[LoadProblem]
    files: int


LOADERS: list[ModuleType] = [markdown, beir]


def register(loader: ModuleType) -> None:
    """Add a loader module (before the generic ones)."""
    if loader not in LOADERS:
        LOADERS.insert(0, loader)


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


def read_sources(sources: Sequence[Path], *, on_file: Callable[[Path], None] | None = None) -> LoadResult:
    """Documents from every readable file under `sources`; unreadable files become problems.
    Files no loader recognises are skipped silently inside folders and reported when named directly."""
    documents: list[Document] = []
    problems: list[LoadProblem] = []
    files = 0
    named = {s.resolve() for s in sources if s.is_file()}
    for path in _files(sources):
        loader = loader_for(path)
        if loader is None:
            if path.resolve() in named:
                problems.append(LoadProblem(path=str(path), message="unknown format (no loader recognises this file)"))
            continue
        files += 1
        if on_file:
            on_file(path)
        try:
            documents.extend(loader.load(path))
        except CorpusError as error:
            problems.append(LoadProblem(path=str(path), message=str(error)))
        except (ValueError, OSError, UnicodeError) as error:  # a loader's parser choked: still one line
            problems.append(LoadProblem(path=str(path), message=f"{path}: {type(error).__name__}: {error}".splitlines()[0]))
    return LoadResult(documents=documents, problems=problems, files=files)
