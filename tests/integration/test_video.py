"""Video inpainting with a tiny random-weight Wan 2.1 t2v model and a random Wan 2.1 VAE,
both built at test time from ComfyUI's own classes and detected by ComfyUI's loaders
(comfy_testbed/tiny_wan.py), on clips of 5 frames at 64x64 (latent [1, 16, 2, 8, 8]).

Random weights do not denoise: what is checked is the space-time mask, the temporal
mapping against ComfyUI's Wan VAE, the kept region, the schedule, determinism and the
per-frame composite.
"""
import pytest
import torch

from comfy_testbed import comfy_harness, tiny_families, tiny_wan
from ding_sampler.masks import (
    feather_alpha,
    latent_frame_spans,
    latent_mask_from_pixels,
)

STEPS = 4
OBS_STD = 0.01
FRAMES, SIZE = 5, 64
RECT = dict(x=16, y=16, w=24, h=24)
STROKE = dict(x=8, y=36, w=48, h=0, stroke_width=3)  # pixel rows 35-37: latent row 4


@pytest.fixture(scope="session")
def tiny_wan_files(comfy_host):
    files = tiny_wan.write_tiny_wan(comfy_host.models_dir)
    comfy_host.timings["tiny Wan write (s)"] = files.build_seconds
    for k, v in tiny_wan.make_test_nodes().items():
        comfy_host.nodes.NODE_CLASS_MAPPINGS[k] = v
        comfy_host.nodes.NODE_DISPLAY_NAME_MAPPINGS[k] = k + " (test only)"
    return files


@pytest.fixture(scope="session")
def wan(comfy_host, tiny_wan_files):
    (model,) = comfy_host.call_node("UNETLoader", unet_name=tiny_wan_files.unet_name, weight_dtype="default")
    (vae,) = comfy_host.call_node("VAELoader", vae_name=tiny_wan_files.vae_name)
    return model, vae


def video_prompt(files, *, frames=FRAMES, steps=STEPS, cfg=3.0, seed=3, variant="ding",
                 mask_kind="rect", mask_frames="per_frame", only_frame=-1, shape=None, grow=0,
                 feather=4, shift=None):
    """UNETLoader + VAELoader -> DInGInpaintEncode -> DInGKSampler -> VAEDecode -> DInGComposite
    -> CreateVideo -> SaveVideo, with the test clip and Wan-shaped conditioning."""
    shape = dict(RECT if mask_kind == "rect" else STROKE) if shape is None else shape
    shape.setdefault("stroke_width", 3)
    p = {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": files.unet_name, "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": files.vae_name}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": 32, "family": "wan"}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": 32, "family": "wan"}},
        "clip": {"class_type": "DInGTestClipMask", "inputs": {
            "frames": frames, "width": SIZE, "height": SIZE, "seed": 0, "mask_kind": mask_kind,
            "mask_frames": mask_frames, "only_frame": only_frame, **shape}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["clip", 0], "mask": ["clip", 1], "vae": ["vae", 0], "grow_mask_by": grow}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": ["unet", 0], "seed": seed, "steps": steps, "cfg": cfg, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": OBS_STD, "eta": "square"}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": ["vae", 0]}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["clip", 0], "generated": ["decode", 0], "mask": ["enc", 1], "feather": feather}},
        "video": {"class_type": "CreateVideo", "inputs": {"images": ["comp", 0], "fps": 16.0}},
        "save": {"class_type": "SaveVideo", "inputs": {"video": ["video", 0], "filename_prefix": "ding_video",
                                                        "format": "auto", "codec": "auto"}},
    }
    if shift is not None:
        p["shift"] = {"class_type": "ModelSamplingSD3", "inputs": {"model": ["unet", 0], "shift": shift}}
        p["ding"]["inputs"]["model"] = ["shift", 0]
    for key, src in (("encoded", ["enc", 0]), ("repaint", ["enc", 1]), ("latent", ["ding", 0]),
                     ("original", ["clip", 0]), ("decoded", ["decode", 0]), ("composite", ["comp", 0])):
        p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}
    return p


