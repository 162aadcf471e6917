"""Pixel and latent masks, and the pixel-space composite. Pure PyTorch.

Conventions: masks here are "repaint" masks (1 = regenerate, ComfyUI's MASK
convention) of shape [B, H, W] unless a name says ``keep``; images are
ComfyUI IMAGE tensors [B, H, W, C] in [0, 1].
"""
from __future__ import annotations

import logging
from typing import Optional, Tuple

import torch
import torch.nn.functional as F

from .color import COLOR_MATCH_MODES, match_colors

log = logging.getLogger("ding-inpaint")

KEEP_THRESHOLD = 0.95
MIN_RING = 8  # the colour match's ring: max(feather, MIN_RING) px around the mask


def batch_masks(mask: torch.Tensor, name: str = "mask", batch: Optional[int] = None,
                size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """A MASK input ([H, W] or [B, H, W], values in [0, 1]) as a float [B, H, W] tensor.

    With ``batch`` the mask must hold 1 or ``batch`` masks and is expanded to ``batch``; with
    ``size`` it is resized to that (H, W). Raises ValueError naming ``name`` otherwise.
    """
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a MASK tensor [H, W] or [B, H, W], got {got}")
    if mask.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(mask.shape)}): expected at least one mask of at least "
                         "1x1 pixels")
    mask = mask.float()
    if mask.ndim == 2:
        mask = mask[None]
    if not torch.isfinite(mask).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    if batch is not None and mask.shape[0] not in (1, batch):
        raise ValueError(f"{name} has a batch of {mask.shape[0]} masks; expected 1 (one for all "
                         f"images) or {batch} (one per image)")
    if size is not None:
        mask = resize_mask(mask.clamp(0, 1), size)
    return mask if batch is None else mask.expand(batch, -1, -1)


def dilate(mask: torch.Tensor, pixels: int) -> torch.Tensor:
    """Square dilation of a [B, H, W] mask by ``pixels`` (separable max filter)."""
    if pixels < 0:
        raise ValueError(f"grow/feather must be >= 0 pixels, got {pixels}")
    if pixels == 0:
        return mask
    k = 2 * pixels + 1
    m = mask[:, None]
    m = F.max_pool2d(m, (1, k), stride=1, padding=(0, pixels))
    m = F.max_pool2d(m, (k, 1), stride=1, padding=(pixels, 0))
    return m[:, 0]


def resize_mask(mask: torch.Tensor, size: Tuple[int, int]) -> torch.Tensor:
    """Bilinear resize of a [B, H, W] mask to ``size`` (no-op at the same size)."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    return F.interpolate(mask[:, None], size=size, mode="bilinear", align_corners=False)[:, 0].clamp(0, 1)


def latent_mask_from_pixels(repaint: torch.Tensor, latent_size: Tuple[int, int],
                            threshold: float = KEEP_THRESHOLD) -> torch.Tensor:
    """Latent repaint mask [B, 1, h, w] from a pixel repaint mask [B, H, W].

    The conservative rule of docs/algorithm.md, section 9: resize the keep
    mask (1 - repaint) to the latent grid with antialiased bilinear filtering and
    keep a latent cell only where it exceeds ``threshold``; everything else is
    regenerated. A thin stroke lowers the filtered keep value of its cell below
    0.95, so it still repaints that cell (and possibly a neighbour: the region
    grows by up to one latent cell, hiding VAE leakage at the border).
    """
    repaint = batch_masks(repaint, "mask")
    keep = (1.0 - repaint.clamp(0, 1))[:, None]
    small = F.interpolate(keep, size=tuple(latent_size), mode="bilinear", antialias=True,
                          align_corners=False)
    return (small <= threshold).to(torch.float32)


def soft_latent_mask_from_pixels(repaint: torch.Tensor, latent_size: Tuple[int, int]) -> torch.Tensor:
    """Soft latent repaint weights [B, 1, h, w]: each latent cell's area average of the pixel
    repaint mask [B, H, W]. 1 - weight is the cell's likelihood weight in the sampler: a grey 0.5
    mask follows the original with half the weight."""
    repaint = batch_masks(repaint, "mask").clamp(0, 1)
    return F.interpolate(repaint[:, None], size=tuple(latent_size), mode="area")


def pixel_mask_from_latent(latent_repaint: torch.Tensor, pixel_size: Tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour upsampling of a latent repaint mask [B, 1, h, w] to [B, H, W]."""
    return F.interpolate(latent_repaint, size=tuple(pixel_size), mode="nearest")[:, 0]


