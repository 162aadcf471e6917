"""Mask rule and composite math (no ComfyUI needed)."""
import pytest
import torch

from ding_sampler.masks import (
    batch_masks,
    check_image,
    composite,
    crop_offsets,
    dilate,
    feather_alpha,
    max_filter,
    latent_mask_from_pixels,
    pixel_mask_from_latent,
)


def test_thin_stroke_repaints_its_cell():
    """A 3-px stroke inside latent row 2 (pixels 16-23) marks that row; ComfyUI's
    point-sampling resize (bilinear at block centres) loses it."""
    mask = torch.zeros(1, 64, 64)
    mask[:, 16:19, :] = 1
    lat = latent_mask_from_pixels(mask, (8, 8))
    assert lat.shape == (1, 1, 8, 8)
    assert lat[0, 0, 2].eq(1).all()
    assert lat[0, 0, 5:].eq(0).all() and lat[0, 0, 0].eq(0).all()
    point_sampled = torch.nn.functional.interpolate(mask[:, None], size=(8, 8), mode="bilinear")
    assert point_sampled.max() == 0  # the stroke vanishes under ComfyUI's reshape


def test_mask_rule_is_conservative_and_tight():
    mask = torch.zeros(2, 64, 64)
    mask[0, 16:32, 16:32] = 1  # exactly cells (2..3, 2..3)
    lat = latent_mask_from_pixels(mask, (8, 8))
    repaint = lat[0, 0].nonzero().tolist()
    # covers the masked cells and at most one ring of neighbours
    assert {(r, c) for r in (2, 3) for c in (2, 3)} <= {tuple(p) for p in repaint}
    assert all(1 <= r <= 4 and 1 <= c <= 4 for r, c in repaint)
    assert lat[1].sum() == 0  # empty mask keeps everything


def test_soft_mask_below_threshold_keeps_cell():
    mask = torch.full((1, 16, 16), 0.01)
    assert latent_mask_from_pixels(mask, (2, 2)).sum() == 0
    mask = torch.full((1, 16, 16), 0.1)
    assert latent_mask_from_pixels(mask, (2, 2)).sum() == 4


def test_dilate_and_pixel_mask():
    m = torch.zeros(1, 9, 9)
    m[0, 4, 4] = 1
    assert dilate(m, 2).sum() == 25
    with pytest.raises(ValueError, match="pixels"):
        dilate(m, -1)
    up = pixel_mask_from_latent(torch.tensor([[[[1.0, 0.0]]]]), (8, 16))
    assert up.shape == (1, 8, 16) and up[0, :, :8].eq(1).all() and up[0, :, 8:].eq(0).all()


def test_crop_offsets_match_centred_crop():
    assert crop_offsets((70, 64), 8) == ((3, 0), (64, 64))


def test_feather_alpha_band():
    m = torch.zeros(1, 40, 40)
    m[0, 10:20, 10:20] = 1
    a = feather_alpha(m, 5)
    assert a[0, 10:20, 10:20].eq(1).all()
    assert a[0, 15, 25:].eq(0).all() and a[0, 15, :5].eq(0).all()  # beyond the band
    row = a[0, 15, 19:26]
    assert torch.all(row[1:] <= row[:-1]) and 0 < row[3] < 1


def test_composite_keeps_outside_bit_identical():
    g = torch.Generator().manual_seed(0)
    original = torch.rand(2, 37, 45, 3, generator=g)
    generated = torch.rand(2, 32, 40, 3, generator=g)  # VAE-cropped to multiples of 8
    mask = torch.zeros(2, 37, 45)
    mask[0, 10:20, 10:20] = 1
    mask[1, 5:8, :] = 1
    out = composite(original, generated, mask, feather=4)
    alpha = feather_alpha(mask, 4)
    outside = alpha == 0
    assert torch.equal(out[outside], original[outside])
    inside = mask > 0
    top, left = (37 - 32) // 2, (45 - 40) // 2
    gen_full = torch.zeros_like(original)
    gen_full[:, top:top + 32, left:left + 40] = generated
    crop_inside = inside.clone()
    crop_inside[:, :top] = False
    crop_inside[:, top + 32:] = False
    crop_inside[:, :, :left] = False
    crop_inside[:, :, left + 40:] = False
    assert torch.allclose(out[crop_inside], gen_full[crop_inside])


