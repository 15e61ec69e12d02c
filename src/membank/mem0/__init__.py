"""A mem0-compatible API: mem0's REST routes and shapes (what mem0ai's MemoryClient calls) mapped onto
MemBank's services, with the same keys, scopes and tenancy (docs/mem0-compatibility.md)."""