def model_space(x):
    return comfy_harness.model_space("Wan21", x)


def kept_and_free(captured):
    return comfy_harness.kept_and_free("Wan21", captured["encoded"], captured["latent"])


# --------------------------------------------------------------------------- the models

def test_tiny_wan_is_detected_as_wan21(comfy_host, wan, tiny_wan_files):
    import comfy.ldm.wan.vae
    import comfy.model_base
    import comfy.model_sampling
    import comfy.supported_models
    model, vae = wan
    assert isinstance(model.model, comfy.model_base.WAN21)
    assert type(model.model.model_config) is comfy.supported_models.WAN21_T2V
    sampling = model.get_model_object("model_sampling")
    assert isinstance(sampling, comfy.model_sampling.CONST) and sampling.shift == pytest.approx(8.0)
    assert isinstance(vae.first_stage_model, comfy.ldm.wan.vae.WanVAE)
    assert vae.latent_dim == 3 and vae.latent_channels == 16
    assert vae.temporal_compression_decode() == 4 and vae.spacial_compression_encode() == 8
    assert tiny_wan_files.unet_params < 1_000_000


def test_temporal_mapping_matches_wan_vae(comfy_host, wan):
    """Perturbing pixel frame j changes no latent frame before the one our rule says covers
    j and does change that one; perturbing latent frame k leaves every pixel frame before
    its span unchanged and changes the frames of its span. 9 frames at 32x32."""
    _, vae = wan
    assert tiny_wan.check_causal_frame_mapping(vae, frames=9, size=32, time_ratio=4) == (1, 16, 3, 4, 4)


# --------------------------------------------------------------------------- the graph

@pytest.mark.parametrize("variant,calls", [("ding", 2 * STEPS - 1), ("ding1", STEPS)])
def test_video_inpaint_graph_runs(comfy_host, tiny_wan_files, run_prompt, model_calls, variant, calls):
    result = run_prompt(video_prompt(tiny_wan_files, variant=variant))
    cap = result["captured"]
    enc = cap["encoded"]
    assert enc["samples"].shape == (1, 16, 2, 8, 8)
    assert enc["noise_mask"].shape == (1, 1, 2, 8, 8)
    assert cap["repaint"].shape == (FRAMES, SIZE, SIZE)
    assert cap["latent"]["samples"].shape == (1, 16, 2, 8, 8)
    assert cap["decoded"].shape == (FRAMES, SIZE, SIZE, 3) and cap["composite"].shape == (FRAMES, SIZE, SIZE, 3)
    assert model_calls.count == calls
    assert all(b == 2 for b in model_calls.batch_sizes)  # cond + uncond batched, one clip
    assert all(shape[2] == 2 for shape in (c.shape for c in model_calls.calls))  # 5-D, 2 latent frames
    assert model_calls.sigmas[0] == pytest.approx(1.0)
    kept, free, _ = kept_and_free(cap)
    assert kept.numel() > 0 and kept.abs().max().item() <= OBS_STD
    assert free.abs().mean().item() > 0.1
    files = comfy_host.output_files(result, "save")
    assert len(files) == 1 and files[0].exists() and files[0].stat().st_size > 0
    steps_seen = [p for p in result["progress"] if p["node"] == "ding"]
    assert [p["value"] for p in steps_seen] == list(range(1, STEPS + 1))


