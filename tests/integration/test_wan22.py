"""Wan 2.2 TI2V-5B under DInG in a real ComfyUI, with a tiny random-weight diffusion model built
from ComfyUI's own WanModel that ComfyUI detects as WAN22_T2V (model class WAN22: 48 latent
channels; comfy_testbed.tiny_wan.write_tiny_wan22, family row "wan22").

WAN22 is mask-aware: it copies the latent's noise_mask into its conditioning and its
process_timestep gives every latent frame the timestep t * (the frame's mean mask), inside
apply_model. That is right for ComfyUI's own samplers, which keep the kept cells clean; under
DInG every cell is noisy at level t, so the network must see ONE timestep per batch item. The
spy here sits on the diffusion model's forward (WanModel.forward), after process_timestep, so it
sees the timestep the network really receives.

No tiny Wan 2.2 VAE: ComfyUI builds it at a fixed width whatever the file holds (705 M
parameters, 1.4 GB in fp16; see test_wan22_vae_layout_is_comfyuis_fixed_width). The sampler is
tested on latents built directly; DInG Inpaint Encode's space-time mask rule is tested on
ComfyUI's own Wan 2.2 VAE object built on the meta device (its ratios, 16x in space and 4x in
time), with a stand-in for the encoder network. The checks that need the real network (its
frame mapping, the end-to-end graph, the shipped workflow) run with a random full-size VAE when
DING_WAN22_VAE=1 is set (measured on 2 cores: 70 s idle, 3.5 min when shared; 6.5-7.5 GB peak
memory; a 1.4 GB file written at test time).
"""
import os

import pytest
import torch

from comfy_testbed import comfy_harness, families, tiny_families, tiny_wan
from ding_sampler.masks import feather_alpha, latent_mask_from_pixels

ROW = families.family("wan22")
STEPS = 4
CFG = 3.0
OBS_STD = 0.01
LATENT = (1, ROW.channels, 3, 8, 8)   # a 9-frame 128x128 clip under the Wan 2.2 VAE
FULL_VAE = os.environ.get("DING_WAN22_VAE") == "1"
FULL_VAE_REASON = ("the Wan 2.2 VAE ComfyUI builds has 705 M parameters whatever the file holds (a 1.4 GB "
                   "file, up to 7.5 GB peak memory, 70 s to 3.5 min on 2 cores): "
                   "set DING_WAN22_VAE=1 to run this check")
WAN22_WORKFLOW = "Wan 2.2 5B video inpaint"  # example_workflows/api/<title>.api.json


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def tiny_wan22_files(comfy_host):
    reason = families.missing_reason(ROW)
    if reason:
        pytest.skip(reason)
    files = families.write(ROW.name, comfy_host.models_dir)
    comfy_host.timings["tiny Wan 2.2 write (s)"] = files.build_seconds
    return files


@pytest.fixture(scope="session")
def wan22(comfy_host, tiny_wan22_files):
    (model,) = comfy_host.call_node("UNETLoader", unet_name=tiny_wan22_files.unet_name, weight_dtype="default")
    return model


class NetworkSpy:
    """Wraps comfy.ldm.wan.model.WanModel.forward (every instance) and records, per network call,
    the input shape and the timestep tensor the network receives (after process_timestep)."""

    def __init__(self):
        self.calls = []   # (x shape, timestep float32 copy)

    def __enter__(self):
        from comfy.ldm.wan.model import WanModel
        self._cls, self._orig = WanModel, WanModel.forward
        orig, calls = self._orig, self.calls

        def forward(module, x, timestep, *args, **kwargs):
            calls.append((tuple(x.shape), timestep.detach().float().cpu().clone()))
            return orig(module, x, timestep, *args, **kwargs)

        WanModel.forward = forward
        return self

    def __exit__(self, *exc):
        self._cls.forward = self._orig
        return False


