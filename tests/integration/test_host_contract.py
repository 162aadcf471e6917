"""The host contract by behaviour: which models DInG samples, from which state, and what it refuses.

The parametrization is read from what a model's ``model_sampling.noise_scaling`` does. The newer
sampling classes of current ComfyUI are mimicked here (built inside the tests, so every ComfyUI
version runs them): each is either refused with a message naming its class, or sampled from the
very state ComfyUI hands the sampler.
"""
import types

import pytest
import torch

from comfy_testbed import tiny_models

OBS_STD = 0.01


def _mimic(name, base, noise_scaling):
    """A model_sampling parametrization class called ``name`` as if defined in comfy.model_sampling."""
    cls = type(name, (base,), {"noise_scaling": noise_scaling})
    cls.__module__ = "comfy.model_sampling"
    return cls


def _img_to_img_flow(self, sigma, noise, latent_image, max_denoise=False):
    return latent_image  # like IMG_TO_IMG_FLOW / IMG_TO_IMG_VELOCITY: the latent, no noise


def _noise_scale_two(self, sigma, noise, latent_image, max_denoise=False):
    s = sigma.view(sigma.shape[:1] + (1,) * (noise.ndim - 1))
    return s * 2.0 * noise + (1.0 - s) * latent_image  # CONST with noise_scale = 2


def _vp_mixing(self, sigma, noise, latent_image, max_denoise=False):
    s = sigma.view(sigma.shape[:1] + (1,) * (noise.ndim - 1))
    norm = torch.sqrt(1.0 + s * s)
    return (latent_image + s * noise) / norm  # a variance-preserving mixing (no ComfyUI class does this)


class _VPredictionDDPM:
    """Like upstream ComfyUI's V_PREDICTION_DDPM (CogVideoX; 0.38.x, not an EPS subclass): the
    network gets the raw state, predicts velocity, and the state is noised as latent + sigma*noise."""

    def calculate_input(self, sigma, noise):
        return noise

    def calculate_denoised(self, sigma, model_output, model_input):
        s = sigma.view(sigma.shape[:1] + (1,) * (model_output.ndim - 1))
        return model_input / (s * s + 1.0) ** 0.5 - model_output * s / (s * s + 1.0) ** 0.5

    def noise_scaling(self, sigma, noise, latent_image, max_denoise=False):
        s = sigma.view(sigma.shape[:1] + (1,) * (noise.ndim - 1))
        return latent_image + noise * (torch.sqrt(1.0 + s * s) if max_denoise else s)

    def inverse_noise_scaling(self, sigma, latent):
        return latent


def _sampling(kind):
    import comfy.model_sampling as ms
    if kind == "IMG_TO_IMG_FLOW":
        return _mimic(kind, ms.CONST, _img_to_img_flow), ms.ModelSamplingDiscreteFlow
    if kind == "CONST_NOISE_SCALE_2":
        return _mimic(kind, ms.CONST, _noise_scale_two), ms.ModelSamplingDiscreteFlow
    if kind == "VP_MIXING":  # not an EPS subclass
        return _mimic(kind, object, _vp_mixing), ms.ModelSamplingDiscrete
    if kind == "V_PREDICTION_DDPM":
        return _mimic(kind, _VPredictionDDPM, _VPredictionDDPM.noise_scaling), ms.ModelSamplingDiscrete
    raise KeyError(kind)


def _patched(model, kind):
    parametrization, schedule = _sampling(kind)
    combined = type("ModelSampling", (schedule, parametrization), {})
    patched = model.clone()
    patched.add_object_patch("model_sampling", combined(model.model.model_config))
    return patched


def _ksample(comfy_host, model, latent, **kw):
    args = dict(model=model, seed=0, steps=3, cfg=1.0, scheduler="simple",
                positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                latent_image=latent, denoise=1.0, variant="ding", obs_std=OBS_STD, eta="square")
    args.update(kw)
    return comfy_host.call_node("DInGKSampler", **args)


