"""LTX-Video under DInG in a real ComfyUI, with a tiny random-weight LTXV model and a tiny
LTX-Video VAE in one checkpoint, both built at test time from ComfyUI's own classes and
detected by CheckpointLoaderSimple (comfy_testbed/tiny_ltxv.py; family row "ltxv" in
comfy_testbed/families.py), on clips of 17 frames at 128x128 (latent [1, 128, 3, 4, 4]:
32x in space, 8x in time, the first frame alone).

LTXV reads the latent's noise_mask as a conditioning (LTXV.extra_conds -> ``denoise_mask``)
and gives every token the timestep ``mask * t`` (LTXV.process_timestep), right for ComfyUI's
own samplers, which keep the masked-out cells clean. DInG's state is noisy at level t in every
cell, so under DInG the network must see one timestep per batch item. The spy here wraps the
network's forward (comfy.ldm.lightricks.model.LTXVModel.forward) to see the timestep tensor it
really receives, after process_timestep.

Random weights do not denoise: what is checked is the model and VAE ComfyUI built, the
space-time mask rule against the real VAE's mapping (ratio 8 in time, 32 in space), the
timesteps the network sees, the kept region, the schedule, determinism and the shipped
LTX-Video workflow.
"""
from __future__ import annotations

import contextlib

import pytest
import torch

from comfy_testbed import comfy_harness, families, tiny_families, tiny_wan
from ding_sampler.masks import latent_frame_spans

ROW = families.family("ltxv")
STEPS = ROW.steps
CFG = ROW.cfg
OBS_STD = 0.01
FRAMES, SIZE = 17, 128                 # latent [1, 128, 3, 4, 4]
LATENT = (1, 128, 3, 4, 4)
RECT = dict(x=40, y=40, w=48, h=40)


@pytest.fixture(scope="session")
def tiny_ltxv_files(comfy_host):
    reason = families.missing_reason(ROW)
    if reason:
        pytest.skip(reason)
    files = families.write("ltxv", comfy_host.models_dir)
    comfy_host.timings["tiny LTXV write (s)"] = files.build_seconds
    for k, v in tiny_wan.make_test_nodes().items():  # DInGTestClipMask
        comfy_host.nodes.NODE_CLASS_MAPPINGS[k] = v
        comfy_host.nodes.NODE_DISPLAY_NAME_MAPPINGS[k] = k + " (test only)"
    return files


@pytest.fixture(scope="session")
def ltxv(comfy_host, tiny_ltxv_files):
    model, clip, vae = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_ltxv_files.ckpt_name)
    return model, vae


@contextlib.contextmanager
def network_spy():
    """Records (x shape, timestep) of every call of the LTXV network's forward, whatever the
    model instance: the timestep as the network receives it, after LTXV.process_timestep."""
    from comfy.ldm.lightricks.model import LTXVModel
    seen = []
    original = LTXVModel.forward

    def forward(self, x, timestep, *args, **kwargs):
        seen.append((tuple(x.shape), timestep.detach().float().clone()))
        return original(self, x, timestep, *args, **kwargs)

    LTXVModel.forward = forward
    try:
        yield seen
    finally:
        LTXVModel.forward = original


