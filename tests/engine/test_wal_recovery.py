"""WAL fault injection: truncations and byte flips in frames and headers across several files.

The oracle is the byte layout itself: the test knows where every frame lies, so for each injected
fault it knows exactly which frames are damaged. Every intact frame must come back (skip-corrupted),
nothing damaged may come back, the report must name the lost LSNs and bytes, and the default mode
must refuse with that report unless the damage is a torn tail (nothing valid after it).
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spruce.engine.wal import Wal
from spruce.engine.wal_format import FILE_HEADER_SIZE, FRAME_HEADER_SIZE, wal_file_name
from spruce.errors import WalCorruptionError

FILES = 3
FRAMES_PER_FILE = 6


@dataclass(frozen=True)
class Frame:
    lsn: int
    file: str
    start: int
    end: int
    payload: bytes


def payload(lsn: int) -> bytes:
    size = random.Random(lsn).randint(0, 300)
    return bytes(random.Random(-lsn).getrandbits(8) for _ in range(size))


def build(d: Path) -> list[Frame]:
    """Three files of six frames each; return where every frame lies."""
    wal, _ = Wal.open(d)
    frames: list[Frame] = []
    lsn = 1
    for f in range(FILES):
        if f:
            wal.rotate()
        name = wal_file_name(lsn)
        for _ in range(FRAMES_PER_FILE):
            start = os.path.getsize(d / name)
            data = payload(lsn)
            assert wal.append(data) == lsn
            frames.append(Frame(lsn, name, start, start + FRAME_HEADER_SIZE + len(data), data))
            lsn += 1
    wal.close()
    return frames


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Frame]]:
    d = tmp_path_factory.mktemp("wal") / "pristine"
    return d, build(d)


def copy(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("wal.lock"))
    return dst


def flip(path: Path, offset: int, mask: int = 0x40) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= mask
    path.write_bytes(bytes(data))


def replayed(d: Path, mode: str = "skip-corrupted") -> tuple[dict[int, bytes], object]:
    wal, report = Wal.open(d, recovery=mode)
    try:
        return dict(wal.replay()), report
    finally:
        wal.close()


def is_tail(frames: list[Frame], hit: Frame) -> bool:
    return hit.lsn == frames[-1].lsn


def test_flip_in_every_frame_of_every_file(tmp_path: Path, pristine: tuple[Path, list[Frame]]) -> None:
    src, frames = pristine
    for hit in frames:
        for where in (0, 4, 8, FRAME_HEADER_SIZE, hit.end - hit.start - 1):  # length, crc, lsn, payload
            if hit.start + where >= hit.end:
                continue
            d = copy(src, tmp_path / "case")
            flip(d / hit.file, hit.start + where)
            original = (src / hit.file).read_bytes()[hit.start : hit.end]
            if is_tail(frames, hit):
                got, report = replayed(d, "fail")  # a torn tail opens in either mode
                assert report.torn_bytes == hit.end - hit.start  # type: ignore[attr-defined]
                assert set(got) == {f.lsn for f in frames if f is not hit}
                continue
            with pytest.raises(WalCorruptionError) as info:
                Wal.open(d)
            message = str(info.value)
            assert f"frames {hit.lsn}..{hit.lsn} (1) lost" in message
            assert f"{hit.file} bytes {hit.start}..{hit.end}" in message
            assert not list(d.glob("*.corrupt-*"))  # the default mode changes nothing
            got, report = replayed(d)
            assert got == {f.lsn: f.payload for f in frames if f is not hit}
            (damage,) = report.damage  # type: ignore[attr-defined]
            assert (damage.first_lost, damage.last_lost) == (hit.lsn, hit.lsn)
            assert (damage.start, damage.end) == (hit.start, hit.end)
            assert damage.quarantined.read_bytes() != original
            assert len(damage.quarantined.read_bytes()) == len(original)


def test_truncation_at_every_frame_boundary(tmp_path: Path, pristine: tuple[Path, list[Frame]]) -> None:
    src, frames = pristine
    for cut in frames:
        d = copy(src, tmp_path / "case")
        os.truncate(d / cut.file, cut.start)
        in_file = [f for f in frames if f.file == cut.file]
        gone = [f for f in in_file if f.start >= cut.start]
        last_file = cut.file == frames[-1].file
        if last_file:
            got, report = replayed(d, "fail")  # a crash tears the last file: not corruption
            assert set(got) == {f.lsn for f in frames if f not in gone}
            wal, _ = Wal.open(d)
            assert wal.append(b"next") == cut.lsn  # appends continue where the log now ends
            wal.close()
            continue
        with pytest.raises(WalCorruptionError, match=rf"frames {cut.lsn}..{gone[-1].lsn} \("):
            Wal.open(d)
        got, report = replayed(d)
        assert got == {f.lsn: f.payload for f in frames if f not in gone}
        assert report.lost_frames == len(gone)  # type: ignore[attr-defined]


def test_truncation_at_random_offsets(tmp_path: Path, pristine: tuple[Path, list[Frame]]) -> None:
    src, frames = pristine
    rng = random.Random(7)
    names = sorted({f.file for f in frames})
    for _ in range(15):
        name = rng.choice(names)
        size = os.path.getsize(src / name)
        cut = rng.randrange(FILE_HEADER_SIZE + 1, size)
        d = copy(src, tmp_path / "case")
        os.truncate(d / name, cut)
        gone = {f.lsn for f in frames if f.file == name and f.end > cut}
        got, report = replayed(d)
        assert got == {f.lsn: f.payload for f in frames if f.lsn not in gone}
        if name != names[-1]:
            assert report.lost_frames == len(gone)  # type: ignore[attr-defined]


def test_flipped_file_header(tmp_path: Path, pristine: tuple[Path, list[Frame]]) -> None:
    src, frames = pristine
    for name in sorted({f.file for f in frames}):
        for offset in (0, 6):  # magic, version
            d = copy(src, tmp_path / "case")
            flip(d / name, offset)
            with pytest.raises(WalCorruptionError, match="bad file header"):
                Wal.open(d)
            got, report = replayed(d)
            assert got == {f.lsn: f.payload for f in frames}  # the frames themselves are intact
            assert [d.kind for d in report.damage] == ["header"]  # type: ignore[attr-defined]


def test_zeroed_block_across_frames_and_a_second_file(
    tmp_path: Path, pristine: tuple[Path, list[Frame]]
) -> None:
    src, frames = pristine
    d = copy(src, tmp_path / "case")
    first = [f for f in frames if f.file == frames[0].file]
    lo, hi = first[1].start + 3, first[3].start + 5  # frames 2, 3 and 4 of the first file
    data = bytearray((d / first[0].file).read_bytes())
    data[lo:hi] = bytes(hi - lo)
    (d / first[0].file).write_bytes(bytes(data))
    middle = [f for f in frames if f.file == frames[FRAMES_PER_FILE].file]
    flip(d / middle[2].file, middle[2].start + FRAME_HEADER_SIZE)
    with pytest.raises(WalCorruptionError) as info:
        Wal.open(d)
    assert len(info.value.damage) == 2
    got, report = replayed(d)
    lost = {first[1].lsn, first[2].lsn, first[3].lsn, middle[2].lsn}
    assert got == {f.lsn: f.payload for f in frames if f.lsn not in lost}
    assert [(x.first_lost, x.last_lost) for x in report.damage] == [  # type: ignore[attr-defined]
        (first[1].lsn, first[3].lsn),
        (middle[2].lsn, middle[2].lsn),
    ]


def test_missing_middle_file_is_reported_and_skippable(
    tmp_path: Path, pristine: tuple[Path, list[Frame]]
) -> None:
    src, frames = pristine
    d = copy(src, tmp_path / "case")
    middle = frames[FRAMES_PER_FILE].file
    os.unlink(d / middle)
    with pytest.raises(WalCorruptionError, match="missing or extra file"):
        Wal.open(d)
    got, report = replayed(d)
    assert got == {f.lsn: f.payload for f in frames if f.file != middle}
    assert report.lost_frames == FRAMES_PER_FILE  # type: ignore[attr-defined]


def test_damage_already_checkpointed_does_not_block(
    tmp_path: Path, pristine: tuple[Path, list[Frame]]
) -> None:
    src, frames = pristine
    d = copy(src, tmp_path / "case")
    flip(d / frames[1].file, frames[1].start + FRAME_HEADER_SIZE)
    wal, report = Wal.open(d, covered_lsn=frames[1].lsn)
    assert [lsn for lsn, _ in wal.replay(after_lsn=frames[1].lsn)] == [f.lsn for f in frames[2:]]
    assert report.damage and report.damage[0].harmless(frames[1].lsn)
    wal.close()


def test_appends_after_a_skipped_corruption_go_to_a_new_file(
    tmp_path: Path, pristine: tuple[Path, list[Frame]]
) -> None:
    src, frames = pristine
    d = copy(src, tmp_path / "case")
    hit = frames[-3]  # in the last file, with valid frames after it
    flip(d / hit.file, hit.start + FRAME_HEADER_SIZE + 1)
    wal, report = Wal.open(d, recovery="skip-corrupted")
    assert report.lost_frames == 1
    nxt = frames[-1].lsn + 1
    assert wal.append(b"after") == nxt
    wal.close()
    assert (d / wal_file_name(nxt)).exists()
    got, _ = replayed(d)
    assert got[nxt] == b"after" and hit.lsn not in got and len(got) == len(frames)


@settings(
    max_examples=60,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    picks=st.lists(
        st.tuples(st.integers(0, FILES - 1), st.floats(0, 1), st.integers(0, 7)), min_size=1, max_size=3
    )
)
def test_random_flips(
    tmp_path: Path, pristine: tuple[Path, list[Frame]], picks: list[tuple[int, float, int]]
) -> None:
    src, frames = pristine
    names = sorted({f.file for f in frames})
    flips = {}
    for file_no, where, bit in picks:
        name = names[file_no]
        flips.setdefault((name, int(where * (os.path.getsize(src / name) - 1))), 1 << bit)
    damaged = {f.lsn for f in frames for (name, off) in flips if f.file == name and f.start <= off < f.end}
    header_hit = any(off < FILE_HEADER_SIZE for _, off in flips)
    # A damaged run reaching the end of the last file has nothing valid after it: a torn tail.
    tail: set[int] = set()
    for f in reversed(frames):
        if f.lsn not in damaged or f.file != frames[-1].file:
            break
        tail.add(f.lsn)
    lost = damaged - tail

    def damage(d: Path) -> Path:
        copy(src, d)
        for (name, off), mask in flips.items():
            flip(d / name, off, mask)
        return d

    if lost or header_hit:
        with pytest.raises(WalCorruptionError):
            Wal.open(damage(tmp_path / "hypo"))
    got, report = replayed(damage(tmp_path / "hypo"))
    # Nothing damaged is served, everything intact is, and the report names exactly the lost frames.
    assert got == {f.lsn: f.payload for f in frames if f.lsn not in damaged}
    reported = {n for x in report.damage for n in range(x.first_lost, x.last_lost + 1)}  # type: ignore[attr-defined]
    assert reported == lost
    assert report.torn_bytes == (sum(f.end - f.start for f in frames if f.lsn in tail))  # type: ignore[attr-defined]


def test_files_missing_before_the_first_are_caught_against_the_checkpoint(
    tmp_path: Path, pristine: tuple[Path, list[Frame]]
) -> None:
    src, frames = pristine
    d = copy(src, tmp_path / "case")
    os.unlink(d / frames[0].file)  # the oldest file, though the checkpoint covers none of its frames
    with pytest.raises(WalCorruptionError, match=rf"frames 1..{FRAMES_PER_FILE} \("):
        Wal.open(d, covered_lsn=0)
    wal, _ = Wal.open(d, covered_lsn=FRAMES_PER_FILE)  # as truncate_before leaves it: fine
    wal.close()


def test_an_emptied_wal_directory_continues_after_the_checkpoint(tmp_path: Path) -> None:
    wal, report = Wal.open(tmp_path / "w", covered_lsn=41)
    assert report.next_lsn == 42 and wal.append(b"x") == 42
    wal.close()
