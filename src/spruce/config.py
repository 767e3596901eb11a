"""Frozen settings, read once. `Settings.from_env` is the only reader of SPRUCE_* variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from spruce.errors import InvalidArgumentError


@dataclass(frozen=True, slots=True)
class EngineConfig:
    memtable_max_rows: int = field(
        default=20_000, metadata={"help": "rows a namespace memtable holds before it is sealed as a segment"}
    )
    fsync: bool = field(default=True, metadata={"help": "fsync the WAL before acknowledging a write"})
    ann_min_rows: int = field(
        default=4_096, metadata={"help": "segments with fewer rows are searched exactly, without HNSW"}
    )
    hnsw_m: int = field(default=32, metadata={"help": "HNSW graph degree (M)"})
    hnsw_ef_construction: int = field(default=100, metadata={"help": "HNSW efConstruction"})
    hnsw_ef_search: int = field(
        default=384,
        metadata={"help": "HNSW efSearch for unfiltered queries (recall@10 >= 0.99 on our sets)"},
    )
    exact_filter_max_rows: int = field(
        default=16_384,
        metadata={
            "help": "filtered queries with fewer allowed rows (at 768-d; scaled by dimension) are exact"
        },
    )
    compaction_min_segments: int = field(
        default=8, metadata={"help": "a namespace with more segments than this is compacted"}
    )
    ingest_quiet_ms: int = field(
        default=1_000,
        metadata={
            "help": "HNSW builds and compaction wait until writes have paused this long (0: never wait)"
        },
    )
    ingest_defer_max_ms: int = field(
        default=30_000,
        metadata={"help": "longest a sealed segment waits for its HNSW graph while writes keep coming"},
    )
    unindexed_max_bytes: int = field(
        default=512 * 1024 * 1024,
        metadata={"help": "vectors awaiting HNSW past which builds start even while writes stream in"},
    )
    background: bool = field(
        default=True, metadata={"help": "build ANN indexes and compact in the background"}
    )


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = field(default="127.0.0.1", metadata={"help": "address to bind"})
    port: int = field(default=5080, metadata={"help": "port for REST and gRPC (one port serves both)"})
    external_url: str | None = field(
        default=None, metadata={"help": "URL clients reach this server at (behind port mapping)"}
    )
    api_keys: tuple[str, ...] = field(default=(), metadata={"help": "accepted Api-Key values; empty: open"})
    max_body_bytes: int = field(default=2 * 1024 * 1024, metadata={"help": "largest request body accepted"})
    max_inflight_body_bytes: int = field(
        default=256 * 1024 * 1024,
        metadata={"help": "request bodies held at once, summed over requests; beyond it: 429"},
    )


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    server: ServerConfig = field(default_factory=ServerConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read SPRUCE_DATA, SPRUCE_HOST, SPRUCE_PORT, SPRUCE_EXTERNAL_URL, SPRUCE_API_KEYS (comma list)
        and SPRUCE_ENGINE_<FIELD> for any EngineConfig field."""
        env = os.environ if env is None else env
        server = ServerConfig()
        if "SPRUCE_HOST" in env:
            server = replace(server, host=env["SPRUCE_HOST"])
        if "SPRUCE_PORT" in env:
            server = replace(server, port=_parse_int("SPRUCE_PORT", env["SPRUCE_PORT"]))
        if env.get("SPRUCE_EXTERNAL_URL"):
            server = replace(server, external_url=env["SPRUCE_EXTERNAL_URL"])
        if env.get("SPRUCE_API_KEYS"):
            keys = tuple(k.strip() for k in env["SPRUCE_API_KEYS"].split(",") if k.strip())
            server = replace(server, api_keys=keys)
        engine = EngineConfig()
        for f in fields(EngineConfig):
            key = "SPRUCE_ENGINE_" + f.name.upper()
            if key in env:
                raw = env[key]
                value: object
                if isinstance(getattr(engine, f.name), bool):
                    value = raw.lower() in ("1", "true", "yes", "on")
                else:
                    value = _parse_int(key, raw)
                engine = replace(engine, **{f.name: value})  # type: ignore[arg-type]
        data = env.get("SPRUCE_DATA")
        return cls(data_dir=Path(data) if data else None, engine=engine, server=server)


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, got {raw!r}") from None


@dataclass(frozen=True, slots=True)
class InferenceConfig:
    """Where user models are described and how many threads run models (see spruce.service.inference)."""

    models_config: Path | None = field(
        default=None, metadata={"help": "a models.toml listing user models (SPRUCE_MODELS_CONFIG)"}
    )
    models_dir: Path | None = field(
        default=None,
        metadata={"help": "a directory whose subdirectories (model.onnx + tokenizer.json) are models"},
    )
    threads: int = field(
        default=0, metadata={"help": "model worker threads per loaded model; 0: half the cores, 1 to 2"}
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InferenceConfig:
        """Read SPRUCE_MODELS_CONFIG, SPRUCE_MODELS_DIR and SPRUCE_INFERENCE_THREADS."""
        env = os.environ if env is None else env
        config = env.get("SPRUCE_MODELS_CONFIG")
        models_dir = env.get("SPRUCE_MODELS_DIR")
        threads = env.get("SPRUCE_INFERENCE_THREADS")
        return cls(
            models_config=Path(config) if config else None,
            models_dir=Path(models_dir) if models_dir else None,
            threads=_parse_int("SPRUCE_INFERENCE_THREADS", threads) if threads else 0,
        )
