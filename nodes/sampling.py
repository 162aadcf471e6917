"""DInG KSampler and DInG SAMPLER: ComfyUI glue around ``ding_sampler.ding_sample``."""
from __future__ import annotations

import logging

import torch
from tqdm.auto import tqdm

import comfy.model_management
import comfy.model_sampling
import comfy.sample
import comfy.samplers
import comfy.utils
import latent_preview

from ..ding_sampler import BRIDGE_SCHEDULES, VARIANTS, ding_sample

log = logging.getLogger("ding-inpaint")

# The per-step noise stream must not repeat the initial noise, which ComfyUI
# draws on the CPU from the same seed: offset the seed by a fixed odd constant.
_STEP_NOISE_SEED_OFFSET = 0x9E3779B97F4A7C15

ETA_CHOICES = list(BRIDGE_SCHEDULES)

VARIANT_TOOLTIP = ("ding: two model calls per step (most faithful to the kept region). "
                   "ding1: one call per step, about half the time, slightly weaker seams.")
OBS_STD_TOOLTIP = ("How tightly each step follows the kept region (observation noise std, latent units). "
                   "0.01 is the paper's default; larger values (0.05-0.2) let the steps drift from the "
                   "kept region, which can soften seams. The kept latent cells are restored exactly at the end.")
ETA_TOOLTIP = ("Bridge noise schedule between steps. 'square' is the paper's default; 'default' and "
               "'ddpm' inject more noise; 'ddim' is nearly deterministic and breaks consistency "
               "(ablation only).")


def parametrization_of(model_patcher) -> str:
    """'flow' for rectified-flow models (CONST), 've' for eps / v models."""
    sampling = model_patcher.get_model_object("model_sampling")
    if isinstance(sampling, comfy.model_sampling.CONST):
        return "flow"
    if isinstance(sampling, comfy.model_sampling.EPS) and not isinstance(
            sampling, comfy.model_sampling.IMG_TO_IMG):
        return "ve"
    model_name = type(model_patcher.model).__name__
    kinds = [c.__name__ for c in type(sampling).__mro__
             if c.__module__ == comfy.model_sampling.__name__ and not issubclass(c, torch.nn.Module)]
    raise ValueError(
        f"DInG supports flow models (CONST sampling: SD3, SD3.5, Flux, ...) and eps / v-prediction "
        f"models; this model ({model_name}) uses {(kinds or [type(sampling).__name__])[0]} sampling"
    )


def _step_generator(seed, device) -> torch.Generator:
    seed = 0 if seed is None else int(seed)
    g = torch.Generator(device=device)
    g.manual_seed((seed + _STEP_NOISE_SEED_OFFSET) % (1 << 64))
    return g


def sample_ding(model, x, sigmas, extra_args=None, callback=None, disable=None,
                variant="ding", obs_std=0.01, eta="square"):
    """k-diffusion-style sampler function for ``comfy.samplers.KSAMPLER``.

    ``model`` is ComfyUI's KSamplerX0Inpaint: it carries the observation
    (``latent_image``, in model space) and the initial noise. ComfyUI's per-call
    replacement is switched off by calling the model with ``denoise_mask=None``;
    the mask (1 = regenerate) becomes DInG's keep mask instead. The kept region
    of the final latent is restored from the observation (``paste_observation``),
    as ComfyUI's masked sampling does.
    """
    extra_args = {} if extra_args is None else extra_args
    denoise_mask = extra_args.get("denoise_mask")
    call_args = dict(extra_args)
    call_args["denoise_mask"] = None  # our own transitions, not ComfyUI's blending

    inner = model.inner_model  # the guider
    parametrization = parametrization_of(inner.model_patcher)
    observation = getattr(model, "latent_image", None)
    noise = getattr(model, "noise", None)
    if observation is None or noise is None:
        raise ValueError("DInG sampler needs ComfyUI's KSAMPLER wrapper (latent_image and noise)")
    if denoise_mask is None:
        log.warning("DInG: the latent has no noise_mask, so nothing is kept: sampling unconditionally. "
                    "Use DInG Inpaint Encode (or Set Latent Noise Mask) to inpaint.")
        keep = torch.zeros((1,) * x.ndim, device=x.device)
    else:
        keep = (1.0 - denoise_mask.to(device=x.device, dtype=torch.float32)).clamp_(0, 1)

    def denoise(x_in, sigma):
        comfy.model_management.throw_exception_if_processing_interrupted()
        return model(x_in, sigma, **call_args)

    steps = len(sigmas) - 1
    bar = tqdm(total=steps, disable=disable)  # console progress, like k-diffusion's trange

    def on_step(i, x_i, x0, sigma):
        bar.update(1)
        if callback is not None:
            s = sigma[0]
            callback({"x": x_i, "i": i, "sigma": s, "sigma_hat": s, "denoised": x0})

    try:
        return ding_sample(
            denoise, noise.to(device=x.device, dtype=torch.float32), sigmas,
            observation.to(device=x.device, dtype=torch.float32), keep,
            parametrization=parametrization, variant=variant, eta=eta, obs_std=obs_std,
            generator=_step_generator(extra_args.get("seed"), x.device), callback=on_step,
            paste_observation=True,
        )
    finally:
        bar.close()


