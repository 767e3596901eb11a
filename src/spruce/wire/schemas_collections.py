"""JSON Schemas of Spruce's own Collection API (/spruce/collections), for /openapi.json.

Bodies carry the service's keyword arguments; `spruce.HttpClient` sends unset ones as null. Answers
are `{"result": ...}` for data operations; get/query/hybrid_search use Chroma's column layout, where
a column not asked for in `include` is null.
"""

from __future__ import annotations

from spruce.service.collection_rules import INCLUDE_ITEMS
from spruce.wire.schemas import BOOL, FILTER, INT, NUM, STR, Schema, arr, obj


def _nullable(schema: Schema) -> Schema:
    return {**schema, "nullable": True}


_NULL_ONLY: Schema = {"type": "string", "nullable": True, "enum": [None], "description": "always null"}
_META: Schema = {"type": "object", "description": "flat: string, number, boolean or list of strings"}
_METRIC: Schema = {
    "type": "string",
    "enum": ["cosine", "l2", "euclidean", "ip", "inner_product", "dotproduct"],
}
_IDS: Schema = arr(STR)
_INCLUDE: Schema = arr({"type": "string", "enum": list(INCLUDE_ITEMS)})
_EMBEDDINGS: Schema = arr(arr(NUM))

COLLECTION: Schema = obj(
    {
        "name": STR,
        "id": STR,
        "index": {"type": "string", "description": "the Pinecone index that stores the collection"},
        "dimension": _nullable(INT),
        "metric": _METRIC,
        "metadata": _nullable(_META),
        "embedding_function": _nullable(STR),
        "created_at": STR,
        "index_created": BOOL,
        "extra": {"type": "object"},
    },
    ("name", "id", "index", "dimension", "metric", "metadata", "embedding_function", "created_at"),
)
COLLECTION_LIST: Schema = obj({"collections": arr(COLLECTION)}, ("collections",))
CREATE_REQUEST: Schema = obj(
    {
        "name": STR,
        "dimension": _nullable({"type": "integer", "minimum": 1}),
        "metric": _nullable(_METRIC),
        "metadata": _nullable(_META),
        "embedding_function": _nullable(STR),
        "get_or_create": _nullable(BOOL),
    },
    ("name",),
    extra=False,
)
MODIFY_REQUEST: Schema = obj({"new_name": _nullable(STR), "metadata": _nullable(_META)}, extra=False)

_WRITE: Schema = obj(
    {
        "ids": _IDS,
        "embeddings": _nullable(_EMBEDDINGS),
        "metadatas": _nullable(arr(_nullable(_META))),
        "documents": _nullable(arr(_nullable(STR))),
    },
    ("ids",),
    extra=False,
)
WRITE_REQUEST = _WRITE
DELETE_REQUEST: Schema = obj(
    {"ids": _nullable(_IDS), "where": _nullable(FILTER), "where_document": _nullable(FILTER)}, extra=False
)
GET_REQUEST: Schema = obj(
    {
        "ids": _nullable(_IDS),
        "where": _nullable(FILTER),
        "where_document": _nullable(FILTER),
        "limit": _nullable({"type": "integer", "minimum": 0}),
        "offset": _nullable({"type": "integer", "minimum": 0}),
        "include": _INCLUDE,
    },
    extra=False,
)
QUERY_REQUEST: Schema = obj(
    {
        "query_embeddings": _EMBEDDINGS,
        "n_results": {"type": "integer", "minimum": 1},
        "where": _nullable(FILTER),
        "where_document": _nullable(FILTER),
        "include": _INCLUDE,
        "ids": _nullable(_IDS),
    },
    ("query_embeddings",),
    extra=False,
)
COUNT_REQUEST: Schema = obj({}, extra=False)
HYBRID_REQUEST: Schema = obj(
    {
        "query": obj({"where_document": FILTER, "where": FILTER, "n_results": INT}, extra=False),
        "knn": obj(
            {"query_embeddings": {"oneOf": [_EMBEDDINGS, arr(NUM)]}, "where": FILTER, "n_results": INT}
        ),
        "rank": obj({"rrf": obj({"rank_window_size": INT, "rank_constant": NUM}, extra=False)}, extra=False),
        "n_results": {"type": "integer", "minimum": 1},
        "include": _INCLUDE,
    },
    extra=False,
)

# A column's item, per record; ids are never null, the others are null when not included.
_ITEMS: dict[str, Schema] = {
    "embeddings": arr(NUM),
    "documents": _nullable(STR),
    "metadatas": _nullable(_META),
    "uris": _NULL_ONLY,
    "data": _NULL_ONLY,
}
_FLAT: Schema = obj(
    {"ids": _IDS, **{k: _nullable(arr(i)) for k, i in _ITEMS.items()}, "included": _INCLUDE},
    ("ids", "embeddings", "documents", "metadatas", "included"),
)
_NESTED: Schema = obj(
    {
        "ids": arr(_IDS),
        **{k: _nullable(arr(arr(i))) for k, i in _ITEMS.items()},
        "distances": _nullable(arr(arr(NUM))),
        "included": _INCLUDE,
    },
    ("ids", "embeddings", "documents", "metadatas", "distances", "included"),
)


def _result(schema: Schema) -> Schema:
    return obj({"result": schema}, ("result",), extra=False)


WRITE_RESPONSE: Schema = _result(_NULL_ONLY)
COUNT_RESPONSE: Schema = _result({"type": "integer", "minimum": 0})
GET_RESPONSE: Schema = _result(_FLAT)
QUERY_RESPONSE: Schema = _result(_NESTED)
