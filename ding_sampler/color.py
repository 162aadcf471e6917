"""Colour match for the composite: CIE Lab conversion and a mean/std transfer measured on the
kept ring around the repaint mask. Pure PyTorch.

Why the ring: the generated image covers the whole picture, and where the mask keeps the original
the generated pixels should reproduce it. A tone shift of the generated image (the VAE round trip,
a model that drifts the whole frame) shows there as a difference between the two images at the
same pixels, undisturbed by the new content inside the mask. Matching the generated image's Lab
mean and standard deviation on that ring to the original's removes the shift from the generated
pixels that the feathered paste puts next to the original.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch

COLOR_MATCH_MODES = ("off", "mean-std")
MIN_RING_PIXELS = 16    # fewer kept pixels in the ring than this: no correction (too few to measure)
STD_RATIO_LIMIT = 4.0   # the per-channel std ratio is clamped to [1/4, 4]
STD_EPS = 1e-3          # Lab units; a flat ring (std ~0) gets a ratio of ~1: mean shift only

# sRGB (D65) primaries -> CIE XYZ, and the D65 white point
_RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375),
               (0.2126729, 0.7151522, 0.0721750),
               (0.0193339, 0.1191920, 0.9503041))
_WHITE = (0.95047, 1.0, 1.08883)
_DELTA = 6.0 / 29.0


def _matrix(device, dtype) -> torch.Tensor:
    return torch.tensor(_RGB_TO_XYZ, device=device, dtype=dtype)


def srgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], channels last [..., 3], to CIE L*a*b* (D65): L in [0, 100]."""
    rgb = rgb.clamp(0, 1)
    linear = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ _matrix(rgb.device, rgb.dtype).T
    t = xyz / torch.tensor(_WHITE, device=rgb.device, dtype=rgb.dtype)
    f = torch.where(t > _DELTA ** 3, t.clamp(min=0) ** (1.0 / 3.0), t / (3 * _DELTA ** 2) + 4.0 / 29.0)
    fx, fy, fz = f.unbind(-1)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-1)


def lab_to_srgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE L*a*b* (D65), channels last, to sRGB clamped to [0, 1]."""
    L, a, b = lab.unbind(-1)
    fy = (L + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-1)
    t = torch.where(f > _DELTA, f ** 3, 3 * _DELTA ** 2 * (f - 4.0 / 29.0))
    xyz = t * torch.tensor(_WHITE, device=lab.device, dtype=lab.dtype)
    linear = xyz @ torch.linalg.inv(_matrix(lab.device, lab.dtype)).T
    srgb = torch.where(linear <= 0.0031308, 12.92 * linear,
                       1.055 * linear.clamp(min=0) ** (1 / 2.4) - 0.055)
    return srgb.clamp(0, 1)


def match_colors(original: torch.Tensor, generated: torch.Tensor, repaint: torch.Tensor,
                 ring: torch.Tensor, where: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, list]:
    """``generated`` with each image's CIE Lab mean and std per channel matched to ``original``'s on
    the kept ring around ``repaint``.

    original, generated: IMAGE [B, H, W, C >= 3] of the same size (channels past 3 are kept);
    repaint: [B, H, W]; ring: bool [B, H, W], the kept pixels to measure on
    (:func:`ding_sampler.masks.kept_ring`). Per image: on the ring the generated Lab values have
    mean m_g and std s_g per channel, the original's m_o and s_o; every generated pixel becomes
    (lab - m_g) * r + m_o with r = (s_o + eps) / (s_g + eps) clamped to [1/4, 4]. An image whose
    ring holds fewer than 16 kept pixels (an all-1 mask, a mask covering all but a sliver) is
    returned unchanged. ``where`` (bool [B, H, W]): correct only these pixels (the composite
    passes the pixels it pastes; the others are copied unchanged). Returns the matched image and
    the indices of the images left unchanged because their ring was too small (an image with
    nothing to repaint is left unchanged and not listed).
    """
    if generated.shape[-1] < 3:
        raise ValueError(f"color_match needs RGB images (3 channels or more), got {generated.shape[-1]}")
    out = generated.clone()
    skipped = []
    for i in range(generated.shape[0]):
        if not bool((repaint[i] > 0).any()):
            continue  # nothing repainted: nothing to match
        sel = ring[i]
        if int(sel.sum()) < MIN_RING_PIXELS:
            skipped.append(i)
            continue
        ring_g = srgb_to_lab(generated[i, ..., :3][sel].float())   # [N, 3]
        ring_o = srgb_to_lab(original[i, ..., :3][sel].float())
        mean_g, mean_o = ring_g.mean(0), ring_o.mean(0)
        std_g, std_o = ring_g.std(0, unbiased=False), ring_o.std(0, unbiased=False)
        ratio = ((std_o + STD_EPS) / (std_g + STD_EPS)).clamp(1 / STD_RATIO_LIMIT, STD_RATIO_LIMIT)
        todo = torch.ones_like(sel) if where is None else where[i].bool()
        lab = srgb_to_lab(generated[i, ..., :3][todo].float())
        matched = lab_to_srgb((lab - mean_g) * ratio + mean_o)
        rgb = out[i, ..., :3]
        rgb[todo] = matched.to(out.dtype)
        out[i, ..., :3] = rgb
    return out, skipped
