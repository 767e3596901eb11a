"""The Pinecone-compatible REST API: one ASGI app for the control port, one per index port."""

from spruce.api.rest.app import create_control_app, create_index_app
from spruce.api.rest.hosts import IndexHosts, StaticHosts

__all__ = ["IndexHosts", "StaticHosts", "create_control_app", "create_index_app"]