def wan22_latent(seed=0):
    """LATENT whose model-space values are N(0, 1); noise_mask (1 = repaint): latent frame 0 kept,
    in the other frames the left half repainted and the right half kept."""
    from comfy.latent_formats import Wan22
    g = torch.Generator(device="cpu").manual_seed(seed)
    samples = Wan22().process_out(torch.randn(LATENT, generator=g))
    mask = torch.zeros(1, 1, *LATENT[2:])
    mask[:, :, 1:, :, : LATENT[-1] // 2] = 1.0
    return {"samples": samples, "noise_mask": mask}


def frame_means(mask):
    return mask.mean(dim=(0, 1, 3, 4))  # what WAN22.process_timestep scales each frame's t by


def conditioning():
    return (tiny_families.family_conditioning(ROW.conditioning, 1),
            tiny_families.family_conditioning(ROW.conditioning, 2))


def run(comfy_host, model, latent, route, variant="ding", seed=3, steps=STEPS):
    """One sampling run; route: 'ding_ksampler' (DInG KSampler), 'custom_advanced' (DInG Sampler
    through CFGGuider + BasicScheduler + SamplerCustomAdvanced) or 'ksampler' (core KSampler, euler)."""
    pos, neg = conditioning()
    if route == "ding_ksampler":
        (out,) = comfy_host.call_node(
            "DInGKSampler", model=model, seed=seed, steps=steps, cfg=CFG, scheduler="simple", positive=pos,
            negative=neg, latent_image=latent, denoise=1.0, variant=variant, obs_std=OBS_STD, eta="square")
    elif route == "custom_advanced":
        (guider,) = comfy_host.call_node("CFGGuider", model=model, positive=pos, negative=neg, cfg=CFG)
        (sampler,) = comfy_host.call_node("DInGSampler", variant=variant, obs_std=OBS_STD, eta="square")
        (sigmas,) = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=steps, denoise=1.0)
        (noise,) = comfy_host.call_node("RandomNoise", noise_seed=seed)
        out, _ = comfy_host.call_node("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler,
                                      sigmas=sigmas, latent_image=latent)
    elif route == "ksampler":
        (out,) = comfy_host.call_node(
            "KSampler", model=model, seed=seed, steps=steps, cfg=CFG, sampler_name="euler", scheduler="simple",
            positive=pos, negative=neg, latent_image=latent, denoise=1.0)
    else:
        raise ValueError(route)
    return out


def model_space(x):
    return comfy_harness.model_space("Wan22", x)


def kept_and_free(latent_in, latent_out):
    return comfy_harness.kept_and_free("Wan22", latent_in, latent_out)[:2]


ROUTES = [("ding_ksampler", "ding"), ("ding_ksampler", "ding1"), ("custom_advanced", "ding"),
          ("custom_advanced", "ding1")]


def expected_calls(variant, steps=STEPS):
    return 2 * steps - 1 if variant == "ding" else steps


# --------------------------------------------------------------------------- the model and the VAE

def test_wan22_tiny_model_is_detected_as_wan22(comfy_host, wan22, tiny_wan22_files):
    import comfy.latent_formats
    import comfy.model_base
    import comfy.model_sampling
    import comfy.supported_models
    assert type(wan22.model) is comfy.model_base.WAN22
    assert type(wan22.model.model_config).__name__ == ROW.detected == tiny_wan22_files.detected
    assert isinstance(wan22.model.latent_format, comfy.latent_formats.Wan22)
    assert wan22.model.latent_format.latent_channels == ROW.channels
    assert wan22.model.diffusion_model.patch_embedding.weight.shape[1] == ROW.channels
    assert wan22.model.diffusion_model.head.head.weight.shape[0] == ROW.channels * 4  # (1, 2, 2) patches
    sampling = wan22.get_model_object("model_sampling")
    assert isinstance(sampling, comfy.model_sampling.ModelSamplingDiscreteFlow)
    assert isinstance(sampling, comfy.model_sampling.CONST) and ROW.sampling == "CONST"
    assert sampling.shift == pytest.approx(wan22.model.model_config.sampling_settings["shift"])
    # the mask-aware timestep this file is about
    assert type(wan22.model).process_timestep is comfy.model_base.WAN22.process_timestep
    assert tiny_wan22_files.unet_params < 1_000_000


