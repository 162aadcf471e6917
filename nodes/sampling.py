"""DInG KSampler (and its Advanced node) and DInG Sampler: ComfyUI glue around ``ding_sampler.ding_sample``.

What the sampler function reads from ComfyUI (docs/algorithm.md, section 9, and
docs/architecture.md): ``model.latent_image`` (the observation, model space), ``model.noise``
(the run's initial noise), the state ``x`` ComfyUI hands it, ``extra_args["denoise_mask"]``
(1 = repaint) and ``extra_args["seed"]``, the model's ``model_sampling``, whose
``noise_scaling`` decides the parametrization by what it does, and the model options'
``denoise_mask_function`` when a patch (Differential Diffusion) set one: DInG calls it once per
step itself (``denoise_mask_schedule``, docs/algorithm.md section 14).
"""
from __future__ import annotations

import logging
import math
import numbers
import weakref
from typing import Callable, NamedTuple, Optional

import torch
from tqdm.auto import tqdm

import comfy.model_management
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview
from comfy_api.v0_0_2 import io

from ..ding_sampler import BRIDGE_SCHEDULES, VARIANTS, check_options, ding_sample, sigma_keyed_generators
from .schema import node_schema

log = logging.getLogger("ding-inpaint")

# The particle sampler's noise stream must not repeat the initial noise, which ComfyUI
# draws on the CPU from the same seed: offset the seed by a fixed odd constant. (The plain
# sampler draws each step's noise from a generator keyed by the seed and the step's sigma pair,
# ding_sampler.sigma_keyed_generators, so that a run split into segments draws the same noise.)
_STEP_NOISE_SEED_OFFSET = 0x9E3779B97F4A7C15

# The latent-dict key under which a DInG KSampler (Advanced) that stops early (end_at_step) hands its
# observation to the one that continues (start_at_step); ComfyUI's sampler nodes copy
# the latent dict, so the key travels with the state.
OBSERVATION_KEY = "ding_observation"

VARIANT_TOOLTIP = ("ding1 (default): one model call per step; with 8-20 model calls it was the closest DInG setting "
                   "to the exact answer, or within the seed noise of it, in every benchmark of this pack, learned "
                   "networks included. ding: two calls per step (the paper's setting), holds the kept region "
                   "most tightly per step.")
OBS_STD_TOOLTIP = ("How tightly each step follows the kept region (observation noise std, latent units). "
                   "0.01 is the paper's default; larger values (0.05-0.2) let the steps drift from the "
                   "kept region, which can soften seams. The kept latent cells are restored exactly at the end.")
ETA_TOOLTIP = ("Bridge noise schedule between steps. 'ddpm' (default) measured best with ding1; 'square' is the "
               "paper's setting (use it with ding); 'default' injects more noise; 'ddim' is nearly "
               "deterministic and breaks consistency (ablation only).")
OBSERVATION_TOOLTIP = ("Only for the second part of a split run (e.g. Wan 2.2 A14B: high-noise expert, then "
                       "low-noise expert): connect DInG Inpaint/Outpaint Encode's LATENT here. That run starts from "
                       "the first part's noisy state (DisableNoise / no added noise), and DInG needs the "
                       "original latent of the kept region at every step. Leave it empty for a normal run.")
PARTICLES_TOOLTIP = ("Experimental, ding1 only; 1 = off. K > 1 runs K samples per image and keeps one, "
                     "reweighted toward agreement with the kept region: it can correct which kind of content "
                     "gets painted. Costs K times the model work per step (each call runs K latents) and K "
                     "latents in memory.")


# --------------------------------------------------------------------------- host contract

# Sigmas, noise and latent values at which a model's noise_scaling is probed.
_PROBE_SIGMAS = (0.2, 0.55, 0.9)
_PROBE_NOISE = (1.0, -0.75, 0.5, 2.0)
_PROBE_LATENT = (0.5, 1.25, -2.0, 0.25)


def _sampling_class_name(sampling) -> str:
    """The model_sampling's parametrization class (e.g. CONST, EPS), not the generated combo class."""
    for cls in type(sampling).__mro__:
        if cls.__module__.startswith("comfy.model_sampling") and not issubclass(cls, torch.nn.Module):
            return cls.__name__
    return type(sampling).__name__


# model_sampling object -> its parametrization, so a run probes each model once (a sampler run
# asks twice: the node before loading the model, the sampler function inside the run).
_PROBED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def parametrization_of(model_patcher) -> str:
    """'flow' or 've', decided by what the model's ``noise_scaling`` does, not by its class.

    DInG needs the noisy state as x = a(sigma) x0 + s(sigma) e with a known (a, s). The probe
    calls ``noise_scaling(sigma, noise, latent)`` on small tensors at a few sigmas and accepts
    the flow form sigma n + (1 - sigma) y and the variance-exploding form y + sigma n. Anything
    else (a latent returned unchanged, a noise scale other than 1, another mixing) is refused
    with a ValueError naming the model's sampling class.
    """
    sampling = model_patcher.get_model_object("model_sampling")
    try:
        return _PROBED[sampling]
    except (KeyError, TypeError):  # not probed yet, or an object that cannot be weakly referenced
        pass
    form = _probe_parametrization(sampling, model_patcher)
    try:
        _PROBED[sampling] = form
    except TypeError:
        pass
    return form


