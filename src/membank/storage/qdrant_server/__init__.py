"""Vector index on a Qdrant server (or cluster), through `qdrant-client`."""

from membank.storage.qdrant_server.index import QdrantServerIndex

__all__ = ["QdrantServerIndex"]
