"""Which sentence answers the question: a small listwise model over field-independent features of a
candidate (how much of the question it and its headings hold, what kind of sentence it is, where its
document ranks, whether it gives what was asked) — never its words. Trained here from the dev splits of
the gold sets (`python benchmarks/train_bottom.py`); the weights are data (`bottom_ranker.json`), read
once. Pure numpy: a question's candidates are scored by one matrix product."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from rag.answer.candidates import Candidate
from rag.answer.scoring import rank_weight
from rag.answer.selection import Ask, preferred
from rag.answer.settings import ScoringSettings

RANKER_FILE = Path(__file__).with_name("bottom_ranker.json")


# Few features, each field-independent: with ~100 training questions a larger set fits dev and loses on test.
NAMES = [
    "relevance", "overlap", "context_overlap", "phrase_overlap", "aspect_overlap", "asked_overlap", "density", "dense",
    "answer_form", "intent_match", "document_top", "rank_weight", "result", "negative", "section:caveats",
    "role:background", "role:conclusion", "short", "log_words", "preferred", "named_body", "exclusion", "kind:guideline",
    "kind:label", "qualifier_conflict",
]

def vectorize(candidate: Candidate, ask: Ask, scoring: ScoringSettings) -> np.ndarray:
    """The candidate's feature vector (it was scored from `candidate.features`)."""
    info = candidate.info
    features = candidate.features
    if features is None:
        raise ValueError("a candidate without scoring features cannot be ranked")
    values = {
        "relevance": candidate.relevance,
        "overlap": features.overlap,
        "context_overlap": features.context_overlap,
        "phrase_overlap": features.phrase_overlap,
        "aspect_overlap": features.aspect_overlap,
        "asked_overlap": features.asked_overlap,
        "density": features.density,
        "dense": features.dense,
        "answer_form": features.answer_form,
        "intent_match": float(candidate.intent_match),
        "document_top": float(features.document_rank == 0),
        "rank_weight": rank_weight(features.position, features.document_rank, scoring),
        "result": float(info.result),
        "negative": float(info.negative),
        "section:caveats": float(info.section == "caveats"),
        "role:background": float(info.role == "background"),
        "role:conclusion": float(info.role == "conclusion"),
        "short": float(features.short),
        "log_words": math.log1p(len(info.text.split())) / 4,
        "preferred": float(preferred(candidate, ask)),  # of the kind the question asks for (a body's statement, a label)
        "named_body": float(bool(candidate.body and candidate.body in ask.bodies)),
        "exclusion": float(info.exclusion and "eligibility" not in ask.intents),  # who was excluded is a caveat
        "kind:guideline": float(candidate.kind == "guideline"),
        "kind:label": float(candidate.kind == "label"),
        "qualifier_conflict": float(features.qualifier_conflict),
    }
    return np.array([values[name] for name in NAMES], dtype=np.float64)


class BottomRanker:
    def __init__(self, weights: np.ndarray) -> None:
        if weights.shape != (len(NAMES),):
            raise ValueError(f"ranker weights have {weights.shape[0]} features, this rag has {len(NAMES)}")
        self.weights = weights

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        return vectors @ self.weights if len(vectors) else np.zeros(0)

    def to_json(self, **meta: object) -> str:
        return json.dumps({"features": NAMES, "weights": [round(float(w), 6) for w in self.weights], **meta}, indent=1)


@cache
def load_ranker(path: Path = RANKER_FILE) -> BottomRanker | None:
    """The trained ranker, or None when there is none (or it was trained for other features):
    selection then falls back to the hand-set relevance."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("features") != NAMES:
        return None
    return BottomRanker(np.asarray(data["weights"], dtype=np.float64))


def train(groups: Sequence[tuple[np.ndarray, np.ndarray]], *, l2: float = 0.001) -> BottomRanker:
    """Listwise training: for each question, maximise the softmax probability mass of its good
    sentences among its candidates (labels 1/0), with L2 regularisation; L-BFGS (scipy)."""
    from scipy.optimize import minimize

    usable = [(x, y) for x, y in groups if len(x) and y.any()]

    def loss(weights: np.ndarray) -> tuple[float, np.ndarray]:
        total = 0.5 * l2 * float(weights @ weights)
        gradient = l2 * weights
        for x, y in usable:
            logits = x @ weights
            top = logits.max()
            p = np.exp(logits - top)
            norm = p.sum()
            p /= norm
            good = np.log(np.sum(np.exp(logits[y > 0] - top)))
            total -= (good - np.log(norm)) / len(usable)
            q = np.where(y > 0, np.exp(logits - top), 0.0)
            q /= q.sum()
            gradient += x.T @ (p - q) / len(usable)
        return total, gradient

    result = minimize(loss, np.zeros(len(NAMES)), jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return BottomRanker(result.x)


def top1(ranker: BottomRanker, groups: Sequence[tuple[np.ndarray, np.ndarray]]) -> float:
    """Share of questions whose best-scored candidate is a good one."""
    usable = [(x, y) for x, y in groups if len(x)]
    return sum(bool(y[int(np.argmax(ranker.scores(x)))]) for x, y in usable) / len(usable) if usable else 0.0
