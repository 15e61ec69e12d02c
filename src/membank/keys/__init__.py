"""API-key lifecycle over HTTP: create, list, rotate, revoke, usage; service accounts."""
