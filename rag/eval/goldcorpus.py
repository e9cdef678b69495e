"""The corpus a gold set is about: `corpus.yaml` beside its `questions.jsonl`.

    name: ngc-diabetes                       # names the cached evaluation index
    description: 24 NGC guideline summaries on diabetes (2018 archive)
    sources: [../shared/data/ngc/ngc_summaries_full_xml.tar.gz]   # relative to the project root
    include: [ngc-10069, ngc-10104]          # document ids to keep (omit: every document)
    profile: null                            # optional field profile file (field.yaml), project-relative

`rag eval answers --gold eval/gold/<set>/questions.jsonl` reads it and indexes those documents
(cached by content hash), so a gold set on real data needs no hand-built index. Building it by hand:

    python -m rag.eval.goldcorpus eval/gold/ngc-diabetes/corpus.yaml --index /tmp/ngc [--no-dense]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import EvalError
from rag.models import Document
from rag.paths import PROJECT_ROOT

CORPUS_FILE = "corpus.yaml"


class GoldCorpus(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Names the cached evaluation index.")
    description: str = ""
    sources: list[str] = Field(min_length=1, description="Files or folders, relative to the project root.")
    include: list[str] = Field(default_factory=list, description="Document ids to keep; empty keeps every document.")
    profile: str | None = Field(default=None, description="Field profile file (field.yaml), relative to the project root.")

    def source_paths(self) -> list[Path]:
        return [(PROJECT_ROOT / s).resolve() for s in self.sources]

    def profile_path(self) -> Path | None:
        return (PROJECT_ROOT / self.profile).resolve() if self.profile else None

    def documents(self) -> list[Document]:
        """The documents of the sources, filtered to `include` (every listed id must exist)."""
        from rag.loaders import read_sources

        result = read_sources(self.source_paths())
        documents = result.documents
        if self.include:
            wanted = set(self.include)
            documents = [d for d in documents if d.id in wanted]
            missing = sorted(wanted - {d.id for d in documents})
            if missing:
                raise EvalError(f"{self.name}: included document(s) not found in the sources: {', '.join(missing[:5])}")
        if not documents:
            raise EvalError(f"{self.name}: the sources yield no documents")
        return documents


def corpus_beside(gold_path: Path) -> Path | None:
    """The corpus.yaml next to a gold file, if there is one."""
    candidate = gold_path.parent / CORPUS_FILE
    return candidate if candidate.is_file() else None


def load_gold_corpus(path: Path) -> GoldCorpus:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise EvalError(f"{path}: cannot read the gold corpus file ({str(error).splitlines()[0]})") from error
    if not isinstance(raw, dict):
        raise EvalError(f"{path}: not a mapping (see rag/eval/goldcorpus.py for the format)")
    try:
        return GoldCorpus.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(x) for x in first["loc"]) or "record"
        raise EvalError(f"{path}: field '{field}': {first['msg']}") from error


def ensure_gold_index(path: Path, *, dense: bool = True, progress=None) -> Path:
    """The (cached) evaluation index of a gold corpus; returns its root."""
    from rag.eval.indexing import engine_settings, ensure_index

    corpus = load_gold_corpus(path)
    settings = engine_settings(dense=dense)
    if corpus.profile:
        settings = settings.model_copy(update={"profile": corpus.profile_path()})
    built = ensure_index(corpus.name, corpus.documents(), settings, sources=corpus.source_paths(), progress=progress)
    return Path(built.path)


def gold_set_index(gold_path: Path, *, progress=None) -> Path:
    """The index a gold set's questions are asked of: its corpus.yaml's (cached) index, or else the default
    corpus's own index (`rag index build`), built here when missing. For benchmarks that need one either way."""
    spec = corpus_beside(gold_path)
    if spec is not None:
        return ensure_gold_index(spec, progress=progress)
    from rag.index.build import build_index
    from rag.paths import default_corpus, default_index

    root = default_index()
    if not (root / "CURRENT").exists():
        build_index([default_corpus()], root, progress=progress)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build the index of a gold corpus (corpus.yaml).")
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--index", type=Path, help="Index folder (default: the cached evaluation index).")
    parser.add_argument("--no-dense", action="store_true")
    args = parser.parse_args(argv)
    if args.index is None:
        print(ensure_gold_index(args.corpus, dense=not args.no_dense))
        return
    from rag.index.build import BuildSettings, build_index

    corpus = load_gold_corpus(args.corpus)
    settings = BuildSettings(dense=not args.no_dense)
    report = build_index(corpus.source_paths(), args.index, settings, documents=corpus.documents())
    print(f"{report.manifest.counts.documents} documents, {report.manifest.counts.passages} passages -> {args.index}")


if __name__ == "__main__":
    main()
