"""Namespaces not opened yet: a name, a count and the one packed block that holds them.

Opening 100,000 small namespaces built a Namespace, a memtable, a RowBlock and an id map for each
(~0.2 ms a namespace) although a reopen is usually followed by queries on a few. A namespace whose
rows are exactly one block of a pack (what a checkpoint folds every small namespace into, see
packing.py) stays dormant after open: its count comes from the pack's alive array, so
describe_index_stats and list_namespaces need nothing else, and the store wakes it (builds the
Namespace from the pack's views) on the first read or write that names it. The pack itself is
verified when the index opens, so a damaged file is still reported at open, never served later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spruce.engine.pack import Pack


@dataclass(frozen=True, slots=True)
class PackedRef:
    """Stands in for the block in a layout: what the manifest writer and the sweep read of a block."""

    block_id: int
    pack_id: int
    alive_file: None = None


@dataclass(frozen=True, slots=True)
class Dormant:
    explicit: bool
    ref: PackedRef
    count: int


def dormant(pack: Pack, block_id: int, explicit: bool) -> Dormant:
    first, n = pack.table[block_id]
    count = int(np.count_nonzero(pack.alive[first : first + n]))
    return Dormant(explicit, PackedRef(block_id, pack.pack_id), count)
