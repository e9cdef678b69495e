"""An index on Milvus: passages with their metadata, a BM25 sparse field and the dense vectors in one
collection, so a cluster serves what one machine cannot hold. The composer does not know: a
`MilvusIndex` answers what `rag.index.load.Index` answers (manifest, store, lexicon, profile,
tokenize, bm25_top / lexical / dense_top), and adds `hybrid_top`, one `hybrid_search` call fused by
`RRFRanker(60)`.

Collections of an index named NAME (`milvus://HOST:PORT/NAME`), TAG = 12 hex of the build id:
    NAME_current          one row: the TAG of the active build (swapped when a build completes; the build it
                          replaced is kept for its readers until the next build completes)
    NAME_TAG_passages     row (primary key; the local build's row numbers), id, doc_id, section, text,
                          ordinal, page, body (canonical), current (not superseded), terms -> sparse
                          (BM25 Function), dense (FLOAT_VECTOR, inner product on unit vectors = cosine)
    NAME_TAG_documents    id, record (the Document as JSON, sections left out), body, kind, year, superseded_by
    NAME_TAG_meta         key -> JSON (in parts under 60 kB): the manifest, the field profile summary and
                          tables, and the lexicon (each term's passage count) the composer weighs terms by

BM25 tokens are ours: the `terms` field holds the passage's tokens from `rag.tokenize` (the manifest's
tokenizer settings), each written as the hex of its UTF-8 so that Milvus's standard analyzer (`\\w+`,
lower case) keeps every token whole and unchanged; queries are encoded the same way. Term counts,
document lengths and so the BM25 statistics are then those of the local index; Milvus scores with
Lucene's idf, log(1 + (N - n + 0.5) / (n + 0.5)), which the manifest records (bm25.variant "lucene").
Collections without vectors of their own carry a 2-dimensional constant vector: Milvus requires one.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

from rag.bm25 import BM25Settings
from rag.errors import IndexStateError, RagError
from rag.index.location import MilvusLocation, parse_milvus
from rag.index.manifest import Manifest, ModelInfo
from rag.models import Document, Passage

PART = 60_000  # characters of JSON per meta row (ASCII, so bytes too); VARCHAR holds at most 65,535
TEXT_MAX = 65_535
INSERT_BATCH = 1_000
QUERY_WINDOW = 16_384  # most rows one Milvus query or search returns
RRF_K = 60
_UNUSED = [1.0, 0.0]  # the constant vector of collections that have none
_TAG = re.compile(r"^[0-9a-f]{12}$")
REBUILD_MILVUS = "rebuild with `rag index build --backend milvus --uri URI`"


def encode_terms(tokens: Iterable[str]) -> str:
    """Tokens as Milvus's standard analyzer will split them back: hex of each token's UTF-8, spaces between."""
    return " ".join(t.encode("utf-8").hex() for t in tokens)


def _literal(value: object) -> str:
    """A value inside a Milvus filter expression (strings double-quoted with JSON escapes)."""
    return json.dumps(value, ensure_ascii=False)


def connect(location: MilvusLocation):  # -> pymilvus.MilvusClient
    try:
        from pymilvus import MilvusClient
    except ImportError as error:
        raise IndexStateError(f"{location}: a Milvus index needs pymilvus: pip install 'rag-clinical[milvus]'") from error
    # pymilvus pings every 10 s even when idle; a gRPC server's default policy (Milvus Lite's) allows one
    # idle ping per 5 minutes and answers more with GOAWAY "too many pings", leaving a dead channel behind
    keepalive = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": 0}
    try:
        if location.client_uri.startswith(("http://", "https://")):
            return MilvusClient(location.client_uri, grpc_options=keepalive)
        return MilvusClient(location.client_uri)
    except Exception as error:  # noqa: BLE001 - MilvusException, grpc errors, OSError
        raise IndexStateError(f"{location}: cannot reach Milvus ({_first_line(error)}); is the server running?") from error


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", "") or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Collections:
    def __init__(self, name: str, tag: str) -> None:
        self.passages = f"{name}_{tag}_passages"
        self.documents = f"{name}_{tag}_documents"
        self.meta = f"{name}_{tag}_meta"

    def all(self) -> tuple[str, str, str]:
        return self.passages, self.documents, self.meta


# --------------------------------------------------------------------------- writing


def _create_schemas(client, collections: _Collections, dimension: int | None, bm25: BM25Settings, index_type: str) -> None:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, description="rag passages")
    schema.add_field("row", DataType.INT64, is_primary=True)
    schema.add_field("id", DataType.VARCHAR, max_length=1024)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=1024)
    schema.add_field("section", DataType.VARCHAR, max_length=8192)
    schema.add_field("text", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("ordinal", DataType.INT64)
    schema.add_field("page", DataType.INT64, nullable=True)
    schema.add_field("body", DataType.VARCHAR, max_length=1024, nullable=True)
    schema.add_field("current", DataType.BOOL)
    schema.add_field("terms", DataType.VARCHAR, max_length=TEXT_MAX, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    if dimension is not None:
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["terms"], output_field_names=["sparse"]))
    params = client.prepare_index_params()
    params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params={"bm25_k1": bm25.k1, "bm25_b": bm25.b})
    if dimension is not None:
        params.add_index("dense", index_type=index_type, metric_type="IP", **({"params": {"M": 32, "efConstruction": 200}} if index_type == "HNSW" else {}))
    client.create_collection(collections.passages, schema=schema, index_params=params)

    schema = client.create_schema(auto_id=False, description="rag documents")
    schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=1024)
    schema.add_field("record", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("body", DataType.VARCHAR, max_length=1024, nullable=True)
    schema.add_field("kind", DataType.VARCHAR, max_length=64)
    schema.add_field("year", DataType.INT64, nullable=True)
    schema.add_field("superseded_by", DataType.VARCHAR, max_length=1024, nullable=True)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    _create_with_unused(client, collections.documents, schema)

    _create_key_value(client, collections.meta)


def _create_key_value(client, name: str) -> None:
    from pymilvus import DataType

    schema = client.create_schema(auto_id=False, description="rag key -> JSON")
    schema.add_field("key", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("value", DataType.VARCHAR, max_length=TEXT_MAX)
    schema.add_field("unused", DataType.FLOAT_VECTOR, dim=2)
    _create_with_unused(client, name, schema)


def _create_with_unused(client, name: str, schema) -> None:
    params = client.prepare_index_params()
    params.add_index("unused", index_type="FLAT", metric_type="IP")
    client.create_collection(name, schema=schema, index_params=params)


def _json_rows(key: str, value: object) -> list[dict]:
    """A JSON value as rows: `key` holds the number of parts, `key#000000`… the parts."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    parts = [text[i : i + PART] for i in range(0, len(text), PART)] or [""]
    rows = [{"key": key, "value": str(len(parts)), "unused": _UNUSED}]
    rows += [{"key": f"{key}#{i:06d}", "value": part, "unused": _UNUSED} for i, part in enumerate(parts)]
    return rows


