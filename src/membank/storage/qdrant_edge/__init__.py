"""Vector index on Qdrant Edge, the Qdrant engine embedded in this process."""

from membank.storage.qdrant_edge.index import QdrantEdgeIndex

__all__ = ["QdrantEdgeIndex"]
