"""Benchmarks and reference baselines (not part of the node pack)."""