def _probe_parametrization(sampling, model_patcher) -> str:
    name = _sampling_class_name(sampling)
    model_name = type(getattr(model_patcher, "model", None)).__name__
    noise = torch.tensor(_PROBE_NOISE, dtype=torch.float64).view(1, -1, 1, 1)
    latent = torch.tensor(_PROBE_LATENT, dtype=torch.float64).view(1, -1, 1, 1)

    def noised(sigma, y):
        try:
            out = sampling.noise_scaling(torch.tensor([sigma], dtype=torch.float64), noise.clone(), y.clone(),
                                         max_denoise=False)
            return torch.as_tensor(out, dtype=torch.float64)
        except Exception as e:  # noqa: BLE001  (anything: the model does not follow the contract)
            raise ValueError(
                f"DInG cannot use this model ({model_name}): its sampling ({name}) failed when asked "
                f"to noise a latent ({type(e).__name__}: {e})") from e

    outs = [noised(sigma, latent) for sigma in _PROBE_SIGMAS]
    for form, expected in (("flow", lambda s: s * noise + (1 - s) * latent),
                           ("ve", lambda s: latent + s * noise)):
        if all(torch.allclose(out, expected(s), rtol=1e-5, atol=1e-6) for out, s in zip(outs, _PROBE_SIGMAS)):
            return form
    # refused: read the linear form out = g_y y + g_n n off a second call with the latent set to 0
    noise_gain = [float((noised(s, torch.zeros_like(latent)) / noise).mean()) for s in _PROBE_SIGMAS]
    latent_gain = [float(((out - g * noise) / latent).mean()) for out, g in zip(outs, noise_gain)]
    need = ("DInG needs noise_scaling(sigma, noise, latent) = sigma*noise + (1-sigma)*latent (flow models: "
            "SD3, Flux, Wan, ...) or latent + sigma*noise (eps / v-prediction models)")
    if all(abs(g) < 1e-9 for g in noise_gain):
        what = "returns the latent without noise (an image-to-image sampling)"
    elif all(abs(g / s - noise_gain[0] / _PROBE_SIGMAS[0]) < 1e-6 for g, s in zip(noise_gain, _PROBE_SIGMAS)):
        what = f"scales the noise by {noise_gain[0] / _PROBE_SIGMAS[0]:.4g} x sigma"
        if all(abs(a - (1 - s)) < 1e-6 for a, s in zip(latent_gain, _PROBE_SIGMAS)):
            what += " (a flow model with a noise scale other than 1, which DInG does not support)"
    else:
        pairs = ", ".join(f"sigma {s}: {a:.4g}*latent + {g:.4g}*noise"
                          for s, a, g in zip(_PROBE_SIGMAS, latent_gain, noise_gain))
        what = f"mixes latent and noise as {pairs}"
    raise ValueError(f"DInG cannot sample this model ({model_name}): its sampling {name} {what}. {need}.")


def _is_packed(x: torch.Tensor) -> bool:
    """ComfyUI >= 0.8 packs nested latents (e.g. audio + video) into one [B, 1, N] tensor."""
    return x.ndim == 3 and x.shape[1] == 1


class HostContext(NamedTuple):
    """What a guided sampler takes from ComfyUI's KSAMPLER call, ready for a pure-torch sampler."""
    parametrization: str
    observation: torch.Tensor     # model-space latent y, float32
    noise: torch.Tensor           # the run's initial noise, float32
    keep: torch.Tensor            # keep weight (1 = keep), float32, broadcastable to x
    denoise: Callable             # denoise(x, sigma) -> x0, Cancel-aware, ComfyUI's blending off
    generator: torch.Generator    # one noise stream, seeded from extra_args["seed"] (the particle sampler's)
    step_generator: Callable      # (sigma_t, sigma_s) -> that step's generator, keyed by seed and sigmas
    continuation: bool            # the run got zero noise: it continues an earlier segment's state


# The model-conditioning key of channels concatenated to the network input (ComfyUI's BaseModel
# puts a trained inpainting model's mask / masked-image channels there).
_CONCAT_KEY = "c_concat"


