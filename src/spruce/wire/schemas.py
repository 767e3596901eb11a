"""JSON Schemas of the REST bodies, for /openapi.json.

Each route's `RouteSpec` names its request and response schema from here, and the limits in them
are the constants the decoders and the service enforce (imported, not restated), so the published
document and the validation cannot disagree about a bound. The tests validate real responses against
these schemas.
"""

from __future__ import annotations

from typing import Any

from spruce.service import validation as v
from spruce.types import METRICS

Schema = dict[str, Any]


def obj(properties: dict[str, Schema], required: tuple[str, ...] = (), extra: bool = True) -> Schema:
    out: Schema = {"type": "object", "properties": properties}
    if required:
        out["required"] = list(required)
    if not extra:
        out["additionalProperties"] = False
    return out


def arr(items: Schema, max_items: int | None = None) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if max_items is not None:
        out["maxItems"] = max_items
    return out


STR: Schema = {"type": "string"}
INT: Schema = {"type": "integer"}
NUM: Schema = {"type": "number"}
BOOL: Schema = {"type": "boolean"}
ANY_OBJ: Schema = {"type": "object"}
NAMESPACE: Schema = {
    "type": "string",
    "maxLength": v.MAX_NAMESPACE_LENGTH,
    "description": "namespace; empty or __default__ is the default namespace",
}
RECORD_ID: Schema = {"type": "string", "minLength": 1, "maxLength": v.MAX_ID_LENGTH}
VALUES: Schema = arr(NUM, v.MAX_DIMENSION)
SPARSE: Schema = obj(
    {
        "indices": arr({"type": "integer", "minimum": 0, "maximum": 2**32 - 1}, v.MAX_SPARSE_NNZ),
        "values": arr(NUM, v.MAX_SPARSE_NNZ),
    },
    ("indices", "values"),
)
METADATA: Schema = {
    "type": "object",
    "description": f"flat: string, number, boolean or list of strings; at most {v.MAX_METADATA_BYTES} bytes",
    "additionalProperties": {
        "oneOf": [STR, NUM, BOOL, arr(STR)],
    },
}
FILTER: Schema = {
    "type": "object",
    "description": "metadata filter: $eq $ne $gt $gte $lt $lte $in $nin $exists $and $or",
}
USAGE: Schema = obj({"readUnits": INT})
PAGINATION: Schema = obj({"next": STR})

VECTOR: Schema = obj(
    {"id": RECORD_ID, "values": VALUES, "sparseValues": SPARSE, "metadata": METADATA}, ("id",)
)
UPSERT_REQUEST: Schema = obj(
    {"vectors": arr(VECTOR, v.MAX_UPSERT_BATCH), "namespace": NAMESPACE}, ("vectors",)
)
UPSERT_RESPONSE: Schema = obj({"upsertedCount": INT}, ("upsertedCount",))

QUERY_REQUEST: Schema = obj(
    {
        "topK": {"type": "integer", "minimum": 1, "maximum": v.MAX_TOP_K},
        "namespace": NAMESPACE,
        "vector": VALUES,
        "sparseVector": SPARSE,
        "id": RECORD_ID,
        "filter": FILTER,
        "includeValues": BOOL,
        "includeMetadata": BOOL,
    },
    ("topK",),
)
MATCH: Schema = obj(
    {"id": STR, "score": NUM, "values": VALUES, "sparseValues": SPARSE, "metadata": METADATA},
    ("id", "score"),
)
QUERY_RESPONSE: Schema = obj(
    {"matches": arr(MATCH), "namespace": STR, "usage": USAGE}, ("matches", "namespace")
)
FETCH_RESPONSE: Schema = obj(
    {
        "vectors": {"type": "object", "additionalProperties": VECTOR},
        "namespace": STR,
        "usage": USAGE,
        "pagination": PAGINATION,
    },
    ("vectors", "namespace"),
)
FETCH_BY_METADATA_REQUEST: Schema = obj(
    {
        "filter": FILTER,
        "namespace": NAMESPACE,
        "limit": {"type": "integer", "minimum": 1, "maximum": v.MAX_FETCH_BY_METADATA_LIMIT},
        "paginationToken": STR,
    }
)
UPDATE_REQUEST: Schema = obj(
    {
        "id": RECORD_ID,
        "filter": FILTER,
        "values": VALUES,
        "sparseValues": SPARSE,
        "setMetadata": METADATA,
        "namespace": NAMESPACE,
        "dryRun": BOOL,
    },
)
UPDATE_RESPONSE: Schema = obj({"matchedRecords": INT})
DELETE_REQUEST: Schema = obj(
    {
        "ids": arr(RECORD_ID, v.MAX_FETCH_IDS),
        "deleteAll": BOOL,
        "filter": FILTER,
        "namespace": NAMESPACE,
    }
)
EMPTY: Schema = obj({})
LIST_RESPONSE: Schema = obj(
    {"vectors": arr(obj({"id": STR}, ("id",))), "pagination": PAGINATION, "namespace": STR, "usage": USAGE},
    ("vectors",),
)
STATS_REQUEST: Schema = obj({"filter": FILTER})
STATS_RESPONSE: Schema = obj(
    {
        "namespaces": {"type": "object", "additionalProperties": obj({"vectorCount": INT})},
        "dimension": INT,
        "indexFullness": NUM,
        "totalVectorCount": INT,
        "metric": {"type": "string", "enum": list(METRICS)},
        "vectorType": {"type": "string", "enum": ["dense", "sparse"]},
    },
    ("namespaces", "totalVectorCount"),
)
NAMESPACE_MODEL: Schema = obj(
    {
        "name": STR,
        "record_count": INT,
        "schema": obj({"fields": {"type": "object", "additionalProperties": obj({"filterable": BOOL})}}),
        "indexed_fields": obj({"fields": arr(STR)}),
    },
    ("name", "record_count"),
)
CREATE_NAMESPACE_REQUEST: Schema = obj(
    {
        "name": NAMESPACE,
        "schema": obj({"fields": {"type": "object", "additionalProperties": obj({"filterable": BOOL})}}),
    },
    ("name",),
)
LIST_NAMESPACES_RESPONSE: Schema = obj(
    {"namespaces": arr(NAMESPACE_MODEL), "pagination": PAGINATION, "total_count": INT}, ("namespaces",)
)

