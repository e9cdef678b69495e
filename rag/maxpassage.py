"""Max-passage scoring: a document ranked by the scores of its passages (windows of a long document).

A document scores

    score(d) = max_p s(p) + rest_share * (sum_p s(p) - max_p s(p))

over its passages p in the ranking: its best passage (MaxP, Dai & Callan 2019) plus a small share of
the others (rest_share 0 is plain MaxP; the SumP end of the range rewards a document relevant in many
windows). Only passages the ranking holds count: a retriever asked for k documents reads k x the
mean passages per document (rag.retrievers.MaxPassageRetriever), and a passage below that depth adds
nothing. Dense scores are cosines, which can be negative: a negative passage then lowers its
document's score when rest_share > 0.

A document hit keeps the id of its best passage (what it would cite) and carries the document score.
`fuse_documents` fuses two document rankings (BM25's, dense's) by document, so a document whose best
BM25 window and best dense window differ still gets both; on a one-passage-per-document index every
function here returns what passage-level search and fusion return.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from rag.fusion import FusionSettings, fuse
from rag.models import Hit

MAXP_FILE = "maxp.json"


class MaxPassageSettings(BaseModel):
    """How the max-passage retrievers (bm25-maxp, dense-maxp, hybrid-maxp) score a document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bm25_rest_share: float = Field(
        default=0.0, ge=0, le=1, description="BM25 side: share of the document's other passages' scores added to its best one (0: MaxP)."
    )
    dense_rest_share: float = Field(
        default=0.0, ge=0, le=1, description="Dense side: share of the document's other passages' scores added to its best one (0: MaxP)."
    )
    fusion: FusionSettings = Field(
        default_factory=FusionSettings, description="How hybrid-maxp fuses the BM25 and dense document rankings (default RRF)."
    )
    tuned_on: str | None = Field(default=None, description="Where the shares and fusion were chosen, e.g. 'scifact train (809 queries)'.")
    tuned_metric: dict[str, float] = Field(default_factory=dict, description="The tuning split's nDCG@10 of what was chosen, for the record.")


def aggregate(hits: Sequence[Hit], *, rest_share: float = 0.0) -> list[Hit]:
    """One hit per document, best first: its best passage's id, scored as the module docstring says.
    Equal scores keep the order in which the documents first appear in `hits`; with rest_share 0 on a
    best-first ranking that is exactly the order of their best passages (as rag.eval.runs.doc_run)."""
    if not 0 <= rest_share <= 1:
        raise ValueError(f"rest_share={rest_share}: use a share between 0 and 1")
    best: dict[str, Hit] = {}
    total: dict[str, float] = {}
    for hit in hits:
        held = best.get(hit.doc_id)
        if held is None or hit.score > held.score:
            best[hit.doc_id] = hit
        total[hit.doc_id] = total.get(hit.doc_id, 0.0) + hit.score
    order = {doc: position for position, doc in enumerate(best)}  # first appearance
    scores = {
        doc: hit.score if rest_share == 0 else hit.score + rest_share * (total[doc] - hit.score) for doc, hit in best.items()
    }
    ranked = sorted(best, key=lambda doc: (-scores[doc], order[doc]))
    return [
        Hit(passage_id=best[doc].passage_id, doc_id=doc, score=scores[doc], rank=rank) for rank, doc in enumerate(ranked, start=1)
    ]


def fuse_documents(rankings: Sequence[Sequence[Hit]], k: int, settings: FusionSettings) -> list[Hit]:
    """Fuse document rankings (one hit per document, as `aggregate` returns) by document id, with
    rag.fusion's RRF or convex fusion; each fused hit cites the passage of the first ranking that holds
    the document. Ties are broken by document id."""
    cited: dict[str, str] = {}
    keyed: list[list[Hit]] = []
    for ranking in rankings:
        for hit in ranking:
            cited.setdefault(hit.doc_id, hit.passage_id)
        keyed.append([hit.model_copy(update={"passage_id": hit.doc_id}) for hit in ranking])
    return [hit.model_copy(update={"passage_id": cited[hit.doc_id]}) for hit in fuse(keyed, k, settings)]
