"""Where each index's data plane lives. The server opens a port per index; tests use fixed names."""

from __future__ import annotations

from typing import Protocol


class IndexHosts(Protocol):
    """Owner of the per-index endpoints, told about creates and deletes by the control plane."""

    def host(self, name: str) -> str:
        """The URL (with scheme) clients use for the index's data plane."""
        ...

    async def opened(self, name: str) -> str:
        """Called after an index is created: start serving it and return its host."""
        ...

    async def closed(self, name: str) -> None:
        """Called after an index is deleted: stop serving it."""
        ...


class StaticHosts:
    """Hosts computed from a template and nothing to open; for in-process apps and tests."""

    def __init__(self, template: str = "http://{name}.index.local") -> None:
        self._template = template

    def host(self, name: str) -> str:
        return self._template.format(name=name)

    async def opened(self, name: str) -> str:
        return self.host(name)

    async def closed(self, name: str) -> None:
        return None


def advertised(host: str, api_version: str | None, schemeless_versions: tuple[str, ...]) -> str:
    """The host as describe_index reports it to a client of `api_version`.

    pinecone 7.x's gRPC client strips only "https://" before dialing, so "http://h:p" fails there with
    "Misformatted domain name", while its REST client needs the "http://" (it prefixes a bare host with
    https://). Both send identical describe_index requests (same API version, same User-Agent), so
    the server cannot choose per client: `--schemeless-hosts 2025-04` serves the bare "h:p", as
    Pinecone Local does, for deployments whose 7.x clients use gRPC.
    """
    if api_version is not None and api_version.strip() in schemeless_versions and "://" in host:
        return host.split("://", 1)[1]
    return host
