"""The catalogue (`catalog.json`) and the port map (`ports.json`) carry a format, a version and a CRC
like every other file Spruce writes: a flipped byte is refused with the file named, and files written
before the CRC are still read."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from spruce.api.ports import PortRegistry
from spruce.config import EngineConfig
from spruce.errors import CorruptionError
from spruce.service.catalog import Catalog


def _flip_digit(path: Path) -> None:
    """Change one digit: the JSON stays valid, so only the CRC can catch it."""
    raw = bytearray(path.read_bytes())
    at = next(i for i in range(len(raw)) if chr(raw[i]).isdigit() and i > len(raw) // 3)
    raw[at] = ord("1") if raw[at] != ord("1") else ord("2")
    path.write_bytes(bytes(raw))


def _catalog(tmp_path: Path) -> Catalog:
    return Catalog(tmp_path, EngineConfig(background=False))


def test_catalog_round_trips_and_refuses_a_flipped_digit(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.create_index("docs", dimension=8, metric="cosine")
    cat.close()
    doc = orjson.loads((tmp_path / "catalog.json").read_bytes())
    assert doc["format"] == "spruce-catalog" and doc["version"] == 2 and "checksum" in doc
    again = _catalog(tmp_path)
    assert again.describe_index("docs").dimension == 8
    again.close()
    _flip_digit(tmp_path / "catalog.json")
    with pytest.raises(CorruptionError, match=r"catalog\.json is damaged"):
        _catalog(tmp_path)


def test_catalog_version_1_without_a_crc_is_still_read(tmp_path: Path) -> None:
    cat = _catalog(tmp_path)
    cat.create_index("docs", dimension=8, metric="cosine")
    cat.close()
    doc = orjson.loads((tmp_path / "catalog.json").read_bytes())
    del doc["checksum"]
    doc["version"] = 1
    (tmp_path / "catalog.json").write_bytes(orjson.dumps(doc))
    again = _catalog(tmp_path)
    assert [i.name for i in again.list_indexes()] == ["docs"]
    again.close()


def test_ports_round_trip_legacy_file_and_damage(tmp_path: Path) -> None:
    reg = PortRegistry(tmp_path)
    reg.assign("docs", 5081)
    reg.assign("format", 5082)  # an index may be called anything, "format" included
    doc = orjson.loads((tmp_path / "ports.json").read_bytes())
    assert doc["format"] == "spruce-ports" and "checksum" in doc
    assert PortRegistry(tmp_path).get("format") == 5082
    (tmp_path / "ports.json").write_bytes(orjson.dumps({"docs": 5081, "format": 5082}))  # before the CRC
    legacy = PortRegistry(tmp_path)
    assert (legacy.get("docs"), legacy.get("format")) == (5081, 5082)
    legacy.assign("other", 5083)  # rewritten in the checked format
    _flip_digit(tmp_path / "ports.json")
    with pytest.raises(CorruptionError, match=r"ports\.json is damaged"):
        PortRegistry(tmp_path)