def crop_offsets(size: Tuple[int, int], ratio: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """Centred crop of ``size`` to multiples of ``ratio`` as ComfyUI's VAE encode does:
    returns ((top, left), (height, width))."""
    h, w = size
    return ((h % ratio) // 2, (w % ratio) // 2), ((h // ratio) * ratio, (w // ratio) * ratio)


def max_filter(mask: torch.Tensor, radius: int) -> torch.Tensor:
    """Square max filter (Chebyshev dilation) of radius ``radius`` over the last two dims.

    Passes with shifts of 1, 2, 4, ... cells, each extending the covered window by its shift, so
    the cost grows with log2(radius), not with the radius. Values are only compared: exact.
    """
    out = mask.clone()
    for dim in (-2, -1):
        n = out.shape[dim]
        covered, step = 0, 1
        while covered < radius:
            s = min(step, radius - covered, n - 1)  # s <= covered + 1: the window stays contiguous
            if s <= 0:
                break
            prev = out.clone()
            later, earlier = out.narrow(dim, s, n - s), out.narrow(dim, 0, n - s)
            torch.maximum(later, prev.narrow(dim, 0, n - s), out=later)
            torch.maximum(earlier, prev.narrow(dim, s, n - s), out=earlier)
            covered += s
            step *= 2
    return out


def box_mean(values: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2 radius + 1)^2 square around each cell of the last two dims (zeros outside),
    from running sums: cost independent of the radius, and exactly 0 wherever the whole square is
    0 (a running sum does not change over zeros)."""
    out = values.float()
    for dim in (-2, -1):
        n = out.shape[dim]
        csum = torch.cat([torch.zeros_like(out.narrow(dim, 0, 1)), out.cumsum(dim)], dim)
        idx = torch.arange(n, device=out.device)
        hi = (idx + radius + 1).clamp(max=n)
        lo = (idx - radius).clamp(min=0)
        out = csum.index_select(dim, hi).sub_(csum.index_select(dim, lo))
    return out.div_(float((2 * radius + 1) ** 2))


def feather_alpha(repaint: torch.Tensor, feather: int) -> torch.Tensor:
    """Blend weight for the composite over a [B, H, W] repaint mask.

    Inside the mask (value > 0) the weight is the mask value itself (1 for a hard mask, the soft
    weight otherwise); outside it falls smoothly to exactly 0 at Chebyshev distance ``feather``
    pixels: a max filter of radius r1 followed by a box mean of radius r2, r1 + r2 = feather - 1,
    then a smoothstep. Both run in time independent of ``feather``.
    """
    repaint = repaint.clamp(0, 1)
    if feather <= 1:
        return repaint
    r2 = (feather - 1) // 2
    r1 = feather - 1 - r2
    ramp = box_mean(max_filter(repaint, r1), r2).clamp_(0, 1).to(repaint.dtype)
    ramp = ramp * ramp * (3 - 2 * ramp)  # smoothstep: 0 and 1 are kept exactly
    return torch.where(repaint > 0, repaint, ramp)


def ring_width(feather: int) -> int:
    """Width in pixels of the kept ring the colour match measures on: max(feather, 8)."""
    return max(int(feather), MIN_RING)


def kept_ring(repaint: torch.Tensor, width: int) -> torch.Tensor:
    """Boolean [B, H, W]: kept pixels (repaint == 0) within Chebyshev distance ``width`` of the
    repaint area (repaint > 0)."""
    inside = (repaint > 0).to(torch.float32)
    return (dilate(inside, int(width)) > 0) & (repaint <= 0)


def check_image(image: torch.Tensor, name: str) -> torch.Tensor:
    """An IMAGE input [B, H, W, C] with finite values, or a ValueError naming ``name``."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4:
        got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ValueError(f"{name} must be an IMAGE tensor [B, H, W, C], got {got}")
    if image.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(image.shape)}): expected at least one image of at least "
                         "1x1 pixels")
    if not torch.isfinite(image).all():
        raise ValueError(f"{name} contains NaN or infinite pixel values")
    return image