@pytest.mark.parametrize("kind,fragment", [
    ("IMG_TO_IMG_FLOW", "without noise"),
    ("CONST_NOISE_SCALE_2", "noise scale other than 1"),
    ("VP_MIXING", "mixes latent and noise"),
])
def test_other_sampling_forms_are_refused_by_name(ding_nodes, tiny_sd3, comfy_host, model_calls, kind, fragment):
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    latent = {"samples": torch.zeros(1, 16, 16, 16), "noise_mask": torch.ones(1, 1, 16, 16)}
    with pytest.raises(ValueError, match=kind) as info:
        _ksample(comfy_host, _patched(model, kind), latent)
    assert fragment in str(info.value) and "DInG needs" in str(info.value)
    assert model_calls.count == 0  # refused before the first model call
    # the SAMPLER route (SamplerCustomAdvanced) refuses the same way
    (sampler,) = comfy_host.call_node("DInGSampler", variant="ding1", obs_std=OBS_STD, eta="square")
    import comfy.sample
    with torch.inference_mode(), pytest.raises(ValueError, match=kind):
        comfy.sample.sample_custom(_patched(model, kind), torch.randn(1, 16, 16, 16), 1.0, sampler,
                                   torch.tensor([1.0, 0.5, 0.0]), tiny_models.sd3_conditioning(1),
                                   tiny_models.sd3_conditioning(2), torch.zeros(1, 16, 16, 16),
                                   noise_mask=torch.ones(1, 1, 16, 16), seed=0)


def test_probe_reads_behaviour_not_class(ding_nodes, comfy_host):
    """Classes are irrelevant: a flow-behaving object is flow, a ve-behaving one ve, whatever it subclasses."""
    import comfy.model_sampling as ms
    sampling_module = __import__(ding_nodes["DInGKSampler"].__module__, fromlist=["parametrization_of"])

    def patcher(sampling):
        return types.SimpleNamespace(get_model_object=lambda name: sampling, model=None)

    assert sampling_module.parametrization_of(patcher(ms.CONST())) == "flow"
    assert sampling_module.parametrization_of(patcher(ms.EPS())) == "ve"
    assert sampling_module.parametrization_of(patcher(ms.V_PREDICTION())) == "ve"
    assert sampling_module.parametrization_of(patcher(ms.COSMOS_RFLOW())) == "ve"  # x = y + sigma n
    with pytest.raises(ValueError, match="IMG_TO_IMG_FLOW"):
        sampling_module.parametrization_of(patcher(_mimic("IMG_TO_IMG_FLOW", ms.CONST, _img_to_img_flow)()))
    broken = _mimic("BROKEN", object, lambda self, *a, **k: 1 / 0)
    with pytest.raises(ValueError, match="BROKEN.*ZeroDivisionError"):
        sampling_module.parametrization_of(patcher(broken()))


def _first_model_input(comfy_host, model, run):
    """The x of the first diffusion-model call made by run()."""
    seen = []
    patched = model.clone()
    original = model.model.apply_model

    def apply_model(x, t, *args, **kwargs):
        if not seen:
            seen.append(x.detach().clone())
        return original(x, t, *args, **kwargs)

    patched.add_object_patch("apply_model", apply_model)
    run(patched)
    return seen[0]


def _model_and_latent(comfy_host, tiny_sd3, sampling):
    """The tiny SD3 with flow, eps or COSMOS_RFLOW sampling, and an encoded test image with a rect mask."""
    import comfy.model_sampling as ms
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    if sampling == "eps":
        (model,) = comfy_host.call_node("ModelSamplingDiscrete", model=model, sampling="eps", zsnr=False)
    elif sampling == "cosmos":
        combined = type("ModelSampling", (ms.ModelSamplingDiscreteFlow, ms.COSMOS_RFLOW), {})
        model = model.clone()
        model.add_object_patch("model_sampling", combined(model.model.model_config))
    pixels = tiny_models.make_test_image(128, 128, seed=4)
    mask = tiny_models.make_test_mask(128, 128, kind="rect")
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=mask, vae=vae, grow_mask_by=0)
    return model, latent


