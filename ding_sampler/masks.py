"""Pixel and latent masks, and the pixel-space composite. Pure PyTorch.

Conventions: masks here are "repaint" masks (1 = regenerate, ComfyUI's MASK
convention) of shape [B, H, W] unless a name says ``keep``; images are
ComfyUI IMAGE tensors [B, H, W, C] in [0, 1].
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
import torch.nn.functional as F

KEEP_THRESHOLD = 0.95


def batch_masks(mask: torch.Tensor, name: str = "mask", batch: Optional[int] = None,
                size: Optional[Tuple[int, int]] = None) -> torch.Tensor:
    """A MASK input ([H, W] or [B, H, W], values in [0, 1]) as a float [B, H, W] tensor.

    With ``batch`` the mask must hold 1 or ``batch`` masks and is expanded to ``batch``; with
    ``size`` it is resized to that (H, W). Raises ValueError naming ``name`` otherwise.
    """
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"{name} must be a MASK tensor [H, W] or [B, H, W], got {got}")
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

    The conservative rule of the algorithm notes (section 5): resize the keep
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


def pixel_mask_from_latent(latent_repaint: torch.Tensor, pixel_size: Tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour upsampling of a latent repaint mask [B, 1, h, w] to [B, H, W]."""
    return F.interpolate(latent_repaint, size=tuple(pixel_size), mode="nearest")[:, 0]


def crop_offsets(size: Tuple[int, int], ratio: int) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """Centred crop of ``size`` to multiples of ``ratio`` as ComfyUI's VAE encode does:
    returns ((top, left), (height, width))."""
    h, w = size
    return ((h % ratio) // 2, (w % ratio) // 2), ((h // ratio) * ratio, (w // ratio) * ratio)


def feather_alpha(repaint: torch.Tensor, feather: int) -> torch.Tensor:
    """Blend weight for the composite: 1 on the repaint region, falling smoothly
    to exactly 0 at Chebyshev distance ``feather`` pixels outside it."""
    repaint = repaint.clamp(0, 1)
    if feather <= 0:
        return repaint
    acc = repaint.clone()
    grown = repaint
    for _ in range(feather - 1):
        grown = dilate(grown, 1)
        acc += grown
    ramp = acc / feather  # (feather - d) / feather at distance d, 0 beyond
    return ramp * ramp * (3 - 2 * ramp)  # smoothstep: 0 and 1 are kept exactly


def composite(original: torch.Tensor, generated: torch.Tensor, repaint: torch.Tensor,
              feather: int = 0) -> torch.Tensor:
    """Paste ``generated`` into ``original`` over the repaint mask, feathered.

    Pixels whose blend weight is 0 (outside the repaint region and its feather
    band) are copied from ``original`` bit for bit. A ``generated`` image smaller
    than the original (the VAE cropped it to a multiple of its downscale) is
    placed at the centred offset the VAE crop used.
    """
    for name, img in (("original", original), ("generated", generated)):
        if not isinstance(img, torch.Tensor) or img.ndim != 4:
            got = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            raise ValueError(f"{name} must be an IMAGE tensor [B, H, W, C], got {got}")
    if original.shape[-1] != generated.shape[-1]:
        raise ValueError(
            f"original has {original.shape[-1]} channels but generated has {generated.shape[-1]}"
        )
    repaint = batch_masks(repaint, "mask")
    batch = max(original.shape[0], generated.shape[0], repaint.shape[0])
    for name, t in (("original", original), ("generated", generated), ("mask", repaint)):
        if t.shape[0] not in (1, batch):
            raise ValueError(f"{name} has batch {t.shape[0]}; expected 1 or {batch}")
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
    blended = target + (generated - target) * alpha
    canvas[:, top:top + gh, left:left + gw] = torch.where(alpha > 0, blended, target)
    return canvas
