"""What an artist meets: empty masks, soft masks as partial-strength edits, bad inputs named."""
import pytest
import torch

from comfy_testbed import tiny_models
from comfy_testbed.comfy_harness import PromptExecutionError

OBS_STD = 0.01


def _encode(comfy_host, vae, mask, pixels=None, **kw):
    pixels = tiny_models.make_test_image(128, 128, seed=4) if pixels is None else pixels
    args = dict(pixels=pixels, mask=mask, vae=vae, grow_mask_by=0)
    args.update(kw)
    return comfy_host.call_node("DInGInpaintEncode", **args)


def _sample(comfy_host, model, latent, **kw):
    args = dict(model=model, seed=7, steps=4, cfg=1.0, scheduler="simple",
                positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                latent_image=latent, denoise=1.0, variant="ding", obs_std=OBS_STD, eta="square")
    args.update(kw)
    return comfy_host.call_node("DInGKSampler", **args)[0]


def test_empty_mask_stops_before_any_model_call(ding_nodes, tiny_sd3, comfy_host, model_calls):
    (_, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    with pytest.raises(ValueError, match="mask is empty.*MaskEditor"):
        _encode(comfy_host, vae, torch.zeros(2, 128, 128), pixels=tiny_models.make_test_image(128, 128, batch=2))
    assert model_calls.count == 0


def test_load_image_without_painted_mask_is_explained(ding_nodes, tiny_sd3, comfy_host, run_prompt, model_calls):
    """An RGB file in Load Image (no alpha): LoadImage gives an empty mask; the run stops with the hint."""
    comfy_host.write_input_image("no_mask.png", tiny_models.make_test_image(128, 128, seed=1))
    prompt = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": tiny_sd3.ckpt_name}},
        "load": {"class_type": "LoadImage", "inputs": {"image": "no_mask.png"}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {"pixels": ["load", 0], "mask": ["load", 1],
                                                              "vae": ["ckpt", 2], "grow_mask_by": 6}},
        "cap": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "latent"}},
    }
    with pytest.raises(PromptExecutionError, match="Open in MaskEditor") as info:
        run_prompt(prompt)
    assert info.value.node_type == "DInGInpaintEncode" and info.value.exception_type.endswith("ValueError")
    assert model_calls.count == 0


def test_all_kept_latent_is_returned_without_a_model_call(ding_nodes, tiny_sd3, comfy_host, model_calls):
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    samples = torch.randn(1, 16, 16, 16, generator=torch.Generator().manual_seed(0))
    latent = {"samples": samples, "noise_mask": torch.zeros(1, 1, 16, 16)}
    out = _sample(comfy_host, model, latent)
    assert model_calls.count == 0 and torch.equal(out["samples"], samples)
    # the SAMPLER route too: SamplerCustomAdvanced with an all-kept mask makes no model call
    (sampler,) = comfy_host.call_node("DInGSampler", variant="ding", obs_std=OBS_STD, eta="square")
    (guider,) = comfy_host.call_node("CFGGuider", model=model, positive=tiny_models.sd3_conditioning(1),
                                     negative=tiny_models.sd3_conditioning(2), cfg=1.0)
    (noise,) = comfy_host.call_node("RandomNoise", noise_seed=3)
    (sigmas,) = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=4, denoise=1.0)
    out, _ = comfy_host.call_node("SamplerCustomAdvanced", noise=noise, guider=guider, sampler=sampler,
                                  sigmas=sigmas, latent_image=latent)
    assert model_calls.count == 0
    torch.testing.assert_close(out["samples"], samples, rtol=1e-5, atol=1e-5)


def test_soft_mask_is_a_partial_strength_edit(ding_nodes, tiny_sd3, comfy_host):
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    grey = torch.full((1, 128, 128), 0.5)
    soft_latent, soft_pixels = _encode(comfy_host, vae, grey, mask_mode="soft")
    weights = soft_latent["noise_mask"]
    assert ((weights > 0) & (weights < 1)).all()  # every cell strictly between keep and repaint
    torch.testing.assert_close(soft_pixels, torch.full_like(soft_pixels, 0.5))
    full_latent, _ = _encode(comfy_host, vae, torch.ones(1, 128, 128), mask_mode="soft")
    y = soft_latent["samples"]
    keep_all = {"samples": y, "noise_mask": torch.zeros_like(weights)}
    d_keep = (_sample(comfy_host, model, keep_all)["samples"] - y).abs().mean()
    d_soft = (_sample(comfy_host, model, soft_latent)["samples"] - y).abs().mean()
    d_full = (_sample(comfy_host, model, full_latent)["samples"] - y).abs().mean()
    assert d_keep == 0 and 0 < d_soft < d_full  # between the keep-all and the repaint-all results
    # the composite blends with the same soft weights
    generated = torch.zeros(1, 128, 128, 3)
    original = tiny_models.make_test_image(128, 128, seed=4)
    (comp,) = comfy_host.call_node("DInGComposite", original=original, generated=generated, mask=soft_pixels,
                                   feather=0)
    torch.testing.assert_close(comp, 0.5 * original)


