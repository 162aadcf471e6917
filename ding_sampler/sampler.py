"""DInG sampling loop: exact Gaussian posterior transitions, no backpropagation.

The formulas are in docs/algorithm.md (sections 4-7 for one transition,
section 8 for the loop); the comments below name each quantity as that page does.
"""
from __future__ import annotations

import hashlib
import math
import numbers
import struct
from typing import Callable, Optional, Sequence, Union

import torch

from .particles import run_particles
from .schedule import (
    BRIDGE_SCHEDULES,
    PARAMETRIZATIONS,
    VARIANTS,
    Transition,
    plan_transitions,
    signal_and_noise,
    vp_scale,
)

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
StepCallback = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]
KeepSchedule = Callable[[int, float], torch.Tensor]

_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _state_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in _LOW_PRECISION else dtype


def _broadcastable(shape, target) -> bool:
    try:
        return torch.broadcast_shapes(shape, target) == torch.Size(target)
    except RuntimeError:
        return False


def check_options(variant, eta, obs_std, particles=1) -> None:
    """Raise ValueError unless (variant, eta, obs_std, particles) is a valid DInG configuration.

    The one check of the sampler's options: ``ding_sample`` and the ComfyUI nodes both call it.
    """
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if isinstance(eta, str):
        if eta not in BRIDGE_SCHEDULES:
            raise ValueError(f"eta must be one of {BRIDGE_SCHEDULES} or a non-negative number, got {eta!r}")
    elif isinstance(eta, bool) or not isinstance(eta, numbers.Real) or not math.isfinite(eta) or eta < 0:
        raise ValueError(f"eta must be one of {BRIDGE_SCHEDULES} or a non-negative number, got {eta!r}")
    if isinstance(obs_std, bool) or not isinstance(obs_std, numbers.Real) or not math.isfinite(obs_std) or obs_std < 0:
        raise ValueError(f"obs_std must be a finite number >= 0, got {obs_std!r}")
    if isinstance(particles, bool) or not isinstance(particles, numbers.Integral) or particles < 1:
        raise ValueError(f"particles must be an integer >= 1, got {particles!r}")
    if particles > 1 and variant != "ding1":
        raise ValueError(f"particles > 1 needs variant='ding1' (the DInG-1 proposal), got variant={variant!r}")


def _check_inputs(denoiser, noise, observation, keep_mask, variant, eta, obs_std,
                  parametrization, callback, x_start, particles=1):
    if not callable(denoiser):
        raise ValueError("denoiser must be callable as denoiser(x, sigma) -> x0 estimate")
    if not isinstance(noise, torch.Tensor) or not noise.is_floating_point():
        raise ValueError("noise must be a floating-point tensor (standard normal, latent shape)")
    if noise.ndim < 2:
        raise ValueError(f"noise must have a batch dimension and at least one more, got shape {tuple(noise.shape)}")
    for name, value in (("observation", observation), ("keep_mask", keep_mask)):
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"{name} must be a tensor, got {type(value).__name__}")
        if not _broadcastable(value.shape, noise.shape):
            raise ValueError(
                f"{name} has shape {tuple(value.shape)}, which does not broadcast to the "
                f"latent shape {tuple(noise.shape)}"
            )
    if x_start is not None and (not isinstance(x_start, torch.Tensor) or x_start.shape != noise.shape):
        got = tuple(x_start.shape) if isinstance(x_start, torch.Tensor) else type(x_start).__name__
        raise ValueError(f"x_start must be a tensor of the latent shape {tuple(noise.shape)}, got {got}")
    if parametrization not in PARAMETRIZATIONS:
        raise ValueError(f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}")
    check_options(variant, eta, obs_std, particles)
    if callback is not None and not callable(callback):
        raise ValueError("callback must be callable as callback(i, x, x0, sigma) or None")


