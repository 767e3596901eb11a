"""Response objects shaped like the pinecone SDK's: attribute access, dict access, `to_dict()`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spruce.types import IndexInfo, IndexStats, Match, NamespaceInfo, Record, SparseVector


class Obj:
    """A response value with attribute access (`res.matches`) and key access (`res["matches"]`).

    Not a dict subclass on purpose: SDK code reads `match.values` and `vector.values`, which a dict
    would shadow with its `values()` method.
    """

    __slots__ = ("_data",)

    def __init__(self, **fields: Any) -> None:
        object.__setattr__(self, "_data", fields)

    def __getattr__(self, name: str) -> Any:
        data = object.__getattribute__(self, "_data")
        try:
            return data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._data[name] = value

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._data.items()}

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Obj):
            return self.to_dict() == other.to_dict()
        if isinstance(other, dict):
            return self.to_dict() == other
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._data.items())
        return f"{type(self).__name__}({inner})"


def _plain(value: Any) -> Any:
    if isinstance(value, Obj):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def sparse_obj(sv: SparseVector | None) -> Obj | None:
    if sv is None:
        return None
    return Obj(indices=sv.indices.tolist(), values=sv.values.tolist())


def vector_obj(rec: Record) -> Obj:
    return Obj(
        id=rec.id,
        values=[] if rec.values is None else rec.values.tolist(),
        sparse_values=sparse_obj(rec.sparse_values),
        metadata=rec.metadata,
    )


def match_obj(m: Match) -> Obj:
    # Built without `Obj(**fields)`: a query makes top_k of these, and the keyword call cost more
    # than the dict itself.
    out = object.__new__(Obj)
    object.__setattr__(
        out,
        "_data",
        {
            "id": m.id,
            "score": m.score,
            "values": [] if m.values is None else m.values.tolist(),
            "sparse_values": None if m.sparse_values is None else sparse_obj(m.sparse_values),
            "metadata": m.metadata,
        },
    )
    return out


def stats_obj(stats: IndexStats) -> Obj:
    return Obj(
        namespaces={ns: Obj(vector_count=n) for ns, n in stats.namespaces.items()},
        dimension=stats.dimension,
        index_fullness=stats.index_fullness,
        total_vector_count=stats.total_vector_count,
        metric=stats.metric,
        vector_type=stats.vector_type,
    )


def namespace_obj(info: NamespaceInfo) -> Obj:
    # The namespaces API calls the default namespace "__default__" (Pinecone's name for it).
    return Obj(name=info.name or "__default__", record_count=info.record_count)


class IndexModel(Obj):
    """What describe_index returns (the 2025 shape the SDK's legacy accessors expose)."""

    @classmethod
    def of(cls, info: IndexInfo, host: str) -> IndexModel:
        spec = Obj(serverless=Obj(cloud=info.cloud, region=info.region))
        embed = None
        if info.embed is not None:
            embed = Obj(
                model=info.embed.model,
                field_map=dict(info.embed.field_map),
                metric=info.embed.metric,
                dimension=info.embed.dimension,
            )
        return cls(
            name=info.name,
            dimension=info.dimension,
            metric=info.metric,
            vector_type=info.vector_type,
            host=host,
            spec=spec,
            status=Obj(ready=True, state="Ready"),
            deletion_protection=info.deletion_protection,
            tags=dict(info.tags) or None,
            embed=embed,
        )


class IndexList(list[IndexModel]):
    def names(self) -> list[str]:
        return [m.name for m in self]

    @property
    def indexes(self) -> list[IndexModel]:
        return list(self)

    def __iter__(self) -> Iterator[IndexModel]:
        return super().__iter__()
