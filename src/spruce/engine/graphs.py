"""HNSW graphs of sealed blocks: which blocks need one, building (with pauses and a thread count the
scheduler decides), saving beside the segment with its checksum, and bringing a memory-mapped graph
into RAM.

A block without a graph is searched exactly, so a missing or late graph costs speed, never results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spruce.config import EngineConfig
from spruce.engine.ann import AnnIndex, quantizes_well
from spruce.engine.manifest import segment_dir
from spruce.engine.prefault import map_in
from spruce.engine.rows import RowBlock
from spruce.engine.segment import seal_graph
from spruce.engine.stats import COUNTERS
from spruce.errors import ClosedError

GRAPH_FILE = "hnsw.faiss"


class GraphKeeper:
    """The graphs of one store. `closing` says the store is closing (a build stops at its next chunk);
    `all_cores` says a build may take every core (someone waits for it, or writes have paused);
    otherwise it leaves one to the foreground."""

    def __init__(
        self,
        path: Path | None,
        dimension: int,
        metric: str,
        config: EngineConfig,
        lock: threading.RLock,
        closing: Callable[[], bool],
        all_cores: Callable[[], bool],
    ) -> None:
        self.path = path
        self.dimension = dimension
        self.metric = metric
        self.config = config
        self._lock = lock
        self._closing = closing
        self._all_cores = all_cores

    def needs_ann(self, block: RowBlock) -> bool:
        """Whether the block is big enough for an HNSW graph and has none yet."""
        return bool(self.dimension) and block.n >= self.config.ann_min_rows and block.ann is None

    def build_step(self, pause: Callable[[], None] | None = None) -> Callable[[], None]:
        """What a graph build or extension runs between its chunks: stop if the store is closing,
        `pause` (e.g. the scheduler's `yield_to_writes`), and pick the thread count."""

        def between_chunks() -> None:
            if self._closing():
                raise ClosedError("HNSW build cancelled: the store is closing")
            if pause is not None:
                pause()
            AnnIndex.set_build_threads(0 if self._all_cores() else 1)

        return between_chunks

    def build_ann(self, block: RowBlock, pause: Callable[[], None] | None = None) -> None:
        COUNTERS.build_started()
        started = time.monotonic()
        try:
            index = AnnIndex.build(
                np.asarray(block.dense[: block.n]),
                self.metric,
                m=self.config.hnsw_m,
                ef_construction=self.config.hnsw_ef_construction,
                target_recall=self.config.ann_target_recall,
                between_chunks=self.build_step(pause),
                quantized=quantizes_well(self.dimension, self.config.hnsw_quantize_min_dimension),
            )
        finally:
            COUNTERS.build_finished(time.monotonic() - started)
        self.attach_ann(block, index)

    def attach_ann(self, block: RowBlock, index: AnnIndex) -> None:
        """Save the block's HNSW graph beside its segment (if it has one) and start using it.

        The graph stays in RAM: a memory-mapped graph is evicted from the page cache when it goes
        cold, and then every query faults its pages in from disk (measured: 9 ms per query instead of
        0.5 ms until the pages came back).
        """
        if self.path is not None and block.persisted:
            path = self.graph_path(block)
            if path.parent.exists():
                index.save(path)
                seal_graph(path)
        _map_rows_in(block, index)
        block.ann = index

    def load_ann(self, block: RowBlock) -> None:
        """Replace a memory-mapped graph (opened in milliseconds) with an in-RAM copy read in one pass."""
        mapped = block.ann
        if self.path is None or mapped is None or not mapped.mapped:
            return
        try:
            loaded = AnnIndex.load(self.graph_path(block), self.metric, mmap=False)
        except (OSError, RuntimeError):
            return  # the segment was compacted away meanwhile: nothing to load
        _map_rows_in(block, loaded)
        with self._lock:
            if block.ann is mapped:
                block.ann = loaded

    def graph_path(self, block: RowBlock) -> Path:
        assert self.path is not None
        return segment_dir(self.path, block.block_id) / GRAPH_FILE


def _map_rows_in(block: RowBlock, index: AnnIndex) -> None:
    """A quantised graph re-scores rows of the segment on every query: map them in up front, as a
    flat graph's own copy of them is read into RAM (prefault.map_in)."""
    if index.quantized and block.n:
        map_in(block.dense[: block.n])
