"""DInG with the nodes artists chain around a sampler, each run in a real graph on the tiny SD3.

LoRA (LoraLoaderModelOnly), ControlNet (ControlNetLoader + ControlNetApplyAdvanced with a tiny
SD3.5 ControlNet), EasyCache and LazyCache, Skip Layer Guidance (SkipLayerGuidanceSD3), APG,
PerpNegGuider, DualCFGGuider, the shift nodes (ModelSamplingSD3, ModelSamplingFlux) and lquesada's
Inpaint Crop&Stitch pack (from $CROPANDSTITCH_PATH; skipped with the reason without it). Each
test checks that the node is in effect (the output or the model calls change) and that DInG still
keeps the kept region. docs/compatibility.md has the table of what was run and what it does.
"""
import contextlib
import math
import os
from pathlib import Path

import pytest
import torch

from comfy_testbed import comfy_harness, tiny_addons, tiny_models

STEPS = 4
OBS_STD = 0.01
LATENT = "SD3"
CROPANDSTITCH_ENV = "CROPANDSTITCH_PATH"
TOKENS = {"sd3": 154, "sd15": 77}


# --------------------------------------------------------------------------- graphs

def inpaint_prompt(ckpt, *, steps=STEPS, cfg=2.0, seed=3, variant="ding1", eta="ddpm", width=128, height=128,
                   family="sd3"):
    """CheckpointLoaderSimple -> DInG Inpaint/Outpaint Encode -> DInG KSampler, the encoded and the
    sampled latents captured ("encoded", "latent"). A test puts patch nodes between "ckpt" and
    "ding" with ``chain``, or swaps "ding" for SamplerCustomAdvanced with ``custom_sampler``."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": TOKENS[family], "family": family}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": TOKENS[family], "family": family}},
        "img": {"class_type": "DInGTestImageMask", "inputs": {
            "width": width, "height": height, "seed": 0, "mask_kind": "rect", "x": 40, "y": 36, "w": 48,
            "h": 40, "stroke_width": 3}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["img", 0], "mask": ["img", 1], "vae": ["ckpt", 2], "grow_mask_by": 0}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": cfg, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": OBS_STD, "eta": eta}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "encoded"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
    }


def chain(prompt, node_id, class_type, **inputs):
    """Insert ``class_type`` (a MODEL -> MODEL patch) between the model the sampler gets and the
    sampler; returns the prompt."""
    sampler = "ding" if "ding" in prompt else "guider"
    prompt[node_id] = {"class_type": class_type, "inputs": {"model": prompt[sampler]["inputs"]["model"], **inputs}}
    prompt[sampler]["inputs"]["model"] = [node_id, 0]
    if "sched" in prompt:
        prompt["sched"]["inputs"]["model"] = [node_id, 0]
    return prompt


def custom_sampler(prompt, guider_type="CFGGuider", **guider_inputs):
    """Replace DInG KSampler by RandomNoise + <guider> + DInG Sampler + BasicScheduler ->
    SamplerCustomAdvanced (same seed, steps, variant), for the GUIDER nodes."""
    ding = prompt.pop("ding")["inputs"]
    if not guider_inputs:
        guider_inputs = {"positive": ding["positive"], "negative": ding["negative"], "cfg": ding["cfg"]}
    prompt.update({
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": ding["seed"]}},
        "guider": {"class_type": guider_type, "inputs": {"model": ding["model"], **guider_inputs}},
        "sampler": {"class_type": "DInGSampler", "inputs": {
            "variant": ding["variant"], "obs_std": ding["obs_std"], "eta": ding["eta"]}},
        "sched": {"class_type": "BasicScheduler", "inputs": {
            "model": ding["model"], "scheduler": "simple", "steps": ding["steps"], "denoise": 1.0}},
        "custom": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0], "sigmas": ["sched", 0],
            "latent_image": ding["latent_image"]}},
    })
    prompt["cap_out"]["inputs"]["value"] = ["custom", 0]
    return prompt


def run(comfy_host, prompt, count=False):
    """Run the prompt; returns (encoded LATENT, sampled LATENT, ModelCallCounter when count else None)."""
    if not count:
        result = comfy_host.run_prompt(prompt)
        calls = None
    else:
        with comfy_host.count_model_calls() as c:
            result = comfy_host.run_prompt(prompt)
        calls = c
    return result["captured"]["encoded"], result["captured"]["latent"], calls


def assert_kept(encoded, out, what, latent=LATENT):
    kept, free, _ = comfy_harness.kept_and_free(latent, encoded, out)
    assert kept.abs().max().item() <= OBS_STD, f"{what}: kept region moved by {kept.abs().max().item()}"
    assert free.abs().mean().item() > 0.1, f"{what}: nothing was painted"


def free_change(encoded, a, b, latent=LATENT) -> float:
    """Mean absolute model-space difference of two sampled latents on the repainted cells."""
    _, free_a, _ = comfy_harness.kept_and_free(latent, encoded, a)
    _, free_b, _ = comfy_harness.kept_and_free(latent, encoded, b)
    return (free_a - free_b).abs().mean().item()


def has_node(comfy_host, class_type) -> bool:
    return class_type in comfy_host.nodes.NODE_CLASS_MAPPINGS


def need_node(comfy_host, class_type):
    if not has_node(comfy_host, class_type):
        pytest.skip(f"this ComfyUI ({comfy_host.comfyui_path}) has no {class_type} node")


# --------------------------------------------------------------------------- LoRA

def test_lora_loader_model_only_changes_the_model_and_keeps_the_region(ding_nodes, comfy_host, tiny_sd3):
    """A rank-4 kohya LoRA on the tiny SD3's attention and MLP weights, through LoraLoaderModelOnly:
    at strength 1 every LoRA weight becomes a patch on the MODEL and the painted region changes; at
    strength 0 the result is bit-identical to the run without the LoRA; the kept region holds."""
    lora_name, patched = tiny_addons.write_tiny_sd3_lora(comfy_host.models_dir, tiny_models.mmdit_shapes())

    def with_lora(strength):
        p = chain(inpaint_prompt(tiny_sd3.ckpt_name), "lora", "LoraLoaderModelOnly",
                  lora_name=lora_name, strength_model=strength)
        p["cap_model"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["lora", 0], "key": "model"}}
        result = comfy_host.run_prompt(p)
        return result["captured"]

    enc, plain, _ = run(comfy_host, inpaint_prompt(tiny_sd3.ckpt_name))
    full = with_lora(1.0)
    assert tiny_addons.lora_patched_keys(full["model"]) == set(patched)
    assert_kept(full["encoded"], full["latent"], "LoRA strength 1")
    assert free_change(enc, full["latent"], plain) > 0.05
    half = with_lora(0.5)
    assert free_change(enc, half["latent"], full["latent"]) > 0.01
    off = with_lora(0.0)
    assert not tiny_addons.lora_patched_keys(off["model"])
    assert torch.equal(off["latent"]["samples"], plain["samples"])


# --------------------------------------------------------------------------- ControlNet

def controlnet_prompt(ckpt, cn_name, hint_seed, strength):
    p = inpaint_prompt(ckpt)
    p["cn"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": cn_name}}
    p["hint"] = {"class_type": "DInGTestImageMask", "inputs": {
        "width": 128, "height": 128, "seed": hint_seed, "mask_kind": "rect", "x": 0, "y": 0, "w": 8, "h": 8,
        "stroke_width": 3}}
    p["apply"] = {"class_type": "ControlNetApplyAdvanced", "inputs": {
        "positive": ["pos", 0], "negative": ["neg", 0], "control_net": ["cn", 0], "image": ["hint", 0],
        "strength": strength, "start_percent": 0.0, "end_percent": 1.0, "vae": ["ckpt", 2]}}
    p["ding"]["inputs"]["positive"] = ["apply", 0]
    p["ding"]["inputs"]["negative"] = ["apply", 1]
    return p


def test_controlnet_hint_reaches_the_model_and_the_region_holds(ding_nodes, comfy_host, tiny_sd3):
    """A tiny SD3.5 ControlNet (ComfyUI's ControlNetEmbedder, Stability's layout) through
    ControlNetLoader + ControlNetApplyAdvanced: the result depends on the hint image and on the
    strength, the kept region holds, and the ControlNet costs no extra diffusion-model call."""
    cn_name = tiny_addons.write_tiny_sd35_controlnet(comfy_host.models_dir)
    enc, plain, plain_calls = run(comfy_host, inpaint_prompt(tiny_sd3.ckpt_name), count=True)
    _, a, calls = run(comfy_host, controlnet_prompt(tiny_sd3.ckpt_name, cn_name, 5, 1.0), count=True)
    _, b, _ = run(comfy_host, controlnet_prompt(tiny_sd3.ckpt_name, cn_name, 6, 1.0))
    _, weak, _ = run(comfy_host, controlnet_prompt(tiny_sd3.ckpt_name, cn_name, 5, 0.3))
    assert_kept(enc, a, "ControlNet")
    assert free_change(enc, a, plain) > 0.01
    assert free_change(enc, a, b) > 0.01      # the hint image reaches the model
    assert free_change(enc, a, weak) > 0.01   # so does the strength
    assert calls.count == plain_calls.count == STEPS


# --------------------------------------------------------------------------- caches

CACHE_STEPS = 12


@contextlib.contextmanager
def network_passes(cls):
    """Count the passes through a diffusion network class's ``_forward`` (the function that
    ComfyUI's DIFFUSION_MODEL wrappers, EasyCache's among them, call or skip)."""
    orig = cls._forward
    passes = []

    def counted(self, *args, **kwargs):
        passes.append(1)
        return orig(self, *args, **kwargs)

    cls._forward = counted
    try:
        yield passes
    finally:
        cls._forward = orig


@pytest.mark.parametrize("cache", ["EasyCache", "LazyCache"])
def test_easycache_lazycache_skip_calls_and_keep_the_region(ding_nodes, comfy_host, tiny_sd15, cache):
    """EasyCache / LazyCache (reuse_threshold 0.2, their default) before DInG KSampler on the tiny
    SD1.5 (12 steps, ding1). EasyCache skips passes through the network inside a model call
    (ComfyUI's DIFFUSION_MODEL wrapper, which SD1.5's UNet calls); LazyCache skips whole model
    calls (PREDICT_NOISE wrapper). Both: fewer network passes than DInG's 12 calls, none skipped
    and a bit-identical result at threshold 0, deterministic, and the kept region holds (DInG
    restores it from the observation, not from the model)."""
    need_node(comfy_host, cache)
    from comfy.ldm.modules.diffusionmodules.openaimodel import UNetModel

    def prompt(**cache_inputs):
        p = inpaint_prompt(tiny_sd15.ckpt_name, steps=CACHE_STEPS, family="sd15")
        if cache_inputs:
            chain(p, "cache", cache, start_percent=0.15, end_percent=0.95, verbose=False, **cache_inputs)
        return p

    def run_counted(p):
        with network_passes(UNetModel) as passes:
            enc, out, calls = run(comfy_host, p, count=True)
        return enc, out, calls.count, len(passes)

    enc, plain, plain_calls, plain_passes = run_counted(prompt())
    assert plain_calls == plain_passes == CACHE_STEPS
    _, out, calls, passes = run_counted(prompt(reuse_threshold=0.2))
    _, again, _, passes_again = run_counted(prompt(reuse_threshold=0.2))
    _, strict, strict_calls, strict_passes = run_counted(prompt(reuse_threshold=0.0))
    comfy_host.timings[f"{cache} on SD1.5, DInG ding1 {CACHE_STEPS} steps: model calls"] = calls
    comfy_host.timings[f"{cache} on SD1.5, DInG ding1 {CACHE_STEPS} steps: network passes"] = passes
    assert passes < CACHE_STEPS
    if cache == "EasyCache":
        assert calls == CACHE_STEPS      # every call reaches the model, the network pass is skipped
    else:
        assert calls == passes           # whole calls skipped
    assert strict_calls == strict_passes == CACHE_STEPS and torch.equal(strict["samples"], plain["samples"])
    assert passes_again == passes and torch.equal(again["samples"], out["samples"])
    assert_kept(enc, out, cache, latent="SD15")
    assert free_change(enc, out, plain, latent="SD15") > 0.01


def test_easycache_has_no_effect_on_sd3(ding_nodes, comfy_host, tiny_sd3):
    """SD3's MMDiT does not call ComfyUI's DIFFUSION_MODEL wrappers (0.3.64 and 0.8.0), so
    EasyCache never sees its passes: with DInG KSampler the result is bit-identical to the run
    without it, at any threshold, with every call made."""
    need_node(comfy_host, "EasyCache")
    enc, plain, plain_calls = run(comfy_host, inpaint_prompt(tiny_sd3.ckpt_name, steps=CACHE_STEPS), count=True)
    p = chain(inpaint_prompt(tiny_sd3.ckpt_name, steps=CACHE_STEPS), "cache", "EasyCache",
              reuse_threshold=3.0, start_percent=0.0, end_percent=1.0, verbose=False)
    _, out, calls = run(comfy_host, p, count=True)
    assert calls.count == plain_calls.count == CACHE_STEPS
    assert torch.equal(out["samples"], plain["samples"])


def test_caches_on_the_exact_prior_cost_ding_little_at_their_default(comfy_host):
    """bench.caches (seed 1, N = 300, 12 steps): on a prior whose exact posterior is known, served
    as a network that runs through ComfyUI's DIFFUSION_MODEL wrappers, EasyCache skips network
    passes and LazyCache whole calls inside DInG's run, and at their default threshold (0.2)
    DInG ding1 stays within 0.02 SW1 of its run without a cache and ahead of euler without one
    (N = 1000, seeds 1-3: 0.063-0.065 vs 0.117; bench/results/caches_0*.txt)."""
    from bench import caches
    need_node(comfy_host, "EasyCache")
    need_node(comfy_host, "LazyCache")
    results = caches.main(["--samples", "300", "--seeds", "1", "--fewer-steps"])
    sw = {k: v[0][0] for k, v in results.items() if k != "floor"}
    calls = {k: v[0][1:] for k, v in results.items() if k != "floor"}
    plain = sw[("none", 0.0, 12, "ding1/ddpm")]
    euler = sw[("none", 0.0, 12, "euler")]
    assert plain < euler
    for cache in ("LazyCache", "EasyCache"):
        assert sw[(cache, 0.2, 12, "ding1/ddpm")] <= plain + 0.02, cache
        assert sw[(cache, 0.2, 12, "ding1/ddpm")] < euler, cache
    assert calls[("EasyCache", 0.2, 12, "ding1/ddpm")][1] < calls[("EasyCache", 0.2, 12, "ding1/ddpm")][0] == 12
    assert calls[("LazyCache", 1.0, 12, "ding1/ddpm")][0] < 12
    assert "| EasyCache 0.2, 12 steps |" in caches.table(results)


# --------------------------------------------------------------------------- guidance

def test_skip_layer_guidance_sd3_adds_calls_and_changes_the_result(ding_nodes, comfy_host, tiny_sd3):
    """SkipLayerGuidanceSD3 (layer 1 of 2, scale 3, over the whole schedule) before CFGGuider +
    DInG Sampler: one extra single-cond model call per DInG call (the layer-skipped pass), a
    different result than plain CFG with the same seed, and the kept region holds."""
    enc, plain, plain_calls = run(comfy_host, custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)), count=True)
    p = chain(custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)), "slg", "SkipLayerGuidanceSD3",
              layers="1", scale=3.0, start_percent=0.0, end_percent=1.0)
    _, out, calls = run(comfy_host, p, count=True)
    assert plain_calls.batch_sizes == [2] * STEPS
    assert calls.batch_sizes == [2, 1] * STEPS
    assert_kept(enc, out, "SkipLayerGuidanceSD3")
    assert free_change(enc, out, plain) > 0.01


def test_apg_changes_the_guidance(ding_nodes, comfy_host, tiny_sd3):
    """APG (eta 0, norm_threshold 1) before CFGGuider + DInG Sampler: the same calls as plain CFG,
    a different result, and the kept region holds."""
    enc, plain, plain_calls = run(comfy_host, custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)), count=True)
    p = chain(custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)), "apg", "APG",
              eta=0.0, norm_threshold=1.0, momentum=0.0)
    _, out, calls = run(comfy_host, p, count=True)
    assert calls.batch_sizes == plain_calls.batch_sizes == [2] * STEPS
    assert_kept(enc, out, "APG")
    assert free_change(enc, out, plain) > 0.01


def test_perpneg_guider_runs_three_conds(ding_nodes, comfy_host, tiny_sd3):
    """PerpNegGuider (positive, negative, empty conditioning) with DInG Sampler: every model call
    carries the three conds (batch 3), the result differs from CFGGuider's, the kept region holds."""
    enc, plain, _ = run(comfy_host, custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)), count=True)
    p = inpaint_prompt(tiny_sd3.ckpt_name)
    p["empty"] = {"class_type": "DInGTestConditioning", "inputs": {"seed": 9, "tokens": 154}}
    p = custom_sampler(p, "PerpNegGuider", positive=["pos", 0], negative=["neg", 0],
                       empty_conditioning=["empty", 0], cfg=2.0, neg_scale=1.0)
    _, out, calls = run(comfy_host, p, count=True)
    assert calls.batch_sizes == [3] * STEPS
    assert_kept(enc, out, "PerpNegGuider")
    assert free_change(enc, out, plain) > 0.01


