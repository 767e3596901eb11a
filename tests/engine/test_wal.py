from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest

from spruce.engine.fsutil import atomic_write_bytes, fsync_dir, fsync_file
from spruce.engine.wal import Wal
from spruce.engine.wal_format import FILE_HEADER_SIZE, FRAME_HEADER_SIZE, MAX_PAYLOAD, wal_file_name
from spruce.engine.wal_open import RecoveryReport
from spruce.errors import (
    ClosedError,
    DiskFullError,
    PayloadTooLargeError,
    SpruceError,
    WalCorruptionError,
)


def payload_for(lsn: int, size: int = 40) -> bytes:
    return (f"frame-{lsn}:".encode() * (size // 8 + 1))[:size]


def wal_files(d: Path) -> list[Path]:
    return sorted(d.glob("wal-*.log"))


def torn_files(d: Path) -> list[Path]:
    return sorted(d.glob("wal-*.log.torn-*"))


def test_fresh_directory_is_created(tmp_path: Path) -> None:
    d = tmp_path / "a" / "wal"
    wal, report = Wal.open(d)
    assert report == RecoveryReport(next_lsn=1, frames=0, torn_bytes=0, quarantined=None)
    assert wal.next_lsn == 1
    assert [p.name for p in wal_files(d)] == [wal_file_name(1)]
    assert wal.size_bytes == FILE_HEADER_SIZE
    assert list(wal.replay()) == []
    wal.close()


def test_round_trip(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    payloads = [payload_for(i, size) for i, size in enumerate([0, 1, 7, 100, 70_000], start=1)]
    lsns = [wal.append(p) for p in payloads]
    assert lsns == [1, 2, 3, 4, 5]
    assert wal.next_lsn == 6
    assert list(wal.replay()) == list(zip(lsns, payloads, strict=True))
    assert list(wal.replay(after_lsn=3)) == [(4, payloads[3]), (5, payloads[4])]
    assert list(wal.replay(after_lsn=5)) == []
    expected_size = FILE_HEADER_SIZE + sum(FRAME_HEADER_SIZE + len(p) for p in payloads)
    assert wal.size_bytes == expected_size
    assert os.path.getsize(wal_files(tmp_path)[0]) == expected_size
    wal.close()


def test_append_many_uses_one_fsync(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    before = wal.fsync_count
    assert wal.append_many([b"a", b"bb", b"ccc"]) == 3
    assert wal.fsync_count == before + 1
    assert wal.append_many([]) == 3
    assert wal.append(b"d") == 4
    assert wal.fsync_count == before + 2  # a single writer pays one fsync per append
    assert [p for _, p in wal.replay()] == [b"a", b"bb", b"ccc", b"d"]
    wal.close()


def test_many_buffers_beyond_iov_max(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, fsync=False)
    payloads = [payload_for(i, i % 13) for i in range(1, 3001)]
    assert wal.append_many(payloads) == 3000
    assert [p for _, p in wal.replay()] == payloads
    wal.close()


def test_reopen_continues_lsns(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    for i in range(1, 6):
        wal.append(payload_for(i))
    wal.close()
    wal, report = Wal.open(tmp_path)
    assert report == RecoveryReport(next_lsn=6, frames=5, torn_bytes=0, quarantined=None)
    assert wal.append(payload_for(6)) == 6
    wal.close()
    wal, report = Wal.open(tmp_path)
    assert report.next_lsn == 7
    assert list(wal.replay()) == [(i, payload_for(i)) for i in range(1, 7)]
    wal.close()


def test_close_is_idempotent_and_final(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(b"x")
    wal.close()
    wal.close()
    with pytest.raises(ClosedError):
        wal.append(b"y")
    with pytest.raises(ClosedError):
        wal.append_many([b"y"])
    with pytest.raises(ClosedError):
        wal.rotate()
    with pytest.raises(ClosedError):
        wal.replay()


def test_context_manager_closes(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    with wal:
        wal.append(b"x")
    with pytest.raises(ClosedError):
        wal.append(b"y")


def test_second_open_of_same_directory_is_refused(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    with pytest.raises(SpruceError, match="already open"):
        Wal.open(tmp_path)
    wal.close()
    wal2, _ = Wal.open(tmp_path)
    wal2.close()


def test_payload_too_large_is_rejected_before_writing(tmp_path: Path) -> None:
    class Huge(bytes):
        def __len__(self) -> int:
            return MAX_PAYLOAD + 1

    wal, _ = Wal.open(tmp_path)
    with pytest.raises(PayloadTooLargeError):
        wal.append(Huge(b"x"))
    assert wal.next_lsn == 1
    wal.close()


def _build_three_frames(d: Path) -> tuple[int, int]:
    """Write frames 1..3 (the last 37 bytes of payload); return (end of frame 2, end of frame 3)."""
    wal, _ = Wal.open(d)
    wal.append(payload_for(1))
    wal.append(payload_for(2, 1000))
    end2 = wal.size_bytes
    wal.append(payload_for(3, 37))
    end3 = wal.size_bytes
    wal.close()
    return end2, end3


def test_torn_tail_at_every_offset_of_last_frame(tmp_path: Path) -> None:
    base = tmp_path / "base"
    end2, end3 = _build_three_frames(base)
    name = wal_file_name(1)
    for cut in range(end2, end3):
        d = tmp_path / f"cut-{cut}"
        shutil.copytree(base, d)
        full = (d / name).read_bytes()
        os.truncate(d / name, cut)

        wal, report = Wal.open(d)
        assert report.next_lsn == 3
        assert report.frames == 2
        assert report.torn_bytes == cut - end2
        if cut == end2:
            assert report.quarantined is None
            assert torn_files(d) == []
        else:
            assert report.quarantined == d / f"{name}.torn-1"
            assert report.quarantined.read_bytes() == full[end2:cut]
        assert os.path.getsize(d / name) == end2
        assert list(wal.replay()) == [(1, payload_for(1)), (2, payload_for(2, 1000))]

        assert wal.append(b"after") == 3
        wal.close()
        wal, report = Wal.open(d)
        assert report.torn_bytes == 0
        assert list(wal.replay(after_lsn=2)) == [(3, b"after")]
        wal.close()
        shutil.rmtree(d)


def test_torn_file_header_of_last_file_is_repaired(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(b"one")
    wal.rotate()
    wal.close()
    new = tmp_path / wal_file_name(2)
    os.truncate(new, 3)
    wal, report = Wal.open(tmp_path)
    assert report.next_lsn == 2
    assert report.torn_bytes == 3
    assert report.quarantined is not None
    assert report.quarantined.read_bytes() == b"SPR"
    assert wal.append(b"two") == 2
    assert list(wal.replay()) == [(1, b"one"), (2, b"two")]
    wal.close()


def test_repeated_quarantines_get_new_names(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(b"one")
    wal.close()
    path = tmp_path / wal_file_name(1)
    for n in (1, 2):
        with open(path, "ab") as f:
            f.write(b"garbage")
        wal, report = Wal.open(tmp_path)
        assert report.quarantined == tmp_path / f"{path.name}.torn-{n}"
        assert report.torn_bytes == len(b"garbage")
        wal.close()
    assert len(torn_files(tmp_path)) == 2


def test_flipped_byte_in_last_frame_drops_and_quarantines_it(tmp_path: Path) -> None:
    end2, end3 = _build_three_frames(tmp_path)
    path = tmp_path / wal_file_name(1)
    data = bytearray(path.read_bytes())
    data[end3 - 5] ^= 0x40  # inside frame 3's payload
    path.write_bytes(bytes(data))

    wal, report = Wal.open(tmp_path)
    assert report.next_lsn == 3
    assert report.torn_bytes == end3 - end2
    assert report.quarantined is not None
    assert report.quarantined.read_bytes() == bytes(data[end2:end3])
    assert [lsn for lsn, _ in wal.replay()] == [1, 2]
    assert wal.append(b"new three") == 3
    wal.close()


def test_flipped_lsn_in_last_frame_is_caught(tmp_path: Path) -> None:
    end2, end3 = _build_three_frames(tmp_path)
    path = tmp_path / wal_file_name(1)
    data = bytearray(path.read_bytes())
    data[end2 + 8] ^= 0x01  # lsn field of frame 3
    path.write_bytes(bytes(data))
    wal, report = Wal.open(tmp_path)
    assert (report.next_lsn, report.torn_bytes) == (3, end3 - end2)
    wal.close()


def test_flipped_byte_in_earlier_file_raises(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(payload_for(1))
    wal.append(payload_for(2))
    wal.rotate()
    wal.append(payload_for(3))
    wal.close()
    first = tmp_path / wal_file_name(1)
    data = bytearray(first.read_bytes())
    offset = FILE_HEADER_SIZE + FRAME_HEADER_SIZE + 40 + FRAME_HEADER_SIZE + 3  # frame 2's payload
    data[offset] ^= 0xFF
    first.write_bytes(bytes(data))
    with pytest.raises(WalCorruptionError) as info:
        Wal.open(tmp_path)
    assert info.value.path == str(first)
    assert info.value.offset == FILE_HEADER_SIZE + FRAME_HEADER_SIZE + 40  # start of frame 2
    assert torn_files(tmp_path) == []
    # The failed open released its directory lock.
    first.write_bytes(bytes(data[:offset]) + bytes([data[offset] ^ 0xFF]) + bytes(data[offset + 1 :]))
    wal, report = Wal.open(tmp_path)
    assert report.next_lsn == 4
    wal.close()


def test_torn_tail_of_earlier_file_raises(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(payload_for(1))
    wal.rotate()
    wal.append(payload_for(2))
    wal.close()
    first = tmp_path / wal_file_name(1)
    os.truncate(first, os.path.getsize(first) - 1)
    with pytest.raises(WalCorruptionError):
        Wal.open(tmp_path)


def test_missing_middle_file_raises(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    for lsn in range(1, 4):
        wal.append(payload_for(lsn))
        wal.rotate()
    wal.close()
    os.unlink(tmp_path / wal_file_name(2))
    with pytest.raises(WalCorruptionError, match="missing or extra"):
        Wal.open(tmp_path)


def test_foreign_file_raises(tmp_path: Path) -> None:
    (tmp_path / wal_file_name(1)).write_bytes(b"NOTAWAL\x00" + b"\x00" * 30)
    with pytest.raises(WalCorruptionError, match="not a Spruce WAL"):
        Wal.open(tmp_path)


def test_rotate_and_truncate_before(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append_many([payload_for(i) for i in (1, 2, 3)])
    wal.rotate()
    wal.rotate()  # nothing appended since: no empty file with a duplicate name
    wal.append_many([payload_for(i) for i in (4, 5)])
    wal.rotate()
    wal.append(payload_for(6))
    assert [p.name for p in wal_files(tmp_path)] == [wal_file_name(n) for n in (1, 4, 6)]
    total = sum(os.path.getsize(p) for p in wal_files(tmp_path))
    assert wal.size_bytes == total

    wal.truncate_before(3)  # file 1 still holds lsn 3
    assert len(wal_files(tmp_path)) == 3
    wal.truncate_before(4)
    assert [p.name for p in wal_files(tmp_path)] == [wal_file_name(n) for n in (4, 6)]
    assert wal.size_bytes == sum(os.path.getsize(p) for p in wal_files(tmp_path))
    assert [lsn for lsn, _ in wal.replay()] == [4, 5, 6]
    assert [lsn for lsn, _ in wal.replay(after_lsn=5)] == [6]

    wal.truncate_before(100)  # never the active file
    assert [p.name for p in wal_files(tmp_path)] == [wal_file_name(6)]
    assert list(wal.replay()) == [(6, payload_for(6))]
    wal.rotate()
    wal.truncate_before(7)
    assert [p.name for p in wal_files(tmp_path)] == [wal_file_name(7)]
    assert list(wal.replay()) == []
    wal.close()

    # Frames 1-6 were dropped by truncate_before, as after a checkpoint covering them.
    wal, report = Wal.open(tmp_path, covered_lsn=6)
    assert report == RecoveryReport(next_lsn=7, frames=0, torn_bytes=0, quarantined=None)
    assert wal.append(b"seven") == 7
    wal.close()


def test_stale_temp_files_are_swept(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.close()
    stale = tmp_path / f".tmp-{wal_file_name(5)}.123.abc"
    stale.write_bytes(b"partial")
    wal, _ = Wal.open(tmp_path)
    assert not stale.exists()
    wal.close()


def test_group_commit_shares_fsyncs(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    threads, per_thread = 8, 100
    results: dict[int, list[int]] = {t: [] for t in range(threads)}
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            results[t].append(wal.append(f"{t}:{i}".encode()))

    workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    before = wal.fsync_count
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    fsyncs = wal.fsync_count - before
    appends = threads * per_thread

    all_lsns = sorted(lsn for lsns in results.values() for lsn in lsns)
    assert all_lsns == list(range(1, appends + 1))
    for lsns in results.values():
        assert lsns == sorted(lsns)  # each thread's appends are ordered
    replayed = dict(wal.replay())
    assert len(replayed) == appends
    for t, lsns in results.items():
        for i, lsn in enumerate(lsns):
            assert replayed[lsn] == f"{t}:{i}".encode()
    print(f"group commit: {appends} appends, {fsyncs} fsyncs")
    assert fsyncs < appends
    wal.close()


def test_close_waits_for_concurrent_appenders(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path)
    acked: list[int] = []
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            try:
                acked.append(wal.append(b"x" * 100))
            except ClosedError:
                return

    workers = [threading.Thread(target=worker) for _ in range(4)]
    for w in workers:
        w.start()
    while len(acked) < 50:
        threading.Event().wait(0.001)
    wal.close()
    stop.set()
    for w in workers:
        w.join()
    wal, report = Wal.open(tmp_path)
    assert report.next_lsn - 1 >= max(acked)
    assert [lsn for lsn, _ in wal.replay()] == list(range(1, report.next_lsn))
    wal.close()


def test_failed_write_leaves_log_consistent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(b"one")
    real_writev = os.writev

    def short_then_fail(fd: int, bufs: list[memoryview]) -> int:
        real_writev(fd, [bufs[0][:5]])  # part of the frame header reaches the file
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "writev", short_then_fail)
    with pytest.raises(DiskFullError, match="disk is full"):
        wal.append(b"two")
    monkeypatch.setattr(os, "writev", real_writev)
    assert wal.append(b"two again") == 2
    wal.close()
    wal, report = Wal.open(tmp_path)
    assert report.torn_bytes == 0
    assert list(wal.replay()) == [(1, b"one"), (2, b"two again")]
    wal.close()


def test_failed_fsync_poisons_the_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wal, _ = Wal.open(tmp_path)
    wal.append(b"one")
    import spruce.engine.wal_commit as wal_commit

    def fail(fd: int) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(wal_commit, "fdatasync_fd", fail)
    with pytest.raises(OSError):
        wal.append(b"two")
    monkeypatch.undo()
    with pytest.raises(OSError, match="unusable"):
        wal.append(b"three")
    wal.close()


def test_fsync_false_skips_fsyncs(tmp_path: Path) -> None:
    wal, _ = Wal.open(tmp_path, fsync=False)
    for i in range(10):
        wal.append(payload_for(i))
    assert wal.fsync_count == 0
    wal.close()
    wal, report = Wal.open(tmp_path, fsync=False)
    assert report.next_lsn == 11
    wal.close()


def test_fsutil_helpers(tmp_path: Path) -> None:
    target = tmp_path / "f.bin"
    atomic_write_bytes(target, b"one")
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]
    with open(tmp_path / "g.bin", "wb") as f:
        f.write(b"abc")
        fsync_file(f)
    fsync_dir(tmp_path)
    assert (tmp_path / "g.bin").read_bytes() == b"abc"


def test_buffer_payloads_are_written_as_bytes(tmp_path: Path) -> None:
    import numpy as np

    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    wal, _ = Wal.open(tmp_path)
    assert wal.append(vectors.data) == 1  # len() of this view is 3, its size 48 bytes
    assert wal.append_many([bytearray(b"ab"), memoryview(b"cd")]) == 3
    wal.close()
    wal, _ = Wal.open(tmp_path)
    assert list(wal.replay()) == [(1, vectors.tobytes()), (2, b"ab"), (3, b"cd")]
    wal.close()
