"""External-capability providers: embedders (LLMs and rerankers come later)."""
