"""Extraction tiers: heuristic (offline) and LLM (OpenAI-compatible), behind one port."""
