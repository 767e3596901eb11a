"""Where a CLI command runs: on a data directory in this process (`--data DIR`, the embedded Client)
or against a running server (`--url URL [--api-key KEY]`, REST over httpx). Both return the same plain
dicts, so every command prints the same output either way.

Index: {name, dimension, metric, vector_type, host, deletion_protection, tags, model}
Stats: {total, dimension, metric, vector_type, namespaces: {name: count}}
Match: {id, score, metadata}
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any, Protocol, TypeVar

import click
import httpx

from spruce.errors import SpruceError
from spruce.wire import index_model

Json = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
API_VERSION = "2025-10"  # the classic index model: dimension/metric/embed at the top level


class Backend(Protocol):
    def list_indexes(self) -> list[Json]: ...
    def describe_index(self, name: str) -> Json: ...
    def create_index(self, body: Json) -> Json: ...
    def delete_index(self, name: str) -> None: ...
    def stats(self, name: str) -> Json: ...
    def query(self, name: str, namespace: str, top_k: int, query: Json) -> list[Json]: ...
    def close(self) -> None: ...


def _index(d: Json) -> Json:
    embed = d.get("embed") or None
    return {
        "name": d["name"],
        "dimension": d.get("dimension"),
        "metric": d.get("metric"),
        "vector_type": d.get("vector_type") or "dense",
        "host": d.get("host"),
        "deletion_protection": d.get("deletion_protection"),
        "tags": d.get("tags") or {},
        "model": embed.get("model") if embed else None,
    }


class EmbeddedBackend:
    def __init__(self, path: Path, create: bool = False) -> None:
        from spruce.client.embedded import Client

        if not path.exists() and not create:
            raise click.UsageError(
                f"no data directory at {path} (start one with `spruce serve --data {path}`)"
            )
        self.client = Client(path)

    def list_indexes(self) -> list[Json]:
        return [_index(m.to_dict()) for m in self.client.list_indexes()]

    def describe_index(self, name: str) -> Json:
        return _index(self.client.describe_index(name).to_dict())

    def create_index(self, body: Json) -> Json:
        # The server's own decoders, so a body means the same here as over REST.
        if body.get("embed"):
            payload = {"name": body["name"], "cloud": "aws", "region": "us-east-1", "embed": body["embed"]}
            spec = index_model.create_for_model_request(payload)
        else:
            spec = index_model.create_request(body)
        kwargs = {f.name: getattr(spec, f.name) for f in fields(spec) if f.name != "name"}
        self.client.catalog.create_index(spec.name, **kwargs)
        return self.describe_index(spec.name)

    def delete_index(self, name: str) -> None:
        self.client.delete_index(name)

    def stats(self, name: str) -> Json:
        s = self.client.Index(name).describe_index_stats().to_dict()
        return {
            "total": s["total_vector_count"],
            "dimension": s.get("dimension"),
            "metric": s.get("metric"),
            "vector_type": s.get("vector_type"),
            "namespaces": {ns or "__default__": v["vector_count"] for ns, v in s["namespaces"].items()},
        }

    def query(self, name: str, namespace: str, top_k: int, query: Json) -> list[Json]:
        index = self.client.Index(name)
        if "text" in query:
            search = getattr(index, "search", None)
            if search is None:
                raise click.ClickException("this Spruce version has no text search (integrated embedding)")
            q: Json = {"inputs": {"text": query["text"]}, "top_k": top_k}
            if query.get("filter"):
                q["filter"] = query["filter"]
            res = search(namespace=namespace or "__default__", query=q)
            hits = res.to_dict()["result"]["hits"] if hasattr(res, "to_dict") else res["result"]["hits"]
            return [{"id": h["_id"], "score": h["_score"], "metadata": h.get("fields")} for h in hits]
        res = index.query(
            top_k=top_k,
            namespace=namespace,
            vector=query.get("vector"),
            id=query.get("id"),
            filter=query.get("filter"),
            include_metadata=True,
        )
        return [{"id": m.id, "score": m.score, "metadata": m.get("metadata")} for m in res.matches]

    def close(self) -> None:
        self.client.close()


class HttpBackend:
    def __init__(self, url: str, api_key: str | None) -> None:
        headers = {"X-Pinecone-API-Version": API_VERSION}
        if api_key:
            headers["Api-Key"] = api_key
        self.url = url.rstrip("/")
        self.http = httpx.Client(headers=headers, timeout=60.0)

    def _call(self, method: str, url: str, body: Json | None = None, params: Any = None) -> Any:
        try:
            r = self.http.request(method, url, json=body, params=params)
        except httpx.HTTPError as exc:
            raise click.ClickException(f"cannot reach {url}: {exc}") from None
        if r.status_code >= 400:
            try:
                message = str(r.json()["error"]["message"])  # the same text the embedded error carries
            except Exception:
                message = f"{method} {url}: HTTP {r.status_code} {r.text[:200]}"
            raise click.ClickException(message)
        return r.json() if r.content else None

    def _host(self, name: str) -> str:
        host = str(self.describe_index(name)["host"])
        return host if "://" in host else f"http://{host}"

    def list_indexes(self) -> list[Json]:
        return [_index(d) for d in self._call("GET", f"{self.url}/indexes")["indexes"]]

    def describe_index(self, name: str) -> Json:
        return _index(self._call("GET", f"{self.url}/indexes/{name}"))

    def create_index(self, body: Json) -> Json:
        if body.get("embed"):
            payload = {"name": body["name"], "cloud": "aws", "region": "us-east-1", "embed": body["embed"]}
            return _index(self._call("POST", f"{self.url}/indexes/create-for-model", payload))
        return _index(self._call("POST", f"{self.url}/indexes", body))

    def delete_index(self, name: str) -> None:
        self._call("DELETE", f"{self.url}/indexes/{name}")

    def stats(self, name: str) -> Json:
        s = self._call("POST", f"{self._host(name)}/describe_index_stats", {})
        return {
            "total": s["totalVectorCount"],
            "dimension": s.get("dimension"),
            "metric": s.get("metric"),
            "vector_type": s.get("vectorType"),
            "namespaces": {ns: v["vectorCount"] for ns, v in s["namespaces"].items()},
        }

    def query(self, name: str, namespace: str, top_k: int, query: Json) -> list[Json]:
        host = self._host(name)
        if "text" in query:
            q: Json = {"inputs": {"text": query["text"]}, "top_k": top_k}
            if query.get("filter"):
                q["filter"] = query["filter"]
            ns = namespace or "__default__"
            res = self._call("POST", f"{host}/records/namespaces/{ns}/search", {"query": q})
            return [
                {"id": h["_id"], "score": h["_score"], "metadata": h.get("fields")}
                for h in res["result"]["hits"]
            ]
        body: Json = {"topK": top_k, "namespace": namespace, "includeMetadata": True}
        for key in ("vector", "id", "filter"):
            if query.get(key) is not None:
                body[key] = query[key]
        res = self._call("POST", f"{host}/query", body)
        return [{"id": m["id"], "score": m["score"], "metadata": m.get("metadata")} for m in res["matches"]]

    def close(self) -> None:
        self.http.close()


def creating_backend_options(fn: F) -> F:
    """`backend_options` for commands that may create the data directory."""
    return _options(fn, create=True)


def backend_options(fn: F) -> F:
    """Add --data / --url / --api-key and pass `backend` (an opened Backend) to the command."""
    return _options(fn, create=False)


def _options(fn: F, create: bool) -> F:
    @click.option(
        "--data",
        "data_dir",
        type=click.Path(path_type=Path, file_okay=False),
        default=None,
        help="work on this data directory in-process (default: $SPRUCE_DATA or ./data)",
    )
    @click.option("--url", default=None, envvar="SPRUCE_URL", help="talk to a running server instead")
    @click.option("--api-key", default=None, envvar="SPRUCE_API_KEY", help="Api-Key for --url")
    @functools.wraps(fn)
    def wrapper(*args: Any, data_dir: Path | None, url: str | None, api_key: str | None, **kw: Any) -> Any:
        with open_backend(data_dir, url, api_key, create) as backend:
            return fn(*args, backend=backend, **kw)

    return wrapper  # type: ignore[return-value]


@contextmanager
def open_backend(
    data_dir: Path | None, url: str | None, api_key: str | None, create: bool = False
) -> Iterator[Backend]:
    if data_dir is not None and url is not None:
        raise click.UsageError("give --data or --url, not both")
    backend: Backend
    try:
        if url is not None:
            backend = HttpBackend(url, api_key)
        else:
            path = data_dir or Path(os.environ.get("SPRUCE_DATA") or "./data")
            backend = EmbeddedBackend(path, create)
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    try:
        yield backend
    except SpruceError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        backend.close()
