"""Store.namespace_page (list_namespaces paging by bisection) against a sort-and-filter model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from spruce.config import EngineConfig
from spruce.engine.store import Store

names = st.text(alphabet="ab-\u00fc", min_size=1, max_size=4)


@settings(max_examples=60, deadline=None)
@given(
    present=st.lists(names, max_size=30, unique=True),
    dropped=st.lists(names, max_size=5),
    prefix=st.one_of(st.just(""), names),
    limit=st.integers(1, 7),
)
def test_pages_walk_the_sorted_names_with_the_prefix(
    present: list[str], dropped: list[str], prefix: str, limit: int
) -> None:
    store = Store(None, 2, "cosine", EngineConfig(background=False))
    for name in present + dropped:
        store.create_namespace(name)
    store.namespace_page("", None, 1)  # caches the sorted names: drops must invalidate it
    for name in dropped:
        store.drop_namespace(name)
    want = sorted(n for n in set(present) - set(dropped) if n.startswith(prefix))
    got: list[str] = []
    after = None
    while True:
        page, more, total = store.namespace_page(prefix, after, limit)
        assert total == len(want)
        assert len(page) <= limit and all(count == 0 for _, count in page)
        got += [n for n, _ in page]
        if not more:
            break
        after = page[-1][0]
    assert got == want
    store.close()
