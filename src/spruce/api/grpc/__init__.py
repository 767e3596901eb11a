"""gRPC data plane (Pinecone's `VectorService`), served on each index's port next to REST."""

from __future__ import annotations

from spruce.api.grpc.backend import GrpcBackend, PeerRegistry
from spruce.api.grpc.service import VectorServicer

__all__ = ["GrpcBackend", "PeerRegistry", "VectorServicer"]