def test_mask_rule_in_space_and_time(comfy_host, tiny_wan_files, run_prompt):
    """The rectangle in every frame: both latent frames carry the image rule of the rectangle;
    the pixel repaint mask is that latent mask at pixel size in every frame."""
    cap = run_prompt(video_prompt(tiny_wan_files))["captured"]
    nm = cap["encoded"]["noise_mask"]
    rect = tiny_wan.make_clip_masks(1, SIZE, SIZE, "rect", **RECT)
    image_rule = latent_mask_from_pixels(rect, (8, 8))[0, 0]
    assert torch.equal(nm[0, 0, 0], image_rule) and torch.equal(nm[0, 0, 1], image_rule)
    expected_pixels = image_rule.repeat_interleave(8, 0).repeat_interleave(8, 1)
    for f in range(FRAMES):
        assert torch.equal(cap["repaint"][f], expected_pixels), f


@pytest.mark.parametrize("stroke_frame,latent_frame", [(3, 1), (0, 0)])
def test_stroke_in_one_frame_repaints_its_latent_frame(comfy_host, tiny_wan_files, run_prompt,
                                                       stroke_frame, latent_frame):
    cap = run_prompt(video_prompt(tiny_wan_files, mask_kind="stroke", only_frame=stroke_frame))["captured"]
    nm = cap["encoded"]["noise_mask"][0, 0]
    stroke = tiny_wan.make_clip_masks(1, SIZE, SIZE, "stroke", **STROKE)
    image_rule = latent_mask_from_pixels(stroke, (8, 8))[0, 0]
    assert image_rule[4].sum() >= 5  # the 3-px stroke marks its latent row
    other = 1 - latent_frame
    assert torch.equal(nm[latent_frame], image_rule) and nm[other].sum() == 0
    a, b = latent_frame_spans(FRAMES, 4)[latent_frame]
    rep = cap["repaint"]
    assert all(rep[f].sum() > 0 for f in range(a, b)) and all(rep[f].sum() == 0 for f in range(FRAMES)
                                                              if not a <= f < b)
    _, _, diff = kept_and_free(cap)
    cells = image_rule.bool()
    assert diff[0, :, other].abs().max().item() <= OBS_STD        # the other latent frame is kept
    assert diff[0, :, latent_frame][:, cells].abs().mean().item() > 0.1  # the stroke's cells repainted


def test_same_seed_same_output(comfy_host, tiny_wan_files, run_prompt):
    a = run_prompt(video_prompt(tiny_wan_files, seed=11))["captured"]
    b = run_prompt(video_prompt(tiny_wan_files, seed=11))["captured"]
    c = run_prompt(video_prompt(tiny_wan_files, seed=12))["captured"]
    assert torch.equal(a["latent"]["samples"], b["latent"]["samples"])
    assert torch.equal(a["composite"], b["composite"])
    assert not torch.equal(a["latent"]["samples"], c["latent"]["samples"])


def test_one_mask_for_all_frames_equals_per_frame(comfy_host, tiny_wan_files, run_prompt):
    one = run_prompt(video_prompt(tiny_wan_files, mask_frames="one"))["captured"]
    per = run_prompt(video_prompt(tiny_wan_files, mask_frames="per_frame"))["captured"]
    assert one["repaint"].shape == per["repaint"].shape == (FRAMES, SIZE, SIZE)
    assert torch.equal(one["encoded"]["noise_mask"], per["encoded"]["noise_mask"])
    assert torch.equal(one["repaint"], per["repaint"])
    assert torch.equal(one["latent"]["samples"], per["latent"]["samples"])
    assert torch.equal(one["composite"], per["composite"])


