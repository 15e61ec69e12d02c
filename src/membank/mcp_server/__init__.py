"""MemBank's MCP server: its memory tools for agents, over streamable HTTP on the API (/mcp) and over stdio
(`membank mcp`), with the REST API's authentication, scopes and tenancy."""
