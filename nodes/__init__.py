"""ComfyUI face of ding-inpaint: thin V3 node classes over ``ding_sampler``."""
from comfy_api.v0_0_2 import ComfyExtension

from .inpaint import DInGComposite, DInGInpaintEncode
from .sampling import DInGKSampler, DInGKSamplerAdvanced, DInGSampler

NODES = [DInGInpaintEncode, DInGKSampler, DInGKSamplerAdvanced, DInGSampler, DInGComposite]


class DInGExtension(ComfyExtension):
    async def get_node_list(self):
        return list(NODES)
