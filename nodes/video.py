"""The video branch of DInG Inpaint Encode: a clip through a causal video VAE (Wan 2.1 / 2.2).

A video VAE compresses time as well as space. ComfyUI's video VAEs (``latent_dim == 3``)
encode the first frame alone and then groups of ``time_ratio`` frames into one latent
frame; the space-time mask rule lives in ``ding_sampler.masks``.
"""
from __future__ import annotations

from typing import Optional

import torch

import comfy.model_management

from ..ding_sampler.masks import (
    crop_offsets,
    latent_frame_spans,
    pixel_mask_from_video_latent,
    video_latent_mask_from_pixels,
)


def video_time_ratio(vae) -> Optional[int]:
    """Pixel frames per latent frame of a video VAE, or None for an image VAE.

    Only causal VAEs whose first latent frame holds the first pixel frame alone are
    supported (ComfyUI's upscale ratio maps 1 latent frame to 1 pixel frame)."""
    if getattr(vae, "latent_dim", 2) != 3 or getattr(vae, "not_video", False):
        return None
    ratio = vae.temporal_compression_decode()
    if ratio is None or int(ratio) <= 1:
        return None
    first = vae.upscale_ratio[0]
    if not callable(first) or first(1) != 1 or first(2) != 1 + int(ratio):
        raise ValueError(
            f"this video VAE ({type(vae.first_stage_model).__name__}) does not encode the first frame "
            f"alone and then groups of {ratio} frames; DInG supports causal video VAEs such as Wan's")
    return int(ratio)


def encode_clip(pixels: torch.Tensor, repaint: torch.Tensor, vae, time_ratio: int, soft: bool = False,
                empty_help: str = ""):
    """Encode a clip IMAGE [T, H, W, C] with per-frame repaint masks [T, H, W] (already grown);
    ``soft`` picks the soft (area-averaged) mask rule instead of the conservative one.

    Returns (LATENT with samples [1, C, T', h, w] and noise_mask [1, 1, T', h, w],
    per-frame pixel repaint MASK [T, H, W])."""
    frames, height, width = pixels.shape[:3]
    try:
        latent_frame_spans(frames, time_ratio)
    except ValueError:
        raise ValueError(
            f"pixels has {frames} frames, but this video VAE encodes clips of 1 + {time_ratio}*n frames "
            f"(1, {1 + time_ratio}, {1 + 2 * time_ratio}, ..., {1 + 20 * time_ratio}): trim the clip, e.g. "
            f"with Image From Batch (length {1 + (frames - 1) // time_ratio * time_ratio})") from None
    ratio = int(vae.spacial_compression_encode())
    (top, left), (crop_h, crop_w) = crop_offsets((height, width), ratio)
    repaint_crop = repaint[:, top:top + crop_h, left:left + crop_w]
    if not bool((repaint_crop > 0).any()):
        raise ValueError("mask only covers the edge that the VAE crops off (the frame size is not a multiple "
                         f"of {ratio}): nothing to repaint. " + empty_help)
    samples = vae.encode(pixels[:, top:top + crop_h, left:left + crop_w, :3])
    if samples.ndim != 5:
        raise ValueError(f"the video VAE returned a latent of shape {tuple(samples.shape)}, expected 5-D")
    latent_repaint = video_latent_mask_from_pixels(repaint_crop, tuple(samples.shape[-3:]), time_ratio,
                                                   soft=soft)
    pixel_repaint = torch.zeros((frames, height, width), dtype=torch.float32)
    pixel_repaint[:, top:top + crop_h, left:left + crop_w] = pixel_mask_from_video_latent(
        latent_repaint, time_ratio, (crop_h, crop_w)).cpu()
    noise_mask = latent_repaint.to(comfy.model_management.intermediate_device())
    return {"samples": samples, "noise_mask": noise_mask}, pixel_repaint
