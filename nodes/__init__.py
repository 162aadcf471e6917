"""ComfyUI face of ding-inpaint: thin node classes over ``ding_sampler``."""
from .inpaint import DInGComposite, DInGInpaintEncode
from .sampling import DInGKSampler, DInGSampler

NODE_CLASS_MAPPINGS = {
    "DInGInpaintEncode": DInGInpaintEncode,
    "DInGKSampler": DInGKSampler,
    "DInGSampler": DInGSampler,
    "DInGComposite": DInGComposite,
}

NODE_DISPLAY_NAME_MAPPINGS = {
    "DInGInpaintEncode": "DInG Inpaint Encode",
    "DInGKSampler": "DInG KSampler",
    "DInGSampler": "DInG Sampler (SAMPLER)",
    "DInGComposite": "DInG Composite",
}