def _encode_conds_without_noise_mask(model, denoise_mask, seed) -> None:
    """One noise level for every cell: re-encode the run's model conditioning as if the latent had
    no noise_mask, except the input channels of trained inpainting models.

    ComfyUI hands the latent's noise_mask to every model's ``extra_conds`` (``process_conds``),
    and some models turn it into per-frame or per-token timesteps (Wan 2.2 5B, LTX-Video,
    Cosmos: a kept cell is told it is clean). That is right for ComfyUI's own samplers, which keep
    those cells clean, and wrong for DInG, whose state is noisy at the step's level in every cell.
    So the guider's conds are encoded twice more, with and without the mask, and every key the
    mask produced is replaced by its mask-free value (or dropped): decided by what each model's
    ``extra_conds`` does, for any model class. Channels concatenated to the input (``c_concat``:
    a trained inpainting model's mask and masked image) keep the mask: they describe the
    observation, not the state's noise level, and such models are trained on a fully noised
    latent plus those channels, which is DInG's state.
    """
    guider = getattr(model, "inner_model", None)
    conds = getattr(guider, "conds", None)
    base_model = getattr(guider, "inner_model", None)
    extra_conds = getattr(base_model, "extra_conds", None)
    if not isinstance(conds, dict) or extra_conds is None:
        return
    noise, latent = model.noise, model.latent_image
    patcher = getattr(guider, "model_patcher", None)
    device = getattr(patcher, "load_device", noise.device)
    kwargs = {"latent_image": latent, "seed": seed, "latent_shapes": [latent.shape]}

    def encoded(prompt_type, items, mask):
        blank = [{**c, "model_conds": {}} for c in items]  # so the result is extra_conds' own output
        out = comfy.samplers.encode_model_conds(extra_conds, blank, noise, device, prompt_type,
                                                denoise_mask=mask, **kwargs)
        return [c["model_conds"] for c in out]

    for prompt_type, items in list(conds.items()):
        with_mask = encoded(prompt_type, items, denoise_mask)
        without = encoded(prompt_type, items, None)
        fixed = []
        for c, masked, free in zip(items, with_mask, without):
            model_conds = {k: v for k, v in c.get("model_conds", {}).items() if k not in masked or k == _CONCAT_KEY}
            model_conds.update({k: v for k, v in free.items() if k != _CONCAT_KEY or k not in masked})
            fixed.append({**c, "model_conds": model_conds})
        conds[prompt_type] = fixed


def host_context(model, x: torch.Tensor, extra_args: Optional[dict],
                 observation: Optional[torch.Tensor] = None) -> HostContext:
    """Read the observation, noise, mask and schedule from ComfyUI's sampler call.

    ``model`` is ComfyUI's KSamplerX0Inpaint. ComfyUI's per-call replacement is switched off by
    calling the model with ``denoise_mask=None``; the mask (1 = regenerate) becomes the keep weight
    instead (and a ``denoise_mask_function`` in the model options is called by the sampler itself,
    ``denoise_mask_schedule``). Shared by the DInG sampler and bench/gradient_reference.py.

    ``observation``: the clean latent of the kept region (a LATENT's ``samples``, latent space, as
    DInG Inpaint Encode writes it), used instead of ``model.latent_image``. A run that gets zero
    noise (SamplerCustomAdvanced with DisableNoise, a DInG KSampler (Advanced) with start_at_step > 0)
    continues an earlier segment: ComfyUI then hands it that segment's noisy output as
    ``latent_image``, so the observation is required and its absence is a ValueError.
    """
    extra_args = {} if extra_args is None else extra_args
    if _is_packed(x):
        raise ValueError("DInG does not support nested latents (several latents packed into one, e.g. "
                         "audio + video); sample each latent on its own")
    denoise_mask = extra_args.get("denoise_mask")
    call_args = dict(extra_args)
    call_args["denoise_mask"] = None  # our own transitions, not ComfyUI's blending
    parametrization = parametrization_of(model.inner_model.model_patcher)
    latent_image = getattr(model, "latent_image", None)
    noise = getattr(model, "noise", None)
    if latent_image is None or noise is None:
        raise ValueError("DInG sampler needs ComfyUI's KSAMPLER wrapper (latent_image and noise)")
    check_latent_for_model(model.inner_model.model_patcher, x)
    if not bool(torch.isfinite(latent_image).all()):
        raise ValueError("latent_image contains NaN or infinite values")
    if denoise_mask is not None and not bool(torch.isfinite(denoise_mask).all()):
        raise ValueError("latent_image's noise_mask contains NaN or infinite values")
    continuation = not bool(torch.count_nonzero(noise))
    if observation is None:
        if continuation:
            raise ValueError(
                "DInG got no noise (DisableNoise, or a DInG Inpaint/Outpaint KSampler (Advanced) with "
                "start_at_step > 0): this run continues an earlier DInG run's noisy state, and its latent_image "
                "is that state, not the original. Connect DInG Inpaint/Outpaint Encode's LATENT to the "
                "'observation' input of this DInG sampler (DInG Inpaint/Outpaint Sampler or DInG Inpaint/Outpaint "
                "KSampler (Advanced)). For a normal run, add noise (RandomNoise).")
        observation = latent_image
    else:
        observation = _model_space_observation(model, observation, x)
    if denoise_mask is None:
        log.warning("DInG: the latent has no noise_mask, so nothing is kept: sampling unconditionally. "
                    "Use DInG Inpaint/Outpaint Encode (or Set Latent Noise Mask) to inpaint.")
        keep = torch.zeros((1,) * x.ndim, device=x.device)
    else:
        keep = (1.0 - denoise_mask.to(device=x.device, dtype=torch.float32)).clamp_(0, 1)
        _encode_conds_without_noise_mask(model, denoise_mask, extra_args.get("seed"))

    def denoise(x_in, sigma):
        comfy.model_management.throw_exception_if_processing_interrupted()
        return model(x_in, sigma, **call_args)

    seed = 0 if extra_args.get("seed") is None else int(extra_args["seed"])
    generator = torch.Generator(device=x.device)
    generator.manual_seed((seed + _STEP_NOISE_SEED_OFFSET) % (1 << 64))
    return HostContext(parametrization, observation.to(device=x.device, dtype=torch.float32),
                       noise.to(device=x.device, dtype=torch.float32), keep, denoise, generator,
                       sigma_keyed_generators(seed, device=x.device), continuation)


