"""Chunking and embedding on a Ray cluster (Ray Data over actors): the same passages and the same
vectors as a local build, so the embedding cache, the manifest and the index do not change.

`address` is a running cluster's address (`ray start --head --port 6380` prints it: HOST:6380) or
"local" (a cluster started inside this process, gone when it ends). Order is kept (Ray Data's
`preserve_order`), and each encoder call gets exactly the batch a local build would encode, so the
vectors are those of the local loop. Workers need this package importable: on one machine the driver
passes its own import path; on a real cluster install `rag-clinical` on every node.

Ray moves batches between processes with its own serialisation; nothing of it is stored: passages
travel as JSON and come back as rag.models.Passage, vectors go into the embedding cache's .npy shards.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from rag.chunking import ChunkSettings
from rag.errors import RagError
from rag.models import Document, Passage

ENCODER_ACTORS = 2  # encoder actors (each loads the model once); the cluster's CPUs bound the real parallelism
_WORKER_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "RAY_USAGE_STATS_ENABLED": "0"}


class DistributedError(RagError):
    """The Ray cluster could not be reached or failed a task."""


def _connect(address: str) -> None:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if address == "local" or address.split(":")[0] in ("127.0.0.1", "localhost"):
        # a head on the loopback address: without this the driver looks for it on the host's own IP and waits forever
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        import ray
    except ImportError as error:
        raise DistributedError("--ray needs Ray Data: pip install 'rag-clinical[ray]' (ray[data]==2.60.0)") from error
    if ray.is_initialized():
        return
    package_root = str(Path(__file__).resolve().parents[2])  # workers import the driver's rag
    path = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p)
    runtime_env = {"env_vars": {**_WORKER_ENV, "PYTHONPATH": path}}
    try:
        if address == "local":
            ray.init(num_cpus=os.cpu_count(), include_dashboard=False, runtime_env=runtime_env, log_to_driver=False,
                     logging_level="ERROR")
        else:
            ray.init(address=address, runtime_env=runtime_env, log_to_driver=False, logging_level="ERROR")
    except Exception as error:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ValueError...
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DistributedError(f"Ray cluster {address!r}: cannot connect ({first}); start one with "
                               "`ray start --head --port 6380` and pass --ray HOST:6380, or --ray local") from error
    import logging

    import ray.data

    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-dataset INFO lines would fill the build's output
    ray.data.DataContext.get_current().execution_options.preserve_order = True
    ray.data.DataContext.get_current().enable_progress_bars = False


class _Chunker:
    """A Ray actor: loads the model's token counter once, chunks documents (JSON in, JSON out)."""

    def __init__(self, model_dir: str | None, chunking: str) -> None:
        from rag.embedding import token_counter

        self.count = token_counter(Path(model_dir)) if model_dir else (lambda text: len(text.split()))
        self.settings = ChunkSettings.model_validate_json(chunking)

    def __call__(self, batch: dict) -> dict:
        from rag.chunking import chunk_document

        out = []
        for raw in batch["document"]:
            document = Document.model_validate_json(raw)
            try:
                passages = chunk_document(document, self.count, self.settings)
            except ValueError as error:
                return {"passages": np.array([f"error:{document.source_path}: {error}"], dtype=object)}
            out.append("\n".join(p.model_dump_json() for p in passages))
        return {"passages": np.array(out, dtype=object)}


class _Encoder:
    """A Ray actor: loads the sentence-transformers model once, encodes one cache batch per call."""

    def __init__(self, name: str, model_dir: str, batch_size: int) -> None:
        from rag.embedding import PassageEncoder

        self.encoder = PassageEncoder(name, Path(model_dir), batch_size=batch_size)

    def __call__(self, batch: dict) -> dict:
        vectors = [self.encoder.encode(list(texts)) for texts in batch["texts"]]
        return {"batch": batch["batch"], "vectors": np.array([v.tobytes() for v in vectors], dtype=object)}


def chunk_on_ray(documents: Sequence[Document], model_dir: Path | None, chunking: ChunkSettings, *, address: str) -> list[Passage]:
    """Every document's passages, in document order, chunked by actors of the cluster at `address`."""
    _connect(address)
    import ray.data

    items = [{"document": d.model_dump_json()} for d in documents]
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 4 * ENCODER_ACTORS)).map_batches(
        _Chunker, fn_constructor_kwargs={"model_dir": str(model_dir) if model_dir else None, "chunking": chunking.model_dump_json()},
        batch_size=16, compute=ray.data.ActorPoolStrategy(min_size=1, max_size=ENCODER_ACTORS), num_cpus=1,
    )
    passages: list[Passage] = []
    for row in dataset.iter_rows():
        text = row["passages"]
        if text.startswith("error:"):
            from rag.errors import CorpusError

            raise CorpusError(text.removeprefix("error:"))
        passages.extend(Passage.model_validate_json(line) for line in text.splitlines() if line)
    return passages


def embed_on_ray(
    batches: list[list[str]], rows: list[list[int]], encoder, *, address: str  # encoder: rag.embedding.PassageEncoder
) -> Iterator[tuple[list[int], np.ndarray]]:
    """(rows, vectors) per batch, in order: each batch encoded whole by one encoder actor, as the local
    loop encodes it (same padding groups, so the same floats)."""
    _connect(address)
    import ray.data

    items = [{"batch": i, "texts": texts} for i, texts in enumerate(batches)]
    dataset = ray.data.from_items(items, override_num_blocks=min(len(items), 8 * ENCODER_ACTORS)).map_batches(
        _Encoder, fn_constructor_kwargs={"name": encoder.name, "model_dir": str(encoder.model_dir), "batch_size": encoder.batch_size},
        batch_size=1, compute=ray.data.ActorPoolStrategy(min_size=1, max_size=ENCODER_ACTORS), num_cpus=1,
    )
    dimension = encoder.dimension
    expected = 0
    for row in dataset.iter_rows():
        number = int(row["batch"])
        if number != expected:
            raise DistributedError(f"Ray returned embedding batch {number} where {expected} was expected; build again")
        vectors = np.frombuffer(row["vectors"], dtype=np.float32).reshape(-1, dimension)
        if len(vectors) != len(rows[number]):
            raise DistributedError(f"Ray returned {len(vectors)} vectors for batch {number} of {len(rows[number])} passages; build again")
        expected += 1
        yield rows[number], vectors.copy()
