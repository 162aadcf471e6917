"""The four DInG nodes inside a real ComfyUI (CPU), on a tiny random-weight SD3 MMDiT.

Random weights do not denoise, so image quality is not judged here; what is
checked is the plumbing: registration, graphs executing through PromptExecutor,
the kept region, call counts, determinism, masks and the composite.
"""
import pytest
import torch

from comfy_testbed import tiny_models

STEPS = 6
OBS_STD = 0.01
SD3_SCALE = 1.5305  # SD3 latent format scale_factor (model space = (latent - shift) * scale)


def inpaint_prompt(ckpt, *, steps=STEPS, cfg=2.0, seed=3, variant="ding", denoise=1.0,
                   mask_kind="rect", stroke_width=3, grow=0, feather=4, scheduler="simple"):
    """CheckpointLoaderSimple -> DInGInpaintEncode -> DInGKSampler -> VAEDecode -> DInGComposite -> SaveImage."""
    return {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": 154}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": 154}},
        "img": {"class_type": "DInGTestImageMask", "inputs": {
            "width": 128, "height": 128, "seed": 0, "mask_kind": mask_kind, "x": 40, "y": 36, "w": 48,
            "h": 40 if mask_kind == "rect" else 0, "stroke_width": stroke_width}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["img", 0], "mask": ["img", 1], "vae": ["ckpt", 2], "grow_mask_by": grow}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": cfg, "scheduler": scheduler,
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": denoise,
            "variant": variant, "obs_std": OBS_STD, "eta": "square"}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": ["ckpt", 2]}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["img", 0], "generated": ["decode", 0], "mask": ["enc", 1], "feather": feather}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["comp", 0], "filename_prefix": "ding_it"}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "encoded"}},
        "cap_mask": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 1], "key": "repaint"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
        "cap_img": {"class_type": "DInGTestCapture", "inputs": {"value": ["img", 0], "key": "original"}},
        "cap_comp": {"class_type": "DInGTestCapture", "inputs": {"value": ["comp", 0], "key": "composite"}},
        "cap_dec": {"class_type": "DInGTestCapture", "inputs": {"value": ["decode", 0], "key": "decoded"}},
    }


def kept_error(result):
    enc, out = result["captured"]["encoded"], result["captured"]["latent"]
    keep = (1 - enc["noise_mask"]).expand_as(out["samples"]) > 0.5
    diff = (out["samples"] - enc["samples"]) * SD3_SCALE  # model-space units, like obs_std
    return diff[keep], diff[~keep]


def test_nodes_register(ding_nodes, comfy_host):
    assert set(ding_nodes) == {"DInGInpaintEncode", "DInGKSampler", "DInGKSamplerAdvanced", "DInGSampler",
                               "DInGComposite"}
    names = comfy_host.nodes.NODE_DISPLAY_NAME_MAPPINGS
    assert names["DInGKSampler"] == "DInG Inpaint/Outpaint KSampler"
    assert names["DInGKSamplerAdvanced"] == "DInG Inpaint/Outpaint KSampler (Advanced)"
    advanced = ding_nodes["DInGKSamplerAdvanced"].GET_SCHEMA()
    assert advanced.category == ding_nodes["DInGKSampler"].GET_SCHEMA().category
    assert "two experts" in advanced.description and "Wan 2.2 A14B" in advanced.description
    if getattr(advanced, "search_aliases", None) is not None:  # newer ComfyUI versions only
        assert {"two experts", "wan 2.2 a14b", "start step"} <= set(advanced.search_aliases)
    for node_id, cls in ding_nodes.items():
        schema = cls.GET_SCHEMA()  # V3 nodes
        assert schema.node_id == node_id and schema.description
        # the frontends of 0.3.64 and 0.8.0 (1.27, 1.35) search node ids and display names only:
        # every node is found by "inpaint" and by "outpaint"
        assert "inpaint" in names[node_id].lower() and "outpaint" in names[node_id].lower()
        for spec in schema.inputs:
            assert spec.tooltip, f"{node_id}.{spec.id} has no tooltip"
        for spec in schema.outputs:
            assert spec.tooltip, f"{node_id} output {spec.id or spec.io_type} has no tooltip"
        # what the user reads calls every node by its display name
        shown = [schema.description] + [s.tooltip for s in schema.inputs] + [s.tooltip for s in schema.outputs]
        for text in shown:
            for wrong in ("DInG SAMPLER", "DInG Composite", "DInG Inpaint Encode", "DInG Inpaint Composite",
                          "DInG KSampler", "DInG Encode"):
                assert wrong not in text, f"{node_id}: {text!r} says {wrong!r}"
    # the help panel asks for /extensions/ding-inpaint/docs/<NodeId>/<locale>.md, then
    # /extensions/ding-inpaint/docs/<NodeId>.md: both are served from web/
    import os
    web = comfy_host.nodes.EXTENSION_WEB_DIRS["ding-inpaint"]
    for node_id in ding_nodes:
        assert os.path.isfile(os.path.join(web, "docs", f"{node_id}.md")), node_id
        assert os.path.isfile(os.path.join(web, "docs", node_id, "en.md")), node_id