def test_wan22_vae_layout_is_comfyuis_fixed_width(comfy_host):
    """ComfyUI's own Wan 2.2 VAE (what VAELoader builds for a file with the Wan 2.2 keys):
    48 channels, 16x in space, 4x in time with the first frame alone, and a fixed width, so a
    file must hold all its ~705 M parameters. That is why this file has no tiny VAE."""
    import comfy.ldm.wan.vae2_2
    vae = tiny_wan.wan22_vae_on_meta()
    assert isinstance(vae.first_stage_model, comfy.ldm.wan.vae2_2.WanVAE)
    assert vae.latent_dim == 3 and vae.latent_channels == ROW.channels
    assert vae.spacial_compression_encode() == ROW.space_ratio
    assert vae.temporal_compression_decode() == ROW.time_ratio
    assert [vae.upscale_ratio[0](k) for k in (1, 2, 3)] == [1, 1 + ROW.time_ratio, 1 + 2 * ROW.time_ratio]
    assert [vae.downscale_ratio[0](f) for f in (1, 5, 9)] == [1, 2, 3]
    params = sum(torch.Size(s).numel() for s in tiny_wan.wan22_vae_shapes().values())
    comfy_host.timings["Wan 2.2 VAE parameters (M)"] = params / 1e6
    assert params > 400_000_000


class _StandInEncoder:
    """vae.encode for the meta-device Wan 2.2 VAE: records the pixels it gets and returns a latent of
    the shape ComfyUI's encode gives, from the VAE's own downscale ratios."""

    def __init__(self, vae):
        self.vae, self.seen = vae, []

    def __call__(self, pixels):
        self.seen.append(pixels.clone())
        t, s_h, s_w = self.vae.downscale_ratio
        frames, h, w = pixels.shape[0], pixels.shape[1] // s_h, pixels.shape[2] // s_w
        g = torch.Generator(device="cpu").manual_seed(0)
        return torch.randn(1, self.vae.latent_channels, t(frames), h, w, generator=g)


def test_wan22_encode_uses_the_vae_ratios(comfy_host):
    """DInG Inpaint Encode on a 9-frame 72x80 clip with ComfyUI's Wan 2.2 VAE: the clip is cropped to
    the 16-px grid (64x80, 4 rows off the top), latent frame k covers pixel frames 1+4(k-1)..4k,
    and the latent mask and the pixel repaint mask use 16-px cells. Expected masks by hand."""
    vae = tiny_wan.wan22_vae_on_meta()
    encoder = _StandInEncoder(vae)
    vae.encode = encoder
    clip = tiny_wan.make_test_clip(9, 80, 72, seed=4)
    mask = torch.zeros(9, 72, 80)
    mask[3, 4 + 20:4 + 23, 8:56] = 1.0   # a 3-px stroke in frame 3: crop rows 20-22 -> latent row 1, cols 0-3
    mask[8, 4 + 40:4 + 60, 40:72] = 1.0  # a box in frame 8: crop rows 40-59, cols 40-71 -> rows 2-3, cols 2-4
    latent, repaint = comfy_host.call_node("DInGInpaintEncode", pixels=clip, mask=mask, vae=vae, grow_mask_by=0)
    (seen,) = encoder.seen
    assert torch.equal(seen, clip[:, 4:68, :, :3])
    assert latent["samples"].shape == (1, 48, 3, 4, 5)
    expected = torch.zeros(3, 4, 5)
    expected[1, 1, 0:4] = 1
    expected[2, 2:4, 2:5] = 1
    assert torch.equal(latent["noise_mask"][0, 0].cpu(), expected)
    assert repaint.shape == (9, 72, 80)
    for f in range(9):
        k = 0 if f == 0 else (f - 1) // 4 + 1
        pixels = torch.zeros(72, 80)
        pixels[4:68] = expected[k].repeat_interleave(16, 0).repeat_interleave(16, 1)
        assert torch.equal(repaint[f], pixels), f
    with pytest.raises(ValueError, match=r"8 frames.*1 \+ 4\*n"):
        comfy_host.call_node("DInGInpaintEncode", pixels=clip[:8], mask=mask[:8], vae=vae, grow_mask_by=0)
    with pytest.raises(ValueError, match="at least 16x16"):
        comfy_host.call_node("DInGInpaintEncode", pixels=clip[:, :8, :8], mask=mask[:, :8, :8], vae=vae,
                             grow_mask_by=0)