def _mask_kind(w: torch.Tensor, name: str, dtype) -> str:
    """``"none"`` (every weight 0), ``"binary"`` (0 or 1 only) or ``"soft"``, with one host read;
    a ValueError naming ``name`` unless every weight is finite and in [0, 1]."""
    if not w.numel():
        return "none"
    finite, lo, hi, binary = torch.stack([
        torch.isfinite(w).all().to(dtype), w.amin(), w.amax(),
        ((w == 0) | (w == 1)).all().to(dtype)]).tolist()
    if not finite or lo < 0 or hi > 1:
        raise ValueError(f"{name} values must lie in [0, 1] (1 = keep, 0 = regenerate)")
    return "none" if hi == 0 else ("binary" if binary else "soft")


class _KeepWeights:
    """The keep weight of each model call on the chain: ``keep_mask`` throughout, or what
    ``keep_schedule(i, sigma_i)`` returns for call ``i`` (docs/algorithm.md, section 14).

    ``at(i)`` returns ``(w, mask_kind)``; the kind is recomputed (one host read) only when the
    schedule hands back a tensor other than the previous one."""

    def __init__(self, w, kind, schedule, sigma_values, shape, device, dtype):
        self.w, self.kind = w, kind
        self.schedule, self.sigma_values = schedule, sigma_values
        self.shape, self.device, self.dtype = shape, device, dtype
        self._last = self  # no tensor yet (a sentinel that no schedule returns)

    def at(self, i: int):
        if self.schedule is None:
            return self.w, self.kind
        raw = self.schedule(i, self.sigma_values[i])
        if raw is self._last:
            return self.w, self.kind
        if not isinstance(raw, torch.Tensor) or not _broadcastable(raw.shape, self.shape):
            got = tuple(raw.shape) if isinstance(raw, torch.Tensor) else type(raw).__name__
            raise ValueError(f"keep_schedule returned {got} for step {i}; expected a tensor of keep weights "
                             f"in [0, 1] that broadcasts to the latent shape {tuple(self.shape)}")
        w = raw.to(device=self.device, dtype=self.dtype)
        self.kind = _mask_kind(w, f"keep_schedule's weights (step {i})", self.dtype)
        self._last, self.w = raw, w
        return self.w, self.kind


def _sigma_list(sigmas) -> list:
    if isinstance(sigmas, torch.Tensor):
        if sigmas.ndim != 1:
            raise ValueError(f"sigmas must be a 1-D tensor, got shape {tuple(sigmas.shape)}")
        return sigmas.detach().to("cpu", torch.float64).tolist()
    try:
        return [float(v) for v in sigmas]
    except (TypeError, ValueError):
        raise ValueError("sigmas must be a 1-D tensor or a sequence of numbers") from None


def _noise_source(generator: Optional[torch.Generator], device, dtype) -> Callable[[tuple], torch.Tensor]:
    """``draw(shape)``: standard normal noise from ``generator`` (the run's only randomness),
    drawn on the generator's device and moved to ``device``."""
    noise_device = generator.device if generator is not None else device

    def draw(shape) -> torch.Tensor:
        e = torch.randn(shape, generator=generator, device=noise_device, dtype=dtype)
        return e if e.device == device else e.to(device)

    return draw


StepGenerator = Callable[[float, float], torch.Generator]


