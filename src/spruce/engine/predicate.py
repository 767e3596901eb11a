"""Row predicates beyond Pinecone filters: metadata filters combined with text tests, id sets and NOT.

A `RowPredicate` goes wherever the store takes a parsed filter (query, matching, count, delete by
filter): `RowBlock.filter_mask` hands the block to `block_mask`, which evaluates the tree with the
block's metadata columns (`MetaLeaf`), its full-text index (`TextContains`, `TextRegex`) and its ids
(`IdIn`). Alive-ness is applied by the caller, as for plain filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np

from spruce.engine.filter import Filter
from spruce.engine.fulltext import text_index
from spruce.types import BoolArray


@dataclass(frozen=True, slots=True)
class MetaLeaf:
    flt: Filter


@dataclass(frozen=True, slots=True)
class TextContains:
    """Rows whose text field contains `pattern` (case-sensitive substring); `negate` for NOT."""

    field: str
    pattern: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class TextRegex:
    field: str
    regex: re.Pattern[str]
    negate: bool = False


@dataclass(frozen=True, slots=True)
class IdIn:
    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class AllOf:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    children: tuple[Node, ...]


Node: TypeAlias = MetaLeaf | TextContains | TextRegex | IdIn | Not | AllOf | AnyOf


def all_of(nodes: list[Node | None]) -> Node | None:
    present = [n for n in nodes if n is not None]
    if not present:
        return None
    return present[0] if len(present) == 1 else AllOf(tuple(present))


@dataclass(frozen=True, slots=True)
class RowPredicate:
    root: Node

    def block_mask(self, block: Any, n: int) -> BoolArray:
        """Which of the block's first `n` rows satisfy the predicate (alive-ness not applied)."""
        return _eval(self.root, block, n)


def _eval(node: Node, block: Any, n: int) -> BoolArray:
    if isinstance(node, MetaLeaf):
        return np.asarray(block.columns().evaluate(node.flt)[:n], dtype=np.bool_)
    if isinstance(node, TextContains):
        hit = text_index(block, node.field, n).contains_rows(node.pattern)[:n]
        return ~hit if node.negate else hit
    if isinstance(node, TextRegex):
        hit = text_index(block, node.field, n).regex_rows(node.regex)[:n]
        return ~hit if node.negate else hit
    if isinstance(node, IdIn):
        ids = node.ids
        return np.fromiter((rid in ids for rid in block.ids[:n]), dtype=np.bool_, count=n)
    if isinstance(node, Not):
        return ~_eval(node.child, block, n)
    out = _eval(node.children[0], block, n)
    for child in node.children[1:]:
        if isinstance(node, AllOf):
            out = out & _eval(child, block, n)
        else:
            out = out | _eval(child, block, n)
    return out
