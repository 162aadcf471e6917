"""The composite's colour match (ding_sampler.color): a tone cast of the generated image is removed
at the seam, an unshifted image is left alone, and pixels beyond the feather band stay the
original's bit for bit. No ComfyUI needed."""
import logging

import pytest
import torch

from ding_sampler.color import lab_to_srgb, match_colors, srgb_to_lab
from ding_sampler.masks import composite, feather_alpha, kept_ring, ring_width

LEVEL = 1 / 255  # one 8-bit level
GAIN = torch.tensor([1.08, 0.95, 0.90])    # a warm cast: red up, green and blue down
OFFSET = torch.tensor([0.03, -0.02, 0.04])


def scene(seed=0, batch=1, h=96, w=128):
    """original: smooth gradients plus texture; ideal: new content (another texture, another mean
    colour) inside a rectangle, the original elsewhere; mask: that rectangle."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    base = torch.stack([0.3 + 0.4 * xx, 0.5 + 0.3 * yy, 0.6 - 0.3 * xx * yy], -1)
    original = (base + 0.08 * torch.randn(batch, h, w, 3, generator=g)).clamp(0, 1)
    new = (0.4 + 0.15 * torch.randn(batch, h, w, 3, generator=g)).clamp(0, 1)
    mask = torch.zeros(batch, h, w)
    mask[:, 30:70, 40:90] = 1
    ideal = torch.where(mask[..., None] > 0, new, original)
    return original, ideal, mask


def cast(image):
    return (image * GAIN + OFFSET).clamp(0, 1)


def band_mean_error(out, original, mask, feather):
    """Length of the mean RGB difference (8-bit levels) over the feather band outside the mask."""
    band = (feather_alpha(mask, feather) > 0) & (mask == 0)
    assert band.sum() > 100
    return ((out - original)[band].mean(0) * 255).norm().item()


def test_lab_conversion_known_values_and_round_trip():
    lab = srgb_to_lab(torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]))
    torch.testing.assert_close(lab[0], torch.tensor([100.0, 0.0, 0.0]), atol=0.02, rtol=0)
    torch.testing.assert_close(lab[1], torch.zeros(3), atol=0.02, rtol=0)
    torch.testing.assert_close(lab[2], torch.tensor([53.24, 80.09, 67.20]), atol=0.05, rtol=0)  # sRGB red
    rgb = torch.rand(4, 32, 32, 3, generator=torch.Generator().manual_seed(1))
    assert (lab_to_srgb(srgb_to_lab(rgb)) - rgb).abs().max() < 1e-4


@pytest.mark.parametrize("feather", [2, 8, 16])
def test_tone_cast_is_removed_at_the_seam(feather):
    original, ideal, mask = scene()
    generated = cast(ideal)
    before = band_mean_error(composite(original, generated, mask, feather), original, mask, feather)
    after = band_mean_error(composite(original, generated, mask, feather, "mean-std"), original, mask, feather)
    print(f"feather {feather}: band mean colour error {before:.2f} -> {after:.2f} levels "
          f"({1 - after / before:.1%} less)")
    assert before > 5  # the cast is visible at the seam without colour match
    assert after <= 0.2 * before
    # inside the mask the new content moves toward its uncast colours too
    inside = mask > 0
    err = [((composite(original, generated, mask, feather, m) - ideal)[inside].mean(0)).norm().item()
           for m in ("off", "mean-std")]
    assert err[1] < 0.5 * err[0]


def test_unshifted_image_changes_less_than_one_level():
    original, ideal, mask = scene()
    plain = composite(original, ideal, mask, 8)
    matched = composite(original, ideal, mask, 8, "mean-std")
    change = (matched - plain).abs().max().item()
    print(f"unshifted: largest change {change / LEVEL:.4f} levels")
    assert change < LEVEL


@pytest.mark.parametrize("feather", [0, 3, 8])
def test_pixels_beyond_the_band_stay_bit_exact(feather):
    original, ideal, mask = scene(batch=2)
    out = composite(original, cast(ideal), mask, feather, "mean-std")
    outside = feather_alpha(mask, feather) == 0
    assert outside.sum() > 0.5 * outside.numel()
    assert torch.equal(out[outside], original[outside])


def test_default_off_is_bit_identical():
    original, ideal, mask = scene(batch=2)
    generated = cast(ideal)
    assert torch.equal(composite(original, generated, mask, 8), composite(original, generated, mask, 8, "off"))


def test_each_frame_is_matched_on_its_own():
    """A clip (batch of frames) with a different cast per frame: every frame is corrected."""
    original, ideal, mask = scene(batch=3)
    generated = ideal.clone()
    generated[0] = cast(ideal[0])
    generated[2] = (ideal[2] * 0.9).clamp(0, 1)
    out = composite(original, generated, mask, 8, "mean-std")
    plain = composite(original, generated, mask, 8)
    for f in (0, 2):
        assert (band_mean_error(out[f:f + 1], original[f:f + 1], mask[f:f + 1], 8)
                <= 0.2 * band_mean_error(plain[f:f + 1], original[f:f + 1], mask[f:f + 1], 8))
    assert (out[1] - plain[1]).abs().max() < LEVEL  # frame 1 had no cast


def test_ring_width_and_ring():
    assert ring_width(0) == 8 and ring_width(8) == 8 and ring_width(20) == 20
    mask = torch.zeros(1, 40, 40)
    mask[0, 10:20, 10:20] = 1
    ring = kept_ring(mask, 4)
    assert ring.sum() == 18 * 18 - 10 * 10
    assert not ring[0, 10:20, 10:20].any() and ring[0, 6, 6] and not ring[0, 5, 5]


@pytest.mark.parametrize("fill", [0.0, 1.0])
def test_all_zero_and_all_one_masks_are_safe(fill, caplog):
    original, ideal, _ = scene()
    generated = cast(ideal)
    mask = torch.full((1, 96, 128), fill)
    with caplog.at_level(logging.WARNING, logger="ding-inpaint"):
        out = composite(original, generated, mask, 8, "mean-std")
    assert torch.isfinite(out).all()
    # nothing repainted: the original; everything repainted: no kept ring, so no correction
    assert torch.equal(out, original if fill == 0 else composite(original, generated, mask, 8))
    assert ("no kept pixels" in caplog.text) == (fill == 1)


def test_sliver_ring_and_flat_colours_are_safe(caplog):
    original, ideal, _ = scene()
    mask = torch.ones(1, 96, 128)
    mask[0, 0, :5] = 0  # 5 kept pixels: too few to measure
    with caplog.at_level(logging.WARNING, logger="ding-inpaint"):
        out = composite(original, cast(ideal), mask, 8, "mean-std")
    assert "no kept pixels" in caplog.text and torch.isfinite(out).all()
    # a flat grey original and a flat generated image (std 0 on the ring): a pure mean shift
    flat, mask = torch.full((1, 32, 32, 3), 0.5), torch.zeros(1, 32, 32)
    mask[0, 8:24, 8:24] = 1
    out, skipped = match_colors(flat, torch.full_like(flat, 0.6), mask, kept_ring(mask, 8))
    assert skipped == [] and torch.isfinite(out).all()
    assert (out - 0.5).abs().max() < LEVEL


def test_bad_mode_and_grey_images_are_named():
    original, ideal, mask = scene()
    with pytest.raises(ValueError, match="color_match"):
        composite(original, ideal, mask, 8, "histogram")
    with pytest.raises(ValueError, match="color_match needs RGB"):
        composite(original[..., :1], ideal[..., :1], mask, 8, "mean-std")


def test_alpha_channel_is_kept():
    original, ideal, mask = scene()
    rgba_o = torch.cat([original, torch.ones_like(original[..., :1])], -1)
    rgba_g = torch.cat([cast(ideal), torch.full_like(ideal[..., :1], 0.5)], -1)
    out = composite(rgba_o, rgba_g, mask, 8, "mean-std")
    torch.testing.assert_close(out[..., 3], composite(rgba_o, rgba_g, mask, 8)[..., 3])
