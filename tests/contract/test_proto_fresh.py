"""The committed generated modules must be exactly what scripts/gen_proto.py produces from the .proto."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("grpc_tools", reason="grpcio-tools (dev extra) is needed to regenerate")


def _load_gen_proto() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_pb_matches_proto(tmp_path: Path) -> None:
    gen = _load_gen_proto()
    written = gen.generate(tmp_path)
    assert written, "generator wrote nothing"
    stale = []
    for fresh in written:
        committed = gen.PB_DIR / fresh.name
        if not committed.exists() or committed.read_bytes() != fresh.read_bytes():
            stale.append(fresh.name)
    assert not stale, f"src/spruce/wire/pb is stale ({stale}); run: python scripts/gen_proto.py"


def test_generated_grpc_module_imports_inside_package() -> None:
    from spruce.wire.pb import vector_service_pb2, vector_service_pb2_grpc

    service = vector_service_pb2.DESCRIPTOR.services_by_name["VectorService"]
    # No proto package: the SDKs call /VectorService/<Method>.
    assert service.full_name == "VectorService"
    assert {m.name for m in service.methods} == {
        "Upsert", "Delete", "Fetch", "List", "Query", "Update", "DescribeIndexStats",
        "ListNamespaces", "DescribeNamespace", "DeleteNamespace", "CreateNamespace", "FetchByMetadata",
    }  # fmt: skip
    assert hasattr(vector_service_pb2_grpc, "add_VectorServiceServicer_to_server")
