"""Build an index folder from sources: chunk, BM25, embed (cached, resumable), faiss, store, manifest.

Layout of an index folder (the path a user names, default `indexes/default`):
    rag-index.json           marks the folder as an index (a build refuses a folder of other things)
    CURRENT                  name of the active build (replaced atomically when a build completes)
    build-<stamp>/           a complete build: .rag-build marker, manifest.json (with every file's size and
                             sha256), stamps.json (their stat signatures), store.sqlite, bm25/, dense/
    build-<stamp>.partial/   a build in progress (or killed): never read, removed by the next build
    embeddings/<model>/      the embedding cache shared by builds
    build.lock               present while a build runs
A build writes only into its `.partial` folder and the cache, then renames the folder and swaps
CURRENT, so a failed or killed build leaves the previous index loadable. It removes only build
folders it made (stamp-format name and marker), never other entries of the folder, and keeps a
replaced build while a reader still holds it open (a later build removes it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from rag.bm25 import BM25Index, BM25Settings
from rag.chunking import ChunkSettings, chunk_document, indexed_text
from rag.embedding import DEFAULT_MODEL, PassageEncoder, max_seq_length, resolve_model, token_counter
from rag.errors import CorpusError, RagError
from rag.index.embcache import EmbeddingCache, model_slug, text_key
from rag.index.lock import BuildLock
from rag.index.integrity import record_artifacts, write_stamps
from rag.index.manifest import Counts, Manifest, ModelInfo, write_manifest
from rag.index.querymodel import link_query_model
from rag.index.store import write_store
from rag.knowledge import Knowledge, find_field_file, load_vocabulary, read_field_file
from rag.profile.build import build_profile
from rag.loaders import LoadProblem, read_sources
from rag.models import Document, Passage
from rag.tokenize import TokenizerSettings, make_tokenizer

from rag.index.layout import (  # noqa: F401 - CURRENT, current_build re-exported
    CURRENT, claim_index_root, current_build, mark_build, owned_builds, remove_unless_held,
)
EMBED_BATCH = 64  # passages per cache shard: the most a kill can lose


class Progress(Protocol):
    def stage(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...


class _Silent:
    def stage(self, name: str, total: int | None) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass


class BuildSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = DEFAULT_MODEL
    dense: bool = Field(default=True, description="False: BM25 only (no model, no faiss).")
    chunking: ChunkSettings | None = Field(default=None, description="None: max_tokens from the model.")
    tokenizer: TokenizerSettings = TokenizerSettings()
    bm25: BM25Settings = BM25Settings()
    faiss: str | None = Field(default=None, description="flat, hnsw, ivfsq8, ivfpq; None chooses by size (rag.dense.choose_kind).")
    profile: Path | None = Field(
        default=None, description="Field profile file (field.yaml); None: the field.yaml at a corpus folder's root, if any."
    )


class BuildReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    manifest: Manifest
    problems: list[LoadProblem]
    reused: int
    embedded: int
    files: int = Field(default=0, description="Source files read (recognised by a loader).")
    deleted: int = Field(default=0, description="Documents dropped because an update file deletes them (PubMed).")


def corpus_hash(documents: Sequence[Document]) -> str:
    digest = hashlib.sha256()
    for document in sorted(documents, key=lambda d: d.id):
        digest.update(document.model_dump_json(exclude={"source_path"}).encode("utf-8"))
    return digest.hexdigest()


def new_manifest(
    sources: Sequence[Path], documents: Sequence[Document], passages: Sequence, *, build_id: str, model_info: ModelInfo | None,
    chunking: ChunkSettings, settings: BuildSettings, bm25: BM25Settings, vocabulary: int, embedded: int, problems: Sequence,
    field_file: str | None, artifacts: dict | None = None,
) -> Manifest:
    """The manifest facts every backend records for a build (a local folder or a Milvus collection)."""
    return Manifest(
        build_id=build_id,
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        sources=[str(s) for s in sources],
        corpus_hash=corpus_hash(documents),
        model=model_info,
        chunking=chunking,
        tokenizer=settings.tokenizer,
        bm25=bm25,
        counts=Counts(documents=len(documents), passages=len(passages), vocabulary=vocabulary, embedded=embedded),
        problems=[p.message for p in problems],
        field_file=field_file,
        **({"artifacts": artifacts} if artifacts is not None else {}),
    )


def _check_unique(documents: Sequence[Document]) -> None:
    seen: dict[str, str | None] = {}
    for document in documents:
        if document.id in seen:
            raise CorpusError(f"{document.source_path}: document id {document.id!r} already used by {seen[document.id]}")
        seen[document.id] = document.source_path


def read_corpus(
    sources: Sequence[Path], progress: Progress, documents: Sequence[Document] | None = None
) -> tuple[Sequence[Document], list[LoadProblem], int, int]:
    """(documents, problems, files read, documents deleted by update files), refusing an empty corpus
    and a reused document id."""
    problems: list[LoadProblem] = []
    files = deleted = 0
    if documents is None:
        progress.stage("reading sources", None)
        result = read_sources(sources, on_file=lambda _: progress.advance())
        documents, problems, files = result.documents, result.problems, result.files
        if result.deletions:  # PubMed <DeleteCitation>: records deleted by a later update file
            gone = set(result.deletions)
            kept = [d for d in documents if d.id not in gone]
            documents, deleted = kept, len(documents) - len(kept)
    if not documents:
        where = ", ".join(str(s) for s in sources)
        raise CorpusError(f"{where}: no readable documents" + (f" ({problems[0].message})" if problems else ""))
    _check_unique(documents)
    return documents, problems, files, deleted


def build_index(
    sources: Sequence[Path],
    index_root: Path,
    settings: BuildSettings = BuildSettings(),
    *,
    progress: Progress | None = None,
    documents: Sequence[Document] | None = None,
    ray: str | None = None,
) -> BuildReport:
    """Build a new index under `index_root` and make it current. `documents`, when given, are used
    instead of reading `sources` (which are then only recorded). `ray`: chunk and embed on a Ray
    cluster at this address ("local": one started in this process); the index is the same."""
    progress = progress or _Silent()
    claim_index_root(index_root)
    with BuildLock(index_root):
        documents, problems, files, deleted = read_corpus(sources, progress, documents)
        _remove_partials(index_root)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
        partial = index_root / f"build-{stamp}.partial"
        partial.mkdir()
        try:
            mark_build(partial)
            report = _build_into(partial, index_root, sources, documents, problems, settings, progress, ray=ray)
            final = index_root / f"build-{stamp}"
            os.replace(partial, final)
            _swap_current(index_root, final.name)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        _remove_old_builds(index_root, keep=final.name)
        return report.model_copy(update={"path": str(final), "files": files, "deleted": deleted})


def chunk_corpus(
    documents: Sequence[Document], settings: BuildSettings, progress: Progress, *, ray: str | None = None
) -> tuple[list[Passage], list[str], ChunkSettings, Path | None]:
    """Passages of every document, in document order, with the text each is indexed by; on a Ray
    cluster (`ray`: its address, or "local") when asked."""
    model_dir = resolve_model(settings.model) if settings.dense or settings.chunking is None else None
    chunking = settings.chunking or ChunkSettings(max_tokens=max_seq_length(model_dir))
    progress.stage("chunking", len(documents))
    if ray is not None:
        from rag.index.distributed import chunk_on_ray

        passages = chunk_on_ray(documents, model_dir, chunking, address=ray)
        progress.advance(len(documents))
    else:
        count = token_counter(model_dir) if model_dir else (lambda text: len(text.split()))
        passages = []
        for document in documents:
            try:
                passages.extend(chunk_document(document, count, chunking))
            except ValueError as error:
                raise CorpusError(f"{document.source_path}: {error}") from error
            progress.advance()
    titles = {d.id: d.title for d in documents}
    texts = [indexed_text(titles[p.doc_id], p.section, p.text) for p in passages]
    return passages, texts, chunking, model_dir


def field_knowledge(settings: BuildSettings, sources: Sequence[Path]) -> tuple[Knowledge, Path | None]:
    """The package's vocabulary with the corpus's field file (`--profile`, else a field.yaml at a source
    root), and that file's path; a --profile path that is not a file is refused."""
    field_path = settings.profile or find_field_file(list(sources))
    if field_path is not None and not field_path.is_file():
        raise CorpusError(f"{field_path}: no such field profile file; pass an existing --profile path")
    return Knowledge(load_vocabulary(), read_field_file(field_path) if field_path else None), field_path