@pytest.mark.parametrize("variant,calls", [("ding", 2 * STEPS - 1), ("ding1", STEPS)])
def test_inpaint_graph_runs(ding_nodes, tiny_sd3, run_prompt, model_calls, comfy_host, variant, calls):
    result = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, variant=variant))
    # documented count: 2 per transition + the final estimate (ding), 1 + 1 (ding1); cfg batched
    assert model_calls.count == calls
    assert all(b == 2 for b in model_calls.batch_sizes)
    assert model_calls.sigmas[0] == pytest.approx(1.0)
    # kept latent region equals the observation; regenerated region does not
    kept, free = kept_error(result)
    assert kept.abs().max().item() <= OBS_STD
    assert free.abs().mean().item() > 0.1
    files = comfy_host.output_files(result, "save")
    assert len(files) == 1 and files[0].exists()
    # one progress update per step
    steps_seen = [p for p in result["progress"] if p["node"] == "ding"]
    assert [p["value"] for p in steps_seen] == list(range(1, STEPS + 1))


def test_composite_keeps_unmasked_pixels(ding_nodes, tiny_sd3, run_prompt):
    result = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, feather=6))
    cap = result["captured"]
    original, comp, decoded, repaint = cap["original"], cap["composite"], cap["decoded"], cap["repaint"]
    from ding_sampler.masks import feather_alpha
    outside = feather_alpha(repaint, 6) == 0
    assert outside.sum() > 0.3 * outside.numel()
    assert torch.equal(comp[outside], original[outside])
    inside = repaint > 0
    assert torch.allclose(comp[inside], decoded[inside])
    assert not torch.equal(decoded[outside], original[outside])  # the VAE round trip did change them


def test_composite_color_match_in_a_graph(ding_nodes, tiny_sd3, run_prompt):
    """Encode -> KSampler -> VAE Decode -> Composite with color_match mean-std through PromptExecutor:
    pixels beyond the feather band are the original's; the pasted ones are colour-matched, finite."""
    prompt = inpaint_prompt(tiny_sd3.ckpt_name, feather=6, variant="ding1")
    prompt["comp"]["inputs"]["color_match"] = "mean-std"
    cap = run_prompt(prompt)["captured"]
    original, comp, decoded, repaint = cap["original"], cap["composite"], cap["decoded"], cap["repaint"]
    from ding_sampler.masks import feather_alpha
    outside = feather_alpha(repaint, 6) == 0
    assert torch.equal(comp[outside], original[outside])
    inside = repaint > 0
    assert torch.isfinite(comp).all() and not torch.allclose(comp[inside], decoded[inside])


def test_same_seed_same_output(ding_nodes, tiny_sd3, run_prompt):
    a = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, seed=11))["captured"]["latent"]["samples"]
    b = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, seed=11))["captured"]["latent"]["samples"]
    c = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, seed=12))["captured"]["latent"]["samples"]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_denoise_half(ding_nodes, tiny_sd3, run_prompt, model_calls):
    result = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, denoise=0.5))
    assert model_calls.count == 2 * STEPS - 1
    assert max(model_calls.sigmas) < 0.99  # started part-way down the schedule
    kept, free = kept_error(result)
    assert kept.abs().max().item() <= OBS_STD
    assert torch.isfinite(free).all()


