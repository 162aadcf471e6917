"""ding-inpaint: ComfyUI's entry point (V3 extension).

Importing this package imports nothing from ComfyUI; ComfyUI calls ``comfy_entrypoint`` once
it has started, and only then are the nodes (which import ``comfy``) loaded.
"""
WEB_DIRECTORY = "./web"  # node help pages: web/docs/<NodeId>.md


async def comfy_entrypoint():
    from .nodes import DInGExtension
    return DInGExtension()
