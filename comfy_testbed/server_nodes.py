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
    """TEST ONLY output node: {"probed": [len(_PROBED)], "pack_copies": [n], "loaded_models": [n]}; with
    collect, after a garbage collection, plus the live CPU tensor bytes and the RSS; with trim, also
    the RSS after glibc's malloc_trim. ``value`` only orders it after its source."""

    @classmethod
    def INPUT_TYPES(cls):
        from comfy_testbed.comfy_harness import ANY
        return {"required": {"value": (ANY, {}), "collect": ("BOOLEAN", {"default": False})},
                "optional": {"trim": ("BOOLEAN", {"default": False})}}

    RETURN_TYPES = ()
    FUNCTION = "stats"
    OUTPUT_NODE = True
    CATEGORY = "ding_test"

    @classmethod
    def IS_CHANGED(cls, **kwargs):
        return float("nan")  # always run

    def stats(self, value, collect, trim=False):
        import comfy.model_management as mm
        if collect or trim:
            gc.collect()
        sizes = probe_cache_sizes()
        ui = {"probed": [sum(sizes)], "pack_copies": [len(sizes)], "loaded_models": [len(mm.current_loaded_models)]}
        if collect or trim:  # what the process really holds: live tensors, and RSS
            ui["tensor_bytes"] = [live_tensor_bytes()]
            ui["rss"] = [_rss()]
            ui["objects"] = [object_counts()]
        if trim:  # and RSS once malloc has handed its free pages back
            ui["trimmed"] = [malloc_trim()]
            ui["rss_after_trim"] = [_rss()]
        return {"ui": ui}


def live_tensor_bytes() -> int:
    """Bytes of the distinct storages of every tensor the garbage collector can see."""
    import torch
    seen, total = set(), 0
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj.device.type == "cpu" and not obj.is_meta:
                storage = obj.untyped_storage()
                key = storage.data_ptr()
                if key and key not in seen:
                    seen.add(key)
                    total += storage.nbytes()
        except Exception:  # noqa: BLE001  (tensor subclasses, inference tensors without storage access)
            continue
    return total


def object_counts(top: int = 40) -> dict:
    """{type name: count} of the most numerous gc-tracked object types, plus "_total"."""
    from collections import Counter
    objects = gc.get_objects()
    counts = Counter(type(o).__qualname__ for o in objects)
    out = dict(counts.most_common(top))
    out["_total"] = len(objects)
    return out


def malloc_trim() -> bool:
    """glibc's malloc_trim(0): hand free heap pages back to the system (False where there is no glibc)."""
    import ctypes
    try:
        return bool(ctypes.CDLL("libc.so.6").malloc_trim(0))
    except (OSError, AttributeError):
        return False


def _rss() -> int:
    import psutil
    return psutil.Process().memory_info().rss


def node_class_mappings() -> dict:
    from comfy_testbed import comfy_harness, tiny_wan
    mappings = dict(comfy_harness._make_test_nodes())
    mappings.update(tiny_wan.make_test_nodes())
    mappings["DInGTestServerStats"] = DInGTestServerStats
    return mappings
