"""protobuf <-> spruce.types conversions of the gRPC data plane."""

from __future__ import annotations

import numpy as np
from google.protobuf import struct_pb2

from spruce.types import IndexStats, Match, NamespaceInfo, Record, SparseVector
from spruce.wire import grpc_convert as conv
from spruce.wire.pb import vector_service_pb2 as pb


def test_struct_roundtrip_numbers_become_doubles() -> None:
    s = struct_pb2.Struct()
    conv.fill_struct(s, {"year": 2020, "score": 0.5, "ok": False, "tags": ["a", "b"], "name": "x"})
    assert s.fields["ok"].WhichOneof("kind") == "bool_value"  # bool must not turn into a number
    back = conv.struct_to_dict(s)
    assert back == {"year": 2020.0, "score": 0.5, "ok": False, "tags": ["a", "b"], "name": "x"}
    assert isinstance(back["year"], float)  # documented: no int guessing, like Pinecone's gRPC API


def test_null_passes_through_for_the_service_to_judge() -> None:
    s = struct_pb2.Struct()
    s.update({"a": None, "nested": {"b": [1, None]}})
    assert conv.struct_to_dict(s) == {"a": None, "nested": {"b": [1.0, None]}}


def test_record_in_and_out() -> None:
    v = pb.Vector(id="r", values=[1.5, 2.0], sparse_values=pb.SparseValues(indices=[9, 1], values=[1, 2]))
    v.metadata.update({"k": "v"})
    rec = conv.record_in(v)
    assert rec.id == "r" and rec.values is not None and rec.values.dtype == np.float32
    assert rec.sparse_values is not None and list(rec.sparse_values.indices) == [9, 1]  # service sorts
    assert rec.metadata == {"k": "v"}
    bare = conv.record_in(pb.Vector(id="b"))
    assert bare.values is None and bare.sparse_values is None and bare.metadata is None

    out = pb.Vector()
    conv.fill_vector(
        out,
        Record(
            "o",
            np.array([1, 2], dtype=np.float32),
            SparseVector(np.array([1], dtype=np.uint32), np.array([0.5], dtype=np.float32)),
            {"n": 3},
        ),
    )
    assert list(out.values) == [1.0, 2.0] and list(out.sparse_values.indices) == [1]
    assert out.metadata.fields["n"].number_value == 3.0
    scored = conv.scored_out(Match("m", 0.25))
    assert scored.score == 0.25 and not scored.HasField("metadata") and not scored.HasField("sparse_values")


def test_default_namespace_names() -> None:
    assert conv.namespace_in("__default__") == ""
    assert conv.namespace_in("") == ""
    assert conv.namespace_in("x") == "x"
    stats = conv.stats_out(IndexStats({"": 2, "a": 1}, None, "dotproduct", "sparse", 3))
    assert set(stats.namespaces) == {"", "a"}  # as REST stats key it
    assert not stats.HasField("dimension") and stats.total_vector_count == 3
    ns = conv.namespace_out(NamespaceInfo("a", 4, ("genre",)))
    assert ns.record_count == 4 and ns.schema.fields["genre"].filterable
    assert list(ns.indexed_fields.fields) == ["genre"]


def test_packed_float_fast_path_matches_extend() -> None:
    rng = np.random.default_rng(3)
    values = rng.standard_normal(300).astype(np.float32)
    fast = pb.Vector()
    conv.fill_vector(fast, Record("f", values[::2]))  # a strided view: must be made contiguous
    slow = pb.Vector(id="f")
    slow.values.extend(values[::2].tolist())
    assert fast == slow and fast.SerializeToString() == slow.SerializeToString()
    scored = conv.scored_out(Match("m", 1.0, values=values))
    assert list(scored.values) == values.tolist() and scored.score == 1.0
    empty = pb.Vector()
    conv.fill_vector(empty, Record("e", np.zeros(0, dtype=np.float32)))
    assert not empty.values
