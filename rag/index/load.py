"""Open a built index: check its manifest and artifacts, then serve retrievers lazily (a BM25 query
never loads the dense side, and nothing here imports torch).

Opening checks cheaply (stat calls, no hashing on an index as built): every artifact's size and stat
signature against the build's record (rag.index.integrity), and the passage store's build id and
passage count against the manifest's, so a store copied from another build, or any file written
since the build, is refused before a query is served. Each part, when first loaded,
checks its content (arrays in range, unit vectors) and its row count; `check()` (what `rag index
status` runs) loads every part.
`check(full=True)` adds a sha256 of every file (`rag index status --verify`).
"""

from __future__ import annotations

import sqlite3
from functools import cached_property
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from rag.errors import IndexStateError
from rag.index.checks import check_lexical
from rag.index.integrity import REBUILD, check_checksums, check_files
from rag.index.layout import CURRENT, current_build, hold_build
from rag.index.manifest import Manifest, read_manifest
from rag.index.store import PassageStore


class IndexCheck(BaseModel):
    """What `Index.check` looked at (it raises on the first problem)."""

    model_config = ConfigDict(extra="forbid")

    parts: list[str] = Field(description="Parts loaded and checked: store, lexical, dense, query model.")
    files_hashed: int = Field(default=0, description="Files re-hashed against the manifest (full check only).")


