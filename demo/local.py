"""Moved to `testing.local` (shared by tests, demo and benchmarks); kept as an alias."""

from testing.local import local_settings

__all__ = ["local_settings"]
