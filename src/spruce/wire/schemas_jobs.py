"""JSON Schemas of bulk imports (camelCase), backups and restore jobs (snake_case), for /openapi.json.

Required fields are the ones pinecone 10.2.0 requires; optional ones are left out rather than sent as
null (pinecone 7.x refuses a null), except `pagination`, which a last page sends as null."""

from __future__ import annotations

from spruce.service.backups import MAX_BACKUP_NAME, MAX_DESCRIPTION
from spruce.service.paging import MAX_LIMIT
from spruce.wire.schemas import INT, PROTECTION, STR, TAGS, Schema, arr, obj

_PERCENT: Schema = {"type": "number", "minimum": 0, "maximum": 100}
_PAGINATION_OR_NULL: Schema = {**obj({"next": STR}), "nullable": True}
LIMIT: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT}

START_IMPORT_REQUEST: Schema = obj(
    {
        "uri": {"type": "string", "description": "s3://, gs://, az://, file:// or a local path"},
        "errorMode": obj({"onError": {"type": "string", "enum": ["continue", "abort"]}}, extra=False),
        "integrationId": STR,
    },
    ("uri",),
    extra=False,
)
START_IMPORT_RESPONSE: Schema = obj({"id": STR}, ("id",))
IMPORT_MODEL: Schema = obj(
    {
        "id": STR,
        "uri": STR,
        "status": {"type": "string", "enum": ["Pending", "InProgress", "Completed", "Failed", "Cancelled"]},
        "createdAt": STR,
        "finishedAt": STR,
        "percentComplete": _PERCENT,
        "recordsImported": INT,
        "error": STR,
    },
    ("id", "uri", "status", "createdAt"),
)
IMPORT_LIST: Schema = obj({"data": arr(IMPORT_MODEL), "pagination": obj({"next": STR})}, ("data",))

CREATE_BACKUP_REQUEST: Schema = obj(
    {
        "name": {"type": "string", "maxLength": MAX_BACKUP_NAME},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
    }
)
BACKUP_MODEL: Schema = obj(
    {
        "backup_id": STR,
        "source_index_name": STR,
        "source_index_id": STR,
        "status": {"type": "string", "enum": ["Initializing", "Ready", "InitializationFailed"]},
        "cloud": STR,
        "region": STR,
        "name": STR,
        "description": STR,
        "record_count": INT,
        "namespace_count": INT,
        "size_bytes": INT,
        "tags": TAGS,
        "created_at": STR,
        "source_index_deleted_at": STR,
        "schema": obj(
            {"fields": {"type": "object", "additionalProperties": {"type": "object"}}}, ("fields",)
        ),
        "metric": {"type": "string", "description": "for API 2025-xx SDKs; 2026-07 reads schema"},
        "dimension": {"type": "integer", "description": "for API 2025-xx SDKs; 2026-07 reads schema"},
    },
    ("backup_id", "source_index_name", "source_index_id", "status", "cloud", "region"),
)
BACKUP_LIST: Schema = obj({"data": arr(BACKUP_MODEL), "pagination": _PAGINATION_OR_NULL}, ("data",))
CREATE_INDEX_FROM_BACKUP_REQUEST: Schema = obj(
    {
        "name": {"type": "string", "minLength": 1},
        "deletion_protection": PROTECTION,
        "tags": TAGS,
        "read_capacity": obj({"mode": {"type": "string", "enum": ["OnDemand"]}}),
    },
    ("name",),
)
CREATE_INDEX_FROM_BACKUP_RESPONSE: Schema = obj(
    {"restore_job_id": STR, "index_id": STR}, ("restore_job_id", "index_id")
)
RESTORE_JOB: Schema = obj(
    {
        "restore_job_id": STR,
        "backup_id": STR,
        "target_index_name": STR,
        "target_index_id": STR,
        "status": {"type": "string", "enum": ["Pending", "Completed", "Failed", "Cancelled"]},
        "created_at": STR,
        "completed_at": STR,
        "percent_complete": _PERCENT,
        "error": {"type": "string", "description": "Spruce only: why a job failed"},
    },
    ("restore_job_id", "backup_id", "target_index_name", "target_index_id", "status"),
)
RESTORE_JOB_LIST: Schema = obj({"data": arr(RESTORE_JOB), "pagination": _PAGINATION_OR_NULL}, ("data",))