def _model_space_observation(model, observation, x: torch.Tensor) -> torch.Tensor:
    """The ``observation`` input (latent space) in model space, as ComfyUI prepares a latent_image:
    the model's ``process_latent_in``, skipped for an all-zero latent as ComfyUI skips it."""
    if not isinstance(observation, torch.Tensor) or _is_nested(observation):
        raise ValueError("observation must be a LATENT with one latent tensor (DInG Inpaint/Outpaint Encode's output)")
    if (observation.ndim != x.ndim or observation.shape[1:] != x.shape[1:]
            or observation.shape[0] not in (1, x.shape[0])):
        raise ValueError(f"observation has shape {tuple(observation.shape)}, but the sampled latent has shape "
                         f"{tuple(x.shape)}: connect the DInG Inpaint/Outpaint Encode output this run started from")
    base_model = model.inner_model.inner_model
    observation = observation.to(device=x.device, dtype=torch.float32)
    if torch.count_nonzero(observation) > 0:
        observation = base_model.process_latent_in(observation)
    return observation


DENOISE_MASK_FUNCTION = "denoise_mask_function"


def denoise_mask_schedule(model, x: torch.Tensor, sigmas, extra_args: Optional[dict]):
    """``ding_sample``'s ``keep_schedule`` from the model options' ``denoise_mask_function``
    (set by the core Differential Diffusion node, or by any other patch), or None without one
    or without a mask (docs/algorithm.md, section 14).

    ComfyUI calls that function in every model call of a masked run
    (``KSamplerX0Inpaint.__call__``) as ``f(sigma, denoise_mask, extra_options={"model":
    inner_model, "sigmas": sigmas})`` and uses its result as that call's repaint mask. DInG calls
    the model without a mask, so it calls the function itself, once per model call on its chain
    with the same arguments (``sigma`` a per-batch tensor as ComfyUI's samplers pass it, the run's
    denoise mask, 1 = repaint), and the step's keep weight is ``1 - result`` clamped to [0, 1].
    """
    extra_args = {} if extra_args is None else extra_args
    function = (extra_args.get("model_options") or {}).get(DENOISE_MASK_FUNCTION)
    denoise_mask = extra_args.get("denoise_mask")
    if function is None or denoise_mask is None:
        return None
    if not callable(function):
        raise ValueError(f"the model's {DENOISE_MASK_FUNCTION} (model_options) must be callable, "
                         f"got {type(function).__name__}")
    inner_model = model.inner_model
    run_sigmas = getattr(model, "sigmas", sigmas)
    batch, shape = x.shape[0], tuple(x.shape)

    def keep_schedule(i: int, sigma: float) -> torch.Tensor:
        sigma_t = torch.full((batch,), sigma, dtype=x.dtype, device=x.device)
        out = function(sigma_t, denoise_mask, extra_options={"model": inner_model, "sigmas": run_sigmas})
        what = (f"the model's {DENOISE_MASK_FUNCTION} (from Differential Diffusion or another model patch) "
                f"returned")
        if not isinstance(out, torch.Tensor):
            raise ValueError(f"{what} {type(out).__name__} at step {i}; expected a repaint mask tensor")
        try:
            fits = torch.broadcast_shapes(out.shape, shape) == torch.Size(shape)
        except RuntimeError:
            fits = False
        if not fits:
            raise ValueError(f"{what} shape {tuple(out.shape)} at step {i}, which does not broadcast to the "
                             f"latent shape {shape}")
        out = out.to(device=x.device, dtype=torch.float32)
        if not bool(torch.isfinite(out).all()):
            raise ValueError(f"{what} NaN or infinite values at step {i}")
        return (1.0 - out).clamp_(0, 1)

    return keep_schedule


def step_reporter(callback, steps: int, disable=None):
    """(on_step(i, x, x0, sigma), close()) : console progress plus ComfyUI's preview/progress callback."""
    bar = tqdm(total=steps, disable=disable)  # console progress, like k-diffusion's trange

    def on_step(i, x_i, x0, sigma):
        bar.update(1)
        if callback is not None:
            s = sigma[0]
            callback({"x": x_i, "i": i, "sigma": s, "sigma_hat": s, "denoised": x0})

    return on_step, bar.close


