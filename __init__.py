"""ding-inpaint: ComfyUI entry point.

Exports the node mappings when loaded by ComfyUI. Imported anywhere else (for
example while pytest collects the tests) it exports empty mappings, so the
pure ``ding_sampler`` package stays usable without ComfyUI.
"""
import sys

if "comfy" in sys.modules:  # ComfyUI has started and is loading custom nodes
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
else:
    NODE_CLASS_MAPPINGS = {}
    NODE_DISPLAY_NAME_MAPPINGS = {}

__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS"]
