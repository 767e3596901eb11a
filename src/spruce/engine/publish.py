"""Publishing an imported namespace: finished segments moved into place and named by one manifest.

An import writes its segments with bulk.py's writers, hidden from readers; publishing moves them into
`segments/`, fsyncs the directory and commits a manifest naming them at the current checkpoint
position, with a replay floor so that older WAL frames of a namespace of that name (deleted before
the import) are never replayed onto it. Either every segment becomes visible or none does.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Sequence

from spruce.engine.bulk import DEFAULT_SEGMENT_ROWS, BulkSegment, NamespaceWriter, open_segment
from spruce.engine.committed import LayoutHost
from spruce.engine.fsutil import fsync_dir
from spruce.engine.rows import RowBlock
from spruce.errors import AlreadyExistsError, InvalidArgumentError


def bulk_writer(store: LayoutHost, segment_rows: int = 0) -> NamespaceWriter:
    """A writer for one imported namespace's segments (hidden until `publish_namespace`)."""
    if store.path is None:
        raise InvalidArgumentError("imports need an index on disk; open the client with a path")
    with store.lock:
        store.check_open()
        seq = store.committed.seq

    def next_id() -> int:
        with store.lock:
            return store.new_block_id()

    # An import counts as writing: background HNSW builds wait for it as for upserts.
    return NamespaceWriter(
        store.path / "segments",
        store.dimension,
        next_id,
        seq,
        segment_rows or DEFAULT_SEGMENT_ROWS,
        touch=store.scheduler.note_write,
    )


def publish_namespace(
    store: LayoutHost, name: str, segments: Sequence[BulkSegment]
) -> tuple[list[RowBlock], int]:
    """Make an imported namespace visible at once. Raises AlreadyExistsError (and removes the
    segments) if the namespace exists. Returns its blocks (for their graphs) and its record count."""
    assert store.path is not None
    root = store.path / "segments"
    blocks: list[RowBlock] = []
    try:
        with store.maintenance_lock:
            with store.lock:
                store.check_open()
                if name in store.table:
                    raise AlreadyExistsError(f"namespace {name!r} already exists")
            for seg in segments:
                final = root / f"{seg.block_id:012d}"
                os.replace(seg.path, final)
                block = open_segment(seg, final)
                block.persisted = True
                block.alive_file = seg.alive_file
                block.sealed_at = time.monotonic()
                blocks.append(block)
            fsync_dir(root)
            with store.lock:
                if name in store.table:
                    raise AlreadyExistsError(f"namespace {name!r} was written to during the import")
                ns = store.table.get(name, create=True)
                assert ns is not None
                for block in blocks:
                    ns.add_sealed(block)
                count = ns.count
                store.committed.replay_floor[name] = store.applied_lsn
                layout = store.table.layout()
                lsn = store.committed.lsn
            try:
                store.committed.write(layout, lsn, store.next_block, {})
            except BaseException:
                with store.lock:
                    store.table.forget(name)
                raise
    except BaseException:
        for seg in segments:
            shutil.rmtree(seg.path, ignore_errors=True)
            if not any(b.block_id == seg.block_id for ns in store.table.live.values() for b in ns.sealed):
                shutil.rmtree(root / f"{seg.block_id:012d}", ignore_errors=True)
        raise
    return blocks, count