def sample_ding(model, x, sigmas, extra_args=None, callback=None, disable=None,
                variant="ding1", obs_std=0.01, eta="ddpm", particles=1, observation=None):
    """k-diffusion-style sampler function for ``comfy.samplers.KSAMPLER``.

    Starts from the state ComfyUI hands it (``x``) and restores the kept region of the final
    latent from the observation (``paste_observation``), as ComfyUI's masked sampling does.
    A schedule that ends above 0 is a segment: the result is the DInG state at that level, which
    ComfyUI divides by its noise scaling and a second DInG run with zero noise and the same
    ``observation`` continues (docs/algorithm.md, section 13). Each step draws its noise from a
    generator keyed by the seed and its sigma pair, so the split run draws the unsplit run's noise.
    """
    host = host_context(model, x, extra_args, observation)
    sigma_last = float(sigmas[-1])
    if particles > 1 and (host.continuation or sigma_last > 0):
        raise ValueError("particles > 1 cannot run in segments (a schedule split with SplitSigmas or "
                         "start/end steps, e.g. two experts): set particles to 1 in both DInG samplers")
    keep_schedule = denoise_mask_schedule(model, x, sigmas, extra_args)
    if keep_schedule is not None and particles > 1:
        raise ValueError("particles > 1 cannot follow the model's denoise_mask_function (Differential "
                         "Diffusion or another model patch that changes the mask per step): set particles to 1, "
                         "or sample without that patch")
    if bool((host.keep >= 1).all()):
        log.warning("DInG: the noise_mask keeps everything, nothing to repaint: returning the latent unchanged")
        out = host.observation.expand_as(x).clone()
        if sigma_last > 0 and host.parametrization == "flow":
            out.mul_(1.0 - sigma_last)  # ComfyUI divides a segment's result by 1 - sigma
        return out
    on_step, close = step_reporter(callback, len(sigmas) - 1, disable)
    try:
        return ding_sample(
            host.denoise, host.noise, sigmas, host.observation, host.keep,
            parametrization=host.parametrization, variant=variant, eta=eta, obs_std=obs_std,
            generator=host.generator, callback=on_step, paste_observation=True,
            x_start=x.to(torch.float32), particles=particles,
            step_generator=host.step_generator if particles == 1 else None,
            keep_schedule=keep_schedule,
        )
    finally:
        close()


def ding_ksampler_object(variant: str, obs_std: float, eta: str, particles: int = 1,
                         observation: Optional[torch.Tensor] = None):
    check_options(variant, eta, obs_std, particles)
    options = {"variant": variant, "obs_std": float(obs_std), "eta": eta, "particles": int(particles)}
    if observation is not None:
        options["observation"] = observation
    return comfy.samplers.KSAMPLER(sample_ding, extra_options=options)


def _latent_samples(latent, name="observation"):
    """The ``samples`` tensor of a LATENT input (None for an optional one left unconnected)."""
    if latent is None:
        return None
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if _is_nested(samples):
        raise ValueError(f"{name} is a nested latent (several latents, e.g. audio + video); "
                         "DInG samples one latent at a time")
    if not isinstance(samples, torch.Tensor):
        raise ValueError(f"{name} must be a LATENT (DInG Inpaint/Outpaint Encode's output), got "
                         f"{_described(latent)}")
    if samples.numel() == 0:
        raise ValueError(f"{name} is empty (latent shape {tuple(samples.shape)})")
    if not bool(torch.isfinite(samples).all()):
        raise ValueError(f"{name} contains NaN or infinite values")
    return samples


def _described(value) -> str:
    if isinstance(value, dict):
        return "a dict with keys " + (", ".join(map(str, value)) or "(none)")
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return type(value).__name__