def test_thin_stroke_repaints_its_cell(ding_nodes, tiny_sd3, run_prompt, comfy_host):
    # horizontal 3-px stroke through pixel rows 35-37: inside latent row 4 (pixels 32-39)
    result = run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, mask_kind="stroke", stroke_width=3))
    enc = result["captured"]["encoded"]
    noise_mask = enc["noise_mask"]
    assert noise_mask.shape[-2:] == enc["samples"].shape[-2:]
    assert noise_mask[0, 0, 4, 6:10].eq(1).all()
    assert noise_mask[0, 0, 8:].eq(0).all() and noise_mask[0, 0, :2].eq(0).all()
    # ComfyUI's own reshape (point sampling at block centres) would have lost part of it
    import comfy.utils
    pixel_mask = result["captured"]["repaint"]  # sanity: repaint area is back at pixel size
    assert pixel_mask.shape == (1, 128, 128) and pixel_mask[0, 35, 60] == 1
    stroke = tiny_models.make_test_mask(128, 128, kind="stroke", x=40, y=36, w=48, h=0, stroke_width=3)
    comfy_mask = comfy.utils.reshape_mask(stroke[:, None], torch.Size((1, 16, 16, 16)))
    assert comfy_mask[0, 0].sum() < noise_mask[0, 0].sum()
    # and the cell really was regenerated
    diff = (result["captured"]["latent"]["samples"] - enc["samples"])[0, :, 4, 6:10]
    assert diff.abs().mean() > 0.1


def test_batch_of_two_with_two_masks(ding_nodes, tiny_sd3, comfy_host, model_calls):
    ckpt = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    model, vae = ckpt[0], ckpt[2]
    pixels = tiny_models.make_test_image(128, 128, seed=4, batch=2)
    masks = torch.cat([tiny_models.make_test_mask(128, 128, kind="rect", x=0, y=0, w=40, h=40),
                       tiny_models.make_test_mask(128, 128, kind="rect", x=80, y=80, w=48, h=48)])
    latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=masks, vae=vae, grow_mask_by=0)
    nm = latent["noise_mask"]
    assert nm.shape[0] == 2 and not torch.equal(nm[0], nm[1])
    assert nm[0, 0, 0, 0] == 1 and nm[0, 0, 15, 15] == 0 and nm[1, 0, 0, 0] == 0 and nm[1, 0, 15, 15] == 1
    pos, neg = tiny_models.sd3_conditioning(1), tiny_models.sd3_conditioning(2)
    (out,) = comfy_host.call_node("DInGKSampler", model=model, seed=0, steps=4, cfg=2.0, scheduler="simple",
                                  positive=pos, negative=neg, latent_image=latent, denoise=1.0,
                                  variant="ding", obs_std=OBS_STD, eta="square")
    assert model_calls.count == 7 and model_calls.batch_sizes[0] == 4  # 2 images x (cond, uncond)
    keep = (1 - nm).expand_as(out["samples"]) > 0.5
    assert ((out["samples"] - latent["samples"])[keep] * SD3_SCALE).abs().max() <= OBS_STD
    # a single mask for both images also works
    latent1, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=masks[:1], vae=vae, grow_mask_by=0)
    assert torch.equal(latent1["noise_mask"][0], latent1["noise_mask"][1])


def test_sampler_in_sampler_custom_advanced(ding_nodes, tiny_sd3, run_prompt, model_calls):
    prompt = inpaint_prompt(tiny_sd3.ckpt_name)
    for k in ("ding", "cap_out"):
        prompt.pop(k)
    prompt.update({
        "msd3": {"class_type": "ModelSamplingSD3", "inputs": {"model": ["ckpt", 0], "shift": 6.0}},
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["msd3", 0], "positive": ["pos", 0],
                                                          "negative": ["neg", 0], "cfg": 2.0}},
        "sampler": {"class_type": "DInGSampler", "inputs": {"variant": "ding", "obs_std": OBS_STD, "eta": "square"}},
        "sched": {"class_type": "BasicScheduler", "inputs": {"model": ["msd3", 0], "scheduler": "simple",
                                                              "steps": STEPS, "denoise": 1.0}},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "ding": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0],
            "sigmas": ["sched", 0], "latent_image": ["enc", 0]}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
        "cap_sig": {"class_type": "DInGTestCapture", "inputs": {"value": ["sched", 0], "key": "sigmas"}},
    })
    result = run_prompt(prompt)
    assert model_calls.count == 2 * STEPS - 1
    sigmas = result["captured"]["sigmas"].tolist()
    # the schedule comes from the patched model sampling (shift 6 differs from the checkpoint's 3)
    assert sigmas[1] == pytest.approx(6 * (1 - 1 / STEPS) / (1 + 5 * (1 - 1 / STEPS)), abs=2e-3)
    seen = sorted(set(round(s, 5) for s in model_calls.sigmas), reverse=True)
    assert seen == pytest.approx([s for s in sigmas if s > 0], abs=1e-5)
    kept, free = kept_error(result)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1


