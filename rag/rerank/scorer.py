"""The query-time reranker: a folder `rag rerank train` wrote, scored with onnxruntime + tokenizers
(no torch, no transformers). One logit per (query, passage); higher is more relevant."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import RerankError, reading
from rag.rerank.encode import PairEncoder
from rag.rerank.manifest import ONNX_FILE, RETRAIN, RerankManifest, load_manifest
from rag.rerank.settings import RerankSettings

CHUNK = 64  # pairs per onnxruntime call: bounds memory when top_n is large


def session(path: Path, threads: int):  # -> onnxruntime.InferenceSession
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_logits(path: Path, features: dict[str, np.ndarray], *, threads: int = 1) -> np.ndarray:
    """The logits of the ONNX reranker at `path` for a PairEncoder batch."""
    return session(path, threads).run(None, features)[0][:, 0]


class Reranker:
    def __init__(self, folder: Path, *, threads: int | None = None) -> None:
        self.folder = Path(folder).expanduser()
        self.manifest: RerankManifest = load_manifest(self.folder)
        self.settings: RerankSettings = self.manifest.settings
        with reading(self.folder / ONNX_FILE, "reranker model", RETRAIN, error=RerankError, failures=(Exception,)):
            self.session = session(self.folder / ONNX_FILE, threads or self.settings.threads)
            inputs = {i.name for i in self.session.get_inputs()}
            if inputs != {"input_ids", "attention_mask", "token_type_ids"}:
                raise ValueError(f"inputs {sorted(inputs)}, expected input_ids, attention_mask, token_type_ids")
        with reading(self.folder / "tokenizer.json", "reranker tokenizer", RETRAIN, error=RerankError, failures=(Exception,)):
            self.encoder = PairEncoder.of_folder(self.folder, self.settings.max_length)

    def score(self, query: str, passages: Sequence[str]) -> np.ndarray:
        """One float32 logit per passage, in order."""
        scores = [
            self.session.run(None, self.encoder.encode(query, passages[start : start + CHUNK]))[0][:, 0]
            for start in range(0, len(passages), CHUNK)
        ]
        return np.concatenate(scores).astype(np.float32) if scores else np.zeros(0, dtype=np.float32)
