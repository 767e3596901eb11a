"""Stateful model test of many small namespaces on disk (packs, engine/pack.py) against a dict.

Hypothesis drives upserts, deletes, drops, flushes (checkpoints that pack and fold small namespaces),
forced compactions, reopens and queries over a dozen namespaces, and checks every namespace's exact
contents, counts and query answers against a plain dict. Packing starts at 2 small blocks a
checkpoint here (PACK_MIN_BLOCKS), so nearly every checkpoint writes a pack; memtables seal at 6 rows
and HNSW starts at 12 rows, so some namespaces outgrow packs and move to segments of their own.
Vectors have small integer components: dotproduct scores are exact in float32, answers are compared
exactly (ties broken by id on both sides).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import spruce
from spruce.config import EngineConfig
from spruce.engine import pack as packmod
from spruce.engine import packing
from spruce.engine.compaction import compact_namespace

CONFIG = EngineConfig(
    memtable_max_rows=6,
    ann_min_rows=12,
    compaction_min_segments=3,
    background=False,
    hnsw_ef_search=512,  # above any block's rows: HNSW answers are exhaustive, so exact
    fsync=False,
)
DIM = 3
NAMESPACES = tuple(f"t{k:02d}" for k in range(6))
IDS = tuple(f"r{k}" for k in range(8))
small = st.integers(-3, 3).map(float)
vectors = st.lists(small, min_size=DIM, max_size=DIM).map(tuple)


class ManyNamespaces(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="spruce-packs-"))
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.client.create_index("m", dimension=DIM, metric="dotproduct")
        self.index = self.client.Index("m")
        self.model: dict[str, dict[str, tuple[tuple[float, ...], int]]] = {}
        self.packed_seen = False
        # Hypothesis runs the machine outside pytest's fixtures: set the constant here, put it back after.
        self._min_blocks = packmod.PACK_MIN_BLOCKS
        packmod.PACK_MIN_BLOCKS = 2
        # Counted, so a fixed run can show the machine goes through repacks (engine/repack.py).
        self.repacked_seen = 0
        self._choose = packing.namespaces_to_repack

        def counting(*args: Any, **kwargs: Any) -> tuple[list[str], bool]:
            chosen, complete = self._choose(*args, **kwargs)
            self.repacked_seen += bool(chosen)
            return chosen, complete

        packing.namespaces_to_repack = counting  # type: ignore[assignment]

    def teardown(self) -> None:
        packmod.PACK_MIN_BLOCKS = self._min_blocks
        packing.namespaces_to_repack = self._choose  # type: ignore[assignment]
        self.client.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @initialize(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=len(NAMESPACES)))
    def seed(self, sizes: list[int]) -> None:
        """Start from a pack: a few small namespaces, checkpointed together."""
        for k, size in enumerate(sizes):
            batch = [(IDS[i], (float(k), float(i), 1.0)) for i in range(size)]
            self.upsert(NAMESPACES[k], batch, k % 4)
        self.index.flush(optimize=False)

    @rule(
        ns=st.sampled_from(NAMESPACES),
        batch=st.lists(st.tuples(st.sampled_from(IDS), vectors), min_size=1, max_size=8),
        tag=st.integers(0, 3),
    )
    def upsert(self, ns: str, batch: list[tuple[str, tuple[float, ...]]], tag: int) -> None:
        self.index.upsert(
            vectors=[{"id": rid, "values": list(v), "metadata": {"tag": tag}} for rid, v in batch],
            namespace=ns,
        )
        for rid, v in batch:
            self.model.setdefault(ns, {})[rid] = (v, tag)

    @rule(ns=st.sampled_from(NAMESPACES), ids=st.lists(st.sampled_from(IDS), min_size=1, max_size=4))
    def delete(self, ns: str, ids: list[str]) -> None:
        self.index.delete(ids=ids, namespace=ns)
        recs = self.model.get(ns, {})
        for rid in ids:
            recs.pop(rid, None)
        if ns in self.model and not recs:
            del self.model[ns]  # an emptied namespace disappears

    @rule(ns=st.sampled_from(NAMESPACES))
    def drop(self, ns: str) -> None:
        if ns in self.model:
            self.index.delete(delete_all=True, namespace=ns)
            del self.model[ns]

    @rule(optimize=st.booleans())
    def flush(self, optimize: bool) -> None:
        self.index.flush(optimize=optimize)

    @rule(ns=st.sampled_from(NAMESPACES))
    def compact(self, ns: str) -> None:
        compact_namespace(self.index._svc.store, ns, force=True)

    @rule()
    def reopen(self) -> None:
        self.client.close()
        self.client = spruce.Client(path=self.dir, config=CONFIG)
        self.index = self.client.Index("m")

    @rule(
        ns=st.sampled_from(NAMESPACES), q=vectors, top_k=st.integers(1, 5), tag=st.none() | st.integers(0, 3)
    )
    def query(self, ns: str, q: tuple[float, ...], top_k: int, tag: int | None) -> None:
        flt = None if tag is None else {"tag": tag}
        res = self.index.query(vector=list(q), top_k=top_k, namespace=ns, filter=flt)
        recs = self.model.get(ns, {})
        scored = sorted(
            ((float(np.dot(v, q)), rid) for rid, (v, t) in recs.items() if tag is None or t == tag),
            key=lambda x: (-x[0], x[1]),
        )
        got = sorted(((m.score, m.id) for m in res.matches), key=lambda x: (-x[0], x[1]))
        want = scored[:top_k]
        assert [s for s, _ in got] == [s for s, _ in want]
        # Same ids, up to ties at the cut: every returned id scores what the model says.
        for score, rid in got:
            assert float(np.dot(recs[rid][0], q)) == score

    def _segments(self) -> Path:
        return self.dir / "indexes" / "m" / "segments"

    @invariant()
    def contents_match(self) -> None:
        stats = self.index.describe_index_stats()
        assert {ns: s.vector_count for ns, s in stats.namespaces.items()} == {
            ns: len(r) for ns, r in self.model.items()
        }
        listed = [n.name for n in self.index.list_namespaces()]
        assert listed == sorted(self.model)
        for ns, recs in self.model.items():
            got = self.index.fetch(ids=list(IDS), namespace=ns).vectors
            assert {rid: (tuple(v.values), v.metadata["tag"]) for rid, v in got.items()} == recs

    @invariant()
    def no_stray_directories(self) -> None:
        # Exactly the packs the manifest names are on disk (a pack goes once nothing refers to it),
        # and every packed block in memory lives in one of them.
        store = self.index._svc.store
        live = {b.pack_id for ns in store.namespaces.values() for b in ns.sealed if b.pack_id is not None}
        on_disk = {int(p.name[5:]) for p in self._segments().iterdir() if p.name.startswith("pack-")}
        manifest = self.dir / "indexes" / "m" / "manifest.json"
        named = (
            {int(k) for k in orjson.loads(manifest.read_bytes()).get("packs", {})}
            if manifest.exists()
            else set()
        )
        assert on_disk == named and live <= named
        self.packed_seen |= bool(named)


TestManyNamespaces = ManyNamespaces.TestCase
TestManyNamespaces.settings = settings(
    max_examples=40,
    # No shrinking: every step touches the disk, and shrinking a long run ran into the test timeout.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_model_test_reaches_packs() -> None:
    """A fixed run through the machine: packs are written (the model test is not vacuous)."""
    machine = ManyNamespaces()
    try:
        for k, ns in enumerate(NAMESPACES[:5]):
            machine.upsert(ns, [(IDS[k], (1.0, 0.0, float(k)))], 0)
        machine.flush(False)
        machine.contents_match()
        machine.no_stray_directories()
        assert machine.packed_seen
    finally:
        machine.teardown()


def test_the_model_test_reaches_repacks() -> None:
    """A fixed run: most namespaces of a pack are dropped, the next checkpoint rewrites the pack, and
    the machine's invariants (contents, no stray directories) hold across it and a reopen."""
    machine = ManyNamespaces()
    try:
        for k, ns in enumerate(NAMESPACES[:5]):
            machine.upsert(ns, [(IDS[k], (1.0, 0.0, float(k))), (IDS[k + 1], (0.0, 1.0, 1.0))], k % 4)
        machine.flush(False)
        for ns in NAMESPACES[:4]:
            machine.drop(ns)
        machine.flush(False)
        assert machine.repacked_seen
        machine.contents_match()
        machine.no_stray_directories()
        machine.reopen()
        machine.contents_match()
        machine.no_stray_directories()
    finally:
        machine.teardown()
