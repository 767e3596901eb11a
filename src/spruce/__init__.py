"""Spruce: a self-hosted vector database that speaks Pinecone's API, embedded or as a server."""

from spruce import errors
from spruce.client.collection import Collection
from spruce.client.collections_mixin import HNSWConfiguration
from spruce.client.embedded import Client
from spruce.client.embedding import DefaultEmbeddingFunction
from spruce.client.http_collection import HttpClient
from spruce.client.index import Index
from spruce.config import EngineConfig, ServerConfig, Settings

__all__ = [
    "Client",
    "Collection",
    "DefaultEmbeddingFunction",
    "EngineConfig",
    "HNSWConfiguration",
    "HttpClient",
    "Index",
    "ServerConfig",
    "Settings",
    "errors",
]
__version__ = "0.1.0"
