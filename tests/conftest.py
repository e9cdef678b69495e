"""Session fixtures: the packaged model (loaded once), the fixture corpus under tests/data/, and one
dense + BM25 index of it built once into a temporary folder and shared by every test that needs it.

No test touches `indexes/default` or the default corpus by accident: an autouse fixture points
RAG_INDEX and RAG_CORPUS at paths under the test's own tmp_path (subprocesses inherit them).
"""

from __future__ import annotations

import os

# Before anything imports huggingface_hub / transformers: never try the network.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
DATA = TESTS / "data"
FIXTURE_CORPUS = DATA / "corpus"
BROKEN_CORPUS = DATA / "broken_corpus"
QUERIES = DATA / "queries.jsonl"
PROJECT_ROOT = TESTS.parent
RAG = Path(sys.executable).with_name("rag")  # the console script of the venv running the tests


@dataclass(frozen=True)
class BuiltIndex:
    """The session's index of the fixture corpus and the report of the build that made it."""

    root: Path
    report: object  # rag.index.build.BuildReport

    @property
    def folder(self) -> Path:
        from rag.index.build import current_build

        return current_build(self.root)


# --------------------------------------------------------------------------- the model


@pytest.fixture(scope="session")
def model_dir() -> Path:
    from rag.embedding import DEFAULT_MODEL, resolve_model

    return resolve_model(DEFAULT_MODEL)


@pytest.fixture(scope="session")
def st_model(model_dir: Path):
    """The packaged sentence-transformers model, loaded once (importing it costs ~8 s here)."""
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(model_dir), device="cpu")


@pytest.fixture(scope="session")
def max_seq_length(model_dir: Path) -> int:
    from rag.embedding import max_seq_length as read

    return read(model_dir)


@pytest.fixture(scope="session")
def hf_tokenizer(model_dir: Path):
    """The model's own tokenizer, special tokens on, no truncation: counts what the model would see."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="session")
def count_tokens(model_dir: Path) -> Callable[[str], int]:
    from rag.embedding import token_counter

    return token_counter(model_dir)


# --------------------------------------------------------------------------- fixture corpus + index


@pytest.fixture(scope="session")
def queries() -> list[dict]:
    return [json.loads(line) for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def fixture_index(tmp_path_factory: pytest.TempPathFactory) -> BuiltIndex:
    """The one full dense + BM25 build of the session (embeds every fixture passage once)."""
    from rag.index.build import BuildSettings, build_index

    root = tmp_path_factory.mktemp("fixture-index") / "index"
    report = build_index([FIXTURE_CORPUS], root, BuildSettings())
    return BuiltIndex(root=root, report=report)


@pytest.fixture(autouse=True)
def isolated_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default index and corpus point into tmp_path, so nothing reads or writes indexes/default."""
    monkeypatch.setenv("RAG_INDEX", str(tmp_path / "default-index"))
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path / "default-corpus"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("RAG_DEBUG", raising=False)


# --------------------------------------------------------------------------- helpers as fixtures


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    """A failed command: non-zero exit, no traceback, and one `error:` line naming the problem. It is
    the last line on stderr; a build may have drawn its progress bars above it (also on stderr)."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]



def _clone(source: Path, target: Path) -> Path:
    """Copy an index root with hard links (cheap: model.onnx is ~90 MB). Safe because the library
    replaces files by rename and tests change files only through `replace_file`."""
    shutil.copytree(source, target, copy_function=os.link)
    return target


def _replace_file(path: Path, data: bytes) -> None:
    """Write `data` to `path` without touching other hard links of the old file."""
    path.unlink()
    path.write_bytes(data)


@pytest.fixture
def clone_index(tmp_path: Path) -> Callable[[Path, str], Path]:
    def clone(root: Path, name: str = "clone") -> Path:
        return _clone(root, tmp_path / name)

    return clone


@pytest.fixture(scope="session")
def replace_file() -> Callable[[Path, bytes], None]:
    return _replace_file


@pytest.fixture(scope="session")
def rag() -> Callable[..., subprocess.CompletedProcess]:
    """Run the installed `rag` console script; returns the completed process (text mode)."""

    def run(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return subprocess.run([str(RAG), *args], capture_output=True, text=True, timeout=timeout, env=os.environ.copy())

    return run


@pytest.fixture
def eval_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Evaluation indexes in this test's own folder (`RAG_EVAL_INDEXES`), never the project's cache."""
    monkeypatch.setenv("RAG_EVAL_INDEXES", str(tmp_path / "eval-indexes"))
    return tmp_path / "eval-indexes"


SCIFACT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "scifact"


def write_scifact_sample(folder: Path, *, test_queries: int, train_queries: int = 0, first_documents: int) -> Path:
    """A small BEIR folder from ../shared/data/scifact: the first `test_queries` test claims (and `train_queries`
    train claims) with their judgements, their relevant abstracts and the first `first_documents` abstracts."""
    if not (SCIFACT / "corpus.jsonl").exists():
        pytest.skip("../shared/data/scifact not present")
    (folder / "qrels").mkdir(parents=True)
    splits = {"test": test_queries, "train": train_queries}
    judged: dict[str, list[list[str]]] = {}
    for split, count in splits.items():
        if count:
            rows = [line.split("\t") for line in (SCIFACT / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]]
            qids = list(dict.fromkeys(q for q, _, _ in rows))[:count]
            judged[split] = [r for r in rows if r[0] in qids]
    wanted = {d for rows in judged.values() for _, d, _ in rows}
    asked = {q for rows in judged.values() for q, _, _ in rows}
    corpus = [json.loads(line) for line in (SCIFACT / "corpus.jsonl").read_text().splitlines()]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for i, r in enumerate(corpus) if i < first_documents or r["_id"] in wanted))
    queries = [json.loads(line) for line in (SCIFACT / "queries.jsonl").read_text().splitlines()]
    (folder / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries if q["_id"] in asked))
    for split, rows in judged.items():
        (folder / "qrels" / f"{split}.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join("\t".join(r) + "\n" for r in rows))
    return folder