def ltxv_prompt(files, *, steps=STEPS, cfg=CFG, seed=3, variant="ding", only_frame=9, route="ksampler",
                sampler="ding"):
    """CheckpointLoaderSimple -> DInGInpaintEncode -> (DInG KSampler | SamplerCustomAdvanced with
    DInG Sampler | core KSampler) -> VAEDecode -> DInGComposite -> CreateVideo -> SaveVideo,
    LTX-Video-shaped test conditioning through LTXVConditioning (frame rate 25). The mask is
    the rectangle in pixel frame ``only_frame`` (9: latent frame 2; -1: every frame)."""
    p = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": files.ckpt_name}},
        "pos0": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": ROW.tokens, "family": "ltxv"}},
        "neg0": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": ROW.tokens, "family": "ltxv"}},
        "cond": {"class_type": "LTXVConditioning", "inputs": {"positive": ["pos0", 0], "negative": ["neg0", 0],
                                                             "frame_rate": 25.0}},
        "clip": {"class_type": "DInGTestClipMask", "inputs": {
            "frames": FRAMES, "width": SIZE, "height": SIZE, "seed": 0, "mask_kind": "rect",
            "mask_frames": "per_frame", "only_frame": only_frame, "stroke_width": 3, **RECT}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["clip", 0], "mask": ["clip", 1], "vae": ["ckpt", 2], "grow_mask_by": 0}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": ["ckpt", 2]}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["clip", 0], "generated": ["decode", 0], "mask": ["enc", 1], "feather": 4}},
        "video": {"class_type": "CreateVideo", "inputs": {"images": ["comp", 0], "fps": 25.0}},
        "save": {"class_type": "SaveVideo", "inputs": {"video": ["video", 0], "filename_prefix": "ding_ltxv",
                                                        "format": "auto", "codec": "auto"}},
    }
    if route == "ksampler" and sampler == "ding":
        p["ding"] = {"class_type": "DInGKSampler", "inputs": {
            "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": cfg, "scheduler": ROW.scheduler,
            "positive": ["cond", 0], "negative": ["cond", 1], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": OBS_STD, "eta": "square"}}
    elif route == "ksampler":  # ComfyUI's own sampler on the same masked latent
        p["ding"] = {"class_type": "KSampler", "inputs": {
            "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler,
            "scheduler": ROW.scheduler, "positive": ["cond", 0], "negative": ["cond", 1],
            "latent_image": ["enc", 0], "denoise": 1.0}}
    elif route == "custom_advanced":
        p.update({
            "guider": {"class_type": "CFGGuider", "inputs": {"model": ["ckpt", 0], "positive": ["cond", 0],
                                                              "negative": ["cond", 1], "cfg": cfg}},
            "sampler": {"class_type": "DInGSampler", "inputs": {"variant": variant, "obs_std": OBS_STD,
                                                                 "eta": "square"}},
            "sched": {"class_type": "LTXVScheduler", "inputs": {
                "steps": steps, "max_shift": 2.05, "base_shift": 0.95, "stretch": True, "terminal": 0.1,
                "latent": ["enc", 0]}},
            "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
            "ding": {"class_type": "SamplerCustomAdvanced", "inputs": {
                "noise": ["noise", 0], "guider": ["guider", 0], "sampler": ["sampler", 0],
                "sigmas": ["sched", 0], "latent_image": ["enc", 0]}},
        })
    else:
        raise ValueError(f"route: {route!r}")
    for key, src in (("encoded", ["enc", 0]), ("repaint", ["enc", 1]), ("latent", ["ding", 0]),
                     ("decoded", ["decode", 0]), ("composite", ["comp", 0]), ("original", ["clip", 0])):
        p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}
    if route == "custom_advanced":
        p["cap_sigmas"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["sched", 0], "key": "sigmas"}}
    return p


def model_space(x):
    return comfy_harness.model_space("LTXV", x)


def kept_and_free(captured):
    return comfy_harness.kept_and_free("LTXV", captured["encoded"], captured["latent"])[:2]


def token_mask(noise_mask: torch.Tensor) -> torch.Tensor:
    """The latent noise_mask [1, 1, T', h, w] in LTXV's token order (frame, row, column; patch 1)."""
    return noise_mask[0, 0].flatten().float()


# --------------------------------------------------------------------------- the files

def test_ltxv_is_detected_with_its_vae(comfy_host, ltxv, tiny_ltxv_files):
    import comfy.ldm.lightricks.vae.causal_video_autoencoder as cva
    import comfy.model_base
    import comfy.model_sampling
    import comfy.supported_models
    model, vae = ltxv
    assert isinstance(model.model, comfy.model_base.LTXV)
    assert type(model.model.model_config) is comfy.supported_models.LTXV
    assert type(model.model.model_config).__name__ == ROW.detected == tiny_ltxv_files.detected
    assert model.model.diffusion_model.inner_dim == tiny_ltxv_files.width
    sampling = model.get_model_object("model_sampling")
    assert isinstance(sampling, getattr(comfy.model_sampling, ROW.sampling))
    assert float(sampling.sigma_max) == pytest.approx(1.0)
    assert isinstance(vae.first_stage_model, cva.VideoVAE)
    assert vae.latent_dim == 3 and vae.latent_channels == ROW.channels
    assert vae.temporal_compression_decode() == ROW.time_ratio == 8
    assert vae.spacial_compression_encode() == ROW.space_ratio == 32
    assert tiny_ltxv_files.params < 1_500_000 and tiny_ltxv_files.vae_params < 20_000_000


# --------------------------------------------------------------------------- the VAE vs the mask rule