def test_hard_mode_is_unchanged(ding_nodes, tiny_sd3, comfy_host):
    """mask_mode hard (the default) is the conservative rule, bit for bit, grey included."""
    from ding_sampler.masks import latent_mask_from_pixels
    (_, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    mask = tiny_models.make_test_mask(128, 128, kind="stroke", x=10, y=20, w=90, h=70, stroke_width=3)
    mask = torch.maximum(mask, torch.full_like(mask, 0.0).index_fill_(2, torch.arange(100, 110), 0.5))
    default, _ = _encode(comfy_host, vae, mask)
    hard, _ = _encode(comfy_host, vae, mask, mask_mode="hard")
    assert torch.equal(default["noise_mask"], hard["noise_mask"])
    assert torch.equal(hard["noise_mask"], latent_mask_from_pixels(mask, (16, 16)))


@pytest.mark.parametrize("node,bad,fragment", [
    ("DInGInpaintEncode", "pixels", "pixels contains NaN"),
    ("DInGInpaintEncode", "mask", "mask contains NaN"),
    ("DInGComposite", "original", "original contains NaN"),
    ("DInGComposite", "generated", "generated contains NaN"),
    ("DInGComposite", "mask", "mask contains NaN"),
])
def test_non_finite_inputs_are_named(ding_nodes, tiny_sd3, comfy_host, node, bad, fragment):
    (_, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    image = tiny_models.make_test_image(64, 64, seed=2)
    mask = tiny_models.make_test_mask(64, 64, kind="rect", x=8, y=8, w=16, h=16)
    if node == "DInGInpaintEncode":
        args = dict(pixels=image.clone(), mask=mask.clone(), vae=vae, grow_mask_by=0)
    else:
        args = dict(original=image.clone(), generated=image.clone(), mask=mask.clone(), feather=4)
    args[bad][0, 3, 5] = float("inf") if bad == "generated" else float("nan")
    with pytest.raises(ValueError, match=fragment):
        comfy_host.call_node(node, **args)


def test_composite_batch_mismatch_blames_the_mask(ding_nodes, comfy_host):
    image = tiny_models.make_test_image(32, 32, seed=2, batch=2)
    with pytest.raises(ValueError, match="mask has a batch of 3"):
        comfy_host.call_node("DInGComposite", original=image, generated=image, mask=torch.ones(3, 32, 32), feather=0)


def _cast_scene():
    """An original, an 'ideal' result (new content in a rectangle) and the ideal with a warm cast."""
    original = tiny_models.make_test_image(128, 128, seed=5)
    mask = tiny_models.make_test_mask(128, 128, kind="rect", x=40, y=36, w=48, h=40)
    new = tiny_models.make_test_image(128, 128, seed=6) * 0.6 + 0.2
    ideal = torch.where(mask[..., None] > 0, new, original)
    cast = (ideal * torch.tensor([1.08, 0.95, 0.90]) + torch.tensor([0.03, -0.02, 0.04])).clamp(0, 1)
    return original, ideal, cast, mask


def test_composite_color_match_removes_a_cast(ding_nodes, comfy_host):
    """Through the node: the cast's mean colour error over the feather band drops by 80 % or more,
    an uncast image moves by less than one 8-bit level, and the default (off) is bit-identical to
    leaving the input out (prompts saved before it existed)."""
    from ding_sampler.masks import feather_alpha
    original, ideal, cast, mask = _cast_scene()
    band = (feather_alpha(mask, 8) > 0) & (mask == 0)

    def comp(generated, **kw):
        return comfy_host.call_node("DInGComposite", original=original, generated=generated, mask=mask,
                                    feather=8, **kw)[0]

    def band_error(out):
        return ((out - original)[band].mean(0) * 255).norm().item()

    before, after = band_error(comp(cast)), band_error(comp(cast, color_match="mean-std"))
    print(f"band mean colour error {before:.2f} -> {after:.2f} levels")
    assert before > 5 and after <= 0.2 * before
    assert (comp(ideal, color_match="mean-std") - comp(ideal)).abs().max() < 1 / 255
    assert torch.equal(comp(cast, color_match="off"), comp(cast))
    outside = feather_alpha(mask, 8) == 0
    assert torch.equal(comp(cast, color_match="mean-std")[outside], original[outside])

