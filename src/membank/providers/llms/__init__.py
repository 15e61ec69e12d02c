"""Chat LLM providers: a port and an OpenAI-compatible implementation."""
