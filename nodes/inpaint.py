"""DInG Inpaint/Outpaint Encode and DInG Inpaint/Outpaint Composite: masks in, latents and pixels out."""
from __future__ import annotations

import torch

import comfy.model_management
from comfy_api.v0_0_2 import io

from ..ding_sampler.color import COLOR_MATCH_MODES
from ..ding_sampler.masks import (
    batch_masks,
    check_image,
    composite,
    crop_offsets,
    dilate,
    latent_mask_from_pixels,
    pixel_mask_from_latent,
    soft_latent_mask_from_pixels,
)
from .schema import node_schema
from .video import encode_clip, video_time_ratio

MAX_PIXELS = 4096
MASK_MODES = ["hard", "soft"]
EMPTY_MASK_HELP = ("Paint the area to change first: right-click the Load Image node, choose Open in MaskEditor, "
                   "paint over what should change and Save. An image without a painted mask (or an empty mask) "
                   "gives nothing to repaint.")


class DInGInpaintEncode(io.ComfyNode):
    """Image + mask + VAE -> latent observation with a conservative latent mask."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGInpaintEncode",
            display_name="DInG Inpaint/Outpaint Encode",
            category="latent/inpaint",
            description=("Encodes the image and builds the latent mask with DInG's conservative rule: a latent "
                         "cell is kept only if it is almost entirely outside the mask, so thin strokes still "
                         "repaint their cell."),
            search_aliases=["inpaint", "outpaint", "mask", "vae encode", "ding"],
            inputs=[
                io.Image.Input("pixels", tooltip="The image to inpaint (the original; the masked area may "
                                                 "hold anything). With a video VAE: the frames of one clip, "
                                                 "1 + 4n of them for Wan (5, 9, ..., 81), 1 + 8n for "
                                                 "LTX-Video (9, 17, ..., 97)."),
                io.Mask.Input("mask", tooltip="Area to repaint (1 = repaint), e.g. LoadImage's mask from the "
                                              "mask editor. One mask for the whole batch or one per image "
                                              "(one per frame of a clip)."),
                io.Vae.Input("vae", tooltip="The VAE of the model you sample with."),
                io.Int.Input("grow_mask_by", default=6, min=0, max=256, step=1,
                             tooltip="Grow the repaint area by this many pixels before it is moved to the "
                                     "latent grid."),
                io.Combo.Input("mask_mode", options=MASK_MODES, default="hard", optional=True,
                               tooltip="hard: a latent cell is repainted if any of it is masked (thin strokes "
                                       "count; grey counts as masked). soft: grey mask values are partial-strength "
                                       "edits: each latent cell follows the original with the weight of its "
                                       "unmasked area (0.5 grey = half), and the composite blends with the same "
                                       "weights. Use soft with Differential Diffusion."),
            ],
            outputs=[
                io.Latent.Output("latent", display_name="latent",
                                 tooltip="VAE latent of the original with a latent-resolution noise_mask "
                                         "(1 = repaint) for DInG Inpaint/Outpaint KSampler or DInG Inpaint/Outpaint "
                                         "Sampler (SAMPLER). For a clip: one "
                                         "5-D latent; a latent frame is repainted where any frame it covers is."),
                io.Mask.Output("repaint_mask", display_name="repaint_mask",
                               tooltip="The pixel area that will really be repainted (the latent mask at "
                                       "pixel size; one per frame for a clip), for DInG Inpaint/Outpaint "
                                       "Composite."),
            ],
        )

    @classmethod
    def execute(cls, pixels, mask, vae, grow_mask_by=6, mask_mode="hard") -> io.NodeOutput:
        check_image(pixels, "pixels")
        if not callable(getattr(vae, "encode", None)) or not callable(getattr(vae, "spacial_compression_encode", None)):
            got = f"a tensor of shape {tuple(vae.shape)}" if isinstance(vae, torch.Tensor) else type(vae).__name__
            raise ValueError(f"vae must be a VAE (e.g. Load Checkpoint's or Load VAE's VAE output), got {got}")
        if pixels.shape[-1] < 3:
            raise ValueError(f"pixels must be an IMAGE tensor [B, H, W, 3], got {tuple(pixels.shape)}")
        if grow_mask_by < 0:
            raise ValueError(f"grow_mask_by must be >= 0, got {grow_mask_by}")
        if mask_mode not in MASK_MODES:
            raise ValueError(f"mask_mode must be one of {MASK_MODES}, got {mask_mode!r}")
        batch, height, width = pixels.shape[:3]
        ratio = int(vae.spacial_compression_encode())
        if height < ratio or width < ratio:
            raise ValueError(f"pixels must be at least {ratio}x{ratio} for this VAE, got {width}x{height}")
        repaint = batch_masks(mask, "mask", batch, (height, width))
        if not bool((repaint > 0).any()):
            raise ValueError("mask is empty: nothing in the image is marked for repainting. " + EMPTY_MASK_HELP)
        repaint = dilate(repaint, int(grow_mask_by))

        (top, left), (crop_h, crop_w) = crop_offsets((height, width), ratio)
        crop = pixels[:, top:top + crop_h, left:left + crop_w, :3]
        repaint_crop = repaint[:, top:top + crop_h, left:left + crop_w]
        if not bool((repaint_crop > 0).any()):
            raise ValueError("mask only covers the edge that the VAE crops off (the image size is not a multiple "
                             f"of {ratio}): nothing to repaint. " + EMPTY_MASK_HELP)
        time_ratio = video_time_ratio(vae)
        if time_ratio is not None:  # video VAE (Wan): the batch is the frames of one clip
            samples, latent_repaint, pixel_crop = encode_clip(crop, repaint_crop, vae, time_ratio,
                                                              mask_mode == "soft")
        else:
            samples = vae.encode(crop)
            latent_size = tuple(samples.shape[-2:])
            if mask_mode == "soft":
                latent_repaint = soft_latent_mask_from_pixels(repaint_crop, latent_size)
            else:
                latent_repaint = latent_mask_from_pixels(repaint_crop, latent_size)
            pixel_crop = pixel_mask_from_latent(latent_repaint, (crop_h, crop_w))

        pixel_repaint = torch.zeros((batch, height, width), dtype=torch.float32)
        pixel_repaint[:, top:top + crop_h, left:left + crop_w] = pixel_crop.cpu()
        noise_mask = latent_repaint.to(comfy.model_management.intermediate_device())
        return io.NodeOutput({"samples": samples, "noise_mask": noise_mask}, pixel_repaint)


class DInGComposite(io.ComfyNode):
    """Paste the generated pixels back into the original, feathered over the seam."""

    @classmethod
    def define_schema(cls):
        return node_schema(
            node_id="DInGComposite",
            display_name="DInG Inpaint/Outpaint Composite",
            category="image/inpaint",
            description=("Undo the VAE round trip outside the repainted area: the original pixels are kept "
                         "exactly, the generated ones are used inside the mask, and the seam is blended over "
                         "the feather band."),
            search_aliases=["inpaint", "outpaint", "composite", "paste", "stitch", "ding"],
            inputs=[
                io.Image.Input("original", tooltip="The original image; it is kept bit for bit outside the "
                                                   "repaint area and its feather band."),
                io.Image.Input("generated", tooltip="The decoded DInG result (VAE Decode)."),
                io.Mask.Input("mask", tooltip="Repaint area, 1 = take the generated pixels: use DInG "
                                              "Inpaint/Outpaint Encode's repaint_mask."),
                io.Int.Input("feather", default=8, min=0, max=MAX_PIXELS, step=1,
                             tooltip="Width in pixels of the band outside the mask over which the seam is "
                                     "blended."),
                # optional, so API prompts saved before it existed still validate
                io.Combo.Input("color_match", options=list(COLOR_MATCH_MODES), default="off", optional=True,
                               tooltip="off (default): paste the generated pixels as they are. mean-std: "
                                       "before pasting, shift the generated image's colours (mean and "
                                       "spread of lightness and hue, CIE Lab, per image or frame) so that "
                                       "where it should show the kept original, in a ring max(feather, 8) "
                                       "px wide around the mask, it matches the original: removes a colour "
                                       "or tone cast at the seam. Pixels beyond the feather band stay the "
                                       "original's."),
            ],
            outputs=[io.Image.Output(tooltip="The original with the generated pixels inside the mask, blended "
                                             "over the feather band, and unchanged everywhere else.")],
        )

    @classmethod
    def execute(cls, original, generated, mask, feather=8, color_match="off") -> io.NodeOutput:
        check_image(original, "original")
        check_image(generated, "generated")
        if feather < 0:
            raise ValueError(f"feather must be >= 0, got {feather}")
        if color_match not in COLOR_MATCH_MODES:
            raise ValueError(f"color_match must be one of {list(COLOR_MATCH_MODES)}, got {color_match!r}")
        return io.NodeOutput(composite(original, generated.to(original.device), mask, int(feather), color_match))