def composite(original: torch.Tensor, generated: torch.Tensor, repaint: torch.Tensor,
              feather: int = 0, color_match: str = "off") -> torch.Tensor:
    """Paste ``generated`` into ``original`` over the repaint mask, feathered.

    Pixels whose blend weight is 0 (outside the repaint region and its feather
    band) are copied from ``original`` bit for bit. A ``generated`` image smaller
    than the original (the VAE cropped it to a multiple of its downscale) is
    placed at the centred offset the VAE crop used.

    ``color_match`` "mean-std": before the paste, each generated image's CIE Lab mean and std
    are matched to the original's on the kept ring max(feather, 8) px wide around the mask
    (:func:`ding_sampler.color.match_colors`); "off" (default) pastes it as it is.
    """
    if color_match not in COLOR_MATCH_MODES:
        raise ValueError(f"color_match must be one of {list(COLOR_MATCH_MODES)}, got {color_match!r}")
    check_image(original, "original")
    check_image(generated, "generated")
    if original.shape[-1] != generated.shape[-1]:
        raise ValueError(
            f"original has {original.shape[-1]} channels but generated has {generated.shape[-1]}"
        )
    if original.shape[0] not in (1, generated.shape[0]) and generated.shape[0] != 1:
        raise ValueError(f"generated has {generated.shape[0]} images but original has {original.shape[0]}: "
                         f"give one original for all, or one per generated image")
    batch = max(original.shape[0], generated.shape[0])
    repaint = batch_masks(repaint, "mask", batch)
    _, height, width, _ = original.shape
    gh, gw = generated.shape[1:3]
    if gh > height or gw > width:
        raise ValueError(
            f"generated image {gw}x{gh} is larger than the original {width}x{height}"
        )
    top, left = (height - gh) // 2, (width - gw) // 2
    canvas = original.expand(batch, -1, -1, -1).clone()
    target = canvas[:, top:top + gh, left:left + gw]
    generated = generated.to(device=canvas.device, dtype=canvas.dtype).expand(batch, -1, -1, -1)
    repaint = resize_mask(repaint.to(canvas.device), (height, width))
    alpha = feather_alpha(repaint, int(feather))[:, top:top + gh, left:left + gw, None]
    alpha = alpha.expand(batch, -1, -1, -1).to(canvas.dtype)
    if color_match != "off":
        region = repaint[:, top:top + gh, left:left + gw]
        generated, skipped = match_colors(target, generated, region, kept_ring(region, ring_width(feather)),
                                          where=alpha[..., 0] > 0)
        if skipped:
            log.warning("color_match: image(s) %s have no kept pixels around the mask to measure the colour "
                        "on (the mask covers the whole image or all but a sliver); pasted without colour match",
                        skipped)
    blended = target + (generated - target) * alpha
    canvas[:, top:top + gh, left:left + gw] = torch.where(alpha > 0, blended, target)
    return canvas


# --------------------------------------------------------------------------- video

