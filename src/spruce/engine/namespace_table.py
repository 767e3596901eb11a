"""The namespaces of one index: the live ones, the dormant ones, and the name order for paging.

A namespace opened from a pack stays dormant (engine/dormant.py) until a call names it; every lookup
goes through `get`, which wakes it, so no caller can see a half-opened namespace. Callers hold the
store's lock: this table has no lock of its own, because each write changes it together with the WAL
and the memtable, under that one lock.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

from spruce.engine.dormant import Dormant
from spruce.engine.manifest import BlockRef
from spruce.engine.namespace import Namespace
from spruce.engine.pack import Packs

Layout = dict[str, tuple[bool, list[BlockRef]]]


class NamespaceTable:
    def __init__(
        self, dimension: int, memtable_max_rows: int, new_block_id: Callable[[], int], packs: Packs
    ) -> None:
        self._dimension = dimension
        self._memtable_max_rows = memtable_max_rows
        self._new_block_id = new_block_id
        self._packs = packs
        self.live: dict[str, Namespace] = {}
        # Opened from a pack but not built yet: woken by the first access that names one.
        self.dormant: dict[str, Dormant] = {}
        self._sorted_names: list[str] | None = None  # for paging 100,000 names without a sort a page
        # A pack may have lost named rows since the last look for mostly-empty packs (repack.py):
        # a drop, or a compaction that took blocks out of a pack. True at open: look once.
        self.packs_shrunk = True

    def get(self, name: str, create: bool) -> Namespace | None:
        ns = self.live.get(name)
        if ns is None and name in self.dormant:
            ns = self._wake(name)
        if ns is None and create:
            ns = self._new(name)
            self.live[name] = ns
            self._sorted_names = None
        return ns

    def _new(self, name: str) -> Namespace:
        return Namespace(name, self._dimension, self._new_block_id, self._memtable_max_rows)

    def _wake(self, name: str) -> Namespace:
        d = self.dormant.pop(name)
        ns = self._new(name)
        ns.explicit = d.explicit
        ns.add_sealed(self._packs.by_id[d.ref.pack_id].block(d.ref.block_id))
        self.live[name] = ns
        return ns

    def add_dormant(self, name: str, d: Dormant) -> None:
        self.dormant[name] = d
        self._sorted_names = None

    def drop(self, name: str) -> None:
        """Forget a namespace (its blocks stay on disk until the next manifest no longer names them)."""
        self.packs_shrunk = True
        if self.dormant.pop(name, None) is not None:
            self._sorted_names = None
            return
        ns = self.live.pop(name, None)
        if ns is not None:
            self._sorted_names = None
            ns.delete_all()

    def forget(self, name: str) -> None:
        """Undo `get(name, create=True)` after a failed publication: no rows were ever visible."""
        self.live.pop(name, None)
        self._sorted_names = None

    def __contains__(self, name: object) -> bool:
        return name in self.live or name in self.dormant

    def count(self, name: str) -> int:
        ns = self.live.get(name)
        return ns.count if ns is not None else self.dormant[name].count

    def counts(self) -> dict[str, int]:
        counts = {name: ns.count for name, ns in self.live.items()}
        counts.update((name, d.count) for name, d in self.dormant.items())
        return counts

    def page(self, prefix: str, after: str | None, limit: int) -> tuple[list[tuple[str, int]], bool, int]:
        """Up to `limit` (name, count) in name order after `after`, among names starting with
        `prefix`; whether more follow; how many names have the prefix. Bisects a sorted list kept
        until a namespace appears or goes, so a page costs its own size, not a sort of them all."""
        names = self._sorted_names
        if names is None:
            names = self._sorted_names = sorted([*self.live, *self.dormant])
        lo = bisect.bisect_left(names, prefix)
        # Names with the prefix are one run from `lo`: bisect for its end on a monotone key.
        hi = bisect.bisect_left(names, True, lo, key=lambda n: not n.startswith(prefix))
        start = max(lo, bisect.bisect_right(names, after)) if after is not None else lo
        page = names[start : min(start + limit, hi)]
        return [(n, self.count(n)) for n in page], start + limit < hi, hi - lo

    def layout(self) -> Layout:
        """Every namespace's blocks as the manifest records them (dormant ones by their stand-in)."""
        layout: Layout = {name: (ns.explicit, list(ns.sealed)) for name, ns in self.live.items()}
        for name, d in self.dormant.items():
            layout[name] = (d.explicit, [d.ref])
        return layout
