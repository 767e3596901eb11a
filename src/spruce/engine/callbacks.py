"""Callbacks a store hands its collaborators, holding the store weakly.

A collaborator (the namespace table, the graph keeper, the scheduler, the background workers) keeps
its callbacks as long as it lives, and the store keeps the collaborator: a bound method or a lambda
over the store would close a reference cycle, and a closed store, with its segments, mapped rows and
graphs, would stay in memory until Python's cycle collector next ran (stop 24: three close/reopen
rounds of a 40k x 768 index held 1.1 GB, 564 MB with these).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any, TypeVar

_O = TypeVar("_O")
_T = TypeVar("_T")


def weakly(owner: _O, fn: Callable[..., _T]) -> Callable[..., _T]:
    """`fn(owner, *args)` through a weak reference to `owner`; a call after the owner is gone is a bug
    of the caller (a collaborator outliving its store) and raises ReferenceError."""
    ref = weakref.ref(owner)

    def call(*args: Any) -> _T:
        live = ref()
        if live is None:
            raise ReferenceError("the store was closed and freed")
        return fn(live, *args)

    return call
