"""Wire formats: how Spruce's domain types look on the network (REST JSON, error codes, gRPC)."""