def test_ltxv_vae_time_mapping_matches_the_mask_rule(comfy_host, ltxv):
    """Perturbing pixel frame j changes no latent frame before the one the rule says covers j
    (latent_frame_spans with time ratio 8: 0 | 1-8 | 9-16) and does change that one."""
    _, vae = ltxv
    spans = latent_frame_spans(FRAMES, 8)
    assert spans == [(0, 1), (1, 9), (9, 17)]
    clip = tiny_wan.make_test_clip(FRAMES, 64, 64, seed=3)
    with torch.inference_mode():
        base = vae.encode(clip)
        assert base.shape == (1, 128, 3, 2, 2)
        for j in (0, 1, 4, 8, 9, 16):
            k = next(i for i, (a, b) in enumerate(spans) if a <= j < b)
            bumped = clip.clone()
            bumped[j, 16:48, 16:48] = 1.0 - bumped[j, 16:48, 16:48]
            z = vae.encode(bumped)
            assert torch.equal(z[:, :, :k], base[:, :, :k]), j
            assert (z[:, :, k] - base[:, :, k]).abs().max() > 1e-3, j
        # decoding: latent frame k decodes to the pixel frames of its span (1 + 8 (T'-1) frames)
        pixels = vae.decode(base).reshape(-1, 64, 64, 3)
        assert pixels.shape[0] == FRAMES
        for k, (a, b) in enumerate(spans):
            z = base.clone()
            z[:, :, k] += 2.0
            out = vae.decode(z).reshape(-1, 64, 64, 3)
            change = (out - pixels).abs().flatten(1).amax(1)
            assert all(change[f] > 1e-3 for f in range(a, b)), k


def test_ltxv_vae_space_grid_matches_the_mask_rule(comfy_host, ltxv):
    """32-px cells on the grid DInG Inpaint Encode assumes. On a 144x112 frame ComfyUI's VAE crops
    to 128x96 centred, as crop_offsets says (8 px off each side): the pixels outside that crop do
    not reach the latent at all, the first and last row and column inside it do. A block
    perturbed at cell (r, c) of the crop changes latent cell (r, c) and leaves the cells three
    or more columns away bit-identical (random 3x3 convolutions spread it over two neighbours).
    A mask dab inside that block repaints exactly that cell, and its 32x32 pixels."""
    from ding_sampler.masks import crop_offsets
    _, vae = ltxv
    H, W = 112, 144
    (top, left), (ch, cw) = crop_offsets((H, W), 32)
    assert (top, left, ch, cw) == (8, 8, 96, 128)
    image = tiny_wan.make_test_clip(1, W, H, seed=4)

    def flipped(rows=slice(None), cols=slice(None)):
        out = image.clone()
        out[:, rows, cols] = 1 - out[:, rows, cols]
        return out

    with torch.inference_mode():
        base = vae.encode(image)
        assert base.shape == (1, 128, 1, ch // 32, cw // 32)
        outside = flipped(slice(0, top))
        outside[:, top + ch:] = 0.0
        outside[:, :, :left] = 0.0
        outside[:, :, left + cw:] = 1.0
        assert torch.equal(vae.encode(outside), base)
        for rows, cols in ((slice(top, top + 1), slice(None)), (slice(top + ch - 1, top + ch), slice(None)),
                           (slice(None), slice(left, left + 1)), (slice(None), slice(left + cw - 1, left + cw))):
            assert not torch.equal(vae.encode(flipped(rows, cols)), base)
        for r, c in ((0, 0), (1, 0), (2, 3)):
            y, x = top + 32 * r, left + 32 * c
            change = (vae.encode(flipped(slice(y, y + 32), slice(x, x + 32))) - base).abs().sum(dim=1)[0, 0]
            assert change[r, c] > 0.5 * change.max(), (r, c)
            far = [j for j in range(change.shape[1]) if abs(j - c) >= 3]
            assert far and change[:, far].eq(0).all(), (r, c)
            mask = torch.zeros(1, H, W)
            mask[:, y + 12:y + 20, x + 12:x + 20] = 1.0                     # a dab inside the block
            latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=image, mask=mask, vae=vae,
                                                   grow_mask_by=0)
            nm = latent["noise_mask"][0, 0, 0]
            assert nm[r, c] == 1 and nm.sum() == 1, (r, c)
            assert repaint[0, y:y + 32, x:x + 32].eq(1).all() and repaint.sum() == 32 * 32


