"""Dense sentence embeddings from an ONNX transformer and its tokenizer.json (all-MiniLM-L6-v2, user models).

The ONNX graph takes input_ids / attention_mask (/ token_type_ids) and returns either token states
(batch, seq, dim), pooled here (mean over real tokens, or the first token), or an already pooled
(batch, dim). Each session runs with one intra-op thread; parallelism comes from the batcher's workers.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spruce.errors import InvalidArgumentError
from spruce.service.inference.batcher import Batcher
from spruce.service.inference.text import Encoded, TextTokenizer, pad
from spruce.types import FloatArray

# onnxruntime otherwise writes a telemetry device id under ~/.cache/Microsoft on first use: nothing may
# leave this process or land in the user's home behind their back.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


@dataclass(frozen=True, slots=True)
class OnnxSpec:
    model_path: Path
    tokenizer_path: Path
    max_tokens: int
    pooling: str = "mean"  # "mean" | "cls"
    normalize: bool = True
    query_prefix: str = ""
    passage_prefix: str = ""


class OnnxEncoder:
    kind = "dense"

    def __init__(self, spec: OnnxSpec, *, workers: int, max_batch: int = 32) -> None:
        import onnxruntime as ort

        if spec.pooling not in ("mean", "cls"):
            raise InvalidArgumentError(f"pooling must be 'mean' or 'cls'; got {spec.pooling!r}")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(spec.model_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}
        if "input_ids" not in self._inputs:
            raise InvalidArgumentError(f"{spec.model_path}: the ONNX model has no 'input_ids' input")
        output = self._session.get_outputs()[0]
        self._output = output.name
        self.native_dimension = int(output.shape[-1])
        self._spec = spec
        self.max_tokens = spec.max_tokens
        self.tokenizer = TextTokenizer(spec.tokenizer_path)
        self._batcher: Batcher[Encoded, FloatArray] = Batcher(
            self._run, max_batch=max_batch, workers=workers, name=spec.model_path.parent.name
        )

    @property
    def batch_calls(self) -> int:
        return self._batcher.calls

    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str
    ) -> tuple[FloatArray, list[int]]:
        """(n, native_dimension) float32 and each text's token count."""
        prefix = self._spec.query_prefix if input_type == "query" else self._spec.passage_prefix
        if prefix:
            texts = [prefix + t for t in texts]
        encoded = self.tokenizer.encode(texts, limit=self.max_tokens, truncate=truncate)
        rows = self._batcher.run(None, encoded)
        return np.stack(rows).astype(np.float32, copy=False), [len(e.ids) for e in encoded]

    def _run(self, key: Hashable, batch: list[Encoded]) -> list[FloatArray]:
        ids, mask, types = pad(batch)
        feed = {"input_ids": ids}
        if "attention_mask" in self._inputs:
            feed["attention_mask"] = mask
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = types
        out = np.asarray(self._session.run([self._output], feed)[0], dtype=np.float32)
        if out.ndim == 3:
            if self._spec.pooling == "cls":
                out = out[:, 0, :]
            else:
                weights = mask[:, :, None].astype(np.float32)
                out = (out * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        if self._spec.normalize:
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = out / np.maximum(norms, 1e-12)
        return list(out.astype(np.float32))