def _build_into(
    folder: Path,
    index_root: Path,
    sources: Sequence[Path],
    documents: Sequence[Document],
    problems: list[LoadProblem],
    settings: BuildSettings,
    progress: Progress,
    ray: str | None = None,
) -> BuildReport:
    passages, texts, chunking, model_dir = chunk_corpus(documents, settings, progress, ray=ray)

    progress.stage("lexical index", len(texts))
    tokenize = make_tokenizer(settings.tokenizer)

    def tokens():
        for text in texts:
            yield tokenize(text)
            progress.advance()

    bm25 = BM25Index.build(tokens(), settings.bm25)
    bm25.save(folder / "bm25")

    model_info = None
    reused = embedded = 0
    if settings.dense:
        model_info, reused, embedded = _build_dense(folder, index_root, texts, settings, model_dir, progress, ray=ray)

    progress.stage("field profile", None)
    knowledge, field_path = field_knowledge(settings, sources)
    profile = build_profile(folder, documents, passages, knowledge=knowledge, tokenize=tokenize, field_file=field_path)

    progress.stage("passage store", None)
    build_id = uuid.uuid4().hex
    write_store(folder, documents, passages, build_id=build_id, canonical_body=knowledge.canonical_body)
    progress.stage("checksums", None)
    manifest = new_manifest(
        sources, documents, passages, build_id=build_id, model_info=model_info, chunking=chunking, settings=settings,
        bm25=settings.bm25, vocabulary=len(bm25.vocabulary), embedded=embedded, problems=problems,
        field_file=profile.field_file, artifacts=record_artifacts(folder),
    )
    write_manifest(manifest, folder)
    write_stamps(folder, manifest.artifacts)
    return BuildReport(path=str(folder), manifest=manifest, problems=problems, reused=reused, embedded=embedded)


