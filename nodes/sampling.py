"""DInG KSampler and DInG Sampler: ComfyUI glue around ``ding_sampler.ding_sample``.

What the sampler function reads from ComfyUI (docs/algorithm.md, section 9, and the README's
architecture section): ``model.latent_image`` (the observation, model space), ``model.noise``
(the run's initial noise), the state ``x`` ComfyUI hands it, ``extra_args["denoise_mask"]``
(1 = repaint) and ``extra_args["seed"]``, and the model's ``model_sampling``, whose
``noise_scaling`` decides the parametrization by what it does.
"""
from __future__ import annotations

import logging
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

from ..ding_sampler import BRIDGE_SCHEDULES, VARIANTS, check_options, ding_sample
from .schema import node_schema

log = logging.getLogger("ding-inpaint")

# The per-step noise stream must not repeat the initial noise, which ComfyUI
# draws on the CPU from the same seed: offset the seed by a fixed odd constant.
_STEP_NOISE_SEED_OFFSET = 0x9E3779B97F4A7C15

VARIANT_TOOLTIP = ("ding1 (default): one model call per step; at equal model calls it came closest to the exact "
                   "posterior in every benchmark of this pack. ding: two calls per step (the paper's setting), "
                   "holds the kept region most tightly per step.")
OBS_STD_TOOLTIP = ("How tightly each step follows the kept region (observation noise std, latent units). "
                   "0.01 is the paper's default; larger values (0.05-0.2) let the steps drift from the "
                   "kept region, which can soften seams. The kept latent cells are restored exactly at the end.")
ETA_TOOLTIP = ("Bridge noise schedule between steps. 'ddpm' (default) measured best with ding1; 'square' is the "
               "paper's setting (use it with ding); 'default' injects more noise; 'ddim' is nearly "
               "deterministic and breaks consistency (ablation only).")
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
    generator: torch.Generator    # the per-step noise stream, seeded from extra_args["seed"]


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


def host_context(model, x: torch.Tensor, extra_args: Optional[dict]) -> HostContext:
    """Read the observation, noise, mask and schedule from ComfyUI's sampler call.

    ``model`` is ComfyUI's KSamplerX0Inpaint. ComfyUI's per-call replacement is switched off by
    calling the model with ``denoise_mask=None``; the mask (1 = regenerate) becomes the keep weight
    instead. Shared by the DInG sampler and bench/gradient_reference.py.
    """
    extra_args = {} if extra_args is None else extra_args
    if _is_packed(x):
        raise ValueError("DInG does not support nested latents (several latents packed into one, e.g. "
                         "audio + video); sample each latent on its own")
    denoise_mask = extra_args.get("denoise_mask")
    call_args = dict(extra_args)
    call_args["denoise_mask"] = None  # our own transitions, not ComfyUI's blending
    parametrization = parametrization_of(model.inner_model.model_patcher)
    observation = getattr(model, "latent_image", None)
    noise = getattr(model, "noise", None)
    if observation is None or noise is None:
        raise ValueError("DInG sampler needs ComfyUI's KSAMPLER wrapper (latent_image and noise)")
    if denoise_mask is None:
        log.warning("DInG: the latent has no noise_mask, so nothing is kept: sampling unconditionally. "
                    "Use DInG Inpaint/Outpaint Encode (or Set Latent Noise Mask) to inpaint.")
        keep = torch.zeros((1,) * x.ndim, device=x.device)
    else:
        keep = (1.0 - denoise_mask.to(device=x.device, dtype=torch.float32)).clamp_(0, 1)

    if denoise_mask is not None:
        _encode_conds_without_noise_mask(model, denoise_mask, extra_args.get("seed"))

    def denoise(x_in, sigma):
        comfy.model_management.throw_exception_if_processing_interrupted()
        return model(x_in, sigma, **call_args)

    seed = extra_args.get("seed")
    generator = torch.Generator(device=x.device)
    generator.manual_seed(((0 if seed is None else int(seed)) + _STEP_NOISE_SEED_OFFSET) % (1 << 64))
    return HostContext(parametrization, observation.to(device=x.device, dtype=torch.float32),
                       noise.to(device=x.device, dtype=torch.float32), keep, denoise, generator)


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
                variant="ding1", obs_std=0.01, eta="ddpm", particles=1):
    """k-diffusion-style sampler function for ``comfy.samplers.KSAMPLER``.

    Starts from the state ComfyUI hands it (``x``) and restores the kept region of the final
    latent from the observation (``paste_observation``), as ComfyUI's masked sampling does.
    """
    host = host_context(model, x, extra_args)
    if bool((host.keep >= 1).all()):
        log.warning("DInG: the noise_mask keeps everything, nothing to repaint: returning the latent unchanged")
        return host.observation.expand_as(x).clone()
    on_step, close = step_reporter(callback, len(sigmas) - 1, disable)
    try:
        return ding_sample(
            host.denoise, host.noise, sigmas, host.observation, host.keep,
            parametrization=host.parametrization, variant=variant, eta=eta, obs_std=obs_std,
            generator=host.generator, callback=on_step, paste_observation=True,
            x_start=x.to(torch.float32), particles=particles,
        )
    finally:
        close()