def test_composite_keeps_unmasked_pixels_in_every_frame(comfy_host, tiny_wan_files, run_prompt):
    feather = 6
    cap = run_prompt(video_prompt(tiny_wan_files, feather=feather, mask_kind="stroke",
                                  only_frame=2))["captured"]
    original, comp, decoded, repaint = cap["original"], cap["composite"], cap["decoded"], cap["repaint"]
    outside = (feather_alpha(repaint, feather) == 0)[..., None].expand_as(original)
    for f in range(FRAMES):
        assert outside[f].sum() > 0.3 * outside[f].numel(), f
        assert torch.equal(comp[f][outside[f]], original[f][outside[f]]), f
    inside = (repaint > 0)[..., None].expand_as(original)
    assert inside[1:5].any() and not inside[0].any()
    # inside the mask the composite is original + (decoded - original) * 1: decoded up to one float32
    # rounding of values in [0, 1] (at most 6e-8); torch.allclose's default atol (1e-8) fails on
    # decoded values near 0
    assert torch.allclose(comp[inside], decoded[inside], rtol=0, atol=1e-6), \
        (comp[inside] - decoded[inside]).abs().max().item()
    assert not torch.equal(decoded[outside], original[outside])  # the VAE round trip changed them
    # one mask for all frames gives the same composite as that mask repeated per frame
    m = repaint[2:3]
    (c1,) = comfy_host.call_node("DInGComposite", original=original, generated=decoded, mask=m, feather=feather)
    (cT,) = comfy_host.call_node("DInGComposite", original=original, generated=decoded,
                                 mask=m.expand(FRAMES, -1, -1).clone(), feather=feather)
    assert c1.shape == (FRAMES, SIZE, SIZE, 3) and torch.equal(c1, cT)


# --------------------------------------------------------------------------- sampling settings

def test_wan_shift_drives_the_schedule(comfy_host, tiny_wan_files, run_prompt, model_calls):
    """ding1 calls the model once per step at the step's sigma: the Wan default shift 8, or
    the shift a ModelSamplingSD3 node sets."""
    t = 1 - 1 / STEPS
    for shift in (None, 3.0):
        model_calls.reset()
        run_prompt(video_prompt(tiny_wan_files, variant="ding1", shift=shift))
        s = 8.0 if shift is None else shift
        assert model_calls.sigmas[0] == pytest.approx(1.0, abs=1e-4)
        assert model_calls.sigmas[1] == pytest.approx(s * t / (1 + (s - 1) * t), abs=2e-3), shift


def test_ding_sampler_in_sampler_custom_advanced(comfy_host, tiny_wan_files, run_prompt, model_calls):
    """DInG Sampler (SAMPLER) on the 5-D latent through SamplerCustomAdvanced, with the schedule
    of a ModelSamplingSD3 shift and BasicScheduler."""
    prompt = video_prompt(tiny_wan_files, shift=5.0)
    prompt.pop("ding")
    prompt.update({
        "guider": {"class_type": "CFGGuider", "inputs": {"model": ["shift", 0], "positive": ["pos", 0],
                                                          "negative": ["neg", 0], "cfg": 3.0}},
        "sampler": {"class_type": "DInGSampler", "inputs": {"variant": "ding", "obs_std": OBS_STD, "eta": "square"}},
        "sched": {"class_type": "BasicScheduler", "inputs": {"model": ["shift", 0], "scheduler": "simple",
                                                              "steps": STEPS, "denoise": 1.0}},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": 5}},
        "ding": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0],
            "sigmas": ["sched", 0], "latent_image": ["enc", 0]}},
    })
    cap = run_prompt(prompt)["captured"]
    assert model_calls.count == 2 * STEPS - 1
    t = 1 - 1 / STEPS
    assert sorted(set(model_calls.sigmas), reverse=True)[1] == pytest.approx(5 * t / (1 + 4 * t), abs=2e-3)
    assert cap["latent"]["samples"].shape == (1, 16, 2, 8, 8)
    kept, free, _ = kept_and_free(cap)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1


