"""Published baselines kept in `eval/baselines/<dataset>.json`, each row with its source, and the
reproduction check a dataset may declare (e.g. our BM25 within 0.01 nDCG@10 of Anserini's)."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rag.errors import EvalError
from rag.paths import PROJECT_ROOT


def default_baselines_dir() -> Path:
    return PROJECT_ROOT / "eval" / "baselines"


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str
    compare_with: str | None = Field(default=None, description="The retriever of ours this row is the counterpart of.")
    ndcg_10: float | None = Field(default=None, alias="ndcg@10")
    recall_100: float | None = Field(default=None, alias="recall@100")
    mrr_10: float | None = Field(default=None, alias="mrr@10")
    map: float | None = None
    method: str = ""
    source: str = Field(min_length=1, description="Where the figure was published.")

    def metric(self, name: str) -> float | None:
        return self.model_dump(by_alias=True).get(name)


class Reproduce(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retriever: str
    baseline: str
    metric: str = "ndcg@10"
    tolerance: float = Field(gt=0)


class BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    split: str
    about: str = ""
    baselines: list[Baseline]
    reproduce: Reproduce | None = None


class ReproductionCheck(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    retriever: str
    baseline: str
    metric: str
    ours: float
    published: float
    delta: float
    tolerance: float
    passed: bool


def load_baselines(dataset: str, split: str, *, folder: Path | None = None) -> BaselineFile | None:
    """The baselines of `dataset` (matched by folder name) for `split`, or None when none are kept."""
    path = (folder or default_baselines_dir()) / f"{dataset}.json"
    if not path.is_file():
        return None
    try:
        data = BaselineFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as error:
        if isinstance(error, ValidationError):
            first = error.errors()[0]
            field = ".".join(str(x) for x in first["loc"])
            raise EvalError(f"{path}: field '{field}': {first['msg']}") from error
        raise EvalError(f"{path}: not valid JSON ({error})") from error
    if data.reproduce and data.reproduce.baseline not in {b.name for b in data.baselines}:
        raise EvalError(f"{path}: field 'reproduce.baseline' names {data.reproduce.baseline!r}, which is not a baseline here")
    return data if data.split == split else None


def reproduction(data: BaselineFile | None, means: dict[str, dict[str, float]]) -> ReproductionCheck | None:
    """The declared reproduction check, if the retriever it names was run."""
    if data is None or data.reproduce is None or data.reproduce.retriever not in means:
        return None
    spec = data.reproduce
    published = next(b for b in data.baselines if b.name == spec.baseline).metric(spec.metric)
    if published is None:
        return None
    ours = means[spec.retriever][spec.metric]
    delta = ours - published
    return ReproductionCheck(
        retriever=spec.retriever, baseline=spec.baseline, metric=spec.metric, ours=ours, published=published,
        delta=delta, tolerance=spec.tolerance, passed=abs(delta) <= spec.tolerance,
    )