@pytest.mark.parametrize("sampling,denoise", [("flow", 0.6), ("eps", 1.0), ("eps", 0.5), ("cosmos", 1.0)])
def test_starts_from_the_state_comfyui_hands_the_sampler(ding_nodes, tiny_sd3, comfy_host, sampling, denoise):
    """DInG's first model input equals ComfyUI's own euler's (same seed, same latent) in the repaint
    area: both start from noise_scaling(sigma0, noise, latent), max_denoise included (eps at denoise
    1). (In the kept area ComfyUI's masked euler overwrites its input on every call.)"""
    model, latent = _model_and_latent(comfy_host, tiny_sd3, sampling)
    common = dict(seed=5, steps=4, cfg=1.0, scheduler="simple", positive=tiny_models.sd3_conditioning(1),
                  negative=tiny_models.sd3_conditioning(2), latent_image=latent, denoise=denoise)
    ding_x = _first_model_input(comfy_host, model, lambda m: comfy_host.call_node(
        "DInGKSampler", model=m, variant="ding1", obs_std=OBS_STD, eta="square", **common))
    euler_x = _first_model_input(comfy_host, model, lambda m: comfy_host.call_node(
        "KSampler", model=m, sampler_name="euler", **common))
    assert ding_x.shape == euler_x.shape
    repaint = latent["noise_mask"].expand_as(ding_x) > 0.5
    assert repaint.any()
    if sampling == "flow":
        assert torch.equal(ding_x[repaint], euler_x[repaint])
    else:  # the ve state goes through the variance-preserving scaling and back: float32 rounding
        torch.testing.assert_close(ding_x[repaint], euler_x[repaint], rtol=2e-6, atol=1e-6)


def test_cosmos_like_ve_sampling_is_sampled(ding_nodes, tiny_sd3, comfy_host, model_calls):
    """A sampling class the old class test refused (COSMOS_RFLOW) behaves as x = y + sigma n: sampled as ve."""
    patched, latent = _model_and_latent(comfy_host, tiny_sd3, "cosmos")
    model_calls.reset()
    (out,) = _ksample(comfy_host, patched, latent, steps=4)
    assert model_calls.count == 2 * 4 - 1
    keep = (1 - latent["noise_mask"]).expand_as(out["samples"]) > 0.5
    assert ((out["samples"] - latent["samples"])[keep] * tiny_models.SD3_VAE_SCALE).abs().max() <= OBS_STD
    assert torch.isfinite(out["samples"]).all()


def test_cogvideox_v_prediction_ddpm_is_sampled(ding_nodes, tiny_sd3, comfy_host, model_calls):
    """Upstream's V_PREDICTION_DDPM (CogVideoX) noises as latent + sigma*noise: probed as ve and
    sampled, kept region preserved (newer ComfyUI; the class is mimicked so both versions run it)."""
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    patched = _patched(model, "V_PREDICTION_DDPM")
    sampling_module = __import__(ding_nodes["DInGKSampler"].__module__, fromlist=["parametrization_of"])
    assert sampling_module.parametrization_of(patched) == "ve"
    pixels = tiny_models.make_test_image(128, 128, seed=4)
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, vae=vae, grow_mask_by=0,
                                     mask=tiny_models.make_test_mask(128, 128, kind="rect"))
    model_calls.reset()
    (out,) = _ksample(comfy_host, patched, latent, steps=4, scheduler="normal")
    assert model_calls.count == 2 * 4 - 1
    keep = (1 - latent["noise_mask"]).expand_as(out["samples"]) > 0.5
    assert ((out["samples"] - latent["samples"])[keep] * tiny_models.SD3_VAE_SCALE).abs().max() <= OBS_STD
    assert torch.isfinite(out["samples"]).all()


def test_interrupt_as_base_exception_propagates(ding_nodes, tiny_sd3, comfy_host, monkeypatch, model_calls):
    """Upstream made InterruptProcessingException a BaseException: DInG neither swallows nor wraps
    it (no `except Exception` between the Cancel check and ComfyUI), on both routes."""
    import comfy.model_management as mm

    class Interrupted(BaseException):
        pass

    def interrupt_after_two():
        if model_calls.count >= 2:
            raise Interrupted()

    monkeypatch.setattr(mm, "throw_exception_if_processing_interrupted", interrupt_after_two)
    model, latent = _model_and_latent(comfy_host, tiny_sd3, "flow")
    with pytest.raises(Interrupted):
        _ksample(comfy_host, model, latent, steps=6, variant="ding1")
    assert model_calls.count == 2


def test_half_precision_latents(ding_nodes, tiny_sd3, comfy_host, model_calls):
    """Newer ComfyUI can keep latents in fp16 between nodes (--fp16-intermediates): an fp16 latent
    and mask are sampled in float32 and give the float32 latent's result up to fp16 rounding."""
    model, latent = _model_and_latent(comfy_host, tiny_sd3, "flow")
    half = {"samples": latent["samples"].half(), "noise_mask": latent["noise_mask"].half()}
    rounded = {"samples": half["samples"].float(), "noise_mask": half["noise_mask"].float()}
    (out_half,) = _ksample(comfy_host, model, half, steps=3, variant="ding1")
    (out_ref,) = _ksample(comfy_host, model, rounded, steps=3, variant="ding1")
    assert torch.isfinite(out_half["samples"]).all()
    torch.testing.assert_close(out_half["samples"].float(), out_ref["samples"].float(), rtol=0, atol=2e-3)