# --------------------------------------------------------------------------- timesteps under DInG

@pytest.mark.parametrize("route,variant", ROUTES)
def test_wan22_ding_network_sees_one_timestep_per_item(comfy_host, wan22, model_calls, route, variant):
    """Under DInG every network call gets one timestep per batch item, the step's sigma x 1000, even
    though the latent's noise_mask keeps latent frame 0 and half of the others."""
    latent = wan22_latent()
    assert frame_means(latent["noise_mask"]).tolist() == [0.0, 0.5, 0.5]
    with NetworkSpy() as spy:
        run(comfy_host, wan22, latent, route, variant)
    assert len(spy.calls) == model_calls.count == expected_calls(variant)
    for (shape, t), call in zip(spy.calls, model_calls.calls):
        assert shape[0] == 2 and shape[2:] == LATENT[2:]  # cond + uncond batched, the 5-D latent
        sigma_t = 1000 * torch.tensor(call.sigmas)
        assert t.numel() == shape[0], f"per-frame timesteps {t.tolist()} at sigma {call.sigmas}"
        assert torch.allclose(t.flatten(), sigma_t, rtol=1e-5, atol=1e-3), (t.tolist(), call.sigmas)
    assert spy.calls[0][1].flatten()[0] == pytest.approx(1000.0)


def test_wan22_comfy_ksampler_keeps_per_frame_timesteps(comfy_host, wan22, model_calls):
    """ComfyUI's own KSampler (euler) on the same latent and noise_mask: the host behaviour is
    unchanged, each latent frame gets t x (its mean mask): 0 for the kept first frame."""
    latent = wan22_latent()
    means = frame_means(latent["noise_mask"])
    with NetworkSpy() as spy:
        run(comfy_host, wan22, latent, "ksampler")
    assert len(spy.calls) == model_calls.count == STEPS
    for (shape, t), call in zip(spy.calls, model_calls.calls):
        assert t.shape == (shape[0], LATENT[2])
        expected = 1000 * torch.tensor(call.sigmas)[:, None] * means[None]
        assert torch.allclose(t, expected, rtol=1e-5, atol=1e-3), (t.tolist(), call.sigmas)
    assert spy.calls[0][1][0].tolist() == pytest.approx([0.0, 500.0, 500.0])


# --------------------------------------------------------------------------- DInG on Wan 2.2

@pytest.mark.parametrize("route,variant", ROUTES)
def test_wan22_ding_keeps_the_kept_region(comfy_host, wan22, model_calls, route, variant):
    latent = wan22_latent()
    out = run(comfy_host, wan22, latent, route, variant)
    assert model_calls.count == expected_calls(variant)
    assert out["samples"].shape == LATENT
    kept, free = kept_and_free(latent, out)
    assert kept.numel() == 48 * (64 + 2 * 32) and kept.abs().max().item() <= OBS_STD
    assert free.abs().mean().item() > 0.1


@pytest.mark.parametrize("route", ["ding_ksampler", "custom_advanced"])
def test_wan22_same_seed_same_output(comfy_host, wan22, route):
    latent = wan22_latent()
    a = run(comfy_host, wan22, latent, route, seed=11)["samples"]
    b = run(comfy_host, wan22, latent, route, seed=11)["samples"]
    c = run(comfy_host, wan22, latent, route, seed=12)["samples"]
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


