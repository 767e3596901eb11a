"""Inference routes: `POST /embed`, `POST /rerank`, `GET /models`, `GET /models/{name}` (Pinecone's bodies).

Served on the control port and on every index port, like Pinecone's control host. Model calls block for
milliseconds to seconds, so they never run on the event loop; they wait in a pool of their own rather
than Starlette's shared one, so that many embed requests queued behind the model cannot take the threads
that vector queries need.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from spruce.api.rest.http import json_response, read_json
from spruce.api.rest.routes import RouteSpec
from spruce.config import ServerConfig
from spruce.errors import InvalidArgumentError
from spruce.service.inference import ModelRegistry, get_registry
from spruce.service.inference import requests as inference

T = TypeVar("T")
WAITERS = 32  # inference requests in flight per process; more wait for a thread without holding one

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


async def run_in_inference_pool(fn: Callable[[], T]) -> T:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=WAITERS, thread_name_prefix="spruce-inference")
    return await asyncio.get_running_loop().run_in_executor(_pool, fn)


class InferenceRoutes:
    def __init__(
        self, config: ServerConfig, data_dir: Path | None = None, registry: ModelRegistry | None = None
    ) -> None:
        self.config = config
        self.registry = registry or get_registry()
        if data_dir is not None:
            self.registry.load_data_dir(data_dir)

    def routes(self) -> list[RouteSpec]:
        return [
            RouteSpec("POST", "/embed", "embed", "Embed texts with a model", self.embed, True),
            RouteSpec("POST", "/rerank", "rerank", "Rerank documents for a query", self.rerank, True),
            RouteSpec("GET", "/models", "list_models", "List inference models", self.list_models),
            RouteSpec("GET", "/models/{name}", "describe_model", "Describe a model", self.get_model),
        ]

    async def embed(self, request: Request) -> Response:
        body = await read_json(request, self.config.max_body_bytes)
        result = await run_in_inference_pool(
            lambda: inference.embed(
                self.registry, body.get("model"), body.get("inputs"), body.get("parameters")
            )
        )
        data = await run_in_inference_pool(lambda: inference.embed_data(result))
        return json_response(
            {
                "model": body["model"],
                "vector_type": result.vector_type,
                "data": data,
                "usage": {"total_tokens": result.total_tokens},
            }
        )

    async def rerank(self, request: Request) -> Response:
        body = await read_json(request, self.config.max_body_bytes)
        result = await run_in_inference_pool(
            lambda: inference.rerank(
                self.registry,
                body.get("model"),
                body.get("query"),
                body.get("documents"),
                rank_fields=body.get("rank_fields"),
                return_documents=body.get("return_documents", True),
                top_n=body.get("top_n"),
                parameters=body.get("parameters"),
            )
        )
        data = []
        for r in result.data:
            item: dict[str, Any] = {"index": r.index, "score": r.score}
            if r.document is not None:
                item["document"] = r.document
            data.append(item)
        return json_response(
            {"model": result.model, "data": data, "usage": {"rerank_units": result.rerank_units}}
        )

    async def list_models(self, request: Request) -> Response:
        kind = request.query_params.get("type")
        vector_type = request.query_params.get("vector_type")
        if vector_type is not None and kind == "rerank":
            raise InvalidArgumentError("vector_type applies to embed models only; drop it or type=rerank")
        models = self.registry.list_models(type=kind, vector_type=vector_type)
        return json_response({"models": [inference.describe(m) for m in models]})

    async def get_model(self, request: Request) -> Response:
        return json_response(inference.describe(self.registry.get_model(request.path_params["name"])))