# ---------------------------------------------------------------- control plane

INDEX_NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 45,
    "pattern": "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$",
}
METRIC: Schema = {"type": "string", "enum": list(METRICS)}
TAGS: Schema = {"type": "object", "additionalProperties": STR}
PROTECTION: Schema = {"type": "string", "enum": ["enabled", "disabled"]}
EMBED: Schema = obj(
    {
        "model": STR,
        "field_map": obj({"text": STR}, ("text",)),
        "metric": METRIC,
        "dimension": INT,
        "read_parameters": ANY_OBJ,
        "write_parameters": ANY_OBJ,
        "vector_type": STR,
    },
)
DEPLOYMENT: Schema = obj({"deployment_type": STR, "cloud": STR, "region": STR})
CREATE_INDEX_REQUEST: Schema = {
    "type": "object",
    "description": "the classic body (dimension/metric/spec, API 2025-xx) or schema + deployment (2026-07)",
    "properties": {
        "name": INDEX_NAME,
        "dimension": {"type": "integer", "minimum": 1, "maximum": v.MAX_DIMENSION},
        "metric": METRIC,
        "vector_type": {"type": "string", "enum": ["dense", "sparse"]},
        "spec": obj({"serverless": obj({"cloud": STR, "region": STR})}),
        "schema": obj({"fields": {"type": "object", "additionalProperties": ANY_OBJ}}),
        "deployment": DEPLOYMENT,
        "deletion_protection": PROTECTION,
        "tags": TAGS,
    },
    "required": ["name"],
}
CREATE_FOR_MODEL_REQUEST: Schema = obj(
    {
        "name": INDEX_NAME,
        "cloud": STR,
        "region": STR,
        "embed": EMBED,
        "deletion_protection": PROTECTION,
        "tags": TAGS,
    },
    ("name", "embed"),
)
CONFIGURE_INDEX_REQUEST: Schema = obj(
    {"deletion_protection": PROTECTION, "tags": {"type": "object", "additionalProperties": STR}}
)
INDEX_MODEL: Schema = {
    "type": "object",
    "description": "classic shape (dimension, metric, spec) for API 2025-xx; schema + deployment otherwise",
    "properties": {
        "name": STR,
        "host": STR,
        "status": obj({"ready": BOOL, "state": STR}),
        "deletion_protection": PROTECTION,
        "tags": {"type": "object", "nullable": True, "additionalProperties": STR},
        "dimension": INT,
        "metric": METRIC,
        "vector_type": STR,
        "spec": ANY_OBJ,
        "embed": EMBED,
        "schema": ANY_OBJ,
        "deployment": DEPLOYMENT,
    },
    "required": ["name", "host", "status"],
}
INDEX_LIST: Schema = obj({"indexes": arr(INDEX_MODEL)}, ("indexes",))
HEALTH: Schema = obj({"status": STR, "index": STR}, ("status",))
WHOAMI: Schema = obj({"project_name": STR, "user_label": STR, "user_name": STR})
ERROR: Schema = obj(
    {"error": obj({"code": STR, "message": STR}, ("code", "message")), "status": INT}, ("error", "status")
)
SERVER_STATUS: Schema = obj(
    {
        "version": STR,
        "data_dir": {"type": "string", "nullable": True},
        "started_at": NUM,
        "uptime_seconds": NUM,
        "process": obj(
            {"pid": INT, "rss_bytes": INT, "peak_rss_bytes": INT, "open_files": INT, "threads": INT}
        ),
        "graph_builds": obj({"queued": INT, "running": INT, "finished": INT, "seconds_total": NUM}),
        "rows_searched": obj({"exact": INT, "graph": INT}),
        "indexes": arr(
            obj(
                {
                    "name": STR,
                    "records": INT,
                    "wal_bytes": INT,
                    "wal_fsyncs": INT,
                    "graphs_pending": INT,
                    "namespaces": arr(
                        obj(
                            {
                                "name": STR,
                                "records": INT,
                                "segments": INT,
                                "segments_with_graph": INT,
                                "memtable_rows": INT,
                                "graphs": arr(
                                    obj(
                                        {
                                            "rows": INT,
                                            "storage": {"type": "string", "enum": ["flat", "sq8"]},
                                            "target_recall": {"type": "number", "nullable": True},
                                            "calibration": arr(
                                                obj({"top_k": INT, "ef_search": INT, "recall": NUM})
                                            ),
                                        }
                                    )
                                ),
                            }
                        )
                    ),
                }
            )
        ),
    },
    ("version", "uptime_seconds", "process", "indexes"),
)