# --------------------------------------------------------------------------- with a full-size random VAE (opt-in)

@pytest.fixture(scope="session")
def wan22_vae(comfy_host):
    """The random full-size Wan 2.2 VAE file (vae/). Only its path: each test loads it and lets it
    go, so that at most one 2.8 GB copy is alive at a time."""
    if not FULL_VAE:
        pytest.skip(FULL_VAE_REASON)
    import time
    t0 = time.perf_counter()
    path = tiny_wan.write_wan22_vae(comfy_host.models_dir)
    comfy_host.timings["Wan 2.2 random VAE write (s)"] = time.perf_counter() - t0
    for k, v in tiny_wan.make_test_nodes().items():
        comfy_host.nodes.NODE_CLASS_MAPPINGS[k] = v
        comfy_host.nodes.NODE_DISPLAY_NAME_MAPPINGS[k] = k + " (test only)"
    return path


def test_wan22_vae_frame_mapping_matches_the_rule(comfy_host, wan22_vae):
    """The real Wan 2.2 VAE network: perturbing pixel frame j changes no latent frame before the one
    our rule says covers j and does change that one; perturbing latent frame k leaves every pixel
    frame before its span unchanged and changes the frames of its span. 9 frames at 32x32."""
    import time
    import comfy.ldm.wan.vae2_2
    t0 = time.perf_counter()
    (vae,) = comfy_host.call_node("VAELoader", vae_name=wan22_vae.name)
    comfy_host.timings["Wan 2.2 random VAE load (s)"] = time.perf_counter() - t0
    assert isinstance(vae.first_stage_model, comfy.ldm.wan.vae2_2.WanVAE)
    assert tiny_wan.check_causal_frame_mapping(vae, frames=9, size=32, time_ratio=ROW.time_ratio) == \
        (1, 48, 3, 2, 2)


def _capture(p, key, src):
    p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}


def test_wan22_inpaint_graph_end_to_end(comfy_host, tiny_wan22_files, wan22_vae, run_prompt, model_calls):
    """DInG Inpaint Encode -> DInG KSampler -> VAE Decode -> DInG Inpaint Composite on a 5-frame
    64x64 clip (latent [1, 48, 2, 4, 4]) with a rectangle in every frame."""
    path = wan22_vae
    frames, size = 5, 64
    p = {
        "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": tiny_wan22_files.unet_name,
                                                         "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": path.name}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": ROW.tokens, "family": "wan"}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": ROW.tokens, "family": "wan"}},
        "clip": {"class_type": "DInGTestClipMask", "inputs": {
            "frames": frames, "width": size, "height": size, "seed": 0, "mask_kind": "rect",
            "mask_frames": "per_frame", "only_frame": -1, "x": 16, "y": 16, "w": 24, "h": 24, "stroke_width": 3}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["clip", 0], "mask": ["clip", 1], "vae": ["vae", 0], "grow_mask_by": 0}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": ["unet", 0], "seed": 3, "steps": STEPS, "cfg": CFG, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": "ding", "obs_std": OBS_STD, "eta": "square"}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": ["vae", 0]}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["clip", 0], "generated": ["decode", 0], "mask": ["enc", 1], "feather": 8}},
        "save": {"class_type": "PreviewImage", "inputs": {"images": ["comp", 0]}},
    }
    for key, src in (("encoded", ["enc", 0]), ("repaint", ["enc", 1]), ("latent", ["ding", 0]),
                     ("original", ["clip", 0]), ("decoded", ["decode", 0]), ("composite", ["comp", 0])):
        _capture(p, key, src)
    with NetworkSpy() as spy:
        cap = run_prompt(p)["captured"]
    enc = cap["encoded"]
    assert enc["samples"].shape == (1, 48, 2, 4, 4) and enc["noise_mask"].shape == (1, 1, 2, 4, 4)
    rect = tiny_wan.make_clip_masks(1, size, size, "rect", x=16, y=16, w=24, h=24)
    expected = latent_mask_from_pixels(rect, (4, 4))[0, 0]  # the image rule on 16-px cells
    assert expected[1:3, 1:3].eq(1).all()  # pixels 16-39: cells 1-2
    for k in range(2):
        assert torch.equal(enc["noise_mask"][0, 0, k].cpu(), expected), k
    assert model_calls.count == 2 * STEPS - 1
    assert all(t.numel() == shape[0] for shape, t in spy.calls)  # one timestep per item
    kept, free = kept_and_free(enc, cap["latent"])
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1
    original, comp, decoded, repaint = cap["original"], cap["composite"], cap["decoded"], cap["repaint"]
    assert decoded.shape == comp.shape == (frames, size, size, 3)
    outside = (feather_alpha(repaint, 8) == 0)[..., None].expand_as(original)
    assert outside.any() and torch.equal(comp[outside], original[outside])
    inside = (repaint > 0)[..., None].expand_as(original)
    # decoded up to one float32 rounding of values in [0, 1] (see test_video.py)
    assert torch.allclose(comp[inside], decoded[inside], rtol=0, atol=1e-6), \
        (comp[inside] - decoded[inside]).abs().max().item()