def _insert(client, collection: str, rows: Iterable[dict], progress=None) -> None:
    batch: list[dict] = []
    for row in rows:
        batch.append(row)
        if len(batch) == INSERT_BATCH:
            client.insert(collection, batch)
            if progress is not None:
                progress.advance(len(batch))
            batch = []
    if batch:
        client.insert(collection, batch)
        if progress is not None:
            progress.advance(len(batch))


def _checked_text(value: str, what: str, limit: int = TEXT_MAX) -> str:
    if len(value.encode("utf-8")) > limit:
        raise IndexStateError(f"{what}: {len(value.encode('utf-8')):,} bytes, more than Milvus's VARCHAR limit of {limit:,}; "
                              "chunk it smaller (ChunkSettings.max_tokens)")
    return value


def write_milvus(
    location: MilvusLocation,
    *,
    manifest: Manifest,
    documents: Sequence[Document],
    passages: Sequence[Passage],
    tokens: Sequence[Sequence[str]],
    vectors,  # np.ndarray (n, dimension) or None
    bodies: dict[str, str | None],
    profile: tuple[object, dict[str, list[list]]] | None,  # (FieldProfile, table -> rows); None: no profile (benchmarks)
    lexicon: dict[str, int],
    index_type: str = "FLAT",
    progress=None,
) -> None:
    """Write one build's collections, then make it the index's current build and drop older builds."""
    client = connect(location)
    tag = manifest.build_id[:12]
    collections = _Collections(location.name, tag)
    try:
        for name in collections.all():
            if client.has_collection(name):
                client.drop_collection(name)
        _create_schemas(client, collections, None if vectors is None else vectors.shape[1], manifest.bm25, index_type)
        replaced_by = {old: d.id for d in documents for old in d.supersedes}
        if progress is not None:
            progress.stage("milvus: documents", len(documents))
        _insert(client, collections.documents, (
            {"id": d.id, "record": _checked_text(d.model_dump_json(exclude={"sections"}), f"document {d.id}"), "body": bodies.get(d.id),
             "kind": d.kind, "year": d.year, "superseded_by": replaced_by.get(d.id), "unused": _UNUSED}
            for d in documents
        ), progress)
        if progress is not None:
            progress.stage("milvus: passages", len(passages))

        def passage_rows():
            for row, (passage, terms) in enumerate(zip(passages, tokens, strict=True)):
                record = {
                    "row": row, "id": passage.id, "doc_id": passage.doc_id,
                    "section": _checked_text(json.dumps(list(passage.section), ensure_ascii=False), f"passage {passage.id} section", 8192),
                    "text": _checked_text(passage.text, f"passage {passage.id}"), "ordinal": passage.ordinal, "page": passage.page,
                    "body": bodies.get(passage.doc_id), "current": passage.doc_id not in replaced_by,
                    "terms": _checked_text(encode_terms(terms), f"passage {passage.id} terms"),
                }
                if vectors is not None:
                    record["dense"] = vectors[row].tolist()
                yield record

        _insert(client, collections.passages, passage_rows(), progress)
        if progress is not None:
            progress.stage("milvus: manifest and profile", None)
        meta = _json_rows("manifest", json.loads(manifest.model_dump_json()))
        if profile is not None:
            summary, tables = profile
            meta += _json_rows("profile", json.loads(summary.model_dump_json()))
            for table, rows in tables.items():
                meta += _json_rows(f"profile.{table}", rows)
        meta += _json_rows("lexicon", sorted(lexicon.items()))
        _insert(client, collections.meta, meta)
        for name in collections.all():
            client.flush(name)
            client.load_collection(name)
        pointer = f"{location.name}_current"
        if not client.has_collection(pointer):
            _create_key_value(client, pointer)
        rows = client.query(pointer, filter='key == "current"', output_fields=["value"])
        previous = rows[0]["value"] if rows else None
        client.upsert(pointer, [{"key": "current", "value": tag, "unused": _UNUSED}])
        client.flush(pointer)
    except RagError:
        raise
    except Exception as error:  # noqa: BLE001 - MilvusException and grpc errors
        raise IndexStateError(f"{location}: writing the index failed ({_first_line(error)}); the previous build, if any, is still current") from error
    _drop_old_builds(client, location.name, keep={tag, previous} - {None})


