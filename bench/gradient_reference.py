"""Gradient-based zero-shot inpainting reference (DPS-style), for benchmarks only.

Not part of the node pack. It exists so that ``bench.overhead`` can compare DInG's
time and memory with a method that backpropagates through the network, as the
paper does ("up to 3.2x faster, 68% less memory than gradient-based zero-shot
methods").

The method (Chung et al., "Diffusion Posterior Sampling", ICLR 2023, written
for the k-diffusion/ComfyUI Euler sampler): at every step t -> s

1. with grad enabled on x_t: x0 = D(x_t, sigma_t) (the full CFG model call);
2. r = keep * (y - x0), L = ||r||^2 per sample (keep = 1 on observed cells);
3. g = dL/dx_t, by backpropagation through the network to the input only;
4. Euler step: x_s = x_t + (x_t - x0) / sigma_t * (sigma_s - sigma_t);
5. guidance: x_s -= zeta * g / ||r||  (DPS's step size zeta_i = zeta / ||y - A(x0)||).

One forward and one backward pass per step, so S steps cost S network calls
plus S backward passes, and the activations of the whole network are kept
for the backward pass.

Layout: the math (``dps_guidance``, ``dps_step``, ``dps_sample``) is plain
torch and works on any differentiable ``denoiser(x, sigma) -> x0``; it is
tested without ComfyUI (tests/test_bench_gradient.py). ``sample_dps`` and
``dps_ksampler_object`` wrap it as a ComfyUI SAMPLER (``comfy.samplers.KSAMPLER``)
and import ComfyUI only when called.

ComfyUI runs every node under ``torch.inference_mode()``. Backpropagation needs
(a) ``torch.inference_mode(False)`` plus ``torch.enable_grad()`` around the
model call, (b) the input, observation and mask cloned into normal tensors, and
(c) network weights that are NOT inference tensors: weights loaded under
inference mode (as ComfyUI's executor loads them) cannot be saved for backward,
so the benchmark loads its checkpoint with inference mode off. Weights must
not require grad (that would make autograd save every layer's input for weight
gradients): ``sample_dps`` switches ``requires_grad`` off for the run and
restores it.
"""
from __future__ import annotations

import contextlib
import logging
from typing import Callable, Optional, Sequence, Tuple, Union

import torch

log = logging.getLogger("ding-inpaint.bench")

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

DEFAULT_ZETA = 1.0
_NORM_FLOOR = 1e-12


def _per_sample(v: torch.Tensor, ndim: int) -> torch.Tensor:
    """[B] -> [B, 1, 1, ...] for broadcasting against a rank-``ndim`` latent."""
    return v.reshape(v.shape[0], *([1] * (ndim - 1)))


def _normal_tensor(t: torch.Tensor) -> torch.Tensor:
    """A normal (non-inference) tensor with the same values, without grad history.

    Must run with inference mode off. Tensors that are already normal are
    returned as they are (detached)."""
    t = t.detach()
    return t.clone() if t.is_inference() else t


