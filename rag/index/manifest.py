"""`manifest.json`: what an index folder holds and how it was built. Loading checks it."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.bm25 import BM25Settings
from rag.chunking import ChunkSettings
from rag.errors import IndexStateError
from rag.index.integrity import REBUILD, Artifact
from rag.tokenize import TokenizerSettings

FORMAT_VERSION = 3  # 2: field profile, body and kind columns; 3: build id, artifact sizes and checksums
MANIFEST = "manifest.json"


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dimension: int
    max_seq_length: int
    similarity: str = "cosine"
    faiss: str = Field(description="faiss index type: flat, hnsw, ivfsq8 or ivfpq.")
    faiss_settings: str = Field(
        default="", description="Structure and query-time settings stored in vectors.faiss (rag.dense.describe_faiss), e.g. 'IVF4000,SQ8 nprobe=64'."
    )


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    documents: int
    passages: int
    vocabulary: int
    embedded: int = Field(description="Passages embedded in this build (the rest came from the cache).")


class Manifest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    build_id: str = Field(description="Unique id of the build; its passage store carries the same id.")
    created: str
    sources: list[str]
    corpus_hash: str = Field(description="sha256 over every document's content, in id order.")
    model: ModelInfo | None = Field(description="None when the index was built --no-dense.")
    chunking: ChunkSettings
    tokenizer: TokenizerSettings
    bm25: BM25Settings
    counts: Counts
    problems: list[str] = Field(default_factory=list, description="Source files that could not be read.")
    field_file: str | None = Field(default=None, description="The field profile file (field.yaml) the build read.")
    artifacts: dict[str, Artifact] = Field(
        default_factory=dict, description="Every file of the build (path inside the build folder) with its size and sha256."
    )


def write_manifest(manifest: Manifest, folder: Path) -> None:
    (folder / MANIFEST).write_text(manifest.model_dump_json(indent=2), encoding="utf-8")


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise IndexStateError(f"{path}: missing; {REBUILD}") from error
    except (OSError, ValueError) as error:
        raise IndexStateError(f"{path}: corrupt ({error}); {REBUILD}") from error
    if not isinstance(raw, dict):
        raise IndexStateError(f"{path}: corrupt (not a JSON object); {REBUILD}")
    version = raw.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexStateError(f"{path}: format version {version!r}, this rag reads {FORMAT_VERSION}; {REBUILD}")
    if not raw.get("artifacts"):
        raise IndexStateError(f"{path}: records no artifacts (sizes and checksums); {REBUILD}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        raise IndexStateError(f"{path}: field '{field}' {first['msg'].lower()}; {REBUILD}") from error