def test_dualcfg_guider_runs_three_conds(ding_nodes, comfy_host, tiny_sd3):
    """DualCFGGuider (cond1, cond2, negative; regular and nested) with DInG Sampler: batch-3 calls,
    a result that differs from CFGGuider(cond1) and between the two styles, kept region holds."""
    enc, plain, _ = run(comfy_host, custom_sampler(inpaint_prompt(tiny_sd3.ckpt_name)))
    outs = {}
    for style in ("regular", "nested"):
        p = inpaint_prompt(tiny_sd3.ckpt_name)
        p["cond2"] = {"class_type": "DInGTestConditioning", "inputs": {"seed": 8, "tokens": 154}}
        p = custom_sampler(p, "DualCFGGuider", cond1=["pos", 0], cond2=["cond2", 0], negative=["neg", 0],
                           cfg_conds=2.0, cfg_cond2_negative=3.0, style=style)
        _, outs[style], calls = run(comfy_host, p, count=True)
        assert calls.batch_sizes == [3] * STEPS, style
        assert_kept(enc, outs[style], f"DualCFGGuider {style}")
        assert free_change(enc, outs[style], plain) > 0.01, style
    assert free_change(enc, outs["regular"], outs["nested"]) > 0.001


# --------------------------------------------------------------------------- shift

