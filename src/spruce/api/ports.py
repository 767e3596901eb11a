"""Which port serves which index, kept in `<data>/ports.json` so hosts survive restarts.

A client caches the `host` that describe_index returned (the SDK does, per index name), so an index
must come back on the same port after a restart. The file is small and rewritten whole, atomically
(temp file, fsync, rename, fsync of the directory), so a crash leaves the old or the new mapping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import orjson

from spruce.engine.checked_json import dump_checked, load_checked
from spruce.errors import CorruptionError

PORTS_FILE = "ports.json"
PORTS_FORMAT = "spruce-ports"
PORTS_VERSION = 1
MAX_PORT = 65535


class PortRegistry:
    def __init__(self, data_dir: Path | None) -> None:
        self._path = None if data_dir is None else data_dir / PORTS_FILE
        self._ports: dict[str, int] = {}
        if self._path is not None and self._path.exists():
            self._ports = _read(self._path)

    def get(self, name: str) -> int | None:
        return self._ports.get(name)

    def names(self) -> list[str]:
        return list(self._ports)

    def assign(self, name: str, port: int) -> None:
        if self._ports.get(name) != port:
            self._ports[name] = port
            self._save()

    def release(self, name: str) -> None:
        if self._ports.pop(name, None) is not None:
            self._save()

    def candidates(self, base_port: int) -> Iterator[int]:
        """Ports above the main port that no index holds, lowest first."""
        taken = set(self._ports.values())
        for port in range(base_port + 1, MAX_PORT + 1):
            if port not in taken:
                yield port

    def _save(self) -> None:
        if self._path is None:
            return
        data = dump_checked(PORTS_FORMAT, PORTS_VERSION, {"ports": dict(sorted(self._ports.items()))})
        tmp = self._path.with_name(self._path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self._path)
        dir_fd = os.open(self._path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _read(path: Path) -> dict[str, int]:
    """The mapping in `path`: checked JSON (format, version, CRC), or the bare `{name: port}` object
    written before the file had a format, still read."""
    raw = path.read_bytes()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise CorruptionError(f"{path} is damaged (not valid JSON: {exc})") from exc
    if isinstance(doc, dict) and doc.get("format") == PORTS_FORMAT:
        doc = load_checked(raw, PORTS_FORMAT, (PORTS_VERSION,), path)["ports"]
    if not isinstance(doc, dict) or not all(isinstance(p, int) for p in doc.values()):
        raise CorruptionError(f"{path} must map index names to port numbers")
    return {str(k): int(v) for k, v in doc.items()}
