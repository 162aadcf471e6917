"""Test support for ding-inpaint: tiny random-weight models of real ComfyUI model families and a
headless in-process ComfyUI harness.

- ``families``: the family table, one row per tiny model family (builder, loaders, conditioning,
  latent layout, expected model class and sampling, which ComfyUI versions detect it).
- ``tiny_models`` (SD3 + TAESD + test images), ``tiny_families`` (Flux.1, SD1.5, Lumina 2, ...),
  ``tiny_wan`` (Wan 2.1 video): the builders the table rows point at.
- ``comfy_harness``: ComfyUI found, bootstrapped and driven headless (prompts, call counters).

Used by tests/ and bench/; imports neither (tests/test_dependencies.py). Nothing binary is
committed: every model is written at test time from ComfyUI's own classes.
"""
