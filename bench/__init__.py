"""Benchmarks (not part of the node pack); tiny models and the ComfyUI harness live in comfy_testbed."""