def test_nested_and_packed_latents_are_refused(ding_nodes, tiny_sd3, comfy_host, model_calls):
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    try:
        from comfy.nested_tensor import NestedTensor  # ComfyUI >= 0.8
        nested = NestedTensor([torch.zeros(1, 16, 16, 16), torch.zeros(1, 64, 32)])
    except ImportError:  # older ComfyUI has no nested latents: the same attribute on a stand-in
        nested = types.SimpleNamespace(is_nested=True, shape=(1, 16, 16, 16))
    with pytest.raises(ValueError, match="nested latent"):
        _ksample(comfy_host, model, {"samples": nested})
    # inside the sampler function: ComfyUI packs nested latents into one [B, 1, N] tensor
    sampling_module = __import__(ding_nodes["DInGKSampler"].__module__, fromlist=["host_context"])
    with pytest.raises(ValueError, match="nested latents"):
        sampling_module.host_context(types.SimpleNamespace(), torch.zeros(1, 1, 4096), {})
    assert model_calls.count == 0


def test_fix_empty_latent_channels_newer_signature(ding_nodes, tiny_sd3, comfy_host, monkeypatch):
    """Newer ComfyUI adds two optional arguments to fix_empty_latent_channels; the node works with both."""
    import comfy.sample
    real = comfy.sample.fix_empty_latent_channels
    calls = []

    def newer(model, latent_image, downscale_ratio_spacial=None, downscale_ratio_temporal=None):
        calls.append((downscale_ratio_spacial, downscale_ratio_temporal))
        return real(model, latent_image)

    monkeypatch.setattr(comfy.sample, "fix_empty_latent_channels", newer)
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    latent = {"samples": torch.zeros(1, 4, 16, 16), "noise_mask": torch.ones(1, 1, 16, 16)}  # empty, 4 channels
    (out,) = _ksample(comfy_host, model, latent, steps=2, variant="ding1")
    assert calls == [(None, None)]
    assert out["samples"].shape == (1, 16, 16, 16) and torch.isfinite(out["samples"]).all()


# --------------------------------------------------------------------------- one noise level

def _mask_aware(model):
    """A clone of ``model`` whose BaseModel behaves like Wan 2.2 5B / LTX-Video / Cosmos do with a
    noise_mask, under a key name no ComfyUI model uses (DInG must decide by behaviour, not by name):
    ``extra_conds`` turns the noise_mask into a conditioning, ``process_timestep`` scales each
    item's timestep by its mean mask (a kept cell is told it is clean). Returns (clone, spy list of
    the timestep tensors the network receives, restore())."""
    base = model.model
    real_extra, real_process = base.extra_conds, base.process_timestep

    def extra_conds(**kwargs):
        out = real_extra(**kwargs)
        mask = kwargs.get("denoise_mask")
        if mask is not None:
            import comfy.conds
            out["cell_noise_levels"] = comfy.conds.CONDRegular(mask.mean(dim=list(range(1, mask.ndim))))
        return out

    def process_timestep(timestep, x=None, cell_noise_levels=None, **kwargs):
        t = real_process(timestep, x=x, **kwargs)
        return t if cell_noise_levels is None else t * cell_noise_levels.to(t)

    seen = []
    hook = base.diffusion_model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(args[1].detach().clone()), with_kwargs=True)
    base.extra_conds, base.process_timestep = extra_conds, process_timestep

    def restore():
        hook.remove()
        base.extra_conds, base.process_timestep = real_extra, real_process

    return seen, restore


