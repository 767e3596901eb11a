"""Keyset pagination for control-plane listings (backups, restore jobs): `limit` + `paginationToken`.

A token names the key of the last item served and the page size it was minted with, so a walk neither
skips nor repeats items when others are created or deleted meanwhile, and a token alone (the SDK never
sends `limit` with one) keeps the page size.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson

from spruce.errors import InvalidArgumentError

DEFAULT_LIMIT = 10
MAX_LIMIT = 100

T = TypeVar("T")


def check_limit(limit: object) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidArgumentError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def encode(after: str, size: int) -> str:
    raw = orjson.dumps({"after": after, "limit": size})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(token: str) -> tuple[str, int]:
    try:
        doc = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        after, size = doc["after"], doc["limit"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise InvalidArgumentError(
            f"invalid paginationToken {token[:40]!r}: pass the pagination.next of a previous page"
        ) from None
    if not isinstance(after, str):
        raise InvalidArgumentError("invalid paginationToken: pass the pagination.next of a previous page")
    return after, check_limit(size)


def page(
    items: Sequence[T], key: Callable[[T], str], limit: int | None, token: str | None
) -> tuple[list[T], str | None]:
    """The page of `items` (sorted by `key`) after the token's position, and the next page's token."""
    size = DEFAULT_LIMIT if limit is None else check_limit(limit)
    start = 0
    if token:
        if not isinstance(token, str):
            raise InvalidArgumentError("paginationToken must be a string")
        after, minted = decode(token)
        if limit is None:
            size = minted
        start = next((i for i, item in enumerate(items) if key(item) > after), len(items))
    found = list(items[start : start + size])
    more = start + size < len(items)
    return found, encode(key(found[-1]), size) if more and found else None
