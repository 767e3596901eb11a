"""The read half of a store: namespace listing, counts, fetch and query, each over a consistent view.

Every read takes the store lock only long enough to look at the namespace table and the namespace's
blocks; a query's math (search_block, merge_top_k) runs after it is released, on views that hold
their own references, so writes and checkpoints are not held back by a long scan.

A mixin of engine/store.py's Store: it reads the attributes declared below and adds no state.
`check_open` lives here because reads are its first users; the write path calls it too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from spruce.engine.namespace import Namespace
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.search import QuerySpec, merge_top_k, search_block
from spruce.errors import ClosedError
from spruce.types import Match, Record


class StoreReads:
    lock: threading.RLock
    table: NamespaceTable
    closed: bool

    def check_open(self) -> None:
        if self.closed:
            raise ClosedError("this index store is closed")

    def namespace_counts(self) -> dict[str, int]:
        with self.lock:
            return self.table.counts()

    def namespace_count(self, namespace: str) -> int | None:
        """Records in one namespace (None: no such namespace), without listing the others."""
        with self.lock:
            return self.table.count(namespace) if namespace in self.table else None

    def namespace_page(
        self, prefix: str, after: str | None, limit: int
    ) -> tuple[list[tuple[str, int]], bool, int]:
        """Up to `limit` (name, count) in name order after `after` among names starting with
        `prefix`; whether more follow; how many names have the prefix (see NamespaceTable.page)."""
        with self.lock:
            return self.table.page(prefix, after, limit)

    def has_namespace(self, namespace: str) -> bool:
        with self.lock:
            return namespace in self.table

    def count_matching(self, namespace: str, flt: Any) -> int:
        with self.lock:
            ns = self.table.get(namespace, False)
            if ns is None:
                return 0
            if flt is None:
                return ns.count
            return sum(int((b.alive[: b.n] & b.filter_mask(flt, b.n)).sum()) for b in ns.blocks() if b.n)

    def fetch(self, namespace: str, ids: Sequence[str]) -> dict[str, Record]:
        with self.lock:
            ns = self.table.get(namespace, False)
            if ns is None:
                return {}
            out: dict[str, Record] = {}
            for rid in ids:
                rec = ns.get(rid)
                if rec is not None:
                    out[rid] = rec
            return out

    def with_namespace(self, namespace: str, fn: Callable[[Namespace | None], Any]) -> Any:
        """Run `fn` on the namespace under the lock (for paging reads that need a consistent view)."""
        with self.lock:
            return fn(self.table.get(namespace, False))

    def query(
        self, namespace: str, spec: QuerySpec, flt: Any, include_values: bool, include_metadata: bool
    ) -> list[Match]:
        with self.lock:
            self.check_open()
            ns = self.table.get(namespace, False)
            if ns is None:
                return []
            views = ns.views(flt)
            blocks = {b.block_id: b for b in ns.blocks()}
        parts = []
        for view in views:
            rows, scores, keys = search_block(view, spec)
            if len(rows):
                parts.append((view.block_key, rows, scores, keys))
        top = merge_top_k(parts, spec.top_k)
        out: list[Match] = []
        for block_key, row, score in top:
            block = blocks[block_key]
            if include_values or include_metadata:
                rec = block.record(row, values=include_values, metadata=include_metadata)
                out.append(Match(rec.id, score, rec.values, rec.sparse_values, rec.metadata))
            else:
                out.append(Match(block.ids[row], score))
        return out