def _simple_schedule(steps, sigma_of_t, levels):
    """ComfyUI's "simple" scheduler over a discrete table of ``levels`` sigmas, written out here:
    level i of 1..levels has t = i / levels; step k takes level levels - floor(k * levels / steps).
    (ModelSamplingSD3's table has 1000 levels, ModelSamplingFlux's 10000.)"""
    table = [sigma_of_t(i / levels) for i in range(1, levels + 1)]
    return [table[-(1 + int(k * levels / steps))] for k in range(steps)]


@pytest.mark.parametrize("node", ["ModelSamplingSD3", "ModelSamplingFlux"])
def test_shift_nodes_set_the_sigmas_ding_uses(ding_nodes, comfy_host, tiny_sd3, node):
    """ModelSamplingSD3 (shift 1 and 6) / ModelSamplingFlux (base_shift 0.5, max_shift 1.15 and 3,
    at 128 x 128) before DInG KSampler: the sigmas the model receives are the shifted schedule,
    computed here from the shift formulas, and the result changes with the shift."""
    steps = 6
    if node == "ModelSamplingSD3":
        settings, levels = [{"shift": 1.0}, {"shift": 6.0}], 1000

        def sigma_fn(s):
            return lambda t: s["shift"] * t / (1 + (s["shift"] - 1) * t)
    else:
        settings = [{"max_shift": 1.15, "base_shift": 0.5, "width": 128, "height": 128},
                    {"max_shift": 3.0, "base_shift": 0.5, "width": 128, "height": 128}]
        levels = 10000

        def sigma_fn(s):
            slope = (s["max_shift"] - s["base_shift"]) / (4096 - 256)
            mu = s["width"] * s["height"] / (8 * 8 * 2 * 2) * slope + s["base_shift"] - slope * 256
            return lambda t: math.exp(mu) / (math.exp(mu) + (1 / t - 1))
    outs = []
    for s in settings:
        p = chain(inpaint_prompt(tiny_sd3.ckpt_name, steps=steps), "shift", node, **s)
        enc, out, calls = run(comfy_host, p, count=True)
        expected = _simple_schedule(steps, sigma_fn(s), levels)
        assert calls.sigmas == pytest.approx(expected, rel=1e-4, abs=1e-5), s
        assert_kept(enc, out, f"{node} {s}")
        outs.append(out)
    assert free_change(enc, outs[0], outs[1]) > 0.01