# --------------------------------------------------------------------------- the timesteps the network sees

@pytest.mark.parametrize("route", ["ksampler", "custom_advanced"])
def test_ltxv_network_sees_one_timestep_per_item_under_ding(comfy_host, tiny_ltxv_files, run_prompt, model_calls,
                                                            route):
    """Under DInG every network call sees one timestep value per batch item (all tokens equal):
    the sigma of that call, with latent frames 0 and 1 kept entirely and latent frame 2 kept
    outside the rectangle."""
    with network_spy() as seen:
        cap = run_prompt(ltxv_prompt(tiny_ltxv_files, route=route))["captured"]
    nm = cap["encoded"]["noise_mask"]
    assert nm[0, 0, :2].sum() == 0 and 0 < nm[0, 0, 2].sum() < nm[0, 0, 2].numel()
    assert len(seen) == 2 * STEPS - 1
    for i, (shape, t) in enumerate(seen):
        assert shape == (2,) + LATENT[1:], i   # cond + uncond batched
        rows = t.reshape(shape[0], -1)
        spread = float((rows.amax(dim=1) - rows.amin(dim=1)).max())
        assert spread == 0, (f"call {i}: the network got per-token timesteps (from {float(rows.min()):.4f} to "
                             f"{float(rows.max()):.4f}): the noise_mask reached LTXV.process_timestep under DInG")
    assert seen[0][1].flatten()[0] == pytest.approx(1.0)
    assert [float(t.flatten()[0]) for _, t in seen] == pytest.approx(model_calls.sigmas, abs=1e-6)


def test_ltxv_comfy_ksampler_keeps_per_token_timesteps(comfy_host, tiny_ltxv_files, run_prompt):
    """Host behaviour unchanged: ComfyUI's KSampler (euler) on the same masked latent still gives
    each token mask * t (kept tokens 0, repainted tokens t)."""
    with network_spy() as seen:
        cap = run_prompt(ltxv_prompt(tiny_ltxv_files, route="ksampler", sampler="euler"))["captured"]
    mask = token_mask(cap["encoded"]["noise_mask"])
    assert 0 < mask.sum() < mask.numel()
    assert len(seen) == STEPS
    shape, t = seen[0]
    rows = t.reshape(shape[0], -1)
    assert rows.shape == (2, mask.numel())
    for row in rows:  # first call: t = 1
        assert torch.allclose(row, mask)
    for _, t in seen:
        rows = t.reshape(2, -1)
        assert (rows[:, mask == 0] == 0).all() and (rows[:, mask == 1] > 0).all()


# --------------------------------------------------------------------------- the graph

@pytest.mark.parametrize("variant,calls", [("ding", 2 * STEPS - 1), ("ding1", STEPS)])
def test_ltxv_inpaint_graph_keeps_the_kept_region(comfy_host, tiny_ltxv_files, run_prompt, model_calls,
                                                  variant, calls):
    """The rectangle in every frame: calls as the schedule says (ding: 2 per step but the last;
    ding1: 1 per step) at ComfyUI's own sigmas for this model, kept cells within obs_std of
    the observation in model space, the rest repainted, a video saved."""
    import comfy.samplers
    cap_run = run_prompt(ltxv_prompt(tiny_ltxv_files, variant=variant, only_frame=-1))
    cap = cap_run["captured"]
    assert cap["encoded"]["samples"].shape == LATENT and cap["encoded"]["noise_mask"].shape == (1, 1) + LATENT[2:]
    assert cap["latent"]["samples"].shape == LATENT
    assert cap["decoded"].shape == (FRAMES, SIZE, SIZE, 3) == cap["composite"].shape
    assert model_calls.count == calls
    assert all(c.shape == (2,) + LATENT[1:] for c in model_calls.calls)
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_ltxv_files.ckpt_name)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), ROW.scheduler, STEPS)
    expected = sigmas[:-1].tolist() if variant == "ding1" else \
        [s for i in range(STEPS) for s in ((sigmas[i], sigmas[i + 1]) if i < STEPS - 1 else (sigmas[i],))]
    assert model_calls.sigmas == pytest.approx([float(s) for s in expected], abs=1e-5)
    kept, free = kept_and_free(cap)
    assert kept.numel() > 0 and kept.abs().max().item() <= OBS_STD
    assert free.numel() > 0 and free.abs().mean().item() > 0.1
    files = comfy_host.output_files(cap_run, "save")
    assert len(files) == 1 and files[0].stat().st_size > 0


