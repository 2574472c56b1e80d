"""Benchmarks: `python3 dev.py bench [name ...]` runs them and prints their figures."""