def latent_frame_spans(frames: int, time_ratio: int) -> list:
    """Pixel frames each latent frame of a causal video VAE covers, as [start, stop) pairs.

    Causal video VAEs (Wan 2.1 / 2.2: ``time_ratio`` 4) encode the first frame alone and
    every following group of ``time_ratio`` frames into one latent frame: latent frame 0
    covers pixel frame 0 and latent frame k >= 1 covers pixel frames
    ``time_ratio*(k-1) + 1 .. time_ratio*k``. ``frames`` must be ``1 + time_ratio*n``.
    """
    frames, time_ratio = int(frames), int(time_ratio)
    if time_ratio < 1:
        raise ValueError(f"time_ratio must be >= 1, got {time_ratio}")
    if frames < 1 or (frames - 1) % time_ratio:
        raise ValueError(
            f"a clip for this video VAE must have 1 + {time_ratio}*n frames "
            f"(1, {1 + time_ratio}, {1 + 2 * time_ratio}, ...), got {frames}")
    return [(0, 1)] + [(time_ratio * (k - 1) + 1, time_ratio * k + 1)
                       for k in range(1, (frames - 1) // time_ratio + 1)]


def video_latent_mask_from_pixels(repaint: torch.Tensor, latent_size: Tuple[int, int, int],
                                  time_ratio: int, threshold: float = KEEP_THRESHOLD,
                                  soft: bool = False) -> torch.Tensor:
    """Latent repaint mask [1, 1, T', h, w] of a clip from its pixel repaint masks [T, H, W].

    The conservative rule in space and time: every pixel frame gets the image rule
    (:func:`latent_mask_from_pixels`: antialiased resize of the keep mask, keep a cell
    only above ``threshold``); a cell of latent frame k is then kept only when it is kept
    in every pixel frame that latent frame covers (:func:`latent_frame_spans`), so a stroke
    in a single pixel frame repaints the latent frame that holds it.

    ``soft``: per frame the soft rule (:func:`soft_latent_mask_from_pixels`, area-averaged
    repaint weights) and, per latent frame, the largest weight over the frames it covers.
    """
    repaint = batch_masks(repaint, "mask")
    frames = repaint.shape[0]
    t_lat, h, w = (int(s) for s in latent_size)
    spans = latent_frame_spans(frames, time_ratio)
    if len(spans) != t_lat:
        raise ValueError(
            f"{frames} pixel frames make {len(spans)} latent frames with time_ratio {time_ratio}, "
            f"but the latent has {t_lat}")
    if soft:
        per_frame = soft_latent_mask_from_pixels(repaint, (h, w))[:, 0]  # [T, h, w]
    else:
        per_frame = latent_mask_from_pixels(repaint, (h, w), threshold)[:, 0]
    out = torch.stack([per_frame[a:b].amax(dim=0) for a, b in spans])     # [T', h, w]
    return out[None, None]


def pixel_mask_from_video_latent(latent_repaint: torch.Tensor, time_ratio: int,
                                 pixel_size: Tuple[int, int]) -> torch.Tensor:
    """Per-frame pixel repaint mask [T, H, W] from a latent repaint mask [1, 1, T', h, w]:
    each pixel frame takes the mask of the latent frame that covers it, nearest-neighbour
    upsampled in space (the area the sampler really regenerates in that frame)."""
    if latent_repaint.ndim != 5 or latent_repaint.shape[:2] != (1, 1):
        raise ValueError(f"latent mask must be [1, 1, T', h, w], got {tuple(latent_repaint.shape)}")
    t_lat = latent_repaint.shape[2]
    frames = 1 + int(time_ratio) * (t_lat - 1)
    spans = latent_frame_spans(frames, time_ratio)
    index = torch.cat([torch.full((b - a,), k, dtype=torch.long) for k, (a, b) in enumerate(spans)])
    per_frame = latent_repaint[0, 0].index_select(0, index.to(latent_repaint.device))  # [T, h, w]
    return pixel_mask_from_latent(per_frame[:, None], pixel_size)
