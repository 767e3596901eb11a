"""Tokenizing for the models: token counts, END truncation and the `truncate="NONE"` check.

Tokenizing runs in the caller's thread, before a text joins a batch: an over-long input is refused with
the index it had in the caller's request (a batch mixes requests), and the counts are the tokens the
model really reads, for `usage`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spruce.errors import InvalidArgumentError
from spruce.types import IntArray

# The Rust tokenizer otherwise spreads one batch over every core, outside the model's bounded pool.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import Tokenizer  # (after the variable above: it must see it)

TRUNCATE_VALUES = ("END", "NONE")


def check_truncate(truncate: str) -> str:
    value = truncate.upper() if isinstance(truncate, str) else truncate
    if value not in TRUNCATE_VALUES:
        raise InvalidArgumentError(f"truncate must be one of {', '.join(TRUNCATE_VALUES)}; got {truncate!r}")
    return str(value)


def too_long(index: int, tokens: int, limit: int, what: str = "inputs") -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{what}[{index}] is {tokens} tokens long, more than the model's limit of {limit} tokens; "
        'shorten it or pass truncate="END"'
    )


@dataclass(frozen=True, slots=True)
class Encoded:
    """Token ids of one text, already cut to the model's limit; `len(ids)` is its token count."""

    ids: IntArray
    type_ids: IntArray


class TextTokenizer:
    """A `tokenizers` tokenizer without its own padding or truncation: this class does both."""

    def __init__(self, path: Path) -> None:
        self._tok = Tokenizer.from_file(str(path))
        self._tok.no_padding()
        self._tok.no_truncation()

    def encode(
        self, texts: Sequence[str], *, limit: int, truncate: str, offset: int = 0, what: str = "inputs"
    ) -> list[Encoded]:
        """`offset` is added to indexes in errors, for callers that tokenize a request in parts."""
        out: list[Encoded] = []
        for i, enc in enumerate(self._tok.encode_batch(list(texts))):
            ids = enc.ids
            type_ids = enc.type_ids
            if len(ids) > limit:
                if truncate == "NONE":
                    raise too_long(offset + i, len(ids), limit, what)
                # Keep the closing special tokens ([SEP]) the model expects at the end.
                mask = enc.special_tokens_mask
                tail = 0
                while tail < len(mask) and mask[len(mask) - 1 - tail]:
                    tail += 1
                ids = ids[: limit - tail] + ids[len(ids) - tail :]
                type_ids = type_ids[: limit - tail] + type_ids[len(type_ids) - tail :]
            out.append(Encoded(np.asarray(ids, dtype=np.int64), np.asarray(type_ids, dtype=np.int64)))
        return out

    def id_to_token(self, token_id: int) -> str:
        return self._tok.id_to_token(token_id) or ""


def pad(batch: Sequence[Encoded]) -> tuple[IntArray, IntArray, IntArray]:
    """input_ids, attention_mask, token_type_ids, padded with 0 to the longest text of the batch."""
    width = max(len(e.ids) for e in batch)
    ids = np.zeros((len(batch), width), dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    types = np.zeros((len(batch), width), dtype=np.int64)
    for row, e in enumerate(batch):
        n = len(e.ids)
        ids[row, :n] = e.ids
        mask[row, :n] = 1
        types[row, :n] = e.type_ids
    return ids, mask, types
