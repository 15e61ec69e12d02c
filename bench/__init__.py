"""Benchmarks of MemBank: load, scale, LOCOMO retrieval. `make bench` runs them all (bench.run_all)."""
