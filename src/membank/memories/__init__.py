"""Memory CRUD, history, lists and stats."""