def ding_ksampler_object(variant: str, obs_std: float, eta: str):
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if eta not in ETA_CHOICES:
        raise ValueError(f"eta must be one of {ETA_CHOICES}, got {eta!r}")
    if not obs_std >= 0:
        raise ValueError(f"obs_std must be >= 0, got {obs_std!r}")
    return comfy.samplers.KSAMPLER(sample_ding, extra_options={
        "variant": variant, "obs_std": float(obs_std), "eta": eta})


def _ding_inputs():
    return {
        "variant": (list(VARIANTS), {"default": "ding", "tooltip": VARIANT_TOOLTIP}),
        "obs_std": ("FLOAT", {"default": 0.01, "min": 0.0, "max": 10.0, "step": 0.001,
                              "tooltip": OBS_STD_TOOLTIP}),
        "eta": (ETA_CHOICES, {"default": "square", "tooltip": ETA_TOOLTIP}),
    }


class DInGSampler:
    """A SAMPLER for SamplerCustom / SamplerCustomAdvanced."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": _ding_inputs()}

    RETURN_TYPES = ("SAMPLER",)
    FUNCTION = "get_sampler"
    CATEGORY = "sampling/custom_sampling/samplers"
    DESCRIPTION = ("DInG zero-shot inpainting sampler. Connect a latent with a noise_mask (from DInG "
                   "Inpaint Encode) to SamplerCustomAdvanced; works with any guider, scheduler and noise.")

    def get_sampler(self, variant, obs_std, eta):
        return (ding_ksampler_object(variant, obs_std, eta),)


class DInGKSampler:
    """KSampler with DInG transitions instead of a sampler choice."""

    @classmethod
    def INPUT_TYPES(cls):
        required = {
            "model": ("MODEL", {"tooltip": "The diffusion model (SD3 / SD3.5, Flux, other flow models, or eps / v models)."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFFFFFFFFFF, "control_after_generate": True,
                             "tooltip": "Random seed for the initial noise and every step's noise."}),
            "steps": ("INT", {"default": 28, "min": 1, "max": 10000,
                              "tooltip": "Number of steps. Model calls: 2 x steps - 1 for ding, steps for ding1."}),
            "cfg": ("FLOAT", {"default": 2.0, "min": 0.0, "max": 100.0, "step": 0.1, "round": 0.01,
                              "tooltip": "Classifier-free guidance scale (the paper uses 2-3 on SD3.5)."}),
            "scheduler": (comfy.samplers.KSampler.SCHEDULERS, {"default": "simple",
                          "tooltip": "Noise schedule; the model's own sampling settings (e.g. ModelSamplingSD3 shift) are honoured."}),
            "positive": ("CONDITIONING", {"tooltip": "What the repainted region should show."}),
            "negative": ("CONDITIONING", {"tooltip": "What to avoid (empty is fine)."}),
            "latent_image": ("LATENT", {"tooltip": "Latent with a noise_mask (1 = repaint), e.g. from DInG Inpaint Encode. "
                                                  "Without a mask it samples unconditionally."}),
            "denoise": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 1.0, "step": 0.01,
                                  "tooltip": "Below 1, sampling starts from the input image partly noised (img2img-style inpainting)."}),
        }
        required.update(_ding_inputs())
        return {"required": required}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "sample"
    CATEGORY = "sampling"
    DESCRIPTION = ("Zero-shot inpainting with DInG: exact posterior transitions that keep the unmasked region "
                   "and blend seams, with any base model and no inpainting checkpoint.")

    def sample(self, model, seed, steps, cfg, scheduler, positive, negative, latent_image,
               denoise=1.0, variant="ding", obs_std=0.01, eta="square"):
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        sampler = ding_ksampler_object(variant, obs_std, eta)
        parametrization_of(model)  # fail early, before loading the model, on unsupported types
        latent = latent_image
        samples_in = comfy.sample.fix_empty_latent_channels(model, latent["samples"])
        ksampler = comfy.samplers.KSampler(model, steps=steps, device=model.load_device, sampler="euler",
                                           scheduler=scheduler, denoise=denoise, model_options=model.model_options)
        sigmas = ksampler.sigmas
        out = latent.copy()
        if sigmas.shape[-1] == 0:  # denoise 0: nothing to do
            out["samples"] = samples_in
            return (out,)
        noise = comfy.sample.prepare_noise(samples_in, seed, latent.get("batch_index"))
        callback = latent_preview.prepare_callback(model, sigmas.shape[-1] - 1)
        samples = comfy.sample.sample_custom(
            model, noise, cfg, sampler, sigmas, positive, negative, samples_in,
            noise_mask=latent.get("noise_mask"), callback=callback,
            disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
        out["samples"] = samples
        return (out,)