def ding_ksampler_object(variant: str, obs_std: float, eta: str, particles: int = 1):
    check_options(variant, eta, obs_std, particles)
    return comfy.samplers.KSAMPLER(sample_ding, extra_options={
        "variant": variant, "obs_std": float(obs_std), "eta": eta, "particles": int(particles)})


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
            inputs=_ding_inputs(),
            outputs=[io.Sampler.Output(tooltip="The DInG sampler, for SamplerCustom / SamplerCustomAdvanced "
                                               "(their latent must carry a noise_mask).")],
        )

    @classmethod
    def execute(cls, variant, obs_std, eta, particles=1) -> io.NodeOutput:
        return io.NodeOutput(ding_ksampler_object(variant, obs_std, eta, particles))


class DInGKSampler(io.ComfyNode):
    """KSampler with DInG transitions instead of a sampler choice."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGKSampler",
            display_name="DInG Inpaint/Outpaint KSampler",
            category="sampling",
            description=("Zero-shot inpainting with DInG: exact posterior transitions that keep the unmasked "
                         "region and blend seams, with any base model and no inpainting checkpoint."),
            search_aliases=["inpaint", "outpaint", "ksampler", "ding", "zero-shot inpainting"],
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model (SD3 / SD3.5, Flux, other flow models, "
                                                "or eps / v models)."),
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
            ],
            outputs=[io.Latent.Output(tooltip="The inpainted latent: new content in the repaint area, the "
                                              "input latent elsewhere. Decode it with VAE Decode.")],
        )

    @classmethod
    def execute(cls, model, seed, steps, cfg, scheduler, positive, negative, latent_image,
                denoise=1.0, variant="ding1", obs_std=0.01, eta="ddpm", particles=1) -> io.NodeOutput:
        if steps < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        sampler = ding_ksampler_object(variant, obs_std, eta, particles)
        if _is_nested(latent_image["samples"]):
            raise ValueError("latent_image is a nested latent (several latents, e.g. audio + video); "
                             "DInG samples one latent at a time")
        parametrization_of(model)  # fail early, before loading the model, on unsupported types
        out = latent_image.copy()
        mask = latent_image.get("noise_mask")
        if mask is not None and not bool((mask > 0).any()):
            log.warning("DInG: the latent's noise_mask keeps everything, nothing to repaint: "
                        "returning the latent unchanged (no model call)")
            return io.NodeOutput(out)
        samples_in = comfy.sample.fix_empty_latent_channels(model, latent_image["samples"])
        ksampler = comfy.samplers.KSampler(model, steps=steps, device=model.load_device, sampler="euler",
                                           scheduler=scheduler, denoise=denoise, model_options=model.model_options)
        sigmas = ksampler.sigmas
        if sigmas.shape[-1] == 0:  # denoise 0: nothing to do
            out["samples"] = samples_in
            return io.NodeOutput(out)
        noise = comfy.sample.prepare_noise(samples_in, seed, latent_image.get("batch_index"))
        callback = latent_preview.prepare_callback(model, sigmas.shape[-1] - 1)
        out["samples"] = comfy.sample.sample_custom(
            model, noise, cfg, sampler, sigmas, positive, negative, samples_in,
            noise_mask=latent_image.get("noise_mask"), callback=callback,
            disable_pbar=not comfy.utils.PROGRESS_BAR_ENABLED, seed=seed)
        return io.NodeOutput(out)