def test_composite_broadcasts_and_rejects_bad_input():
    original = torch.rand(1, 16, 16, 3)
    generated = torch.rand(3, 16, 16, 3)
    out = composite(original, generated, torch.ones(16, 16), feather=0)
    assert out.shape == (3, 16, 16, 3) and torch.equal(out, generated)
    with pytest.raises(ValueError, match="channels"):
        composite(original, torch.rand(1, 16, 16, 4), torch.ones(16, 16))
    with pytest.raises(ValueError, match="larger"):
        composite(original, torch.rand(1, 24, 16, 3), torch.ones(16, 16))
    with pytest.raises(ValueError, match="generated has 3 images but original has 2"):
        composite(torch.rand(2, 16, 16, 3), torch.rand(3, 16, 16, 3), torch.ones(16, 16))
    with pytest.raises(ValueError, match="mask has a batch of 3"):  # the mask is blamed, not original
        composite(torch.rand(2, 16, 16, 3), torch.rand(2, 16, 16, 3), torch.ones(3, 16, 16))
    with pytest.raises(ValueError, match="mask"):
        composite(original, original, torch.ones(1, 1, 16, 16))


@pytest.mark.parametrize("bad,fragment", [
    ("original", "original contains NaN"),
    ("generated", "generated contains NaN"),
    ("mask", "mask contains NaN"),
])
def test_composite_rejects_non_finite_inputs(bad, fragment):
    args = {"original": torch.rand(1, 16, 16, 3), "generated": torch.rand(1, 16, 16, 3),
            "repaint": torch.zeros(1, 16, 16)}
    args["repaint"][0, 4:8, 4:8] = 1
    key = "repaint" if bad == "mask" else bad
    args[key][0, 5, 5] = float("nan") if bad != "generated" else float("inf")
    with pytest.raises(ValueError, match=fragment):
        composite(args["original"], args["generated"], args["repaint"], feather=4)


@pytest.mark.parametrize("bad,shape,fragment", [
    ("original", (1, 0, 16, 3), "original is empty"),
    ("generated", (1, 16, 0, 3), "generated is empty"),
    ("generated", (0, 16, 16, 3), "generated is empty"),
    ("mask", (1, 0, 0), "mask is empty"),
    ("mask", (0, 16, 16), "mask is empty"),
])
def test_composite_rejects_empty_inputs(bad, shape, fragment):
    """Found by bench/fuzz.py: a 0-size image or mask reached torch's interpolate (a RuntimeError
    naming no input)."""
    args = {"original": torch.rand(1, 16, 16, 3), "generated": torch.rand(1, 16, 16, 3),
            "repaint": torch.ones(1, 16, 16)}
    args["repaint" if bad == "mask" else bad] = torch.zeros(shape)
    with pytest.raises(ValueError, match=fragment):
        composite(args["original"], args["generated"], args["repaint"], feather=4)


def test_empty_mask_and_image_are_named():
    with pytest.raises(ValueError, match="mask is empty"):
        batch_masks(torch.zeros(1, 0, 0), "mask", 1, (16, 16))
    with pytest.raises(ValueError, match="pixels is empty"):
        check_image(torch.zeros(0, 16, 16, 3), "pixels")


def _chebyshev_distance(mask):
    """Brute force: distance of every cell of a [H, W] mask to the nearest cell > 0."""
    ys, xs = torch.nonzero(mask > 0, as_tuple=True)
    yy, xx = torch.meshgrid(torch.arange(mask.shape[0]), torch.arange(mask.shape[1]), indexing="ij")
    d = torch.maximum((yy[..., None] - ys).abs(), (xx[..., None] - xs).abs())
    return d.min(-1).values


@pytest.mark.parametrize("feather", [2, 3, 5, 8, 13])
def test_feather_alpha_is_zero_exactly_beyond_the_band(feather):
    g = torch.Generator().manual_seed(feather)
    m = (torch.rand(1, 30, 34, generator=g) > 0.97).float()
    m[0, 12:15, 3:9] = 1
    alpha = feather_alpha(m, feather)[0]
    dist = _chebyshev_distance(m[0])
    assert torch.equal(alpha > 0, dist < feather)  # the band: 0 < distance < feather, nothing beyond
    assert alpha[dist == 0].eq(1).all()
    assert ((alpha >= 0) & (alpha <= 1)).all()


def test_max_filter_matches_naive_dilation():
    g = torch.Generator().manual_seed(3)
    m = torch.rand(2, 23, 31, generator=g) ** 4
    for r in (0, 1, 2, 3, 6, 7, 11, 40):
        assert torch.equal(max_filter(m, r), dilate(m, r))


def test_feather_keeps_soft_weights_inside():
    m = torch.zeros(1, 24, 24)
    m[0, 5:15, 5:15] = 0.5
    alpha = feather_alpha(m, 6)[0]
    assert alpha[5:15, 5:15].eq(0.5).all()
    outside = m[0] == 0
    assert alpha[outside].max() <= 0.5  # the band never exceeds the weight it fades from
    assert 0 < alpha[10, 19] and alpha[10, 20:].eq(0).all()  # distance 5 inside the band, 6 = feather beyond
