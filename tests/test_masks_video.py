"""Space-time latent mask rule for causal video VAEs (no ComfyUI needed).

Reference figures: the spatial rule downsizes the keep mask by 8 with PyTorch's antialiased
bilinear filter, a triangle of half-width 8 px around each cell centre (8j + 4). A 3-px
horizontal stroke on pixel rows 16-18 takes 1/8 * (0.4375 + 0.3125 + 0.1875) = 0.117 of
the weight of latent row 1 (keep 0.883 < 0.95: repainted), most of row 2 (repainted), and
nothing of row 3 (centre 28, more than 8 px away: kept). A square filling exactly one cell
gives each edge neighbour 1/8 of its weight (keep 0.875: repainted) and each diagonal
neighbour 1/64 (keep 0.984: kept).
"""
import pytest
import torch

from ding_sampler.masks import (
    latent_frame_spans,
    latent_mask_from_pixels,
    pixel_mask_from_video_latent,
    video_latent_mask_from_pixels,
)

H = W = 64
LATENT = (8, 8)
STROKE_ROWS = (16, 19)       # a 3-px stroke, pixel rows 16..18, full width
STROKE_LATENT_ROWS = {1, 2}  # repainted latent rows (see the module docstring)


def clip_with_stroke(frames, stroke_frames):
    m = torch.zeros(frames, H, W)
    for f in stroke_frames:
        m[f, STROKE_ROWS[0]:STROKE_ROWS[1], :] = 1
    return m


def repainted_rows(frame_mask):
    """Rows of an [h, w] latent mask that are repainted across the full width; asserts
    that every other row is fully kept (the stroke spans the width)."""
    rows = {r for r in range(frame_mask.shape[0]) if frame_mask[r].eq(1).all()}
    others = [r for r in range(frame_mask.shape[0]) if r not in rows]
    assert frame_mask[others].eq(0).all()
    return rows


def test_spans_wan():
    assert latent_frame_spans(1, 4) == [(0, 1)]
    assert latent_frame_spans(5, 4) == [(0, 1), (1, 5)]
    assert latent_frame_spans(9, 4) == [(0, 1), (1, 5), (5, 9)]
    assert latent_frame_spans(81, 4)[-1] == (77, 81) and len(latent_frame_spans(81, 4)) == 21
    assert latent_frame_spans(17, 8) == [(0, 1), (1, 9), (9, 17)]  # 8x VAEs (Cosmos, LTX)


@pytest.mark.parametrize("frames", [0, 2, 4, 6, 8])
def test_spans_reject_other_frame_counts(frames):
    with pytest.raises(ValueError, match=r"1 \+ 4\*n frames"):
        latent_frame_spans(frames, 4)


def test_image_rule_reference():
    """The per-frame rule the video rule builds on, at the reference stroke."""
    lat = latent_mask_from_pixels(clip_with_stroke(1, [0]), LATENT)
    assert repainted_rows(lat[0, 0]) == STROKE_LATENT_ROWS


@pytest.mark.parametrize("stroke_frame,latent_frame", [(0, 0), (1, 1), (3, 1), (4, 1), (5, 2), (8, 2)])
def test_stroke_in_one_frame_repaints_its_latent_frame_only(stroke_frame, latent_frame):
    lat = video_latent_mask_from_pixels(clip_with_stroke(9, [stroke_frame]), (3, *LATENT), 4)
    assert lat.shape == (1, 1, 3, 8, 8)
    for k in range(3):
        expected = STROKE_LATENT_ROWS if k == latent_frame else set()
        assert repainted_rows(lat[0, 0, k]) == expected, (stroke_frame, k)


def test_cell_kept_only_if_kept_in_every_covered_frame():
    """Two different small squares in frames 2 and 3 (both latent frame 1): latent frame 1
    repaints the union of their image-rule cells; latent frames 0 and 2 keep everything."""
    m = torch.zeros(9, H, W)
    m[2, 16:24, 16:24] = 1  # exactly cell (2, 2)
    m[3, 40:48, 40:48] = 1  # exactly cell (5, 5)
    lat = video_latent_mask_from_pixels(m, (3, *LATENT), 4)[0, 0]
    # image rule on an exactly aligned cell: the cell and its 4 edge neighbours
    sq = lambda r, c: {(r, c), (r - 1, c), (r + 1, c), (r, c - 1), (r, c + 1)}
    got = {tuple(p) for p in lat[1].nonzero().tolist()}
    assert got == sq(2, 2) | sq(5, 5)
    assert lat[0].sum() == 0 and lat[2].sum() == 0