def _drop_old_builds(client, name: str, *, keep: set[str]) -> None:
    """Drop the collections of every build but `keep`: the new current build and the one it replaced, which
    readers that opened it before the swap go on reading until the next build (then it goes too)."""
    pattern = re.compile(rf"^{re.escape(name)}_([0-9a-f]{{12}})_(passages|documents|meta)$")
    for collection in client.list_collections():
        match = pattern.match(collection)
        if match and match.group(1) not in keep:
            client.drop_collection(collection)


def build_milvus_index(
    sources: Sequence[Path],
    location: str | MilvusLocation,
    settings,  # rag.index.build.BuildSettings
    *,
    cache_root: Path,
    progress=None,
    documents: Sequence[Document] | None = None,
    ray: str | None = None,
    index_type: str = "FLAT",
):  # -> rag.index.build.BuildReport
    """Read, chunk and embed as a local build does (the embedding cache under `cache_root` is shared
    with local builds), then write the passages, BM25 terms and vectors into Milvus."""
    from rag.embedding import PassageEncoder, max_seq_length
    from rag.index.build import BuildReport, _Silent, chunk_corpus, embed_texts, field_knowledge, new_manifest, read_corpus
    from rag.index.embcache import model_slug
    from rag.index.querymodel import ensure_query_model
    from rag.profile.build import build_profile
    from rag.profile.model import PROFILE_TABLES
    from rag.profile.store import ProfileStore
    from rag.tokenize import make_tokenizer

    where = location if isinstance(location, MilvusLocation) else parse_milvus(location)
    progress = progress or _Silent()
    connect(where)  # fail before reading and embedding when the server is not there
    documents, problems, files, deleted = read_corpus(sources, progress, documents)
    passages, texts, chunking, model_dir = chunk_corpus(documents, settings, progress, ray=ray)

    progress.stage("lexical terms", len(texts))
    tokenize = make_tokenizer(settings.tokenizer)
    tokens = []
    document_frequency: Counter[str] = Counter()
    for text in texts:
        terms = tokenize(text)
        tokens.append(terms)
        document_frequency.update(set(terms))
        progress.advance()

    vectors, model_info, reused, embedded = None, None, 0, 0
    if settings.dense:
        encoder = PassageEncoder(settings.model, model_dir)
        cache_dir = cache_root / "embeddings" / model_slug(settings.model)
        vectors, reused, embedded = embed_texts(texts, cache_dir, encoder, progress, ray=ray)
        ensure_query_model(cache_dir, encoder, on_export=lambda: progress.stage("exporting query model (ONNX)", None))
        model_info = ModelInfo(name=settings.model, dimension=encoder.dimension, max_seq_length=max_seq_length(model_dir),
                               faiss=f"milvus:{index_type.lower()}")

    progress.stage("field profile", None)
    knowledge, field_path = field_knowledge(settings, sources)
    with tempfile.TemporaryDirectory(prefix="rag-profile-") as folder:
        summary = build_profile(Path(folder), documents, passages, knowledge=knowledge, tokenize=tokenize, field_file=field_path)
        store = ProfileStore(Path(folder))
        tables = {table: store.rows(table) for table in PROFILE_TABLES}
        store.close()

    bm25 = BM25Settings(variant="lucene", k1=settings.bm25.k1, b=settings.bm25.b)  # what Milvus computes
    manifest = new_manifest(
        sources, documents, passages, build_id=uuid.uuid4().hex, model_info=model_info, chunking=chunking, settings=settings,
        bm25=bm25, vocabulary=len(document_frequency), embedded=embedded, problems=problems, field_file=summary.field_file,
    )
    write_milvus(
        where, manifest=manifest, documents=documents, passages=passages, tokens=tokens, vectors=vectors,
        bodies={d.id: knowledge.canonical_body(d.body) for d in documents}, profile=(summary, tables),
        lexicon=dict(document_frequency), index_type=index_type, progress=progress,
    )
    return BuildReport(path=str(where), manifest=manifest, problems=problems, reused=reused, embedded=embedded, files=files, deleted=deleted)