def test_preview_and_cancel_on_video_latents(comfy_host, tiny_wan_files, wan, model_calls):
    import comfy.model_management as mm
    import latent_preview
    from comfy.cli_args import LatentPreviewMethod, args
    model, vae = wan
    clip = tiny_wan.make_test_clip(FRAMES, SIZE, SIZE)
    masks = tiny_wan.make_clip_masks(FRAMES, SIZE, SIZE, "rect", **RECT)
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=masks, vae=vae, grow_mask_by=0)
    pos, neg = tiny_families.family_conditioning("wan", 1), tiny_families.family_conditioning("wan", 2)
    sample = dict(model=model, seed=0, steps=STEPS, cfg=3.0, scheduler="simple", positive=pos, negative=neg,
                  latent_image=latent, denoise=1.0, variant="ding", obs_std=OBS_STD, eta="square")
    old = args.preview_method
    n0 = len(comfy_host.progress_events)
    args.preview_method = LatentPreviewMethod.Latent2RGB
    try:
        assert latent_preview.get_previewer(model.load_device, model.model.latent_format) is not None
        comfy_host.call_node("DInGKSampler", **sample)
    finally:
        args.preview_method = old
    events = comfy_host.progress_events[n0:]
    assert [e["value"] for e in events] == list(range(1, STEPS + 1))
    assert all(e["preview"] for e in events)

    original_apply = model.model.apply_model

    def interrupt_after_two(*a, **kw):
        if model_calls.count >= 2:
            mm.interrupt_current_processing(True)
        return original_apply(*a, **kw)

    patched = model.clone()
    patched.add_object_patch("apply_model", interrupt_after_two)
    model_calls.reset()
    try:
        with pytest.raises(mm.InterruptProcessingException):
            comfy_host.call_node("DInGKSampler", **dict(sample, model=patched, steps=10))
    finally:
        mm.interrupt_current_processing(False)
    assert 2 <= model_calls.count <= 4  # far short of 19


# --------------------------------------------------------------------------- inputs

def test_single_frame_through_the_video_vae(comfy_host, wan):
    _, vae = wan
    clip = tiny_wan.make_test_clip(1, SIZE, SIZE)
    mask = tiny_wan.make_clip_masks(1, SIZE, SIZE, "rect", **RECT)
    latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=mask, vae=vae, grow_mask_by=0)
    assert latent["samples"].shape == (1, 16, 1, 8, 8) and latent["noise_mask"].shape == (1, 1, 1, 8, 8)
    assert repaint.shape == (1, SIZE, SIZE)


@pytest.mark.parametrize("frames,masks,fragment", [
    (6, 1, r"6 frames.*1 \+ 4\*n frames"),
    (8, 1, r"Image From Batch \(length 5\)"),
    (5, 3, "batch of 3"),
])
def test_bad_clips_are_named(comfy_host, wan, frames, masks, fragment):
    _, vae = wan
    clip = tiny_wan.make_test_clip(frames, SIZE, SIZE)
    mask = tiny_wan.make_clip_masks(masks, SIZE, SIZE, "rect", **RECT)
    with pytest.raises(ValueError, match=fragment):
        comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=mask, vae=vae, grow_mask_by=0)


def test_soft_mask_mode_and_empty_mask_on_clips(comfy_host, wan):
    _, vae = wan
    clip = tiny_wan.make_test_clip(FRAMES, SIZE, SIZE)
    grey = torch.zeros(FRAMES, SIZE, SIZE)
    grey[2, 16:32, 16:32] = 0.5  # cells (2..3, 2..3) of latent frame 1, at half strength
    latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=grey, vae=vae, grow_mask_by=0,
                                           mask_mode="soft")
    nm = latent["noise_mask"][0, 0]
    expected = torch.zeros(2, 8, 8)
    expected[1, 2:4, 2:4] = 0.5
    assert torch.equal(nm, expected)
    assert repaint[1:].amax() == 0.5 and repaint[0].sum() == 0
    hard, _ = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=grey, vae=vae, grow_mask_by=0)
    assert hard["noise_mask"][0, 0, 1, 2:4, 2:4].eq(1).all()
    with pytest.raises(ValueError, match="mask is empty"):
        comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=torch.zeros(1, SIZE, SIZE), vae=vae,
                             grow_mask_by=0)