def check_number(value, name: str, low: float, high: float) -> float:
    """A FLOAT input as a finite float in [low, high], or a ValueError naming it (ComfyUI's
    validation lets NaN through: it is neither below min nor above max)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or not low <= value <= high:
        raise ValueError(f"{name} must be a finite number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def check_model(model, name: str = "model"):
    if not callable(getattr(model, "get_model_object", None)) or getattr(model, "model", None) is None:
        raise ValueError(f"{name} must be a MODEL (e.g. Load Checkpoint's MODEL output), got {_described(model)}")
    return model


def check_conditioning(cond, name: str):
    """A CONDITIONING input: a list of [tensor, dict] pairs, or a ValueError naming it."""
    ok = isinstance(cond, list) and all(
        isinstance(c, (list, tuple)) and len(c) >= 2 and isinstance(c[0], torch.Tensor) and isinstance(c[1], dict)
        for c in cond)
    if not ok:
        raise ValueError(f"{name} must be a CONDITIONING (a list of [tensor, dict] pairs, e.g. CLIP Text Encode's "
                         f"output), got {_described(cond)}")
    return cond


def check_latent_for_model(model_patcher, samples: torch.Tensor, name: str = "latent_image") -> None:
    """The latent's layout against the model's latent format (dimensions, channels) and, for
    models with a bounded position embedding (MMDiT), its size; ValueError naming ``name``."""
    fmt = model_patcher.get_model_object("latent_format")
    dims = int(getattr(fmt, "latent_dimensions", 2))
    channels = getattr(fmt, "latent_channels", None)
    family = type(getattr(model_patcher, "model", None)).__name__
    if samples.ndim != dims + 2:
        want = {1: "[B, C, L]", 2: "[B, C, H, W]", 3: "[B, C, T, H, W]"}.get(dims, f"{dims + 2}-D")
        raise ValueError(f"{name} has shape {tuple(samples.shape)}, but this model ({family}) samples {want} "
                         "latents: encode with the VAE that belongs to this model")
    if channels is not None and samples.shape[1] != int(channels):
        raise ValueError(f"{name} has {samples.shape[1]} channels, but this model ({family}) samples "
                         f"{int(channels)}-channel latents: encode with the VAE that belongs to this model")
    net = getattr(getattr(model_patcher, "model", None), "diffusion_model", None)
    limit, patch = getattr(net, "pos_embed_max_size", None), getattr(net, "patch_size", None)
    if dims == 2 and isinstance(limit, int) and isinstance(patch, int) and limit > 0 and patch > 0:
        h, w = (-(-int(v) // patch) for v in samples.shape[-2:])
        if max(h, w) > limit:
            raise ValueError(f"{name} is {samples.shape[-1]}x{samples.shape[-2]} latent cells, larger than this "
                             f"model's position embedding ({limit * patch}x{limit * patch} cells): use a smaller "
                             "image")


def check_noise_mask(mask, samples: torch.Tensor, name: str = "latent_image") -> None:
    """The LATENT's noise_mask: a finite tensor that ComfyUI can fit to the latent."""
    if mask is None:
        return
    if not isinstance(mask, torch.Tensor):
        raise ValueError(f"{name}'s noise_mask must be a tensor, got {_described(mask)}")
    if mask.numel() == 0 or not bool(torch.isfinite(mask).all()):
        raise ValueError(f"{name}'s noise_mask is empty or contains NaN or infinite values")
    try:
        fitted = comfy.utils.reshape_mask(mask.float(), samples.shape)
    except Exception as e:  # noqa: BLE001  (any shape ComfyUI's reshape_mask cannot fit)
        raise ValueError(f"{name}'s noise_mask has shape {tuple(mask.shape)}, which does not fit the latent "
                         f"{tuple(samples.shape)} ({type(e).__name__}: {e})") from None
    if tuple(fitted.shape) != tuple(samples.shape):
        raise ValueError(f"{name}'s noise_mask has shape {tuple(mask.shape)}, which does not fit the latent "
                         f"{tuple(samples.shape)}")


def _is_nested(samples) -> bool:
    return bool(getattr(samples, "is_nested", False))


def _ding_inputs():
    return [
        io.Combo.Input("variant", options=list(VARIANTS), default="ding1", tooltip=VARIANT_TOOLTIP),
        io.Float.Input("obs_std", default=0.01, min=0.0, max=10.0, step=0.001, tooltip=OBS_STD_TOOLTIP),
        io.Combo.Input("eta", options=list(BRIDGE_SCHEDULES), default="ddpm", tooltip=ETA_TOOLTIP),
        # optional, so API prompts saved before it existed still validate
        io.Int.Input("particles", default=1, min=1, max=16, optional=True, tooltip=PARTICLES_TOOLTIP),
    ]


class DInGSampler(io.ComfyNode):
    """A SAMPLER for SamplerCustom / SamplerCustomAdvanced."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGSampler",
            display_name="DInG Inpaint/Outpaint Sampler (SAMPLER)",
            category="sampling/custom_sampling/samplers",
            description=("DInG zero-shot inpainting sampler. Connect a latent with a noise_mask (from DInG "
                         "Inpaint/Outpaint Encode) to SamplerCustomAdvanced; works with any guider, scheduler "
                         "and noise."),
            search_aliases=["inpaint", "outpaint", "ding", "zero-shot inpainting", "sampler"],
            inputs=[*_ding_inputs(),
                    io.Latent.Input("observation", optional=True, tooltip=OBSERVATION_TOOLTIP)],
            outputs=[io.Sampler.Output(tooltip="The DInG sampler, for SamplerCustom / SamplerCustomAdvanced "
                                               "(their latent must carry a noise_mask).")],
        )

    @classmethod
    def execute(cls, variant, obs_std, eta, particles=1, observation=None) -> io.NodeOutput:
        return io.NodeOutput(ding_ksampler_object(variant, obs_std, eta, particles,
                                                  _latent_samples(observation)))


def _ksampler_inputs():
    """The inputs of DInG Inpaint/Outpaint KSampler, in order (the Advanced node's first inputs)."""
    return [
        io.Model.Input("model", tooltip="The diffusion model (SD3 / SD3.5, Flux, other flow models, "
                                        "or eps / v models). After Differential Diffusion its per-step mask "
                                        "is followed (use a soft mask)."),
        io.Int.Input("seed", default=0, min=0, max=0xFFFFFFFFFFFFFFFF, control_after_generate=True,
                     tooltip="Random seed for the initial noise and every step's noise."),
        io.Int.Input("steps", default=28, min=1, max=10000,
                     tooltip="Number of steps. Model calls: steps with ding1, 2 x steps - 1 with ding."),
        io.Float.Input("cfg", default=2.0, min=0.0, max=100.0, step=0.1, round=0.01,
                       tooltip="Classifier-free guidance scale (the paper uses 2-3 on SD3.5)."),
        io.Combo.Input("scheduler", options=comfy.samplers.KSampler.SCHEDULERS, default="simple",
                       tooltip="Noise schedule; the model's own sampling settings (e.g. "
                               "ModelSamplingSD3 shift) are honoured."),
        io.Conditioning.Input("positive", tooltip="What the repainted region should show."),
        io.Conditioning.Input("negative", tooltip="What to avoid (empty is fine)."),
        io.Latent.Input("latent_image", tooltip="Latent with a noise_mask (1 = repaint), e.g. from "
                                                "DInG Inpaint/Outpaint Encode. Without a mask it samples "
                                                "unconditionally."),
        io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                       tooltip="Below 1, sampling starts from the input image partly noised "
                               "(img2img-style inpainting)."),
        *_ding_inputs(),
    ]