def test_ltxv_ding_sampler_with_ltxv_scheduler(comfy_host, tiny_ltxv_files, run_prompt, model_calls):
    """DInG Sampler through SamplerCustomAdvanced on LTXVScheduler's sigmas (stretched to end at
    0.1): the model is called at those sigmas, the kept latent frames stay put."""
    cap = run_prompt(ltxv_prompt(tiny_ltxv_files, route="custom_advanced", variant="ding1"))["captured"]
    sigmas = cap["sigmas"]
    assert model_calls.count == STEPS
    assert model_calls.sigmas == pytest.approx([float(s) for s in sigmas[:-1]], abs=1e-5)
    kept, free = kept_and_free(cap)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1
    diff = model_space(cap["latent"]["samples"]) - model_space(cap["encoded"]["samples"])
    assert diff[:, :, :2].abs().max().item() <= OBS_STD     # latent frames 0 and 1: nothing masked


def test_ltxv_same_seed_same_output(comfy_host, tiny_ltxv_files, run_prompt):
    a = run_prompt(ltxv_prompt(tiny_ltxv_files, seed=11))["captured"]
    b = run_prompt(ltxv_prompt(tiny_ltxv_files, seed=11))["captured"]
    c = run_prompt(ltxv_prompt(tiny_ltxv_files, seed=12))["captured"]
    assert torch.equal(a["latent"]["samples"], b["latent"]["samples"])
    assert torch.equal(a["composite"], b["composite"])
    assert not torch.equal(a["latent"]["samples"], c["latent"]["samples"])


def test_ltxv_bad_clip_length_names_the_ratio(comfy_host, ltxv):
    _, vae = ltxv
    clip = tiny_wan.make_test_clip(13, 64, 64)
    mask = tiny_wan.make_clip_masks(1, 64, 64, "rect", x=16, y=16, w=24, h=24)
    with pytest.raises(ValueError, match=r"13 frames.*1 \+ 8\*n frames.*length 9"):
        comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=mask, vae=vae, grow_mask_by=0)


# --------------------------------------------------------------------------- LTXAV (audio + video)

@pytest.mark.parametrize("route", ["ksampler", "custom_advanced"])
def test_ltxv_ltxav_nested_audio_video_latent_is_refused(comfy_host, ltxv, model_calls, route):
    """ComfyUI 0.8.0's LTXVConcatAVLatent packs a video latent and an audio latent into one
    NestedTensor latent (what LTXAV, LTX-2, samples): DInG refuses it by name, in DInG KSampler
    (the nested latent) and in DInG Sampler under SamplerCustomAdvanced (ComfyUI packs it into
    one [B, 1, N] tensor before the sampler function), before any model call. A tiny LTXAV model
    is not needed for this; detection fixes LTXAV's audio width at 2048, ~159 M parameters even
    with one block."""
    if "LTXVConcatAVLatent" not in comfy_host.nodes.NODE_CLASS_MAPPINGS:
        pytest.skip("this ComfyUI has no LTXVConcatAVLatent (nested audio + video latents came with 0.8)")
    model, vae = ltxv
    clip = tiny_wan.make_test_clip(9, 64, 64)
    mask = tiny_wan.make_clip_masks(9, 64, 64, "rect", x=16, y=16, w=24, h=24)
    video, _ = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=mask, vae=vae, grow_mask_by=0)
    audio = {"samples": torch.zeros(1, 8, 16, 16), "type": "audio"}
    (av,) = comfy_host.call_node("LTXVConcatAVLatent", video_latent=video, audio_latent=audio)
    assert getattr(av["samples"], "is_nested", False)
    pos = tiny_families.family_conditioning("ltxv", 1)
    with pytest.raises(ValueError, match="nested latent"):
        if route == "ksampler":
            comfy_host.call_node("DInGKSampler", model=model, seed=0, steps=2, cfg=CFG, scheduler="simple",
                                 positive=pos, negative=pos, latent_image=av, denoise=1.0, variant="ding1",
                                 obs_std=OBS_STD, eta="ddpm")
        else:
            (guider,) = comfy_host.call_node("CFGGuider", model=model, positive=pos, negative=pos, cfg=CFG)
            (sampler,) = comfy_host.call_node("DInGSampler", variant="ding1", obs_std=OBS_STD, eta="ddpm")
            (sigmas,) = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=2, denoise=1.0)
            (noise,) = comfy_host.call_node("RandomNoise", noise_seed=0)
            comfy_host.call_node("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler,
                                 sigmas=sigmas, latent_image=av)
    assert model_calls.count == 0


