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
        default=0,
        metadata={"help": "HNSW efSearch for unfiltered queries (0: each graph's own, calibrated at build)"},
    )
    hnsw_quantize_min_dimension: int = field(
        default=128,
        metadata={
            "help": "graphs of at least this many dimensions (and a multiple of 8) store 8-bit codes"
            " and re-score their candidates exactly against the float32 rows (a huge value: never)"
        },
    )
    ann_target_recall: float = field(
        default=0.99,
        metadata={"help": "recall@10 each HNSW graph is calibrated for when it is built (0.5..1.0)"},
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
    wal_recovery: str = field(
        default="fail",
        metadata={
            "help": "on a corrupt (not merely torn) WAL: 'fail' refuses to open the index, "
            "'skip-corrupted' opens it with every intact frame and records what was lost"
        },
    )

    def __post_init__(self) -> None:
        if not 0.5 <= self.ann_target_recall <= 1.0:
            raise InvalidArgumentError(f"ann_target_recall must be in 0.5..1.0, got {self.ann_target_recall}")
        if self.hnsw_quantize_min_dimension < 0:
            raise InvalidArgumentError(
                f"hnsw_quantize_min_dimension must be >= 0, got {self.hnsw_quantize_min_dimension}"
            )
        if self.hnsw_ef_search < 0:
            raise InvalidArgumentError(
                f"hnsw_ef_search must be >= 0 (0: calibrated), got {self.hnsw_ef_search}"
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
    tls_cert: Path | None = field(
        default=None, metadata={"help": "PEM certificate chain: serve HTTPS and gRPC over TLS (with tls_key)"}
    )
    tls_key: Path | None = field(default=None, metadata={"help": "PEM private key of tls_cert"})
    schemeless_host_versions: tuple[str, ...] = field(
        default=(),
        metadata={"help": "API versions whose index hosts come without http:// (pinecone 7.x gRPC: 2025-04)"},
    )


@dataclass(frozen=True, slots=True)
class StorageIntegration:
    """Credentials for an object store, chosen by a bulk import's `integrationId`."""

    id: str
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    region: str | None = None
    endpoint_url: str | None = None


@dataclass(frozen=True, slots=True)
class ImportConfig:
    max_namespaces: int = field(default=100, metadata={"help": "namespaces one bulk import may create"})
    max_records: int = field(default=100_000_000, metadata={"help": "records one bulk import may hold"})
    s3_endpoint: str | None = field(
        default=None,
        metadata={"help": "S3-compatible endpoint (default: $AWS_ENDPOINT_URL_S3, then $AWS_ENDPOINT_URL)"},
    )
    integrations: tuple[StorageIntegration, ...] = field(
        default=(), metadata={"help": "named storage credentials (JSON file: [{id, access_key_id, ...}])"}
    )
    # Test hooks (deterministic cancel and crash tests): hold a running import, until it is cancelled
    # or the process ends, after this many files / published namespaces. 0: never.
    hold_after_files: int = 0
    hold_after_namespaces: int = 0


def load_integrations(path: Path) -> tuple[StorageIntegration, ...]:
    """Read `[{"id": ..., "access_key_id": ..., ...}]` from a JSON file."""
    import json

    try:
        raw = json.loads(path.read_text())
        return tuple(StorageIntegration(**item) for item in raw)
    except (OSError, ValueError, TypeError) as exc:
        raise InvalidArgumentError(f"storage integrations file {path}: {exc}") from None


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path | None = None
    engine: EngineConfig = field(default_factory=EngineConfig)
    server: ServerConfig = field(default_factory=ServerConfig)
    imports: ImportConfig = field(default_factory=ImportConfig)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read SPRUCE_DATA, SPRUCE_HOST, SPRUCE_PORT, SPRUCE_EXTERNAL_URL, SPRUCE_API_KEYS (comma list),
        SPRUCE_TLS_CERT, SPRUCE_TLS_KEY and SPRUCE_ENGINE_<FIELD> for any EngineConfig field."""
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
        if env.get("SPRUCE_TLS_CERT"):
            server = replace(server, tls_cert=Path(env["SPRUCE_TLS_CERT"]))
        if env.get("SPRUCE_TLS_KEY"):
            server = replace(server, tls_key=Path(env["SPRUCE_TLS_KEY"]))
        if env.get("SPRUCE_SCHEMELESS_HOSTS"):
            versions = tuple(v.strip() for v in env["SPRUCE_SCHEMELESS_HOSTS"].split(",") if v.strip())
            server = replace(server, schemeless_host_versions=versions)
        engine = EngineConfig()
        for f in fields(EngineConfig):
            key = "SPRUCE_ENGINE_" + f.name.upper()
            if key in env:
                raw = env[key]
                value: object
                if isinstance(getattr(engine, f.name), bool):
                    value = raw.lower() in ("1", "true", "yes", "on")
                elif isinstance(getattr(engine, f.name), float):
                    value = _parse_float(key, raw)
                elif isinstance(getattr(engine, f.name), str):
                    value = raw
                else:
                    value = _parse_int(key, raw)
                engine = replace(engine, **{f.name: value})  # type: ignore[arg-type]
        data = env.get("SPRUCE_DATA")
        imports = ImportConfig()
        for name in ("max_namespaces", "max_records", "hold_after_files", "hold_after_namespaces"):
            key = "SPRUCE_IMPORT_" + name.upper()
            if key in env:
                imports = replace(imports, **{name: _parse_int(key, env[key])})  # type: ignore[arg-type]
        if env.get("SPRUCE_IMPORT_S3_ENDPOINT"):
            imports = replace(imports, s3_endpoint=env["SPRUCE_IMPORT_S3_ENDPOINT"])
        if env.get("SPRUCE_IMPORT_INTEGRATIONS"):
            imports = replace(
                imports, integrations=load_integrations(Path(env["SPRUCE_IMPORT_INTEGRATIONS"]))
            )
        return cls(data_dir=Path(data) if data else None, engine=engine, server=server, imports=imports)


def _parse_int(name: str, raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be an integer, got {raw!r}") from None


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a number, got {raw!r}") from None


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