def test_eps_models_use_ve_parametrization(ding_nodes, tiny_sd3, comfy_host, model_calls):
    """ModelSamplingDiscrete(eps) turns the tiny model into an eps model for ComfyUI:
    DInG runs it in the variance-exploding form (sigmas far above 1)."""
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    (eps_model,) = comfy_host.call_node("ModelSamplingDiscrete", model=model, sampling="eps", zsnr=False)
    pixels = tiny_models.make_test_image(128, 128, seed=4)
    mask = tiny_models.make_test_mask(128, 128, kind="rect")
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=mask, vae=vae, grow_mask_by=0)
    (out,) = comfy_host.call_node("DInGKSampler", model=eps_model, seed=0, steps=4, cfg=1.0, scheduler="karras",
                                  positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                                  latent_image=latent, denoise=1.0, variant="ding1", obs_std=OBS_STD, eta="square")
    assert model_calls.count == 4 and max(model_calls.sigmas) > 10
    keep = (1 - latent["noise_mask"]).expand_as(out["samples"]) > 0.5
    assert ((out["samples"] - latent["samples"])[keep] * SD3_SCALE).abs().max() <= OBS_STD
    assert torch.isfinite(out["samples"]).all()


def test_no_mask_samples_unconditionally_and_logs(ding_nodes, tiny_sd3, comfy_host, model_calls, caplog):
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    latent = {"samples": torch.zeros(1, 16, 16, 16)}
    with caplog.at_level("WARNING", logger="ding-inpaint"):
        (out,) = comfy_host.call_node("DInGKSampler", model=model, seed=0, steps=3, cfg=1.0, scheduler="simple",
                                      positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                                      latent_image=latent, denoise=1.0, variant="ding", obs_std=OBS_STD, eta="square")
    assert "no noise_mask" in caplog.text
    assert model_calls.count == 5 and torch.isfinite(out["samples"]).all()


def test_cancel_stops_between_calls(ding_nodes, tiny_sd3, comfy_host, model_calls):
    import comfy.model_management as mm
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    latent = {"samples": torch.zeros(1, 16, 16, 16), "noise_mask": torch.ones(1, 1, 16, 16)}

    original_apply = model.model.apply_model

    def interrupt_after_three(*args, **kwargs):
        if model_calls.count >= 2:
            mm.interrupt_current_processing(True)
        return original_apply(*args, **kwargs)

    patched = model.clone()
    patched.add_object_patch("apply_model", interrupt_after_three)
    try:
        with pytest.raises(mm.InterruptProcessingException):
            comfy_host.call_node("DInGKSampler", model=patched, seed=0, steps=10, cfg=1.0, scheduler="simple",
                                 positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                                 latent_image=latent, denoise=1.0, variant="ding", obs_std=OBS_STD, eta="square")
    finally:
        mm.interrupt_current_processing(False)
    # stopped within one or two calls of the request (0.8.0 checks one call earlier), far short of 19
    assert 2 <= model_calls.count <= 4


@pytest.mark.parametrize("inputs,fragment", [
    (dict(mask=torch.ones(3, 128, 128)), "batch"),
    (dict(mask=torch.ones(1, 1, 128, 128)), "mask"),
    (dict(pixels=torch.rand(1, 128, 128)), "pixels"),
    (dict(grow_mask_by=-1), "grow_mask_by"),
])
def test_encode_bad_input(ding_nodes, tiny_sd3, comfy_host, inputs, fragment):
    (_, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    args = dict(pixels=torch.rand(2, 128, 128, 3), mask=torch.ones(1, 128, 128), vae=vae, grow_mask_by=0)
    args.update(inputs)
    with pytest.raises(ValueError, match=fragment):
        comfy_host.call_node("DInGInpaintEncode", **args)
