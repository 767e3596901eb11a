"""Spruce: a self-hosted vector database that speaks Pinecone's API, embedded or as a server."""

from spruce import errors
from spruce.client.embedded import Client, Index
from spruce.config import EngineConfig, ServerConfig, Settings

__all__ = ["Client", "EngineConfig", "Index", "ServerConfig", "Settings", "errors"]
__version__ = "0.1.0"
