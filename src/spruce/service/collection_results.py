"""Collection records in and out: a record's stored metadata (the user's fields and its document) and
the column-wise results Chroma and pyseekdb return (ids, embeddings, documents, metadatas, distances)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from spruce.service.collection_rules import DOCUMENT_FIELD
from spruce.types import Match, Metadata, Record


def stored_metadata(user: Mapping[str, Any] | None, document: str | None) -> Metadata | None:
    if document is None:
        return dict(user) if user else None
    out: dict[str, Any] = dict(user) if user else {}
    out[DOCUMENT_FIELD] = document
    return out


def merged_metadata(
    old: Record | None, new_user: Mapping[str, Any] | None, document: str | None
) -> Metadata | None:
    base: dict[str, Any] = dict(old.metadata or {}) if old is not None else {}
    if new_user:
        for key, value in new_user.items():
            if value is None:
                base.pop(key, None)
            else:
                base[key] = value
    if document is not None:
        base[DOCUMENT_FIELD] = document
    return base or None


def split_metadata(meta: Mapping[str, Any] | None) -> tuple[dict[str, Any] | None, str | None]:
    if not meta:
        return None, None
    if DOCUMENT_FIELD not in meta:
        return dict(meta), None
    user = dict(meta)
    doc = user.pop(DOCUMENT_FIELD)
    return (user or None), (doc if isinstance(doc, str) else None)


def _fields(records: Sequence[Record], inc: Sequence[str]) -> dict[str, Any]:
    split = [split_metadata(r.metadata) for r in records]
    return {
        "ids": [r.id for r in records],
        "embeddings": [np.asarray(r.values).tolist() for r in records] if "embeddings" in inc else None,
        "documents": [d for _, d in split] if "documents" in inc else None,
        "metadatas": [m for m, _ in split] if "metadatas" in inc else None,
        "uris": [None] * len(records) if "uris" in inc else None,
        "data": [None] * len(records) if "data" in inc else None,
    }


def flat_result(records: Sequence[Record], inc: Sequence[str]) -> dict[str, Any]:
    return {**_fields(records, inc), "included": list(inc)}


def nested_result(rows: Sequence[Sequence[tuple[Record, float]]], inc: Sequence[str]) -> dict[str, Any]:
    per = [_fields([r for r, _ in row], inc) for row in rows]
    out: dict[str, Any] = {"ids": [p["ids"] for p in per]}
    for key in ("embeddings", "documents", "metadatas", "uris", "data"):
        out[key] = [p[key] for p in per] if key in inc else None
    out["distances"] = [[float(d) for _, d in row] for row in rows] if "distances" in inc else None
    out["included"] = list(inc)
    return out


def matches_result(per_query: Sequence[Sequence[Match]], metric: str, inc: Sequence[str]) -> dict[str, Any]:
    """Query results straight from the engine's matches (their metadata dicts are fresh copies)."""
    docs: list[list[str | None]] = []
    metas: list[list[dict[str, Any] | None]] = []
    if "documents" in inc or "metadatas" in inc:
        for matches in per_query:
            d_row: list[str | None] = []
            m_row: list[dict[str, Any] | None] = []
            for m in matches:
                meta = m.metadata
                doc = meta.pop(DOCUMENT_FIELD, None) if meta else None
                d_row.append(doc if isinstance(doc, str) else None)
                m_row.append(meta or None)
            docs.append(d_row)
            metas.append(m_row)
    euclidean = metric == "euclidean"
    return {
        "ids": [[m.id for m in matches] for matches in per_query],
        "embeddings": [[np.asarray(m.values).tolist() for m in ms] for ms in per_query]
        if "embeddings" in inc
        else None,
        "documents": docs if "documents" in inc else None,
        "metadatas": metas if "metadatas" in inc else None,
        "uris": [[None] * len(ms) for ms in per_query] if "uris" in inc else None,
        "data": [[None] * len(ms) for ms in per_query] if "data" in inc else None,
        "distances": [[float(m.score) if euclidean else 1.0 - float(m.score) for m in ms] for ms in per_query]
        if "distances" in inc
        else None,
        "included": list(inc),
    }
