"""Test support: stub servers and launchers of real servers, shared by the unit, API and e2e suites."""