# --------------------------------------------------------------------------- Inpaint Crop&Stitch

@pytest.fixture(scope="module")
def cropandstitch(comfy_host):
    path = os.environ.get(CROPANDSTITCH_ENV)
    if not path:
        pytest.skip(f"{CROPANDSTITCH_ENV} is not set: point it at a checkout of "
                    "lquesada/ComfyUI-Inpaint-CropAndStitch to run the Crop&Stitch test")
    ids = comfy_host.load_custom_node_pack(Path(path))
    missing = {"InpaintCropImproved", "InpaintStitchImproved"} - set(ids)
    assert not missing, f"{path} registered {ids}, not {missing}"
    return ids


@pytest.mark.parametrize("device_mode", ["gpu (much faster)", "cpu (compatible)"])
def test_cropandstitch_keeps_every_pixel_outside_the_crop(ding_nodes, comfy_host, tiny_sd3, cropandstitch,
                                                          device_mode):
    """LoadImage (a 224 x 160 picture with the mask in its alpha) -> Inpaint Crop (Improved) ->
    DInG Inpaint/Outpaint Encode -> DInG KSampler -> VAE Decode -> DInG Inpaint/Outpaint Composite
    -> Inpaint Stitch (Improved): every pixel outside the crop is bit-identical to the input, the
    masked pixels changed, and the crop was sampled at the pack's 128 x 128 target size. Both of
    the pack's device modes (its default "gpu", which runs on ComfyUI's device, the CPU here)."""
    width, height = 224, 160
    image = tiny_models.make_test_image(width, height, seed=4)
    mask = tiny_models.make_test_mask(width, height, kind="rect", x=150, y=90, w=36, h=30)
    name = comfy_host.write_input_image("compat_cropandstitch.png", image, mask)
    crop_inputs = {
        "image": ["load", 0], "mask": ["load", 1], "downscale_algorithm": "bilinear", "upscale_algorithm": "bicubic",
        "preresize": False, "preresize_mode": "ensure minimum resolution", "preresize_min_width": 1024,
        "preresize_min_height": 1024, "preresize_max_width": 16384, "preresize_max_height": 16384,
        "mask_fill_holes": True, "mask_expand_pixels": 0, "mask_invert": False, "mask_blend_pixels": 8,
        "mask_hipass_filter": 0.1, "extend_for_outpainting": False, "extend_up_factor": 1.0,
        "extend_down_factor": 1.0, "extend_left_factor": 1.0, "extend_right_factor": 1.0,
        "context_from_mask_extend_factor": 1.2, "output_resize_to_target_size": True,
        "output_target_width": 128, "output_target_height": 128, "output_padding": "32",
        "device_mode": device_mode}
    p = inpaint_prompt(tiny_sd3.ckpt_name)
    del p["img"]
    p.update({
        "load": {"class_type": "LoadImage", "inputs": {"image": name}},
        "crop": {"class_type": "InpaintCropImproved", "inputs": crop_inputs},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": ["ckpt", 2]}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["crop", 1], "generated": ["decode", 0], "mask": ["enc", 1], "feather": 4}},
        "stitch": {"class_type": "InpaintStitchImproved", "inputs": {"stitcher": ["crop", 0], "inpainted_image": ["comp", 0]}},
        "cap_in": {"class_type": "DInGTestCapture", "inputs": {"value": ["load", 0], "key": "input"}},
        "cap_stitcher": {"class_type": "DInGTestCapture", "inputs": {"value": ["crop", 0], "key": "stitcher"}},
        "cap_crop": {"class_type": "DInGTestCapture", "inputs": {"value": ["crop", 1], "key": "crop"}},
        "cap_final": {"class_type": "DInGTestCapture", "inputs": {"value": ["stitch", 0], "key": "final"}},
    })
    p["enc"]["inputs"].update({"pixels": ["crop", 1], "mask": ["crop", 2]})
    cap = comfy_host.run_prompt(p)["captured"]
    original, final, st = cap["input"], cap["final"], cap["stitcher"]
    assert original.shape == final.shape == (1, height, width, 3)
    assert tuple(cap["crop"].shape) == (1, 128, 128, 3)
    assert_kept(cap["encoded"], cap["latent"], "Crop&Stitch")
    # the crop rectangle in the input's pixels (the canvas may extend past the image)
    x0 = st["cropped_to_canvas_x"][0] - st["canvas_to_orig_x"][0]
    y0 = st["cropped_to_canvas_y"][0] - st["canvas_to_orig_y"][0]
    x1, y1 = x0 + st["cropped_to_canvas_w"][0], y0 + st["cropped_to_canvas_h"][0]
    inside = torch.zeros((height, width), dtype=torch.bool)
    inside[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = True
    assert 0.05 < inside.float().mean().item() < 0.8, (x0, y0, x1, y1)
    assert inside[90:120, 150:186].all()
    outside = ~inside
    assert torch.equal(final[0][outside], original[0][outside])
    masked = torch.zeros((height, width), dtype=torch.bool)
    masked[90:120, 150:186] = True
    assert (final[0][masked] - original[0][masked]).abs().mean().item() > 0.01
