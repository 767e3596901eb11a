"""The remote Collection API: `spruce.HttpClient` against a running `spruce serve`.

    client = spruce.HttpClient(host="http://localhost:5080", api_key="...")
    col = client.get_or_create_collection("docs", embedding_function=None)

The same `Collection` class as embedded (client/collection.py) over the REST routes of
api/rest/collections.py, on the server's control port. Embedding functions run here, in the client,
as Chroma's HttpClient does. A server error is raised as the same spruce.errors class the embedded
client raises (the body names it). A write too large for one request body is split into several
requests, each applied on its own.
"""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import orjson

from spruce import errors
from spruce.client.collection_backend import Backend
from spruce.client.collections_mixin import CollectionsMixin

_MAX_BODY = 1_800_000  # under the server's default 2 MiB body limit


def _dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return np.ascontiguousarray(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def _raise(response: httpx.Response) -> None:
    try:
        body = response.json()
        error = body.get("error") or {}
        message = str(error.get("message") or response.text)
        kind = error.get("type")
    except (ValueError, AttributeError):
        message, kind = response.text, None
    cls = getattr(errors, kind, None) if isinstance(kind, str) else None
    if not (isinstance(cls, type) and issubclass(cls, errors.SpruceError)):
        cls = {
            400: errors.InvalidArgumentError,
            401: errors.UnauthenticatedError,
            403: errors.ForbiddenError,
            404: errors.NotFoundError,
            409: errors.AlreadyExistsError,
            413: errors.PayloadTooLargeError,
            429: errors.ResourceExhaustedError,
        }.get(response.status_code, errors.SpruceError)
    raise cls(message)


class HttpBackend:
    def __init__(self, host: str, api_key: str | None, timeout: float) -> None:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Api-Key"] = api_key
        self._http = httpx.Client(base_url=host.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        content = None if body is None else _dumps(body)
        response = self._http.request(method, path, content=content)
        if response.status_code >= 400:
            _raise(response)
        if response.status_code == 204 or not response.content:
            return None
        return orjson.loads(response.content)

    def create(
        self,
        name: str,
        *,
        dimension: int | None,
        metric: str,
        metadata: dict[str, Any] | None,
        embedding_function: str | None,
        get_or_create: bool,
    ) -> dict[str, Any]:
        body = {
            "name": name,
            "dimension": dimension,
            "metric": metric,
            "metadata": metadata,
            "embedding_function": embedding_function,
            "get_or_create": get_or_create,
        }
        result: dict[str, Any] = self._send("POST", "/spruce/collections", body)
        return result

    def info(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._send("GET", f"/spruce/collections/{_quote(name)}")
        return result

    def list_collections(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._send("GET", "/spruce/collections")["collections"]
        return result

    def delete_collection(self, name: str) -> None:
        self._send("DELETE", f"/spruce/collections/{_quote(name)}")

    def modify(self, name: str, new_name: str | None, metadata: dict[str, Any] | None) -> dict[str, Any]:
        result: dict[str, Any] = self._send(
            "PATCH", f"/spruce/collections/{_quote(name)}", {"new_name": new_name, "metadata": metadata}
        )
        return result

    def call(self, name: str, op: str, **kwargs: Any) -> Any:
        path = f"/spruce/collections/{_quote(name)}/{op}"
        body = {k: val for k, val in kwargs.items() if val is not None}
        if op in ("add", "upsert", "update") and isinstance(body.get("ids"), list):
            return self._write(path, body)
        return self._send("POST", path, body)["result"]

    def _write(self, path: str, body: dict[str, Any]) -> Any:
        payload = _dumps(body)
        n = len(body["ids"])
        if len(payload) <= _MAX_BODY or n <= 1:
            return self._send("POST", path, body)["result"]
        half = n // 2
        for part in (slice(0, half), slice(half, n)):
            self._write(path, {k: (val[part] if _per_record(val, n) else val) for k, val in body.items()})
        return None


def _per_record(value: Any, n: int) -> bool:
    return isinstance(value, list | np.ndarray) and len(value) == n


def _quote(name: str) -> str:
    return httpx.URL(path=name).raw_path.decode()


class HttpClient(CollectionsMixin):
    """Collections on a Spruce server: `HttpClient(host="http://localhost:5080", api_key=...)`.

    `host` may also be given without a scheme, with `port=` and `ssl=` as Chroma's HttpClient takes them.
    """

    def __init__(
        self,
        host: str = "localhost",
        port: int | None = None,
        ssl: bool = False,
        headers: dict[str, str] | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        **_: Any,
    ) -> None:
        if "://" not in host:
            host = f"{'https' if ssl else 'http'}://{host}:{port or 5080}"
        elif port is not None:
            host = f"{host.rstrip('/')}:{port}"
        self.host = host
        self._backend = HttpBackend(host, api_key, timeout)
        if headers:
            self._backend._http.headers.update(headers)

    def _collection_backend(self) -> Backend:
        return self._backend

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