# --------------------------------------------------------------------------- reading


class Lexicon:
    """The indexed terms with their passage counts (what `BM25Index` tells the composer locally)."""

    def __init__(self, frequencies: dict[str, int], n_docs: int) -> None:
        self.vocabulary = frequencies
        self.n_docs = n_docs

    def document_frequency(self, term: str) -> int:
        return self.vocabulary.get(term, 0)


class MilvusIndex:
    """An opened Milvus index (see the module docstring): the same answers as a local Index."""

    def __init__(self, location: MilvusLocation, client, tag: str, *, cache_root: Path | None = None) -> None:
        self.location = location
        self.client = client
        self.collections = _Collections(location.name, tag)
        self.folder = location.text  # what messages name
        self.cache_root = cache_root
        self.manifest = Manifest.model_validate(self._json("manifest"))
        self.store = MilvusStore(self)
        passages = self.store.count()
        if passages != self.manifest.counts.passages:
            raise IndexStateError(f"{location}: {self.collections.passages} holds {passages} passages, the manifest "
                                  f"{self.manifest.counts.passages}; {REBUILD_MILVUS}")

    @classmethod
    def open(cls, text: str, *, cache_root: Path | None = None) -> MilvusIndex:
        location = parse_milvus(text)
        client = connect(location)
        pointer = f"{location.name}_current"
        try:
            rows = client.query(pointer, filter='key == "current"', output_fields=["value"]) if client.has_collection(pointer) else []
        except Exception as error:  # noqa: BLE001
            raise IndexStateError(f"{location}: {pointer} unreadable ({_first_line(error)}); {REBUILD_MILVUS}") from error
        if not rows:
            raise IndexStateError(f"{location}: no rag index named {location.name!r} on this server; build one with "
                                  f"`rag index build --backend milvus --uri {location}`")
        tag = rows[0]["value"]
        if not _TAG.match(tag) or not client.has_collection(_Collections(location.name, tag).passages):
            raise IndexStateError(f"{location}: {pointer} names build {tag!r}, whose collections are missing; {REBUILD_MILVUS}")
        return cls(location, client, tag, cache_root=cache_root)

    # -- what rag.index.load.Index answers ------------------------------------------------------
    def _query(self, collection: str, expression: str, fields: list[str], limit: int | None = None) -> list[dict]:
        try:
            return self.client.query(collection, filter=expression, output_fields=fields, **({"limit": limit} if limit else {}))
        except Exception as error:  # noqa: BLE001
            raise IndexStateError(f"{self.location}: query on {collection} failed ({_first_line(error)})") from error

    def _json(self, key: str):  # -> JSON value
        head = self._query(self.collections.meta, f"key == {_literal(key)}", ["value"])
        if not head:
            raise IndexStateError(f"{self.location}: {self.collections.meta} has no {key!r}; {REBUILD_MILVUS}")
        keys = [f"{key}#{i:06d}" for i in range(int(head[0]["value"]))]
        parts = {r["key"]: r["value"] for r in self._query(self.collections.meta, f"key in {_literal(keys)}", ["key", "value"], len(keys))}
        if set(parts) != set(keys):
            raise IndexStateError(f"{self.location}: {self.collections.meta} lacks parts of {key!r}; {REBUILD_MILVUS}")
        try:
            return json.loads("".join(parts[k] for k in keys))
        except ValueError as error:
            raise IndexStateError(f"{self.location}: {key!r} in {self.collections.meta} is not JSON ({error}); {REBUILD_MILVUS}") from error

    def close(self) -> None:
        self.client.close()

    def check_model(self, model: str | None) -> None:
        if model is None:
            return
        built = self.manifest.model.name if self.manifest.model else None
        if built != model:
            raise IndexStateError(f"{self.location}: built with model {built!r}, not {model!r}; rebuild with --model {model}")

    def check(self, *, full: bool = False):  # -> IndexCheck
        from rag.index.load import IndexCheck

        _ = self.lexicon, self.profile.summary
        parts = ["store", "lexical"]
        if self.manifest.model is not None:
            _ = self.query_encoder
            parts += ["dense", "query model"]
        return IndexCheck(parts=parts, files_hashed=0)

    @cached_property
    def tokenize(self):  # -> Callable[[str], list[str]]
        from rag.tokenize import make_tokenizer

        return make_tokenizer(self.manifest.tokenizer)

    @cached_property
    def lexicon(self) -> Lexicon:
        pairs = self._json("lexicon")
        return Lexicon({term: int(count) for term, count in pairs}, self.manifest.counts.passages)

    @cached_property
    def profile(self):  # -> ProfileStore
        from rag.profile.model import PROFILE_TABLES, FieldProfile
        from rag.profile.store import ProfileStore

        summary = FieldProfile.model_validate(self._json("profile"))
        tables = {table: self._json(f"profile.{table}") for table in PROFILE_TABLES}
        return ProfileStore.from_rows(summary, tables, where=f"{self.location} ({self.collections.meta})")

    @cached_property
    def query_encoder(self):  # -> QueryEncoder
        """The query model of the index's embedding model, from the local embedding cache (exported there
        once if missing: the only time a Milvus query imports torch)."""
        from rag.embedding import PassageEncoder, QueryEncoder, resolve_model
        from rag.index.embcache import model_slug
        from rag.index.querymodel import cached_query_model, ensure_query_model
        from rag.paths import embedding_cache_root

        if self.manifest.model is None:
            raise IndexStateError(f"{self.location}: built without a dense index (--no-dense); use --retriever bm25 or rebuild")
        name = self.manifest.model.name
        cache_dir = (self.cache_root or embedding_cache_root()) / "embeddings" / model_slug(name)
        folder = cached_query_model(cache_dir) or ensure_query_model(cache_dir, PassageEncoder(name, resolve_model(name)), on_export=lambda: None)
        encoder = QueryEncoder(folder)
        if encoder.dimension != self.manifest.model.dimension:
            raise IndexStateError(f"{folder}: query model has {encoder.dimension} dimensions, the index {self.manifest.model.dimension}")
        return encoder

    # -- searches: (row, score) best first ------------------------------------------------------
    def _search(self, data, field: str, k: int, expression: str = "") -> list[tuple[int, float]]:
        k = min(k, QUERY_WINDOW)  # Milvus returns at most 16,384 hits per search
        try:
            result = self.client.search(self.collections.passages, data=data, anns_field=field, limit=k, filter=expression,
                                        output_fields=["row"])
        except Exception as error:  # noqa: BLE001
            raise IndexStateError(f"{self.location}: search on {self.collections.passages} failed ({_first_line(error)})") from error
        return [(int(hit["entity"]["row"]), float(hit["distance"])) for hit in result[0]]

    def bm25_top(self, tokens: list[str], k: int) -> list[tuple[int, float]]:
        if not tokens:
            return []
        # Milvus Lite reports a BM25 match as a negated distance, a server as a positive score: the magnitude is the score
        return [(row, abs(score)) for row, score in self._search([encode_terms(tokens)], "sparse", k)]

    def lexical(self, tokens: list[str]) -> MilvusLexical:
        return MilvusLexical(self, tokens)

    def _vector(self, text: str) -> list[float]:
        if self.manifest.model is None:
            raise IndexStateError(f"{self.location}: built without a dense index (--no-dense); use --retriever bm25 or rebuild")
        return self.query_encoder.encode([text])[0].tolist()

    def dense_top(self, text: str, k: int) -> list[tuple[int, float]]:
        return self._search([self._vector(text)], "dense", k)

    def hybrid_top(self, text: str, tokens: list[str], k: int, *, depth: int) -> list[tuple[int, float]]:
        """BM25 and dense, each `depth` deep, fused by Milvus's RRFRanker(60) in one call."""
        from pymilvus import AnnSearchRequest, RRFRanker

        k, depth = min(k, QUERY_WINDOW), min(depth, QUERY_WINDOW)
        requests = [AnnSearchRequest(data=[self._vector(text)], anns_field="dense", param={}, limit=depth)]
        if tokens:
            requests.insert(0, AnnSearchRequest(data=[encode_terms(tokens)], anns_field="sparse", param={}, limit=depth))
        try:
            result = self.client.hybrid_search(self.collections.passages, requests, RRFRanker(RRF_K), limit=k, output_fields=["row"])
        except Exception as error:  # noqa: BLE001
            raise IndexStateError(f"{self.location}: hybrid search failed ({_first_line(error)})") from error
        return [(int(hit["entity"]["row"]), float(hit["distance"])) for hit in result[0]]


