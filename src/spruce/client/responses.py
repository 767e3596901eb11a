"""Response objects shaped like the pinecone SDK's: attribute access, dict access, `to_dict()`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from spruce.types import IndexInfo, IndexStats, Match, NamespaceInfo, Record, SparseVector


class Obj(dict[str, Any]):
    """A dict whose keys are also attributes (`res.matches` and `res["matches"]`)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def to_dict(self) -> dict[str, Any]:
        return {k: (v.to_dict() if isinstance(v, Obj) else v) for k, v in self.items()}


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
    return Obj(
        id=m.id,
        score=m.score,
        values=[] if m.values is None else m.values.tolist(),
        sparse_values=sparse_obj(m.sparse_values),
        metadata=m.metadata,
    )


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
    return Obj(name=info.name, record_count=info.record_count)


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
