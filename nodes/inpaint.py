"""DInG Inpaint Encode and DInG Composite: masks in, latents and pixels out."""
from __future__ import annotations

import torch

import comfy.model_management

from ..ding_sampler.masks import (
    composite,
    crop_offsets,
    dilate,
    latent_mask_from_pixels,
    pixel_mask_from_latent,
    resize_mask,
)

MAX_PIXELS = 4096


def _batched_masks(mask: torch.Tensor, batch: int, size) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor) or mask.ndim not in (2, 3):
        got = tuple(mask.shape) if isinstance(mask, torch.Tensor) else type(mask).__name__
        raise ValueError(f"mask must be a MASK tensor [H, W] or [B, H, W], got {got}")
    mask = mask.float()
    if mask.ndim == 2:
        mask = mask[None]
    if mask.shape[0] not in (1, batch):
        raise ValueError(
            f"mask has a batch of {mask.shape[0]} but pixels has {batch} images: "
            f"give one mask for all images or one per image"
        )
    if not torch.isfinite(mask).all():
        raise ValueError("mask contains NaN or infinite values")
    return resize_mask(mask.clamp(0, 1), size).expand(batch, -1, -1)


class DInGInpaintEncode:
    """Image + mask + VAE -> latent observation with a conservative latent mask."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "pixels": ("IMAGE", {"tooltip": "The image to inpaint (the original; the masked area may hold anything)."}),
            "mask": ("MASK", {"tooltip": "Area to repaint (1 = repaint), e.g. LoadImage's mask from the mask editor. "
                                         "One mask for the whole batch or one per image."}),
            "vae": ("VAE", {"tooltip": "The VAE of the model you sample with."}),
            "grow_mask_by": ("INT", {"default": 6, "min": 0, "max": 256, "step": 1,
                                     "tooltip": "Grow the repaint area by this many pixels before it is moved to the latent grid."}),
        }}

    RETURN_TYPES = ("LATENT", "MASK")
    RETURN_NAMES = ("latent", "repaint_mask")
    OUTPUT_TOOLTIPS = ("VAE latent of the original with a latent-resolution noise_mask (1 = repaint) for DInG KSampler / DInG SAMPLER.",
                       "The pixel area that will really be repainted (the latent mask at pixel size), for DInG Composite.")
    FUNCTION = "encode"
    CATEGORY = "latent/inpaint"
    DESCRIPTION = ("Encodes the image and builds the latent mask with DInG's conservative rule: a latent cell is kept "
                   "only if it is almost entirely outside the mask, so thin strokes still repaint their cell.")

    def encode(self, pixels, mask, vae, grow_mask_by=6):
        if not isinstance(pixels, torch.Tensor) or pixels.ndim != 4 or pixels.shape[-1] < 3:
            got = tuple(pixels.shape) if isinstance(pixels, torch.Tensor) else type(pixels).__name__
            raise ValueError(f"pixels must be an IMAGE tensor [B, H, W, 3], got {got}")
        if grow_mask_by < 0:
            raise ValueError(f"grow_mask_by must be >= 0, got {grow_mask_by}")
        batch, height, width = pixels.shape[:3]
        ratio = int(vae.spacial_compression_encode())
        if height < ratio or width < ratio:
            raise ValueError(f"pixels must be at least {ratio}x{ratio} for this VAE, got {width}x{height}")
        repaint = _batched_masks(mask, batch, (height, width))
        repaint = dilate(repaint, int(grow_mask_by))

        (top, left), (crop_h, crop_w) = crop_offsets((height, width), ratio)
        crop = pixels[:, top:top + crop_h, left:left + crop_w, :3]
        samples = vae.encode(crop)
        latent_size = tuple(samples.shape[-2:])
        latent_repaint = latent_mask_from_pixels(repaint[:, top:top + crop_h, left:left + crop_w], latent_size)

        pixel_repaint = torch.zeros((batch, height, width), dtype=torch.float32)
        pixel_repaint[:, top:top + crop_h, left:left + crop_w] = pixel_mask_from_latent(
            latent_repaint, (crop_h, crop_w)).cpu()
        noise_mask = latent_repaint.to(comfy.model_management.intermediate_device())
        return ({"samples": samples, "noise_mask": noise_mask}, pixel_repaint)


class DInGComposite:
    """Paste the generated pixels back into the original, feathered over the seam."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "original": ("IMAGE", {"tooltip": "The original image; it is kept bit for bit outside the repaint area and its feather band."}),
            "generated": ("IMAGE", {"tooltip": "The decoded DInG result (VAE Decode)."}),
            "mask": ("MASK", {"tooltip": "Repaint area, 1 = take the generated pixels: use DInG Inpaint Encode's repaint_mask."}),
            "feather": ("INT", {"default": 8, "min": 0, "max": MAX_PIXELS, "step": 1,
                                "tooltip": "Width in pixels of the band outside the mask over which the seam is blended."}),
        }}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "composite"
    CATEGORY = "image/inpaint"
    DESCRIPTION = ("Undo the VAE round trip outside the repainted area: the original pixels are kept exactly, "
                   "the generated ones are used inside the mask, and the seam is blended over the feather band.")

    def composite(self, original, generated, mask, feather=8):
        if feather < 0:
            raise ValueError(f"feather must be >= 0, got {feather}")
        return (composite(original, generated.to(original.device), mask, int(feather)),)
