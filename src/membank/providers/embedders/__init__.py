"""Embedders: the port, the local ONNX model, any OpenAI-compatible API, and the factory."""

from __future__ import annotations

from membank.cache import SharedCache
from membank.config import Settings
from membank.providers.embedders.batching import BatchStats, MicroBatcher
from membank.providers.embedders.ports import Embedder, Vectors

__all__ = [
    "BatchStats",
    "Embedder",
    "MicroBatcher",
    "OnnxEmbedder",
    "OpenAIEmbedder",
    "Vectors",
    "build_embedder",
]


def build_embedder(settings: Settings, shared_cache: SharedCache | None = None) -> Embedder:
    """The embedder `settings.embedder` names, sharing query vectors through `shared_cache` when given;
    call `await embedder.start()` before serving."""
    if settings.embedder == "openai":
        from membank.providers.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder(settings, shared_cache=shared_cache)
    from membank.providers.embedders.onnx import OnnxEmbedder

    return OnnxEmbedder(settings, shared_cache=shared_cache)


def __getattr__(name: str) -> object:
    # The backends import onnxruntime / httpx: load them only when asked for.
    if name == "OnnxEmbedder":
        from membank.providers.embedders.onnx import OnnxEmbedder

        return OnnxEmbedder
    if name == "OpenAIEmbedder":
        from membank.providers.embedders.openai import OpenAIEmbedder

        return OpenAIEmbedder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
