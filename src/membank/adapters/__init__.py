"""Framework adapters over the Python SDK (`membank.client`), each an optional extra:

- `membank.adapters.langgraph`: `MemBankStore`, LangGraph's `BaseStore` (`pip install membank[langgraph]`).
- `membank.adapters.openai_agents`: `MemBankSession`, the OpenAI Agents SDK's `Session`
  (`pip install membank[openai-agents]`).

This package imports neither framework, so that `membank` works without them: import the module you use."""
