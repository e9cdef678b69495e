"""Open a built index: check its manifest and artifacts, then serve retrievers lazily (a BM25 query
never loads the dense side, and nothing here imports torch)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from rag.errors import IndexStateError
from rag.index.layout import current_build
from rag.index.manifest import REBUILD, Manifest, read_manifest
from rag.index.store import PassageStore


class Index:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.folder = current_build(root)
        self.manifest: Manifest = read_manifest(self.folder)
        self.store = PassageStore(self.folder)

    def check_model(self, model: str | None) -> None:
        """Refuse a query model other than the one the index was built with."""
        if model is None:
            return
        built = self.manifest.model.name if self.manifest.model else None
        if built != model:
            raise IndexStateError(
                f"{self.folder}: built with model {built!r}, not {model!r}; rebuild with `rag index build --model {model}`"
            )

    @cached_property
    def bm25(self):  # -> BM25Index
        from rag.bm25 import BM25Index

        index = BM25Index.load(self.folder / "bm25", mmap=self.manifest.counts.passages > 200_000)
        if index.n_docs != self.manifest.counts.passages:
            raise IndexStateError(f"{self.folder}: lexical index has {index.n_docs} passages, manifest {self.manifest.counts.passages}; {REBUILD}")
        return index

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
        from rag.dense import load_faiss

        if self.manifest.model is None:
            raise IndexStateError(f"{self.folder}: built without a dense index (--no-dense); use --retriever bm25 or rebuild")
        index = load_faiss(self.folder / "dense")
        if index.ntotal != self.manifest.counts.passages or index.d != self.manifest.model.dimension:
            raise IndexStateError(f"{self.folder}: dense index does not match the manifest; {REBUILD}")
        return index

    @cached_property
    def query_encoder(self):  # -> QueryEncoder
        from rag.embedding import QueryEncoder

        encoder = QueryEncoder(self.folder / "dense")
        if self.manifest.model and encoder.dimension != self.manifest.model.dimension:
            raise IndexStateError(f"{self.folder}: query model dimension differs from the index; {REBUILD}")
        return encoder


def open_index(root: Path, *, model: str | None = None) -> Index:
    index = Index(root)
    index.check_model(model)
    return index
