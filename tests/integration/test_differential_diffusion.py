"""Differential Diffusion (the core DifferentialDiffusion node) under DInG, on the tiny SD3 model.

DInG calls the model without a denoise mask, so it calls the model options' denoise_mask_function
itself, once per model call on its chain, and uses 1 - its result as that step's keep weight
(nodes/sampling.py denoise_mask_schedule, docs/algorithm.md section 14). With a grey-ramp mask a
cell of mask value m is kept until the schedule is a fraction m from its end (strength 1), so the
change against the input latent grows with m. The figures printed here are the ones quoted in
docs/compatibility.md.
"""
import pytest
import torch

from comfy_testbed import tiny_models

STEPS = 12  # the last model call is at sigma 0.21 (shift 3), so even the 0.25 band is freed once
BATCH = 4
SEEDS = (3, 4)
BANDS = (0.0, 0.25, 0.5, 0.75, 1.0)
BAND_PX = 24  # three latent cells (8 px each) per band; the last latent column (pixels 120-127) is 0


def ramp_mask() -> torch.Tensor:
    """[1, 128, 128] repaint mask: vertical bands 0, 0.25, 0.5, 0.75, 1, aligned to latent cells."""
    m = torch.zeros(1, 128, 128)
    for b, v in enumerate(BANDS):
        m[..., b * BAND_PX:(b + 1) * BAND_PX] = v
    return m


def band_changes(encoded, out) -> list:
    """Mean |out - input| (latent units) over each band's latent columns, every batch item and channel."""
    diff = (out["samples"] - encoded["samples"]).abs()
    cells = BAND_PX // 8
    return [diff[..., b * cells:(b + 1) * cells].mean().item() for b in range(len(BANDS))]