class Index:
    def __init__(self, root: Path, folder: Path | None = None) -> None:
        self.root = root
        self.folder = folder or current_build(root)
        self._held = hold_build(self.folder)  # a rebuild keeps this build while we read it
        self.manifest: Manifest = read_manifest(self.folder)
        self.store = PassageStore(self.folder)
        self._check_store_identity()  # first: "a store of another build" says more than "changed"
        check_files(self.folder, self.manifest.artifacts)

    def _check_store_identity(self) -> None:
        build_id, passages = self.store.identity()
        if build_id != self.manifest.build_id:
            raise IndexStateError(
                f"{self.store.path}: passage store of another build ({build_id[:12]}), not of this one "
                f"({self.manifest.build_id[:12]}); {REBUILD}"
            )
        if passages != self.manifest.counts.passages:
            raise IndexStateError(f"{self.store.path}: passage store has {passages} passages, manifest {self.manifest.counts.passages}; {REBUILD}")

    def close(self) -> None:
        """Let go of the build (a later rebuild may then remove it)."""
        self.store.connection.close()
        if self._held is not None:
            self._held.close()
            self._held = None

    def check_model(self, model: str | None) -> None:
        """Refuse a query model other than the one the index was built with."""
        if model is None:
            return
        built = self.manifest.model.name if self.manifest.model else None
        if built != model:
            raise IndexStateError(
                f"{self.folder}: built with model {built!r}, not {model!r}; rebuild with `rag index build --model {model}`"
            )

    def check(self, *, full: bool = False) -> IndexCheck:
        """Load and check every part (what `rag index status` runs); `full` re-hashes every file."""
        hashed: list[str] = []
        if full:
            check_checksums(self.folder, self.manifest.artifacts, on_file=hashed.append)
        self._check_store_pages()
        parts = ["store", "lexical"]
        _ = self.bm25
        if self.manifest.model is not None:
            _ = self.faiss, self.query_encoder
            parts += ["dense", "query model"]
        return IndexCheck(parts=parts, files_hashed=len(hashed))

    def _check_store_pages(self) -> None:
        try:
            result = self.store.connection.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as error:
            result = [(str(error),)]
        if result != [("ok",)]:
            raise IndexStateError(f"{self.store.path}: passage store unreadable ({result[0][0]}); {REBUILD}")

    @cached_property
    def bm25(self):  # -> BM25Index
        from rag.bm25 import BM25Index

        mmap = self.manifest.counts.passages > 200_000
        index = BM25Index.load(self.folder / "bm25", mmap=mmap)
        if index.n_docs != self.manifest.counts.passages:
            raise IndexStateError(f"{self.folder}: lexical index has {index.n_docs} passages, manifest {self.manifest.counts.passages}; {REBUILD}")
        check_lexical(index, self.folder, full=not mmap)
        return index

    @property
    def lexicon(self):  # -> BM25Index: vocabulary, document_frequency(term), n_docs
        """The indexed terms and their passage counts (what the composer weighs question terms by)."""
        return self.bm25

    def bm25_top(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        """(row, score) of the k best BM25 passages, ties by row."""
        return self.bm25.top_k(tokens, k)

    def lexical(self, tokens: list[str]) -> LocalLexical:
        """The question's BM25 scores, computed once; ranked whole or within one body's passages."""
        return LocalLexical(self, self.bm25.scores(tokens))

    def dense_top(self, text: str, k: int) -> list[tuple[int, float]]:
        """(row, cosine) of the k passages nearest to `text` in the dense index."""
        from rag.dense import FAISS_FILE, search_faiss

        faiss_index = self.faiss  # first: on a --no-dense index this is the error that says so
        vector = self.query_encoder.encode([text])
        scores, rows = search_faiss(faiss_index, vector, k, path=self.folder / "dense" / FAISS_FILE)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    @cached_property
    def profile(self):  # -> ProfileStore
        from rag.profile.store import ProfileStore

        return ProfileStore(self.folder)

    @cached_property
    def tokenize(self):  # -> Callable[[str], list[str]]
        from rag.tokenize import make_tokenizer

        return make_tokenizer(self.manifest.tokenizer)

    @cached_property
    def faiss(self):
        from rag.dense import FAISS_FILE, check_vectors, describe_faiss, load_faiss

        if self.manifest.model is None:
            raise IndexStateError(f"{self.folder}: built without a dense index (--no-dense); use --retriever bm25 or rebuild")
        index = load_faiss(self.folder / "dense")
        if index.ntotal != self.manifest.counts.passages or index.d != self.manifest.model.dimension:
            raise IndexStateError(f"{self.folder}: dense index does not match the manifest; {REBUILD}")
        recorded = self.manifest.model.faiss_settings
        if recorded and describe_faiss(index) != recorded:  # e.g. nprobe lost: serving would not be what was tuned
            raise IndexStateError(f"{self.folder}: dense index settings {describe_faiss(index)!r} differ from the manifest's {recorded!r}; {REBUILD}")
        check_vectors(index, self.folder / "dense" / FAISS_FILE)
        return index

    @cached_property
    def query_encoder(self):  # -> QueryEncoder
        from rag.embedding import QueryEncoder

        encoder = QueryEncoder(self.folder / "dense")
        if self.manifest.model and encoder.dimension != self.manifest.model.dimension:
            raise IndexStateError(f"{self.folder}: query model dimension differs from the index; {REBUILD}")
        return encoder


class LocalLexical:
    """One question's BM25 scores over every passage: score once, then mask (a body's passages)."""

    def __init__(self, index: Index, scores) -> None:  # noqa: ANN001 - np.ndarray
        self.index = index
        self.scores = scores

    def top(self, k: int) -> list[tuple[int, float]]:
        import numpy as np

        scores = self.scores
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            candidates = candidates[np.argpartition(-scores[candidates], k - 1)[:k]]
        order = np.lexsort((candidates, -scores[candidates]))
        return [(int(candidates[i]), float(scores[candidates[i]])) for i in order]

    def top_of_body(self, body: str, count: int) -> list[tuple[int, float]]:
        """The `count` best passages (positive score) of the current documents of one body."""
        import numpy as np

        rows = np.asarray(self.index.store.rows_of_body(body), dtype=np.int64)
        if not len(rows):
            return []
        best = rows[np.argsort(-self.scores[rows], kind="stable")[:count]]
        return [(int(r), float(self.scores[r])) for r in best if self.scores[r] > 0]


def open_index(root: Path | str, *, model: str | None = None):  # -> Index | MilvusIndex
    """Open the current build of `root`: an index folder, or a Milvus index (`milvus://HOST:PORT/NAME`,
    see rag.index.milvus). A rebuild that swaps CURRENT and removes the build we were opening makes
    the open fail; it is retried once on the new CURRENT."""
    from rag.index.location import is_milvus

    if is_milvus(root):
        from rag.index.milvus import MilvusIndex

        index = MilvusIndex.open(str(root))
        index.check_model(model)
        return index
    root = Path(root)
    folder = current_build(root)
    try:
        index = Index(root, folder)
    except IndexStateError:
        if _current_name(root) in (None, folder.name):
            raise
        index = Index(root)
    index.check_model(model)
    return index


def _current_name(root: Path) -> str | None:
    try:
        return (root / CURRENT).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
