"""The single-threaded BLAS limit under overlapping queries (it is process-wide, so it is counted)."""

from __future__ import annotations

import threading

from threadpoolctl import ThreadpoolController, threadpool_limits

from spruce.engine import blas


def _blas_threads() -> int:
    infos = ThreadpoolController().select(user_api="blas").info()
    return min(int(i["num_threads"]) for i in infos)


def test_overlapping_limits_hold_until_the_last_leaves() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        before = _blas_threads()
        assert before == 2
        a, b = blas.single_threaded_blas(), blas.single_threaded_blas()
        a.__enter__()
        b.__enter__()
        assert _blas_threads() == 1
        a.__exit__(None, None, None)  # A leaves first: B still scores, so the limit stays
        assert _blas_threads() == 1
        b.__exit__(None, None, None)
        assert _blas_threads() == before
        assert blas.holders() == 0


def test_concurrent_queries_always_see_one_thread_and_the_original_comes_back() -> None:
    seen: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4, timeout=60)

    def query() -> None:
        for _ in range(50):
            with blas.single_threaded_blas():
                barrier.wait()  # all four inside at once
                with lock:
                    seen.append(_blas_threads())
                barrier.wait()  # nobody leaves before all have looked

    with threadpool_limits(limits=2, user_api="blas"):
        threads = [threading.Thread(target=query) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert set(seen) == {1}
        assert _blas_threads() == 2
    assert blas.holders() == 0


def test_an_exception_inside_still_releases() -> None:
    with threadpool_limits(limits=2, user_api="blas"):
        try:
            with blas.single_threaded_blas():
                raise ValueError("boom")
        except ValueError:
            pass
        assert _blas_threads() == 2
    assert blas.holders() == 0