# The longest schedule a DInG KSampler lets ComfyUI build (steps / denoise steps; a denoise near 0
# would otherwise make it compute trillions of sigmas).
MAX_SCHEDULE = 100_000

KSAMPLER_OUTPUT_TOOLTIP = ("The inpainted latent: new content in the repaint area, the input latent elsewhere. "
                           "Decode it with VAE Decode.")


def run_ding_ksampler(model, seed, steps, cfg, scheduler, positive, negative, latent_image, denoise=1.0,
                      variant="ding1", obs_std=0.01, eta="ddpm", particles=1,
                      start_at_step=0, end_at_step=10000, observation=None) -> dict:
    """The LATENT that DInG Inpaint/Outpaint KSampler (whole run: start_at_step 0, end_at_step past
    the last step, no observation) and its Advanced node (any segment) return."""
    check_model(model)
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise ValueError(f"steps must be an integer of at least 1, got {steps!r}")
    check_number(cfg, "cfg", 0.0, 100.0)
    check_number(denoise, "denoise", 0.0, 1.0)
    if denoise > 0 and steps / denoise > MAX_SCHEDULE:
        raise ValueError(f"denoise ({denoise:g}) is too small for {steps} steps: ComfyUI would build a schedule of "
                         f"{steps / denoise:.3g} steps (at most {MAX_SCHEDULE}); raise denoise to at least "
                         f"{steps / MAX_SCHEDULE:g}, or set it to 0 to return the latent unchanged")
    check_conditioning(positive, "positive")
    check_conditioning(negative, "negative")
    if start_at_step < 0 or end_at_step < 0:
        raise ValueError(f"start_at_step and end_at_step must be >= 0, got {start_at_step} and {end_at_step}")
    if start_at_step >= min(steps, end_at_step):
        raise ValueError(f"start_at_step ({start_at_step}) must be below steps ({steps}) and below "
                         f"end_at_step ({end_at_step}): nothing would be sampled")
    if particles > 1 and (start_at_step > 0 or end_at_step < steps):
        raise ValueError("particles > 1 cannot run in segments (start_at_step / end_at_step): set particles "
                         "to 1 in both DInG Inpaint/Outpaint KSampler (Advanced) nodes")
    samples = _latent_samples(latent_image, "latent_image")
    check_noise_mask(latent_image.get("noise_mask"), samples)
    obs = _latent_samples(observation)
    if obs is None and start_at_step > 0:
        obs = latent_image.get(OBSERVATION_KEY)
    sampler = ding_ksampler_object(variant, obs_std, eta, particles, obs)
    parametrization_of(model)  # fail early, before loading the model, on unsupported types
    out = latent_image.copy()
    if end_at_step < steps:  # hand the observation to the DInG KSampler (Advanced) that continues
        out[OBSERVATION_KEY] = latent_image["samples"] if obs is None else obs
    else:
        out.pop(OBSERVATION_KEY, None)
    mask = latent_image.get("noise_mask")
    if mask is not None and not bool((mask > 0).any()):
        log.warning("DInG: the latent's noise_mask keeps everything, nothing to repaint: "
                    "returning the latent unchanged (no model call)")
        return out
    if start_at_step > 0 and obs is None:
        raise ValueError(
            "start_at_step > 0 continues the noisy latent of a DInG Inpaint/Outpaint KSampler (Advanced) that "
            "stopped at that step (end_at_step), and DInG needs the original latent of the kept region: connect "
            "the first sampler's output to latent_image (it carries the original), or connect DInG "
            "Inpaint/Outpaint Encode's LATENT to 'observation'")
    samples_in = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
    check_latent_for_model(model, samples_in)
    ksampler = comfy.samplers.KSampler(model, steps=steps, device=model.load_device, sampler="euler",
                                       scheduler=scheduler, denoise=denoise, model_options=model.model_options)
    sigmas = ksampler.sigmas
    if sigmas.shape[-1] == 0:  # denoise 0: nothing to do
        out["samples"] = samples_in
        return out
    if end_at_step < sigmas.shape[-1] - 1:
        sigmas = sigmas[:end_at_step + 1]
    if start_at_step > 0:
        if start_at_step >= sigmas.shape[-1] - 1:
            raise ValueError(f"start_at_step ({start_at_step}) leaves no step of this schedule "
                             f"({sigmas.shape[-1] - 1} steps after denoise)")
        sigmas = sigmas[start_at_step:]
        noise = torch.zeros(samples_in.shape, dtype=samples_in.dtype, layout=samples_in.layout, device="cpu")
    else:
        noise = comfy.sample.prepare_noise(samples_in, seed, latent_image.get("batch_index"))
    callback = latent_preview.prepare_callback(model, sigmas.shape[-1] - 1)
    out["samples"] = comfy.sample.sample_custom(
        model, noise, cfg, sampler, sigmas, positive, negative, samples_in,
        noise_mask=latent_image.get("noise_mask"), callback=callback,
        disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
    return out


class DInGKSampler(io.ComfyNode):
    """KSampler with DInG transitions instead of a sampler choice (a whole run; the split run of two
    experts is DInGKSamplerAdvanced)."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGKSampler",
            display_name="DInG Inpaint/Outpaint KSampler",
            category="sampling",
            description=("Zero-shot inpainting with DInG: exact posterior transitions that keep the unmasked "
                         "region and blend seams, with any base model and no inpainting checkpoint."),
            search_aliases=["inpaint", "outpaint", "ksampler", "ding", "zero-shot inpainting"],
            inputs=_ksampler_inputs(),
            outputs=[io.Latent.Output(tooltip=KSAMPLER_OUTPUT_TOOLTIP)],
        )

    @classmethod
    def execute(cls, model, seed, steps, cfg, scheduler, positive, negative, latent_image,
                denoise=1.0, variant="ding1", obs_std=0.01, eta="ddpm", particles=1) -> io.NodeOutput:
        return io.NodeOutput(run_ding_ksampler(model, seed, steps, cfg, scheduler, positive, negative,
                                               latent_image, denoise, variant, obs_std, eta, particles))


class DInGKSamplerAdvanced(io.ComfyNode):
    """DInG KSampler plus start/end steps and an observation input: one part of a split run, e.g.
    Wan 2.2 A14B's two experts (docs/algorithm.md, section 13), like ComfyUI's KSampler (Advanced)."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGKSamplerAdvanced",
            display_name="DInG Inpaint/Outpaint KSampler (Advanced)",
            category="sampling",
            description=("DInG Inpaint/Outpaint KSampler with start and end steps, for a run split between two "
                         "models (two experts, e.g. Wan 2.2 A14B's high-noise and low-noise models): the first "
                         "stops at end_at_step and hands DInG's noisy state to the second, which continues from "
                         "that start step without adding noise."),
            search_aliases=["inpaint", "outpaint", "ksampler", "ding", "zero-shot inpainting", "advanced",
                            "two experts", "wan 2.2 a14b", "start step", "end step"],
            inputs=[
                *_ksampler_inputs(),
                # optional like particles before them: the frontend lays out required widgets first,
                # so a required one after an optional one would change the saved widget order
                io.Int.Input("start_at_step", default=0, min=0, max=10000, optional=True,
                             tooltip="The step this sampler starts at. Above 0 it continues the noisy latent of a "
                                     "DInG Inpaint/Outpaint KSampler (Advanced) that stopped there (end_at_step), "
                                     "adds no noise, and needs the original latent (the first sampler's output "
                                     "carries it, or connect 'observation'). Use the same seed, steps and "
                                     "scheduler in both."),
                io.Int.Input("end_at_step", default=10000, min=0, max=10000, optional=True,
                             tooltip="The step this sampler stops at. Below 'steps' it returns the noisy latent "
                                     "at that step, for a second DInG Inpaint/Outpaint KSampler (Advanced) to "
                                     "continue (start_at_step = this value); do not decode it."),
                io.Latent.Input("observation", optional=True, tooltip=OBSERVATION_TOOLTIP),
            ],
            outputs=[io.Latent.Output(tooltip=KSAMPLER_OUTPUT_TOOLTIP + " With end_at_step below steps: the "
                                              "noisy latent at that step, for a DInG Inpaint/Outpaint KSampler "
                                              "(Advanced) with start_at_step to continue.")],
        )

    @classmethod
    def execute(cls, model, seed, steps, cfg, scheduler, positive, negative, latent_image,
                denoise=1.0, variant="ding1", obs_std=0.01, eta="ddpm", particles=1,
                start_at_step=0, end_at_step=10000, observation=None) -> io.NodeOutput:
        return io.NodeOutput(run_ding_ksampler(model, seed, steps, cfg, scheduler, positive, negative,
                                               latent_image, denoise, variant, obs_std, eta, particles,
                                               start_at_step, end_at_step, observation))
