"""The `membank` command."""
