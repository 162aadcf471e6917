"""Reference samplers that DInG is compared with (demo, ``bench/``, tests).

Not used by the ComfyUI nodes; plain torch, like the rest of this package.

* ``replacement_sample``: latent replacement as ComfyUI's SetLatentNoiseMask +
  KSampler(euler) does it: on every model call the kept region of the input is
  replaced by the observation noised with the run's own initial noise, and the
  kept region of the output by the observation.
* ``euler_sample``: plain Euler (unconditional); one call per step.
* ``CountingDenoiser``: wraps a denoiser and counts its calls.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch


class CountingDenoiser:
    """Wraps ``denoiser(x, sigma)`` and counts its calls."""

    def __init__(self, fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]):
        self.fn = fn
        self.calls = 0

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.fn(x, sigma)


def _forward(y, noise, sigma: float, parametrization: str):
    if parametrization == "flow":
        return y * (1.0 - sigma) + noise * sigma
    return y + noise * sigma


def euler_sample(denoiser, noise, sigmas: Union[Sequence[float], torch.Tensor], *,
                 parametrization: str = "flow", observation=None, keep_mask=None,
                 callback=None) -> torch.Tensor:
    """k-diffusion's Euler. With ``observation`` and ``keep_mask`` (1 = keep) it
    does ComfyUI's latent replacement on every call."""
    sig = [float(s) for s in (sigmas.tolist() if isinstance(sigmas, torch.Tensor) else sigmas)]
    dtype = torch.float32 if noise.dtype in (torch.float16, torch.bfloat16) else noise.dtype
    noise = noise.to(dtype)
    y = observation.to(dtype) if observation is not None else torch.zeros_like(noise)
    x = _forward(y, noise, sig[0], parametrization)
    batch = noise.shape[0]
    for i, (s, s_next) in enumerate(zip(sig, sig[1:])):
        x_in = x
        if keep_mask is not None:
            x_in = torch.lerp(x, _forward(y, noise, s, parametrization), keep_mask.to(dtype))
        x0 = denoiser(x_in, torch.full((batch,), s, dtype=dtype)).to(dtype)
        if keep_mask is not None:
            x0 = torch.lerp(x0, y, keep_mask.to(dtype))
        if callback is not None:
            callback(i, x_in, x0, s)
        if s_next == 0.0:
            x = x0
        else:
            x = x_in + (x_in - x0) * ((s_next - s) / s)
    return x


def replacement_sample(denoiser, noise, sigmas, observation, keep_mask, *,
                       parametrization: str = "flow", callback=None) -> torch.Tensor:
    return euler_sample(denoiser, noise, sigmas, parametrization=parametrization,
                        observation=observation, keep_mask=keep_mask, callback=callback)
