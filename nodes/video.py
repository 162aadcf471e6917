"""The video branch of DInG Inpaint/Outpaint Encode: a clip through a video VAE that encodes the
first frame alone (Wan 2.1 / 2.2, LTX-Video).

A video VAE compresses time as well as space. ComfyUI's video VAEs (``latent_dim == 3``)
encode the first frame alone and then groups of ``time_ratio`` frames into one latent
frame; the space-time mask rule lives in ``ding_sampler.masks``. An image model on a video
VAE (Qwen-Image, on the Wan 2.1 VAE) takes one picture as a one-frame clip: latent and
noise_mask [1, C, 1, h, w], the 5-D latent its model consumes, and one pixel repaint mask for
the composite.
"""
from __future__ import annotations

from typing import Optional

import torch

from ..ding_sampler.masks import (
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
            f"alone and then groups of {ratio} frames; DInG supports video VAEs that encode the first "
            f"frame alone, such as Wan's and LTX-Video's")
    return int(ratio)


def encode_clip(pixels: torch.Tensor, repaint: torch.Tensor, vae, time_ratio: int, soft: bool = False):
    """Encode a clip IMAGE [T, H, W, C] (already cropped to the VAE grid) with its per-frame repaint
    masks [T, H, W] (grown, cropped alike); ``soft`` picks the soft (area-averaged) mask rule
    instead of the conservative one.

    Returns (samples [1, C, T', h, w], latent repaint mask [1, 1, T', h, w], per-frame pixel
    repaint mask [T, H, W])."""
    frames = pixels.shape[0]
    try:
        latent_frame_spans(frames, time_ratio)
    except ValueError:
        raise ValueError(
            f"pixels has {frames} frames, but this video VAE encodes clips of 1 + {time_ratio}*n frames "
            f"(1, {1 + time_ratio}, {1 + 2 * time_ratio}, ..., {1 + 20 * time_ratio}): trim the clip, e.g. "
            f"with Image From Batch (length {1 + (frames - 1) // time_ratio * time_ratio}). An image model "
            f"on a video VAE (Qwen-Image) reads a batch of pictures as one clip too: give it one picture "
            f"(a one-frame clip) at a time") from None
    samples = vae.encode(pixels)
    if samples.ndim != 5:
        raise ValueError(f"the video VAE returned a latent of shape {tuple(samples.shape)}, expected 5-D")
    latent_repaint = video_latent_mask_from_pixels(repaint, tuple(samples.shape[-3:]), time_ratio, soft=soft)
    pixel_repaint = pixel_mask_from_video_latent(latent_repaint, time_ratio, tuple(pixels.shape[1:3]))
    return samples, latent_repaint, pixel_repaint
