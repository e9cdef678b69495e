"""Gather the passages an answer is made from: BM25 on the expanded question (scored once; the same
score vector, masked, ranks each named or major body's passages; on a Milvus index, a search filtered to the body) and dense on the question, fused by
RRF; then a per-kind share of the budget (so trials are not crowded out by guidelines, or the
reverse), a per-document cap, the body passages, and the results passages of the best study documents.
`AskRetriever` is this stage as a retriever (`rag eval retrieval --retriever ask`)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rag.answer.classify import Classifier
from rag.answer.question import Question
from rag.answer.settings import RetrievalSettings
from rag.fusion import RRF_K, reciprocal_rank_fusion
from rag.index.load import Index
from rag.knowledge import Knowledge
from rag.models import Document, Hit, Passage

STUDY_KINDS = ("trial", "abstract")
OTHER_PASSAGES_SHARE = 0.3  # weight of a document's 2nd passage in its rank


@dataclass(frozen=True)
class Gathered:
    fused: list[Hit]  # the fused ranking (before quotas)
    ranked: list[tuple[int, Passage]]  # (position among passages of its kind, passage), best first
    documents: dict[str, Document]
    document_rank: dict[str, int]  # doc id -> 0-based rank of the document
    top_dense: float  # best dense similarity (1.0 without a dense index)
    dense_scores: dict[str, float] = field(default_factory=dict)  # passage id -> cosine, for the dense top hits


def gather(
    question: Question, index: Index, knowledge: Knowledge, settings: RetrievalSettings, *, major_bodies: list[str], classifier: Classifier
) -> Gathered:
    scored = index.lexical(index.tokenize(question.query))  # scored once; ranked whole and per body
    lexical = _hits(index, scored.top(settings.depth))
    dense: list[Hit] = []
    top_dense = 1.0
    if index.manifest.model is not None:
        pairs = index.dense_top(question.dense_query, settings.depth)
        dense = _hits(index, pairs)
        top_dense = pairs[0][1] if pairs else 0.0
        if question.prior_named:  # how close the corpus comes is measured on the question as asked, prior therapies included
            top_dense = max([top_dense, *(s for _, s in index.dense_top(question.text, 1))])
    fused = reciprocal_rank_fusion([lexical, dense], 2 * settings.depth)
    lead = _body_passages(question, index, scored, settings, major_bodies)
    documents = index.store.documents_by_ids([h.doc_id for h in fused[: settings.depth]] + [h.doc_id for h in lead])
    positioned = _within_budget(fused, lead, documents, settings)
    passages = index.store.by_ids([h.passage_id for _, h in positioned])
    ranked = [(position, passage) for (position, _), passage in zip(positioned, passages, strict=True)]
    ranked = _expand(ranked, index, documents, settings, classifier)
    document_rank = _document_rank(fused, lead)
    ranked = _whole_documents(ranked, index, document_rank, settings)
    return Gathered(fused, ranked, documents, document_rank, top_dense, {h.passage_id: h.score for h in dense})


def _hits(index: Index, pairs: list[tuple[int, float]]) -> list[Hit]:
    passages = index.store.by_rows([r for r, _ in pairs])
    return [Hit(passage_id=p.id, doc_id=p.doc_id, score=s, rank=i) for i, (p, (_, s)) in enumerate(zip(passages, pairs, strict=True), start=1)]


def _body_passages(question: Question, index: Index, scored, settings: RetrievalSettings, major_bodies: list[str]) -> list[Hit]:
    """The best passages of each body the question names, then of each major body: read even when
    other passages outrank them (whether a sentence of them is quoted is decided per sentence)."""
    wanted = [(b, settings.named_body_passages, False) for b in question.bodies]
    wanted += [(b, settings.major_body_passages, True) for b in major_bodies if b not in question.bodies]
    found: list[tuple[bool, float, int]] = []
    for body, count, major in wanted:
        if count <= 0:
            continue
        found.extend((major, -score, row) for row, score in scored.top_of_body(body, count))
    found.sort()
    return _hits(index, [(row, -score) for _, score, row in found])


def _within_budget(fused: list[Hit], lead: list[Hit], documents: dict[str, Document], settings: RetrievalSettings) -> list[tuple[int, Hit]]:
    """Fused hits in order, each kind held to its share of the budget while other kinds still have
    hits to offer, one document to `per_document` passages; each hit with its rank among its own kind.
    Then the body passages not already in, ranked among themselves."""
    available: dict[str, int] = defaultdict(int)
    for hit in fused:
        if hit.doc_id in documents:
            available[documents[hit.doc_id].kind] += 1
    quota: dict[str, int] = {}
    for kind, count in available.items():
        share = settings.kind_shares.get(kind)
        quota[kind] = count if share is None else max(1, round(share * settings.budget))
    # what a kind cannot use goes to the kinds that have more to offer
    spare = settings.budget - sum(min(quota[k], available[k]) for k in quota)
    for kind in sorted(quota, key=lambda k: -available[k]):
        if spare <= 0:
            break
        extra = min(spare, available[kind] - quota[kind])
        if extra > 0:
            quota[kind] += extra
            spare -= extra
    taken: dict[str, int] = defaultdict(int)
    per_document: dict[str, int] = defaultdict(int)
    out: list[tuple[int, Hit]] = []
    for hit in fused:
        document = documents.get(hit.doc_id)
        if document is None or len(out) >= settings.budget:
            continue
        kind = document.kind
        if taken[kind] >= quota.get(kind, 0) or per_document[hit.doc_id] >= settings.per_document:
            continue
        out.append((taken[kind], hit))
        taken[kind] += 1
        per_document[hit.doc_id] += 1
    included = {h.passage_id for _, h in out}
    for rank, hit in enumerate(lead):
        if hit.passage_id not in included and per_document[hit.doc_id] < settings.per_document:
            out.append((rank, hit))
            included.add(hit.passage_id)
            per_document[hit.doc_id] += 1
    return out


def _expand(
    ranked: list[tuple[int, Passage]], index: Index, documents: dict[str, Document], settings: RetrievalSettings, classifier: Classifier
) -> list[tuple[int, Passage]]:
    """The results passages of the best study documents join, at the rank of the document's first hit
    (a relevant trial's primary results are relevant even when the question does not use their words)."""
    present = {p.id for _, p in ranked}
    studies: list[tuple[int, str]] = []
    for position, passage in ranked:
        if documents[passage.doc_id].kind in STUDY_KINDS and passage.doc_id not in {d for _, d in studies}:
            studies.append((position, passage.doc_id))
    out = list(ranked)
    for number, (position, doc_id) in enumerate(studies[: settings.expand_documents]):
        added = 0
        for passage in index.store.passages_of(doc_id):
            if passage.id in present or (number > 0 and added >= settings.expand_passages):
                continue
            role = classifier.heading_role(passage.section)
            if role is not None and role[0] == "result":
                out.append((position, passage))
                present.add(passage.id)
                added += 1
    return sorted(out, key=lambda pair: pair[0])


def _whole_documents(
    ranked: list[tuple[int, Passage]], index: Index, document_rank: dict[str, int], settings: RetrievalSettings
) -> list[tuple[int, Passage]]:
    """Every passage of the best documents joins (documents first, then sentences within them: the
    answer to a question about one trial record may sit in a passage the question's words miss),
    ranked after the retrieved ones."""
    best = [d for d in sorted(document_rank, key=document_rank.get)[: settings.whole_documents]]
    present = {p.id for _, p in ranked}
    last = max((position for position, _ in ranked), default=0) + 1
    out = list(ranked)
    for doc_id in best:
        for passage in index.store.passages_between(doc_id, 0, settings.whole_passages - 1):
            if passage.id not in present:
                out.append((last, passage))
                present.add(passage.id)
    return out


def _document_rank(fused: list[Hit], lead: list[Hit]) -> dict[str, int]:
    """Documents by their best passage, plus a share of their second (a document two good passages
    point to ranks above one with a single lucky passage, but a long document of many middling
    passages does not win by length)."""
    per_doc: dict[str, list[float]] = defaultdict(list)
    for hit in fused:
        per_doc[hit.doc_id].append(1.0 / (RRF_K + hit.rank))
    mass: dict[str, float] = defaultdict(float)
    for doc_id, values in per_doc.items():
        mass[doc_id] = values[0] + OTHER_PASSAGES_SHARE * sum(values[1:2])
    for hit in lead:
        mass.setdefault(hit.doc_id, 0.0)
    order = sorted(mass, key=lambda d: (-mass[d], d))
    return {doc_id: rank for rank, doc_id in enumerate(order)}


class AskRetriever:
    """What `rag ask` reads, as a retriever: the question prepared (shorthand, drug names, bodies), then
    the gathered passages — documents by their rank, passages within by theirs — then the rest of the
    fused ranking. `rag eval retrieval --retriever ask` measures it."""

    name = "ask"

    def __init__(self, index: Index, settings: RetrievalSettings | None = None) -> None:
        from rag.knowledge import load_vocabulary

        self.index = index
        self.knowledge = Knowledge(load_vocabulary(), index.profile.summary.declared)
        self.classifier = Classifier(self.knowledge)
        self.settings = settings or RetrievalSettings()

    def search(self, query: str, k: int) -> list[Hit]:
        from rag.answer.question import prepare_question

        if k < 1:
            from rag.errors import QueryError

            raise QueryError(f"k={k}: ask for at least 1 hit")
        question = prepare_question(query, self.knowledge, self.index.profile, vocabulary=self.index.lexicon.vocabulary, tokenize=self.index.tokenize)
        gathered = gather(question, self.index, self.knowledge, self.settings, major_bodies=list(self.knowledge.field.major_bodies),
                          classifier=self.classifier)
        rank = gathered.document_rank
        read = sorted(gathered.ranked, key=lambda pair: (rank.get(pair[1].doc_id, len(rank)), pair[0]))
        ordered: list[tuple[str, str]] = list(dict.fromkeys((p.id, p.doc_id) for _, p in read))
        seen = {pid for pid, _ in ordered}
        ordered += [(h.passage_id, h.doc_id) for h in gathered.fused if h.passage_id not in seen]
        return [Hit(passage_id=pid, doc_id=doc, score=1.0 / (i + 1), rank=i + 1) for i, (pid, doc) in enumerate(ordered[:k])]
