"""TEST-ONLY nodes for a real ComfyUI server (``main.py``) run by bench/soak.py.

A running server loads custom nodes from its ``custom_nodes`` folders only, so the in-process
harness's test nodes (hand-made conditioning, test image + mask, test clip + masks) reach it
through a throwaway package that bench/soak.py writes into a temporary ``custom_nodes`` folder
and that imports ``NODE_CLASS_MAPPINGS`` from here. Never loaded with the pack itself.

``DInGTestServerStats`` reports what a long-running server holds while a prompt runs: the size of
DInG's per-model probe cache (``nodes/sampling.py`` ``_PROBED``, a WeakKeyDictionary keyed by
model_sampling) and how many models ComfyUI keeps loaded. Put it in the prompt that samples
(its ``value`` input wired to the sampler's output): a prompt holding only this node would make
ComfyUI's cache drop every other node's outputs, and with them the models.
"""
from __future__ import annotations

import gc
import sys


def probe_cache_sizes() -> list:
    """len(_PROBED) of every loaded copy of the pack's nodes.sampling module (one per pack load)."""
    return [len(m._PROBED) for name, m in list(sys.modules.items())
            if name.endswith(".nodes.sampling") and hasattr(m, "_PROBED") and hasattr(m, "parametrization_of")]


class DInGTestServerStats:
    """TEST ONLY output node: {"probed": [len(_PROBED)], "pack_copies": [n], "loaded_models": [n]};
    with collect, a garbage collection runs first. ``value`` only orders it after its source."""

    @classmethod
    def INPUT_TYPES(cls):
        from comfy_testbed.comfy_harness import ANY
        return {"required": {"value": (ANY, {}), "collect": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ()
    FUNCTION = "stats"
    OUTPUT_NODE = True
    CATEGORY = "ding_test"

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        return float("nan")  # always run

    def stats(self, value, collect):
        import comfy.model_management as mm
        if collect:
            gc.collect()
        sizes = probe_cache_sizes()
        return {"ui": {"probed": [sum(sizes)], "pack_copies": [len(sizes)],
                       "loaded_models": [len(mm.current_loaded_models)]}}


def node_class_mappings() -> dict:
    from comfy_testbed import comfy_harness, tiny_wan
    mappings = dict(comfy_harness._make_test_nodes())
    mappings.update(tiny_wan.make_test_nodes())
    mappings["DInGTestServerStats"] = DInGTestServerStats
    return mappings
