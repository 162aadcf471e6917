"""DInG (Decoupled INpainting Guidance) sampling in pure PyTorch.

No ComfyUI import here: the sampler works on any (alpha, sigma) schedule and any
denoiser callable. The ComfyUI nodes in ``nodes/`` are thin wrappers around it.
"""
from .sampler import check_options, ding_sample, posterior_step, sigma_keyed_generators
from .schedule import (
    BRIDGE_SCHEDULES,
    PARAMETRIZATIONS,
    VARIANTS,
    flow_sigmas,
    karras_sigmas,
    plan_transitions,
    signal_and_noise,
)

__all__ = [
    "ding_sample",
    "check_options",
    "posterior_step",
    "sigma_keyed_generators",
    "plan_transitions",
    "signal_and_noise",
    "flow_sigmas",
    "karras_sigmas",
    "PARAMETRIZATIONS",
    "VARIANTS",
    "BRIDGE_SCHEDULES",
]
