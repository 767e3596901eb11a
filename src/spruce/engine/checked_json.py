"""Small JSON documents on disk (manifest, segment info, recovery log) with a format, a version and a CRC.

    {"format": "...", "version": N, ...fields..., "checksum": C}

C is zlib.crc32 of the document serialised by orjson without the "checksum" key. orjson's output is a
function of the parsed value (key order kept, one float/str encoding), so a reader re-serialises what it
parsed and compares: a flipped bit that still parses as JSON is caught as surely as one that does not.
Documents of earlier versions without a CRC are still read (`unchecked_versions`).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson

from spruce.errors import CorruptionError

__all__ = ["dump_checked", "load_checked"]


def dump_checked(fmt: str, version: int, fields: dict[str, Any]) -> bytes:
    doc: dict[str, Any] = {"format": fmt, "version": version, **fields}
    doc["checksum"] = zlib.crc32(orjson.dumps(doc))
    return orjson.dumps(doc)


def load_checked(
    raw: bytes,
    fmt: str,
    versions: Collection[int],
    path: Path,
    unchecked_versions: Collection[int] = (),
    error: type[CorruptionError] = CorruptionError,
) -> dict[str, Any]:
    """Parse and verify; raise `error` naming `path` and the problem."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise error(f"{path} is damaged (not valid JSON: {exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != fmt:
        raise error(f"{path} is damaged or not a {fmt} file")
    version = doc.get("version")
    if version in unchecked_versions:
        return doc
    if version not in versions:
        raise error(f"{path} has {fmt} version {version!r}; this Spruce reads {sorted(versions)}")
    crc = doc.pop("checksum", None)
    if not isinstance(crc, int) or zlib.crc32(orjson.dumps(doc)) != crc:
        raise error(f"{path} is damaged (checksum mismatch)")
    return doc