def test_image_vae_keeps_4d_latents(comfy_host, tiny_sd3, wan):
    """An image VAE with the same batch of frames still encodes each frame as an image."""
    (_, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    clip = tiny_wan.make_test_clip(FRAMES, SIZE, SIZE)
    masks = tiny_wan.make_clip_masks(FRAMES, SIZE, SIZE, "stroke", only_frame=3, **STROKE)
    latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=masks, vae=vae, grow_mask_by=0)
    assert latent["samples"].shape == (FRAMES, 16, 8, 8)
    assert torch.equal(latent["noise_mask"], latent_mask_from_pixels(masks, (8, 8)))
    assert repaint.shape == (FRAMES, SIZE, SIZE) and repaint[3].sum() > 0 and repaint[[0, 1, 2, 4]].sum() == 0


# --------------------------------------------------------------------------- the shipped workflow

WAN_WORKFLOW = "Wan 2.1 video inpaint"  # example_workflows/api/<title>.api.json


def test_shipped_wan_workflow_executes_with_tiny_models(comfy_host, tiny_wan_files, run_prompt, model_calls):
    """The API twin of the shipped Wan workflow, run as shipped except: text encoding replaced by
    Wan-shaped test conditioning (no tiny umt5), the tiny Wan files instead of the real ones,
    3 steps, 5 frames at 64x64. Its mask video marks a box in frames 1-3 only."""
    p, by_type = comfy_harness.with_test_conditioning(comfy_harness.load_twin(WAN_WORKFLOW), "wan",
                                                      32)
    (unet,), (vae,), (ks,) = by_type["UNETLoader"], by_type["VAELoader"], by_type["DInGKSampler"]
    p[unet]["inputs"]["unet_name"] = tiny_wan_files.unet_name
    p[vae]["inputs"]["vae_name"] = tiny_wan_files.vae_name
    p[ks]["inputs"]["steps"] = 3
    for node_id in by_type["ImageFromBatch"]:
        p[node_id]["inputs"]["length"] = FRAMES
    for node_id in by_type["ImageScale"]:
        p[node_id]["inputs"].update(width=SIZE, height=SIZE)
    # the inputs: a 9-frame clip and a mask video with a box in frames 1-3
    box, files = tiny_wan.write_twin_clips(p, comfy_host.input_dir, SIZE)
    assert len(files) == 2
    (enc,), (comp,), (save,) = by_type["DInGInpaintEncode"], by_type["DInGComposite"], by_type["SaveVideo"]
    for key, src in (("encoded", [enc, 0]), ("repaint", [enc, 1]), ("mask", p[enc]["inputs"]["mask"]),
                     ("original", p[comp]["inputs"]["original"]), ("composite", [comp, 0])):
        p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}
    result = run_prompt(p)
    cap = result["captured"]
    variant = p[ks]["inputs"]["variant"]  # as shipped: 3 steps cost 2*3-1 calls with ding, 3 with ding1
    assert model_calls.count == (2 * 3 - 1 if variant == "ding" else 3)
    assert torch.equal(cap["mask"] > 0.5, box[:FRAMES] > 0.5)  # the mask video, frame by frame (lossy)
    nm = cap["encoded"]["noise_mask"]
    assert nm.shape == (1, 1, 2, 8, 8) and nm[0, 0, 0].sum() == 0 and nm[0, 0, 1].sum() > 0
    repaint, original, composite = cap["repaint"], cap["original"], cap["composite"]
    assert repaint.shape == (FRAMES, SIZE, SIZE) and repaint[0].sum() == 0
    feather = p[comp]["inputs"]["feather"]
    outside = (feather_alpha(repaint, feather) == 0)[..., None].expand_as(original)
    assert torch.equal(composite[outside], original[outside])
    assert torch.equal(composite[0], original[0])  # a frame with nothing to repaint is the original
    saved = comfy_host.output_files(result, save)
    assert len(saved) == 1 and saved[0].exists() and saved[0].stat().st_size > 0
    import av
    with av.open(str(saved[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
