"""Benchmarks and the in-process ComfyUI harness (not part of the node pack)."""