def test_soft_values_follow_threshold_in_every_frame():
    faint = torch.full((5, H, W), 0.01)
    assert video_latent_mask_from_pixels(faint, (2, *LATENT), 4).sum() == 0
    faint[4, :8, :8] = 0.1  # one cell of one frame over the 5 % line: only that cell of latent frame 1
    lat = video_latent_mask_from_pixels(faint, (2, *LATENT), 4)[0, 0]
    assert {tuple(p) for p in lat[1].nonzero().tolist()} == {(0, 0)}
    assert lat[0].sum() == 0


def test_soft_rule_takes_the_largest_weight_over_covered_frames():
    """Soft rule: area-averaged weights per frame (a grey value filling exactly one cell gives
    that cell exactly its value), the largest over the frames of each latent frame."""
    m = torch.zeros(9, H, W)
    m[2, 16:24, 16:24] = 0.5   # cell (2, 2), latent frame 1
    m[3, 16:24, 16:24] = 0.25  # same cell, same latent frame: the larger weight wins
    m[6, 40:44, 40:48] = 1.0   # half of cell (5, 5), latent frame 2
    lat = video_latent_mask_from_pixels(m, (3, *LATENT), 4, soft=True)[0, 0]
    expected = torch.zeros(3, 8, 8)
    expected[1, 2, 2] = 0.5
    expected[2, 5, 5] = 0.5
    assert torch.equal(lat, expected)


def test_same_mask_every_frame_equals_image_rule():
    m = clip_with_stroke(5, range(5))
    lat = video_latent_mask_from_pixels(m, (2, *LATENT), 4)
    img = latent_mask_from_pixels(m[:1], LATENT)[0, 0]
    assert torch.equal(lat[0, 0, 0], img) and torch.equal(lat[0, 0, 1], img)


def test_latent_size_must_match_frames():
    with pytest.raises(ValueError, match="latent has 3"):
        video_latent_mask_from_pixels(torch.zeros(5, H, W), (3, *LATENT), 4)
    with pytest.raises(ValueError, match="frames"):
        video_latent_mask_from_pixels(torch.zeros(6, H, W), (2, *LATENT), 4)


def test_pixel_mask_per_frame():
    """Each pixel frame shows the latent frame covering it, at pixel size (rows 8..23 for the
    stroke: latent rows 1 and 2)."""
    lat = video_latent_mask_from_pixels(clip_with_stroke(9, [6]), (3, *LATENT), 4)
    pix = pixel_mask_from_video_latent(lat, 4, (H, W))
    assert pix.shape == (9, H, W)
    expected = torch.zeros(H, W)
    expected[8:24] = 1
    for f in range(9):
        assert torch.equal(pix[f], expected if 5 <= f <= 8 else torch.zeros(H, W)), f
    with pytest.raises(ValueError, match="latent mask"):
        pixel_mask_from_video_latent(lat[0], 4, (H, W))


@pytest.mark.parametrize("stroke_frame,latent_frame", [(0, 0), (1, 1), (8, 1), (9, 2), (16, 2)])
def test_ltx_video_ratios_time_8_space_32(stroke_frame, latent_frame):
    """LTX-Video's VAE (8 frames and 32x32 px per latent cell, first frame alone): 17 frames at
    128x128 make a [3, 4, 4] latent. A 3-px stroke on pixel rows 40-42 (centres 40.5-42.5) lies
    5.5-7.5 px from the centre of latent row 1 (48) and 24.5-26.5 px from row 0's (16): with the
    triangle of half-width 32 px it takes about 1/32 * (0.234 + 0.203 + 0.172) = 0.019 of row 0
    (keep 0.978, the kernel being cut at the top edge: kept) and 1/32 * (0.828 + 0.797 + 0.766) = 0.075 of row 1 (keep 0.925 < 0.95:
    repainted); row 2's centre (80) is more than 32 px away. Only the latent frame that
    covers the stroke's frame repaints it, and each pixel frame of that latent frame's span shows
    latent row 1 at pixel size (rows 32-63)."""
    frames, size = 17, 128
    m = torch.zeros(frames, size, size)
    m[stroke_frame, 40:43, :] = 1
    lat = video_latent_mask_from_pixels(m, (3, 4, 4), 8)
    assert lat.shape == (1, 1, 3, 4, 4)
    for k in range(3):
        assert repainted_rows(lat[0, 0, k]) == ({1} if k == latent_frame else set()), (stroke_frame, k)
    pix = pixel_mask_from_video_latent(lat, 8, (size, size))
    a, b = latent_frame_spans(frames, 8)[latent_frame]
    expected = torch.zeros(size, size)
    expected[32:64] = 1
    for f in range(frames):
        assert torch.equal(pix[f], expected if a <= f < b else torch.zeros(size, size)), f