# --------------------------------------------------------------------------- the shipped workflow

LTXV_WORKFLOW = "LTX-Video inpaint"  # example_workflows/api/<title>.api.json


def test_ltxv_shipped_workflow_executes_with_tiny_models(comfy_host, tiny_ltxv_files, run_prompt, model_calls):
    """The API twin of the shipped LTX-Video workflow, run as shipped except: text encoding
    replaced by LTX-Video-shaped test conditioning (no tiny T5), the tiny LTXV checkpoint instead
    of the real one, 3 steps, 17 frames at 128x128. Its mask video marks a box in frames 9-11
    only, so latent frames 0 and 1 are kept whole."""
    from ding_sampler.masks import feather_alpha
    p, by_type = comfy_harness.with_test_conditioning(comfy_harness.load_twin(LTXV_WORKFLOW), "ltxv",
                                                      ROW.tokens)
    (ckpt,), (sched,), (sc,), (sampler,) = (by_type[t] for t in ("CheckpointLoaderSimple", "LTXVScheduler",
                                                                  "SamplerCustom", "DInGSampler"))
    p[ckpt]["inputs"]["ckpt_name"] = tiny_ltxv_files.ckpt_name
    p[sched]["inputs"]["steps"] = 3
    for node_id in by_type["ImageFromBatch"]:
        p[node_id]["inputs"]["length"] = FRAMES
    for node_id in by_type["ImageScale"]:
        p[node_id]["inputs"].update(width=SIZE, height=SIZE)
    clip = tiny_wan.make_test_clip(FRAMES + 8, SIZE, SIZE, seed=5)
    box = torch.zeros(FRAMES + 8, SIZE, SIZE)
    for f in (9, 10, 11):
        box[f, 40:80, 30 + 6 * f:70 + 6 * f] = 1
    for node_id in by_type["LoadVideo"]:
        name = p[node_id]["inputs"]["file"]
        frames = box[..., None].expand(-1, -1, -1, 3) if "mask" in name else clip
        tiny_wan.write_test_video(comfy_host.input_dir / name, frames, fps=25)
    (enc,), (comp,), (save,) = by_type["DInGInpaintEncode"], by_type["DInGComposite"], by_type["SaveVideo"]
    for key, src in (("encoded", [enc, 0]), ("repaint", [enc, 1]), ("mask", p[enc]["inputs"]["mask"]),
                     ("original", p[comp]["inputs"]["original"]), ("composite", [comp, 0]),
                     ("latent", [sc, 0]), ("sigmas", [sched, 0])):
        p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}
    result = run_prompt(p)
    cap = result["captured"]
    variant = p[sampler]["inputs"]["variant"]
    assert model_calls.count == (2 * 3 - 1 if variant == "ding" else 3)
    assert model_calls.sigmas[0] == pytest.approx(float(cap["sigmas"][0]))
    assert torch.equal(cap["mask"] > 0.5, box[:FRAMES] > 0.5)  # the mask video, frame by frame (lossy)
    nm = cap["encoded"]["noise_mask"]
    assert nm.shape == (1, 1) + LATENT[2:] and nm[0, 0, :2].sum() == 0 and nm[0, 0, 2].sum() > 0
    diff = model_space(cap["latent"]["samples"]) - model_space(cap["encoded"]["samples"])
    assert diff[:, :, :2].abs().max().item() <= OBS_STD
    repaint, original, composite = cap["repaint"], cap["original"], cap["composite"]
    assert repaint.shape == (FRAMES, SIZE, SIZE) and repaint[:9].sum() == 0 and repaint[9:].sum() > 0
    feather = p[comp]["inputs"]["feather"]
    outside = (feather_alpha(repaint, feather) == 0)[..., None].expand_as(original)
    assert torch.equal(composite[outside], original[outside])
    assert torch.equal(composite[:9], original[:9])  # frames with nothing to repaint are the original
    saved = comfy_host.output_files(result, save)
    assert len(saved) == 1 and saved[0].stat().st_size > 0
    import av
    with av.open(str(saved[0])) as container:
        assert sum(1 for _ in container.decode(video=0)) == FRAMES
