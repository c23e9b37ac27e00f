"""Benchmarks and load generators (loopback only)."""
