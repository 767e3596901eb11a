"""JSON Schemas of the inference routes (/embed, /rerank, /models) and of the records routes, for
/openapi.json. Shapes are what pinecone 10.2.0 decodes (snake_case); the tests validate real answers."""

from __future__ import annotations

from spruce.service import validation as v
from spruce.service.records import MAX_RECORDS_PER_UPSERT
from spruce.wire.schemas import BOOL, FILTER, INT, NUM, STR, Schema, arr, obj

TEXT_INPUT: Schema = {"oneOf": [STR, obj({"text": STR}, ("text",))]}
PARAMETERS: Schema = {"type": "object", "description": "keys among the model's supported_parameters"}

EMBED_REQUEST: Schema = obj(
    {"model": STR, "inputs": arr(TEXT_INPUT, MAX_RECORDS_PER_UPSERT), "parameters": PARAMETERS},
    ("model", "inputs"),
)
DENSE_EMBEDDING: Schema = obj(
    {"values": arr(NUM), "vector_type": {"type": "string", "enum": ["dense"]}}, ("values", "vector_type")
)
SPARSE_EMBEDDING: Schema = obj(
    {
        "sparse_values": arr(NUM),
        "sparse_indices": arr({"type": "integer", "minimum": 0}),
        "sparse_tokens": arr(STR),
        "vector_type": {"type": "string", "enum": ["sparse"]},
    },
    ("sparse_values", "sparse_indices", "vector_type"),
)
EMBED_RESPONSE: Schema = obj(
    {
        "model": STR,
        "vector_type": {"type": "string", "enum": ["dense", "sparse"]},
        "data": arr({"oneOf": [DENSE_EMBEDDING, SPARSE_EMBEDDING]}),
        "usage": obj({"total_tokens": INT}, ("total_tokens",)),
    },
    ("model", "vector_type", "data", "usage"),
)
RERANK_REQUEST: Schema = obj(
    {
        "model": STR,
        "query": {"type": "string", "minLength": 1},
        "documents": arr({"oneOf": [STR, {"type": "object"}]}),
        "rank_fields": {"type": "array", "items": STR, "minItems": 1},
        "return_documents": BOOL,
        "top_n": {"type": "integer", "minimum": 1},
        "parameters": PARAMETERS,
    },
    ("model", "query", "documents"),
)
RERANK_RESPONSE: Schema = obj(
    {
        "model": STR,
        "data": arr(
            obj(
                {"index": {"type": "integer", "minimum": 0}, "score": NUM, "document": {"type": "object"}},
                ("index", "score"),
            )
        ),
        "usage": obj({"rerank_units": INT}, ("rerank_units",)),
    },
    ("model", "data", "usage"),
)
_VALUE: Schema = {"oneOf": [STR, NUM, BOOL]}
SUPPORTED_PARAMETER: Schema = obj(
    {
        "parameter": STR,
        "type": {"type": "string", "enum": ["one_of", "numeric_range", "any"]},
        "value_type": {"type": "string", "enum": ["string", "integer", "float", "boolean"]},
        "required": BOOL,
        "allowed_values": arr({"oneOf": [STR, INT]}),
        "min": NUM,
        "max": NUM,
        "default": _VALUE,
    },
    ("parameter", "type", "value_type", "required"),
)
MODEL_INFO: Schema = obj(
    {
        "model": STR,
        "short_description": STR,
        "type": {"type": "string", "enum": ["embed", "rerank"]},
        "supported_parameters": arr(SUPPORTED_PARAMETER),
        "vector_type": {"type": "string", "enum": ["dense", "sparse"]},
        "default_dimension": INT,
        "supported_dimensions": arr(INT),
        "modality": STR,
        "max_sequence_length": INT,
        "max_batch_size": INT,
        "provider_name": STR,
        "supported_metrics": arr(STR),
    },
    ("model", "short_description", "type", "supported_parameters"),
)
MODEL_LIST: Schema = obj({"models": arr(MODEL_INFO)}, ("models",))

# ---------------------------------------------------------------- records (integrated embedding)

RECORDS_UPSERT_RESPONSE: Schema = {
    **obj({"upserted_count": INT}, ("upserted_count",)),
    "description": "Pinecone answers 201 with no body and the SDK ignores it; the count helps curl",
}
SEARCH_REQUEST: Schema = obj(
    {
        "query": obj(
            {
                "top_k": {"type": "integer", "minimum": 1, "maximum": v.MAX_TOP_K},
                "inputs": obj({"text": STR}, ("text",)),
                "vector": {
                    "oneOf": [
                        obj({"values": arr(NUM), "sparse_indices": arr(INT), "sparse_values": arr(NUM)}),
                        arr(NUM),
                    ]
                },
                "id": STR,
                "filter": FILTER,
            },
            ("top_k",),
        ),
        "fields": arr(STR),
        "rerank": obj(
            {
                "model": STR,
                "rank_fields": {"type": "array", "items": STR, "minItems": 1},
                "top_n": {"type": "integer", "minimum": 1, "maximum": v.MAX_TOP_K},
                "parameters": PARAMETERS,
                "query": STR,
            },
            ("model", "rank_fields"),
        ),
    },
    ("query",),
)
SEARCH_RESPONSE: Schema = obj(
    {
        "result": obj(
            {"hits": arr(obj({"_id": STR, "_score": NUM, "fields": {"type": "object"}}, ("_id", "_score")))},
            ("hits",),
        ),
        "usage": obj({"read_units": INT, "embed_total_tokens": INT, "rerank_units": INT}, ("read_units",)),
    },
    ("result", "usage"),
)
