"""Benchmarks: `.venv/bin/python -m bench.cold_start`."""