def sigma_keyed_generators(seed: int, device=None) -> StepGenerator:
    """``make(sigma_t, sigma_s) -> torch.Generator`` for the transition sigma_t -> sigma_s, seeded
    from ``seed`` and the float64 bits of the two levels (docs/algorithm.md, section 8).

    Pass it as ``ding_sample(step_generator=...)``: every transition then draws its noise from
    its own generator, keyed by where the step sits in the schedule, not by how many steps ran
    before it. A run split at any level into segments (the first returning its state, the
    second starting from it) draws the same noise at the same steps as the unsplit run.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    seed = int(seed) % (1 << 64)

    def make(sigma_t: float, sigma_s: float) -> torch.Generator:
        key = struct.pack("<8sQdd", b"ding-stp", seed, float(sigma_t), float(sigma_s))
        g = torch.Generator(device=device if device is not None else "cpu")
        g.manual_seed(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little"))
        return g

    return make


def _model_caller(denoiser: Denoiser, sigma_table: torch.Tensor, dtype):
    """``call(x_vp, index, scale) -> (x_caller, x0_hat)``: the denoiser at ``sigma_table[index]``
    on the caller's state ``x_vp / scale``; the first output's shape is checked."""
    checked = []

    def call(x_vp: torch.Tensor, index: int, scale: float):
        x_in = x_vp if scale == 1.0 else x_vp / scale
        out = denoiser(x_in, sigma_table[index].expand(x_vp.shape[0]))
        if not checked:
            if not isinstance(out, torch.Tensor) or out.shape != x_vp.shape:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"denoiser returned {got}, expected a tensor of the latent shape "
                                 f"{tuple(x_vp.shape)}")
            checked.append(True)
        return x_in, out.to(dtype)

    return call


def _forward_state(noise: torch.Tensor, y: torch.Tensor, sigma: float, parametrization: str) -> torch.Tensor:
    """The variance-preserving state a y + s noise at ``sigma`` (just ``noise`` at a = 0, s = 1)."""
    a, s = signal_and_noise(sigma, parametrization)
    return noise.clone() if a == 0.0 and s == 1.0 else torch.mul(noise, s).add_(y, alpha=a)


def posterior_step(
    x: torch.Tensor,
    x0: torch.Tensor,
    observation: torch.Tensor,
    keep_weight: torch.Tensor,
    step: Transition,
    proxy_denoiser: Optional[Callable[[torch.Tensor], torch.Tensor]],
    draw_noise: Callable[[], torch.Tensor],
    mask_kind: str = "soft",
) -> torch.Tensor:
    """One DInG transition x_t -> x_s in the variance-preserving form.

    ``x0`` is D(x_t, sigma_t). With ``proxy_denoiser`` (DInG, two calls) the
    pseudo-observation uses the noise estimate at the proxy z ~ N(mu, eta^2);
    without it (DInG-1) the noise estimate at x_t.

    ``mask_kind`` (found once per run by ``ding_sample``): ``"binary"`` when every
    weight is 0 or 1 (the gain is then a scalar times the mask), ``"none"`` when
    all are 0, else ``"soft"``. The arithmetic is fused into a few in-place passes
    over buffers this function owns (docs/algorithm.md, section 7); ``x``, ``x0``
    and the denoiser's outputs are never written to.
    """
    mu = torch.mul(x, step.c_t).add_(x0, alpha=step.c_0)  # DDIM-eta bridge mean
    if proxy_denoiser is not None:
        eps1 = draw_noise()
        z = torch.add(mu, eps1, alpha=step.eta)
        x0_z = proxy_denoiser(z)
        del z
        # y_tilde - mu = a_s y + (z - a_s D(z)) - mu = eta eps1 + a_s (y - D(z)), in eps1's buffer
        innovation = eps1.mul_(step.eta).add_(observation, alpha=step.a_s).sub_(x0_z, alpha=step.a_s)
        del eps1, x0_z
    else:
        # y_tilde - mu with y_tilde = a_s y + s_s x1_hat(x_t), x1_hat = (x_t - a_t x0) / s_t and
        # mu = c_t x_t + c_0 x0, folded into float64 coefficients
        ratio = step.s_s / step.s_t
        innovation = torch.mul(x, ratio - step.c_t).add_(x0, alpha=-ratio * step.a_t - step.c_0)
        innovation.add_(observation, alpha=step.a_s)
    eps2 = draw_noise()
    if mask_kind == "none":
        return mu.add_(eps2, alpha=step.eta)
    rho = step.gain_ratio
    if math.isinf(rho):  # obs_std = 0: gain [w > 0], no posterior noise where w > 0
        k = c = 1.0
        if mask_kind != "binary":
            keep_weight = (keep_weight > 0).to(innovation.dtype)
    elif mask_kind == "binary":
        k = rho / (1.0 + rho)
        c = 1.0 - 1.0 / math.sqrt(1.0 + rho)
    else:
        # soft weights: r = (w rho + 1)^(-1/2), 1 - gain = r^2, noise scale eta r:
        # x_s = mu + (1 - r^2) innovation + eta r eps2 = mu + innovation + r (eta eps2 - r innovation)
        r = torch.mul(keep_weight, rho).add_(1.0).rsqrt_()
        eps2.mul_(step.eta).addcmul_(r, innovation, value=-1.0)
        return mu.add_(innovation).addcmul_(r, eps2)
    # gain k w and noise scale eta sqrt(1 - k w) = eta (1 - c w) for w in {0, 1}:
    # x_s = mu + eta eps2 + w (k innovation - eta c eps2)
    innovation.mul_(k).add_(eps2, alpha=-step.eta * c).mul_(keep_weight)
    return mu.add_(eps2, alpha=step.eta).add_(innovation)


def ding_sample(
    denoiser: Denoiser,
    noise: torch.Tensor,
    sigmas: Union[torch.Tensor, Sequence[float]],
    observation: torch.Tensor,
    keep_mask: torch.Tensor,
    *,
    parametrization: str = "flow",
    variant: str = "ding",
    eta: Union[str, float] = "square",
    obs_std: float = 0.01,
    generator: Optional[torch.Generator] = None,
    callback: Optional[StepCallback] = None,
    paste_observation: bool = False,
    x_start: Optional[torch.Tensor] = None,
    final_sigma: Optional[float] = None,
    particles: int = 1,
    particle_sigma_min: float = 0.0,
    step_generator: Optional[StepGenerator] = None,
    keep_schedule: Optional[KeepSchedule] = None,
) -> torch.Tensor:
    """Inpaint by DInG: sample x0 given the observed latent on the kept mask.

    Args:
        denoiser: ``denoiser(x, sigma) -> x0_hat``; ``x`` and ``sigma`` are in the
            caller's convention (``sigma`` is a per-batch 1-D tensor).
        noise: standard normal tensor of latent shape (batch first, any rank).
        sigmas: strictly decreasing noise levels, noisiest first; the last may be 0.
        observation: latent y of the reference; values where keep_mask is 0 are
            not used by the likelihood.
        keep_mask: 1 = keep, 0 = regenerate, broadcastable to the latent; soft
            values are per-coordinate likelihood weights.
        parametrization: ``"flow"`` (x = (1-sigma) x0 + sigma e) or ``"ve"``
            (x = x0 + sigma e).
        variant: ``"ding"`` (two denoiser calls per step) or ``"ding1"`` (one).
        eta: bridge noise schedule ``"square" | "default" | "ddpm" | "ddim"`` or a
            non-negative multiple of the DDPM bridge std.
        obs_std: observation noise std sigma_y (in latent units).
        generator: the only source of randomness (``torch.randn`` with it).
        callback: ``callback(i, x, x0, sigma)`` once per step with the state and
            clean estimate in the caller's convention.
        paste_observation: blend y into the kept region of the final clean
            latent, ``x0 + keep_mask (y - x0)``, as ComfyUI's masked sampling
            does. Off by default: the paper's output is the clean estimate, whose
            kept region matches y only as well as the denoiser reconstructs it.
        x_start: the state at ``sigmas[0]`` in the caller's convention, when the
            caller already has it (ComfyUI hands its samplers one); by default it
            is built from ``noise`` and ``observation`` as below.
        final_sigma: when ``sigmas`` ends at 0 and its last positive level is
            above ``final_sigma``, that level is replaced by ``final_sigma``: the
            last transition goes down to it and the clean estimate is taken
            there. Same number of calls. Helps short grids, whose last positive
            level (0.14-0.25 at 10-20 steps with shift 3) is too noisy for a
            good one-shot estimate. ``None`` (default) keeps the grid.
        particles: experimental, ``K >= 1``. With ``K > 1`` (``variant="ding1"``
            only) every batch item runs K DInG-1 particles (K times the
            denoiser batch), reweighted by a twisted importance weight and
            resampled within the item; one particle per item is returned, so the
            output has the shape of ``noise``. ``K = 1`` is the plain sampler.
            See ``ding_sampler.particles``.
        particle_sigma_min: with ``particles > 1``: weighting and resampling
            happen only on transitions whose start level is at least this; the
            weights are frozen below it.
        step_generator: ``step_generator(sigma_t, sigma_s) -> torch.Generator``; when given,
            each transition draws its noise from the generator it returns for that transition's
            levels (e.g. ``sigma_keyed_generators(seed)``) instead of from ``generator``. Then
            a run split into segments at any level of the grid (``sigmas[:k + 1]``, then
            ``sigmas[k:]`` with ``x_start`` = the first segment's result) draws the same noise
            as the unsplit run. Not with ``particles > 1``.
        keep_schedule: ``keep_schedule(i, sigma_i) -> keep weight`` (values in [0, 1],
            broadcastable to the latent), a keep weight that changes along the run: called once
            per model call on the chain, before it (``i`` = 0, 1, ... with ``sigma_i`` the
            level, a float, of that call; the ``ding`` proxy calls do not count), and its
            result replaces ``keep_mask`` in that transition's likelihood, and, for the final
            estimate's call, in the paste. The same tensor object as the previous call's is
            taken as the same weight, unchecked and unconverted (do not modify it in place). ``keep_mask`` is then used for nothing but its own
            check. docs/algorithm.md, section 14 (Differential Diffusion uses it). Not with
            ``particles > 1``.

    Start: the state at ``sigmas[0]`` is the forward process applied to the
    observation with the caller's noise, as ComfyUI mixes it:
    flow ``(1 - sigma0) y + sigma0 noise`` (just ``noise`` at sigma0 = 1),
    ve ``y + sigma0 noise``. So with partial denoise the whole observation is the
    starting image, in the regenerated region too.

    Returns the clean latent when ``sigmas`` ends at 0 (transitions to every
    positive level, then one clean estimate at the last positive level: calls
    = 2 per transition + 1 for "ding", 1 per transition + 1 for "ding1");
    otherwise the state at ``sigmas[-1]`` in the caller's convention, with its
    leftover noise, no clean estimate and no paste (a segment, for a second run to
    continue with ``x_start`` and the same observation). The result is float32 for
    half-precision inputs, else the dtype of ``noise``.
    """
    _check_inputs(denoiser, noise, observation, keep_mask, variant, eta, obs_std,
                  parametrization, callback, x_start, particles)
    sigma_values = _sigma_list(sigmas)
    if final_sigma is not None:
        if (isinstance(final_sigma, bool) or not isinstance(final_sigma, numbers.Real)
                or not math.isfinite(final_sigma) or final_sigma <= 0):
            raise ValueError(f"final_sigma must be a finite number > 0 or None, got {final_sigma!r}")
        if len(sigma_values) >= 3 and sigma_values[-1] == 0.0 and sigma_values[-2] > final_sigma:
            sigma_values = sigma_values[:-2] + [float(final_sigma), 0.0]
    if (isinstance(particle_sigma_min, bool) or not isinstance(particle_sigma_min, numbers.Real)
            or not math.isfinite(particle_sigma_min) or particle_sigma_min < 0):
        raise ValueError(f"particle_sigma_min must be a finite number >= 0, got {particle_sigma_min!r}")
    if step_generator is not None and not callable(step_generator):
        raise ValueError("step_generator must be callable as step_generator(sigma_t, sigma_s) -> torch.Generator")
    if step_generator is not None and particles > 1:
        raise ValueError("step_generator (noise keyed by step) is not supported with particles > 1")
    if keep_schedule is not None and not callable(keep_schedule):
        raise ValueError("keep_schedule must be callable as keep_schedule(i, sigma) -> keep weight, or None")
    if keep_schedule is not None and particles > 1:
        raise ValueError("keep_schedule (a keep weight that changes between steps) is not supported with "
                         "particles > 1: the particle weights assume one likelihood for the whole run")
    plan, final_estimate = plan_transitions(sigma_values, parametrization, eta, float(obs_std))

    device, dtype = noise.device, _state_dtype(noise.dtype)
    shape = noise.shape
    y = observation.to(device=device, dtype=dtype).expand(shape)
    w = keep_mask.to(device=device, dtype=dtype)
    mask_kind = _mask_kind(w, "keep_mask", dtype)  # one host read per run: finite, range, binary
    weights = _KeepWeights(w, mask_kind, keep_schedule, sigma_values, shape, device, dtype)

    batch = shape[0]
    sigma_table = torch.tensor(sigma_values, dtype=dtype, device=device)
    draw = _noise_source(generator, device, dtype)
    call = _model_caller(denoiser, sigma_table, dtype)
    if x_start is not None:
        x = torch.mul(x_start.to(device=device, dtype=dtype), vp_scale(sigma_values[0], parametrization))
    else:
        x = _forward_state(noise.to(dtype=dtype), y, sigma_values[0], parametrization)

    if particles > 1:
        return _sample_particles(call, draw, x, y, w, plan, final_estimate, sigma_values, parametrization,
                                 float(obs_std), int(particles), float(particle_sigma_min), generator,
                                 callback, sigma_table, paste_observation)

    step_draw = draw

    def draw_noise() -> torch.Tensor:
        return step_draw(shape)

    for i, step in enumerate(plan):
        if step_generator is not None:  # this transition's own noise stream
            step_draw = _noise_source(step_generator(step.sigma_t, step.sigma_s), device, dtype)
        w, mask_kind = weights.at(i)
        x_in, x0 = call(x, i, step.scale_t)
        if callback is not None:
            callback(i, x_in, x0, sigma_table[i].expand(batch))
        proxy = None
        if variant == "ding":
            def proxy(z, _i=i + 1, _scale=step.scale_s):
                return call(z, _i, _scale)[1]
        x = posterior_step(x, x0, y, w, step, proxy, draw_noise, mask_kind)
        del x0, x_in

    last = len(plan)
    last_scale = vp_scale(sigma_values[last], parametrization)
    if final_estimate:
        w, _ = weights.at(last)  # the paste uses the weight of the last call, as ComfyUI's last call does
        x_in, x0 = call(x, last, last_scale)
        if callback is not None:
            callback(last, x_in, x0, sigma_table[last].expand(batch))
        return torch.lerp(x0, y, w.expand(shape)) if paste_observation else x0
    return x if last_scale == 1.0 else x / last_scale


def _sample_particles(call, draw, x_first, y, w, plan, final_estimate, sigma_values, parametrization,
                      obs_std, k, sigma_min, generator, callback, sigma_table, paste_observation):
    """``ding_sample`` with ``particles = k > 1`` (see ``ding_sampler.particles``).

    Particle 0 of every item starts from the run's start state ``x_first`` (the caller's
    ``x_start``, or ``noise`` mixed with the observation), the others from the forward process
    with fresh noise from the generator. Rows are particle-major: row r is particle r // batch of
    item r % batch, the layout of ``x.repeat(k, 1, ...)``, because ComfyUI repeats a conditioning
    of batch ``batch`` to the model's larger batch by tiling (``comfy.utils.repeat_to_batch_size``).
    For batch 1 this is the old item-major layout, with the same noise draws.
    """
    shape = x_first.shape
    batch = shape[0]
    big = (batch * k,) + tuple(shape[1:])
    tile = (k,) + (1,) * (len(shape) - 1)
    extra = draw((k - 1, batch) + tuple(shape[1:]))
    y_big = y.repeat(tile)
    w_big = w.expand(shape).repeat(tile) if (w.ndim == len(shape) and w.shape[0] > 1) else w
    x = torch.cat([x_first[None], _forward_state(extra, y[None], sigma_values[0], parametrization)],
                  dim=0).reshape(big)

    cb = None
    if callback is not None:
        def cb(i, x_in, x0):
            callback(i, x_in, x0, sigma_table[i].expand(batch))

    last = len(plan)
    last_scale = vp_scale(sigma_values[last], parametrization)
    last_a, last_s = signal_and_noise(sigma_values[last], parametrization)
    out, chosen, _ = run_particles(call, plan, final_estimate, x, y_big, w_big, obs_std, k,
                                   draw, generator, cb, sigma_min, last_scale, last,
                                   last_a, last_s)
    out = out.index_select(0, chosen)
    if final_estimate and paste_observation:
        return torch.lerp(out, y, w.expand(shape))
    return out