class MilvusLexical:
    """One question's BM25 ranking on Milvus: whole, or filtered to one body's current passages."""

    def __init__(self, index: MilvusIndex, tokens: list[str]) -> None:
        self.index = index
        self.tokens = tokens

    def top(self, k: int) -> list[tuple[int, float]]:
        return self.index.bm25_top(self.tokens, k)

    def top_of_body(self, body: str, count: int) -> list[tuple[int, float]]:
        if not self.tokens or count <= 0:
            return []
        hits = self.index._search([encode_terms(self.tokens)], "sparse", count, f"body == {_literal(body)} and current == true")
        return [(row, abs(score)) for row, score in hits]


_PASSAGE_FIELDS = ["row", "id", "doc_id", "section", "text", "ordinal", "page"]


class MilvusStore:
    """What `rag.index.store.PassageStore` answers, read from the index's collections."""

    def __init__(self, index: MilvusIndex) -> None:
        self.index = index
        self.path = f"{index.location} ({index.collections.passages})"
        self._documents: dict[str, Document] = {}
        self._of_document: dict[str, list[Passage]] = {}

    @staticmethod
    def _passage(row: dict) -> Passage:
        return Passage(id=row["id"], doc_id=row["doc_id"], section=tuple(json.loads(row["section"])), text=row["text"],
                       ordinal=row["ordinal"], page=row["page"])

    def _passages(self, expression: str, limit: int) -> list[dict]:
        return self.index._query(self.index.collections.passages, expression, _PASSAGE_FIELDS, limit)

    def count(self) -> int:
        rows = self.index._query(self.index.collections.passages, "", ["count(*)"])
        return int(rows[0]["count(*)"])

    def by_rows(self, rows: Sequence[int]) -> list[Passage]:
        if not rows:
            return []
        found = {r["row"]: self._passage(r) for r in self._passages(f"row in {_literal([int(r) for r in rows])}", len(rows))}
        return [found[r] for r in rows if r in found]

    def by_ids(self, ids: Sequence[str]) -> list[Passage]:
        if not ids:
            return []
        wanted = list(dict.fromkeys(ids))
        found = {r["id"]: self._passage(r) for r in self._passages(f"id in {_literal(wanted)}", len(wanted))}
        return [found[i] for i in ids if i in found]

    def passages_of(self, doc_id: str) -> list[Passage]:
        if doc_id not in self._of_document:  # the corpus does not change under an opened index
            rows = self._passages(f"doc_id == {_literal(doc_id)}", QUERY_WINDOW)
            self._of_document[doc_id] = [self._passage(r) for r in sorted(rows, key=lambda r: r["ordinal"])]
        return self._of_document[doc_id]

    def passages_between(self, doc_id: str, first: int, last: int) -> list[Passage]:
        return [p for p in self.passages_of(doc_id) if first <= p.ordinal <= last]

    def _document_rows(self, ids: list[str], fields: list[str]) -> list[dict]:
        out: list[dict] = []
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            out += self.index._query(self.index.collections.documents, f"id in {_literal(chunk)}", fields, len(chunk))
        return out

    def documents_by_ids(self, doc_ids: Iterable[str]) -> dict[str, Document]:
        wanted = [d for d in dict.fromkeys(doc_ids) if d not in self._documents]
        for row in self._document_rows(wanted, ["id", "record"]):
            self._documents[row["id"]] = Document.model_validate_json(row["record"])
        return {d: self._documents[d] for d in dict.fromkeys(doc_ids) if d in self._documents}

    def document(self, doc_id: str) -> Document:
        found = self.documents_by_ids([doc_id])
        if doc_id not in found:
            raise IndexStateError(f"document {doc_id!r} not in {self.index.location}; {REBUILD_MILVUS}")
        return found[doc_id]

    def superseded_by(self, doc_ids: Iterable[str]) -> dict[str, str]:
        rows = self._document_rows(list(dict.fromkeys(doc_ids)), ["id", "superseded_by"])
        return {r["id"]: r["superseded_by"] for r in rows if r["superseded_by"]}

    def body_of(self, doc_ids: Iterable[str]) -> dict[str, str | None]:
        return {r["id"]: r["body"] for r in self._document_rows(list(dict.fromkeys(doc_ids)), ["id", "body"])}

    def identity(self) -> tuple[str, int]:
        return self.index.manifest.build_id, self.count()