def embed_texts(
    texts: list[str], cache_dir: Path, encoder: PassageEncoder, progress: Progress, *, ray: str | None = None
):  # -> tuple[np.ndarray, int, int]
    """Vectors of `texts` in order, through the embedding cache (keyed by text hash): only texts the
    cache lacks are encoded, locally or by encoder actors on a Ray cluster. (vectors, reused, embedded)."""
    import numpy as np

    keys = [text_key(t) for t in texts]
    progress.stage("loading model", None)
    cache = EmbeddingCache(cache_dir / "vectors", encoder.dimension)
    missing = list({keys[i]: i for i in range(len(texts)) if keys[i] not in cache}.values())  # distinct texts
    reused = len(texts) - len(missing)
    progress.stage("embedding", len(missing))
    batches = [missing[start : start + EMBED_BATCH] for start in range(0, len(missing), EMBED_BATCH)]
    if ray is not None and batches:
        from rag.index.distributed import embed_on_ray

        for rows, vectors in embed_on_ray([[texts[i] for i in rows] for rows in batches], batches, encoder, address=ray):
            cache.add([keys[i] for i in rows], vectors)
            progress.advance(len(rows))
    else:
        for rows in batches:
            cache.add([keys[i] for i in rows], encoder.encode([texts[i] for i in rows]))
            progress.advance(len(rows))
    vectors = cache.get(keys) if keys else np.zeros((0, encoder.dimension), dtype=np.float32)
    cache.compact(keys)
    return vectors, reused, len(missing)


def _build_dense(
    folder: Path, index_root: Path, texts: list[str], settings: BuildSettings, model_dir: Path, progress: Progress, *, ray: str | None = None
) -> tuple[ModelInfo, int, int]:
    from rag.dense import build_faiss, choose_kind, describe_faiss, save_faiss

    encoder = PassageEncoder(settings.model, model_dir)
    cache_dir = index_root / "embeddings" / model_slug(settings.model)
    vectors, reused, embedded = embed_texts(texts, cache_dir, encoder, progress, ray=ray)

    progress.stage("dense index", None)
    kind = settings.faiss or choose_kind(len(texts))
    index = build_faiss(vectors, kind)
    save_faiss(index, folder / "dense")
    link_query_model(cache_dir, folder / "dense", encoder, on_export=lambda: progress.stage("exporting query model (ONNX)", None))
    info = ModelInfo(
        name=settings.model, dimension=encoder.dimension, max_seq_length=max_seq_length(model_dir), faiss=kind, faiss_settings=describe_faiss(index)
    )
    return info, reused, embedded


def _swap_current(index_root: Path, build_name: str) -> None:
    tmp = index_root / f".{CURRENT}.{os.getpid()}.tmp"
    tmp.write_text(build_name + "\n", encoding="utf-8")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, index_root / CURRENT)


def _remove_partials(index_root: Path) -> None:
    for path in owned_builds(index_root):
        if path.name.endswith(".partial"):
            shutil.rmtree(path, ignore_errors=True)


def _remove_old_builds(index_root: Path, *, keep: str) -> None:
    """Remove replaced builds, except one a reader still holds open (a later build removes it)."""
    for path in owned_builds(index_root):
        if path.name != keep and not path.name.endswith(".partial"):
            remove_unless_held(path)


__all__ = ["BuildReport", "BuildSettings", "RagError", "build_index", "current_build"]