def dps_guidance(denoiser: Denoiser, x: torch.Tensor, sigma: torch.Tensor,
                 observation: torch.Tensor, keep_mask: torch.Tensor
                 ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One differentiable model call at x.

    Returns ``(x0, grad, sq)``: the clean estimate (detached), the gradient of the
    per-sample masked data fit ``sq = ||keep * (y - x0)||^2`` with respect to
    ``x`` (only the input gets a gradient), and ``sq`` itself ([B], detached).
    Works when called inside ``torch.inference_mode()``.
    """
    with torch.inference_mode(False), torch.enable_grad():
        x_in = x.detach().clone().requires_grad_(True)
        sigma_in = _normal_tensor(sigma)
        y = _normal_tensor(observation)
        keep = _normal_tensor(keep_mask)
        x0 = denoiser(x_in, sigma_in)
        resid = (y - x0) * keep
        sq = resid.square().reshape(resid.shape[0], -1).sum(dim=1)
        (grad,) = torch.autograd.grad(sq.sum(), x_in)
    return x0.detach(), grad, sq.detach()


def dps_step(denoiser: Denoiser, x: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor,
             observation: torch.Tensor, keep_mask: torch.Tensor, zeta: float = DEFAULT_ZETA
             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """One guided Euler step x_t -> x_s in the caller's (k-diffusion) convention.

    ``sigma`` and ``sigma_next`` are per-batch tensors [B]. Returns
    ``(x_next, x0)``. ``zeta = 0`` is plain Euler (the same arithmetic as
    k-diffusion's ``sample_euler``).
    """
    x0, grad, sq = dps_guidance(denoiser, x, sigma, observation, keep_mask)
    nd = x.ndim
    s = _per_sample(sigma.to(x.dtype), nd)
    dt = _per_sample(sigma_next.to(x.dtype), nd) - s
    x0 = x0.to(x.dtype)
    x_next = x + (x - x0) / s * dt
    if zeta:
        # zeta_i = zeta / ||r||: the step is zeta * grad(||r||^2) / ||r|| (= 2 zeta grad ||r||)
        scale = zeta / sq.sqrt().clamp_min(_NORM_FLOOR)
        x_next = x_next - grad.to(x.dtype) * _per_sample(scale.to(x.dtype), nd)
    return x_next, x0


def dps_sample(denoiser: Denoiser, x: torch.Tensor, sigmas: Union[torch.Tensor, Sequence[float]],
               observation: torch.Tensor, keep_mask: torch.Tensor, *, zeta: float = DEFAULT_ZETA,
               callback: Optional[Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]] = None
               ) -> torch.Tensor:
    """Guided Euler from ``x`` (already at ``sigmas[0]``) down the grid.

    ``keep_mask``: 1 = observed (kept), 0 = regenerate; broadcastable to x.
    ``callback(i, x, x0, sigma)`` once per step. Returns the final state (the
    clean sample when ``sigmas`` ends at 0).
    """
    if not isinstance(sigmas, torch.Tensor):
        sigmas = torch.tensor([float(v) for v in sigmas], dtype=torch.float32)
    if sigmas.ndim != 1 or sigmas.numel() < 2:
        raise ValueError("sigmas must be a 1-D grid with at least two values")
    sig = sigmas.to(device=x.device, dtype=torch.float32)
    s_in = torch.ones(x.shape[0], device=x.device, dtype=torch.float32)
    with torch.inference_mode(False):  # once per run, not per step (no-op for normal tensors)
        observation = _normal_tensor(observation)
        keep_mask = _normal_tensor(keep_mask)
    for i in range(sig.numel() - 1):
        sigma, sigma_next = sig[i] * s_in, sig[i + 1] * s_in
        x_prev = x
        x, x0 = dps_step(denoiser, x, sigma, sigma_next, observation, keep_mask, zeta)
        if callback is not None:
            callback(i, x_prev, x0, sigma)
    return x


# --------------------------------------------------------------------------- ComfyUI wrapper

def _diffusion_parameters(model):
    """Parameters of the diffusion model behind ComfyUI's KSamplerX0Inpaint wrapper."""
    patcher = getattr(getattr(model, "inner_model", None), "model_patcher", None)
    base = getattr(patcher, "model", None)
    net = getattr(base, "diffusion_model", None)
    return list(net.parameters()) if net is not None else []


@contextlib.contextmanager
def _weights_without_grad(params):
    """Switch requires_grad off for the run (grads flow to the input only); restore after."""
    was = [p.requires_grad for p in params]
    try:
        for p, w in zip(params, was):
            if w:
                p.requires_grad_(False)
        yield sum(was)
    finally:
        for p, w in zip(params, was):
            if w:
                p.requires_grad_(True)


def _pack_glue():
    """``(host_context, step_reporter)`` of the DInG sampler (nodes/sampling.py), taken from the
    pack as ComfyUI loaded it: the same ComfyUI glue for both samplers. bench never imports the
    pack's ``nodes`` package by name, since ``nodes`` is ComfyUI's own module name."""
    import sys

    import nodes as comfy_nodes
    module = sys.modules[comfy_nodes.NODE_CLASS_MAPPINGS["DInGKSampler"].__module__]
    return module.host_context, module.step_reporter


def sample_dps(model, x, sigmas, extra_args=None, callback=None, disable=None, zeta=DEFAULT_ZETA):
    """k-diffusion-style sampler function for ``comfy.samplers.KSAMPLER``.

    Reads ComfyUI's sampler call exactly as the DInG sampler does (``host_context``: the
    observation ``model.latent_image``, the keep weight from ``extra_args["denoise_mask"]``, the
    model called with ``denoise_mask=None`` so ComfyUI's per-call replacement is off, Cancel
    checked before each call) and reports steps the same way (``step_reporter``).
    """
    host_context, step_reporter = _pack_glue()
    host = host_context(model, x, extra_args)
    params = _diffusion_parameters(model)
    if any(p.is_inference() for p in params):
        raise ValueError(
            "the model's weights are inference tensors (loaded under torch.inference_mode), "
            "which autograd cannot save for backward; load the checkpoint with inference mode off")
    on_step, close = step_reporter(callback, len(sigmas) - 1, disable)
    with _weights_without_grad(params) as switched:
        if switched:
            log.debug("gradient reference: requires_grad switched off on %d weights for the run", switched)
        try:
            return dps_sample(host.denoise, x, sigmas, host.observation, host.keep, zeta=zeta, callback=on_step)
        finally:
            close()


def dps_ksampler_object(zeta: float = DEFAULT_ZETA):
    """A ComfyUI SAMPLER (for SamplerCustom / SamplerCustomAdvanced) running ``sample_dps``."""
    import comfy.samplers
    return comfy.samplers.KSAMPLER(sample_dps, extra_options={"zeta": float(zeta)})
