"""The durable import job table: whatever was saved survives reopening; a torn tail loses only itself."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.service.import_jobs import COMPLETED, IN_PROGRESS, ImportJob, JobTable, PlannedFile

STATUSES = ["Pending", IN_PROGRESS, COMPLETED, "Failed", "Cancelled"]
steps = st.lists(
    st.tuples(st.integers(0, 3), st.sampled_from(STATUSES), st.integers(0, 10**9), st.booleans()),
    min_size=1,
    max_size=40,
)


def _job(jid: str, status: str, records: int) -> ImportJob:
    return ImportJob(
        id=jid,
        index="i",
        uri="s3://b/p/",
        error_mode="abort",
        integration_id=None,
        created_at="2026-12-02T00:00:00.000Z",
        status=status,
        records_imported=records,
        plan={"ns": [PlannedFile("b/p/ns/a.parquet", 7)]},
        total_rows=7,
        done={"ns": records} if status == COMPLETED else {},
    )


@settings(max_examples=60, deadline=None)
@given(steps, st.integers(1, 30))
def test_saved_jobs_survive_reopen_and_torn_tails(ops: list[tuple[int, str, int, bool]], cut: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "imports.jsonl"
        table = JobTable(path)
        model: dict[str, tuple[str, int]] = {}
        for slot, status, records, reopen in ops:
            jid = str(slot + 1)
            table.save(_job(jid, status, records))
            model[jid] = (status, records)
            if reopen:
                table = JobTable(path)
        again = JobTable(path)
        assert {j.id: (j.status, j.records_imported) for j in again.ordered()} == model
        assert again.new_id() == str(max(int(j) for j in model) + 1)
        # A crash mid-append: cut the last line short. Everything before it is still there.
        data = path.read_bytes()
        last_start = data.rstrip(b"\n").rfind(b"\n") + 1
        torn = data[: last_start + min(cut, len(data) - last_start - 2)]
        path.write_bytes(torn)
        survivor = JobTable(path)
        assert set(survivor.jobs) <= set(model)
        for jid, job in survivor.jobs.items():
            assert job.status in STATUSES and job.id == jid
        survivor.save(_job("99", COMPLETED, 1))  # appends after a torn tail are not lost
        assert JobTable(path).jobs["99"].status == COMPLETED
