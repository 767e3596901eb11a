"""Which mostly-empty packs a checkpoint rewrites, and whose namespaces move out of them.

A pack (pack.py) stays on disk, whole, while any block it holds is named by the manifest. Dropping
most of its namespaces, or deleting most of their rows, leaves it mostly dead: its dead rows still
take disk, page cache, and the verification of every pack file when the index opens. So a
checkpoint moves every namespace of a pack whose named alive rows are at most
REPACK_LIVE_FRACTION of the pack's rows into its own new pack (each folded into one block of its
alive rows, as packing.py does for any small namespace); the old pack is then named by no block and
the sweep after the manifest removes it.

Only packs whose namespaces can all move are chosen (every sealed block of each is small and has no
graph): moving some of them would leave the pack on disk anyway and only add a copy. Each checkpoint
moves the packs with the fewest live rows first, up to REPACK_MAX_ROWS rows beyond the first pack,
so one checkpoint after a mass deletion does a bounded amount of extra writing.
"""

from __future__ import annotations

from collections.abc import Callable

from spruce.engine.namespace import Namespace
from spruce.engine.namespace_table import NamespaceTable
from spruce.engine.pack import Packs

REPACK_LIVE_FRACTION = 0.5
REPACK_MAX_ROWS = 1 << 20


def namespaces_to_repack(
    packs: Packs,
    table: NamespaceTable,
    movable: Callable[[Namespace], bool],
    moving: set[str],
) -> tuple[list[str], bool]:
    """Names of the namespaces to move out of mostly-empty packs, beyond those already `moving`, and
    whether that is all of them (False: the per-checkpoint cap left some for the next checkpoint).

    Under the store lock. Dormant namespaces (one packed block each, so always small) are named
    here without being woken; the caller wakes the ones it moves. Rows of the `moving` namespaces
    do not count: this checkpoint takes them out of their packs.
    """
    live_rows: dict[int, int] = {}  # pack id -> alive rows of the blocks the layout will name
    owners: dict[int, set[str]] = {}
    for name, ns in table.live.items():
        if name in moving:
            continue
        for b in ns.sealed:
            if b.pack_id is not None:
                live_rows[b.pack_id] = live_rows.get(b.pack_id, 0) + b.live_count
                owners.setdefault(b.pack_id, set()).add(name)
    for name, d in table.dormant.items():
        pid = d.ref.pack_id
        live_rows[pid] = live_rows.get(pid, 0) + d.count
        owners.setdefault(pid, set()).add(name)
    sparse = sorted(
        (rows / packs.by_id[pid].n, pid)
        for pid, rows in live_rows.items()
        if packs.by_id[pid].n and rows <= REPACK_LIVE_FRACTION * packs.by_id[pid].n
    )
    chosen: list[str] = []
    taken: set[str] = set(moving)
    moved_rows = 0
    for _, pid in sparse:
        if chosen and moved_rows >= REPACK_MAX_ROWS:
            return chosen, False
        names = owners[pid] - taken  # owners of an earlier chosen pack move with it already
        if not all(name in table.dormant or movable(table.live[name]) for name in names):
            continue
        chosen.extend(sorted(names))
        taken.update(names)
        moved_rows += live_rows[pid]
    return chosen, True