def test_one_noise_level_under_ding_for_a_mask_aware_model(ding_nodes, tiny_sd3, comfy_host):
    """Under DInG (KSampler node and SAMPLER route) the network gets the schedule's own timestep in
    every call, though the model turns the latent's noise_mask into per-item timesteps; ComfyUI's
    own KSampler on the same latent still gets the mask-scaled timesteps (host behaviour unchanged)."""
    import comfy.sample
    model, latent = _model_and_latent(comfy_host, tiny_sd3, "flow")
    sampling = model.get_model_object("model_sampling")
    kept_fraction = float(1 - latent["noise_mask"].mean())
    assert 0.3 < kept_fraction < 0.95
    common = dict(seed=5, steps=3, cfg=1.0, scheduler="simple", positive=tiny_models.sd3_conditioning(1),
                  negative=tiny_models.sd3_conditioning(2), latent_image=latent, denoise=1.0)
    sigmas = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=3, denoise=1.0)[0]
    uniform = [float(sampling.timestep(s)) for s in sigmas[:-1]]
    seen, restore = _mask_aware(model)
    try:
        comfy_host.call_node("KSampler", model=model, sampler_name="euler", **common)
        euler = [t.tolist() for t in seen]
        seen.clear()
        (ding_out,) = comfy_host.call_node("DInGKSampler", model=model, variant="ding1", obs_std=OBS_STD,
                                           eta="square", **common)
        ding = [t.tolist() for t in seen]
        seen.clear()
        (sampler,) = comfy_host.call_node("DInGSampler", variant="ding1", obs_std=OBS_STD, eta="square")
        with torch.inference_mode():
            route = comfy.sample.sample_custom(
                model, comfy.sample.prepare_noise(latent["samples"], 5), 1.0, sampler, sigmas,
                tiny_models.sd3_conditioning(1), tiny_models.sd3_conditioning(2), latent["samples"],
                noise_mask=latent["noise_mask"], seed=5)
        custom = [t.tolist() for t in seen]
    finally:
        restore()
    # ComfyUI's sampler: the model scaled each timestep by the item's mean repaint mask
    assert all(len(t) == 1 for t in euler + ding + custom)  # cfg 1: one row per call
    assert [t[0] for t in euler] == pytest.approx([u * (1 - kept_fraction) for u in uniform], rel=1e-4)
    # DInG, both routes: one noise level, the schedule's own, in every call
    assert [t[0] for t in ding] == pytest.approx(uniform, rel=1e-5)
    assert [t[0] for t in custom] == pytest.approx(uniform, rel=1e-5)
    keep = (1 - latent["noise_mask"]).expand_as(ding_out["samples"]) > 0.5
    for out in (ding_out["samples"], route):
        assert ((out - latent["samples"])[keep] * tiny_models.SD3_VAE_SCALE).abs().max() <= OBS_STD


def test_trained_inpainting_model_keeps_its_mask_channels(ding_nodes, tiny_sd15_inpaint, comfy_host, model_calls):
    """A trained inpainting UNet (9 input channels: latent, mask, masked image) is sampled under
    DInG with its inpainting inputs: the mask channel is the latent's noise_mask and the image
    channels the observation, in every call (they describe the observation, not the state's noise
    level); the kept region is preserved."""
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd15_inpaint.ckpt_name)
    assert model.model.concat_keys == ("mask", "masked_image")
    pixels = tiny_models.make_test_image(64, 64, seed=4)
    mask = tiny_models.make_test_mask(64, 64, kind="rect", x=16, y=16, w=32, h=24)
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=mask, vae=vae, grow_mask_by=0)
    seen = []
    hook = model.model.diffusion_model.register_forward_pre_hook(
        lambda mod, args: seen.append(args[0].detach().float().clone()))
    try:
        cond = [[torch.randn(1, 77, 768, generator=torch.Generator().manual_seed(s)), {}] for s in (1, 2)]
        (out,) = comfy_host.call_node("DInGKSampler", model=model, seed=3, steps=4, cfg=2.0, scheduler="normal",
                                      positive=[cond[0]], negative=[cond[1]], latent_image=latent, denoise=1.0,
                                      variant="ding1", obs_std=OBS_STD, eta="ddpm")
    finally:
        hook.remove()
    assert len(seen) == 4 and all(x.shape == (2, 9, 8, 8) for x in seen)  # cond + uncond, 4 + 1 + 4
    observation = model.model.latent_format.process_in(latent["samples"].float())
    for x in seen:
        torch.testing.assert_close(x[:, 4:5], latent["noise_mask"].expand(2, 1, 8, 8).round())
        torch.testing.assert_close(x[:, 5:], observation.expand(2, -1, -1, -1))
    keep = (1 - latent["noise_mask"]).expand_as(out["samples"]) > 0.5
    assert ((out["samples"] - latent["samples"])[keep] * 0.18215).abs().max() <= OBS_STD
    assert torch.isfinite(out["samples"]).all()