def dd_prompt(ckpt, image_name, *, seed, strength=1.0, differential=True, sampler="ksampler", variant="ding1"):
    """LoadImage (RGBA: the ramp mask in alpha) -> RepeatImageBatch -> DInG Encode (soft) ->
    [DifferentialDiffusion] -> DInG KSampler, or CFGGuider + DInG Sampler + SamplerCustomAdvanced."""
    model = ["dd", 0] if differential else ["ckpt", 0]
    prompt = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": 154}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": 154}},
        "img": {"class_type": "LoadImage", "inputs": {"image": image_name}},
        "rep": {"class_type": "RepeatImageBatch", "inputs": {"image": ["img", 0], "amount": BATCH}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["rep", 0], "mask": ["img", 1], "vae": ["ckpt", 2], "grow_mask_by": 0, "mask_mode": "soft"}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "encoded"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
    }
    if differential:
        prompt["dd"] = {"class_type": "DifferentialDiffusion", "inputs": {"model": ["ckpt", 0], "strength": strength}}
    if sampler == "ksampler":
        prompt["ding"] = {"class_type": "DInGKSampler", "inputs": {
            "model": model, "seed": seed, "steps": STEPS, "cfg": 2.0, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": 0.01, "eta": "ddpm"}}
    else:
        prompt.update({
            "guider": {"class_type": "CFGGuider", "inputs": {"model": model, "positive": ["pos", 0],
                                                              "negative": ["neg", 0], "cfg": 2.0}},
            "sampler": {"class_type": "DInGSampler", "inputs": {"variant": variant, "obs_std": 0.01, "eta": "ddpm"}},
            "sched": {"class_type": "BasicScheduler", "inputs": {"model": model, "scheduler": "simple",
                                                                  "steps": STEPS, "denoise": 1.0}},
            "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
            "ding": {"class_type": "SamplerCustomAdvanced", "inputs": {
                "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0],
                "sigmas": ["sched", 0], "latent_image": ["enc", 0]}},
            "cap_sig": {"class_type": "DInGTestCapture", "inputs": {"value": ["sched", 0], "key": "sigmas"}},
        })
    return prompt


@pytest.fixture(scope="module")
def ramp_image(comfy_host):
    return comfy_host.write_input_image("dd_ramp.png", tiny_models.make_test_image(128, 128, seed=6), ramp_mask())


@pytest.fixture
def dd_spy(comfy_host, monkeypatch):
    """Records every call of DifferentialDiffusion.forward (sigma, mask, extra_options, strength)."""
    cls = comfy_host.node_class("DifferentialDiffusion")
    original = cls.forward
    calls = []

    def forward(klass, sigma, denoise_mask, extra_options, strength):
        calls.append({"sigma": sigma.detach().clone(), "mask": denoise_mask, "options": extra_options,
                      "strength": strength})
        return original(sigma, denoise_mask, extra_options, strength=strength)

    monkeypatch.setattr(cls, "forward", classmethod(forward))
    return calls


def _run(run_prompt, prompt):
    cap = run_prompt(prompt)["captured"]
    return cap["encoded"], cap["latent"], cap


def _averaged(run_prompt, ckpt, image, **kw):
    per_seed = []
    for seed in SEEDS:
        enc, out, _ = _run(run_prompt, dd_prompt(ckpt, image, seed=seed, **kw))
        per_seed.append(band_changes(enc, out))
    return [sum(v) / len(v) for v in zip(*per_seed)], per_seed


def test_ramp_mask_stays_graded_on_the_latent_grid(ding_nodes, tiny_sd3, run_prompt, ramp_image):
    enc, _, _ = _run(run_prompt, dd_prompt(tiny_sd3.ckpt_name, ramp_image, seed=3, differential=False))
    nm = enc["noise_mask"]
    assert nm.shape[-2:] == (16, 16)
    for b, v in enumerate(BANDS):
        assert nm[..., b * 3:(b + 1) * 3].sub(v).abs().max().item() < 3e-3  # PNG alpha: 1/255 steps


def test_change_grows_with_the_mask_value(ding_nodes, tiny_sd3, run_prompt, ramp_image, dd_spy, comfy_host):
    """DInG KSampler after DifferentialDiffusion (strength 1): the mean change per band is strictly
    increasing in the mask value, in the seed average and in every seed; the function was called once
    per step with ComfyUI's arguments; the kept band (mask 0) ends exactly at the input."""
    mean, per_seed = _averaged(run_prompt, tiny_sd3.ckpt_name, ramp_image)
    print(f"\nDifferential Diffusion, DInG KSampler ding1, {STEPS} steps, {len(SEEDS)} seeds x {BATCH}: "
          f"mean |change| per mask value {dict(zip(BANDS, [round(v, 4) for v in mean]))}")
    assert all(a < b for a, b in zip(mean, mean[1:])), mean
    for changes in per_seed:
        assert all(a < b for a, b in zip(changes, changes[1:])), per_seed
    assert mean[0] < 1e-6  # never freed: pasted back with the last call's weight (float32 round trip)
    # called once per step (the model is called STEPS times by ding1), per seed, before the model
    assert len(dd_spy) == STEPS * len(SEEDS)
    import comfy.samplers
    first = dd_spy[:STEPS]
    run_sigmas = first[0]["options"]["sigmas"]
    for i, call in enumerate(first):
        assert call["sigma"].shape == (BATCH,)
        assert torch.equal(call["sigma"], run_sigmas[i].expand(BATCH).to(call["sigma"].dtype))
        assert call["options"]["sigmas"] is run_sigmas and call["strength"] == 1.0
        assert isinstance(call["options"]["model"], comfy.samplers.CFGGuider)  # KSamplerX0Inpaint.inner_model
        assert call["mask"].shape[0] == BATCH and call["mask"].shape[-2:] == (16, 16)
        assert call["mask"][..., 12:15].eq(1).all() and call["mask"][..., :3].eq(0).all()
    assert run_sigmas.shape == (STEPS + 1,) and float(run_sigmas[-1]) == 0.0


def test_same_calls_as_comfyui_ksampler(ding_nodes, tiny_sd3, comfy_host, dd_spy):
    """ComfyUI's own KSampler (euler) calls the function at the same sigmas, with the same mask and
    run sigmas, as DInG does: once per model call."""
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    (dd,) = comfy_host.call_node("DifferentialDiffusion", model=model, strength=1.0)
    pixels = tiny_models.make_test_image(128, 128, seed=6, batch=2)
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=ramp_mask(), vae=vae,
                                     grow_mask_by=0, mask_mode="soft")
    args = dict(model=dd, seed=0, steps=STEPS, cfg=1.0, scheduler="simple", positive=tiny_models.sd3_conditioning(1),
                negative=tiny_models.sd3_conditioning(2), latent_image=latent, denoise=1.0)
    comfy_host.call_node("KSampler", sampler_name="euler", **args)
    comfy_calls = list(dd_spy)
    dd_spy.clear()
    comfy_host.call_node("DInGKSampler", variant="ding", obs_std=0.01, eta="ddpm", **args)
    assert len(comfy_calls) == len(dd_spy) == STEPS
    for a, b in zip(comfy_calls, dd_spy):
        assert torch.equal(a["sigma"], b["sigma"]) and a["sigma"].dtype == b["sigma"].dtype
        assert torch.equal(a["mask"], b["mask"])
        assert torch.equal(a["options"]["sigmas"], b["options"]["sigmas"])
        assert type(a["options"]["model"]) is type(b["options"]["model"])


def test_strength_below_one_changes_the_result(ding_nodes, tiny_sd3, run_prompt, ramp_image, dd_spy):
    enc, full, _ = _run(run_prompt, dd_prompt(tiny_sd3.ckpt_name, ramp_image, seed=3, strength=1.0))
    _, half, _ = _run(run_prompt, dd_prompt(tiny_sd3.ckpt_name, ramp_image, seed=3, strength=0.5))
    _, plain, _ = _run(run_prompt, dd_prompt(tiny_sd3.ckpt_name, ramp_image, seed=3, differential=False))
    a, b, c = (band_changes(enc, x) for x in (full, half, plain))
    print(f"\nseed 3, mean |change| per mask value: strength 1 {[round(v, 4) for v in a]}, "
          f"strength 0.5 {[round(v, 4) for v in b]}, no Differential Diffusion {[round(v, 4) for v in c]}")
    assert [call["strength"] for call in dd_spy] == [1.0] * STEPS + [0.5] * STEPS
    grey = slice(3, 12)  # the 0.25 - 0.75 bands: strength blends the binary mask with the grey one there
    assert not torch.allclose(full["samples"][..., grey], half["samples"][..., grey], atol=1e-3)
    assert not torch.equal(half["samples"], plain["samples"])
    # the fully repainted band is free from the first step either way
    assert torch.isfinite(half["samples"]).all()


def test_sampler_custom_advanced_route(ding_nodes, tiny_sd3, run_prompt, ramp_image, dd_spy, model_calls):
    """CFGGuider(DifferentialDiffusion model) + DInG Sampler (ding: two model calls per step, one
    function call per step) in SamplerCustomAdvanced: same monotonic growth."""
    mean, per_seed = _averaged(run_prompt, tiny_sd3.ckpt_name, ramp_image, sampler="custom", variant="ding")
    print(f"\nDifferential Diffusion, SamplerCustomAdvanced + DInG Sampler ding, {STEPS} steps, "
          f"{len(SEEDS)} seeds x {BATCH}: mean |change| per mask value "
          f"{dict(zip(BANDS, [round(v, 4) for v in mean]))}")
    assert all(a < b for a, b in zip(mean, mean[1:])), mean
    assert model_calls.count == (2 * STEPS - 1) * len(SEEDS)
    assert len(dd_spy) == STEPS * len(SEEDS)
    assert mean[0] < 1e-6


def test_without_the_node_nothing_changes(ding_nodes, tiny_sd3, comfy_host, monkeypatch):
    """No denoise_mask_function: ding_sample gets no keep_schedule (the code path is not taken). An
    identity function (the mask unchanged at every step) takes the path and gives the same latent bit
    for bit. A malformed result is a ValueError naming the function; particles > 1 are refused."""
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    pixels = tiny_models.make_test_image(128, 128, seed=6, batch=2)
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=ramp_mask(), vae=vae,
                                     grow_mask_by=0, mask_mode="soft")
    args = dict(seed=5, steps=STEPS, cfg=2.0, scheduler="simple", positive=tiny_models.sd3_conditioning(1),
                negative=tiny_models.sd3_conditioning(2), latent_image=latent, denoise=1.0, variant="ding1",
                obs_std=0.01, eta="ddpm")
    module = __import__(ding_nodes["DInGKSampler"].__module__, fromlist=["ding_sample"])
    seen = []
    real = module.ding_sample

    def spy(*a, **kw):
        seen.append(kw.get("keep_schedule"))
        return real(*a, **kw)

    monkeypatch.setattr(module, "ding_sample", spy)
    (plain,) = comfy_host.call_node("DInGKSampler", model=model, **args)
    assert seen == [None]

    identity_calls = []

    def identity(sigma, denoise_mask, extra_options):
        identity_calls.append(float(sigma[0]))
        return denoise_mask

    patched = model.clone()
    patched.set_model_denoise_mask_function(identity)
    (same,) = comfy_host.call_node("DInGKSampler", model=patched, **args)
    assert seen[1] is not None and len(identity_calls) == STEPS
    assert torch.equal(plain["samples"], same["samples"])

    for bad, fragment in ((lambda s, m, extra_options: m[..., :3, :3], "does not broadcast"),
                          (lambda s, m, extra_options: m * float("nan"), "NaN"),
                          (lambda s, m, extra_options: None, "NoneType")):
        broken = model.clone()
        broken.set_model_denoise_mask_function(bad)
        with pytest.raises(ValueError, match=f"denoise_mask_function.*{fragment}"):
            comfy_host.call_node("DInGKSampler", model=broken, **args)
    (dd,) = comfy_host.call_node("DifferentialDiffusion", model=model, strength=1.0)
    with pytest.raises(ValueError, match="particles > 1 cannot follow the model's denoise_mask_function"):
        comfy_host.call_node("DInGKSampler", model=dd, **{**args, "particles": 2})