def test_wan22_shipped_workflow_executes_with_tiny_models(comfy_host, tiny_wan22_files, wan22_vae, run_prompt,
                                                          model_calls):
    """The API twin of the shipped Wan 2.2 workflow as shipped except: text encoding replaced by
    Wan-shaped test conditioning, the tiny Wan 2.2 model and the random full-size VAE, 3 steps,
    5 frames at 64x64. Its mask video marks a box in frames 1-3 only."""
    vae_path = wan22_vae
    p, by_type = comfy_harness.with_test_conditioning(comfy_harness.load_twin(WAN22_WORKFLOW), "wan",
                                                      ROW.tokens)
    (unet,), (vae,), (ks,) = by_type["UNETLoader"], by_type["VAELoader"], by_type["DInGKSampler"]
    p[unet]["inputs"]["unet_name"] = tiny_wan22_files.unet_name
    p[vae]["inputs"]["vae_name"] = vae_path.name
    p[ks]["inputs"]["steps"] = 3
    frames, size = 5, 64
    for node_id in by_type["ImageFromBatch"]:
        p[node_id]["inputs"]["length"] = frames
    for node_id in by_type["ImageScale"]:
        p[node_id]["inputs"].update(width=size, height=size)
    tiny_wan.write_twin_clips(p, comfy_host.input_dir, size)
    (enc,), (comp,), (save,) = by_type["DInGInpaintEncode"], by_type["DInGComposite"], by_type["SaveVideo"]
    for key, src in (("encoded", [enc, 0]), ("repaint", [enc, 1]), ("original", p[comp]["inputs"]["original"]),
                     ("composite", [comp, 0])):
        _capture(p, key, src)
    with NetworkSpy() as spy:
        result = run_prompt(p)
    cap = result["captured"]
    variant = p[ks]["inputs"]["variant"]
    assert model_calls.count == expected_calls(variant, 3)
    assert all(t.numel() == shape[0] for shape, t in spy.calls)
    nm = cap["encoded"]["noise_mask"]
    assert nm.shape == (1, 1, 2, 4, 4) and nm[0, 0, 0].sum() == 0 and nm[0, 0, 1].sum() > 0
    repaint, original, composite = cap["repaint"], cap["original"], cap["composite"]
    assert repaint.shape == (frames, size, size) and repaint[0].sum() == 0
    outside = (feather_alpha(repaint, p[comp]["inputs"]["feather"]) == 0)[..., None].expand_as(original)
    assert torch.equal(composite[outside], original[outside])
    assert torch.equal(composite[0], original[0])
    saved = comfy_host.output_files(result, save)
    assert len(saved) == 1 and saved[0].stat().st_size > 0
