"""Tiny random-weight LTX-Video model and LTX-Video VAE in one checkpoint, written at test time.

Both are built by ComfyUI itself, following tiny_families.py: a skeleton of the keys ComfyUI's
`model_detection` reads is detected, the detected config builds the model on the meta device
(`model_config.get_model(..., device="meta")`), the {key: shape} is filled deterministically
(tiny_models._fill), and the full key set is detected again before the file is written.

* diffusion model (comfy.ldm.lightricks.model.LTXVModel): detected by
  ``adaln_single.emb.timestep_embedder.linear_1.bias`` (and no ``pos_embed.proj.bias``, which
  is PixArt) as image_model "ltxv" -> supported_models.LTXV: flow (CONST) sampling, shift 2.37,
  latent format LTXV (128 channels, patch size 1: one token per latent cell). Detection fixes
  32 heads: ``attention_head_dim = transformer_blocks.0.attn2.to_k.weight.shape[0] // 32`` and
  ``cross_attention_dim = shape[1]``; ``num_layers`` counts the blocks. Width 128 (head dim 4)
  and one block: ~0.99 M parameters, most of them the 4096 -> 128 caption projection.
  (An ``audio_adaln_single.linear.weight`` key makes ComfyUI 0.8.0 say "ltxav": audio + video.)
* VAE (comfy.ldm.lightricks.vae.causal_video_autoencoder.VideoVAE): ComfyUI detects it by
  ``decoder.up_blocks.0.res_blocks.0.conv1.conv.weight`` and takes its block layout from the
  safetensors metadata ``config`` -> ``vae`` when present (as the real LTX-Video checkpoints
  ship it), else guesses one of three full-size layouts from that key's width. VAELoader does not
  pass the file's metadata, so a tiny layout only loads from a checkpoint
  (CheckpointLoaderSimple, keys ``vae.*``, supported_models.LTXV.vae_key_prefix). The layout
  here keeps what makes it LTX-Video: patch size 4 then three 2x space-time compressions
  (32x in space, 8x in time, the first frame alone through causal convolutions, as the
  0.9.5 VAE's space-to-depth encoder blocks), a decoder of three depth-to-space upsamplings
  with a residual block at latent resolution, 128 latent channels, base width 128 (fixed by
  the class): ~12.9 M parameters.

The VAE's per-channel statistics (``per_channel_statistics.mean-of-means`` / ``std-of-means``,
which ComfyUI's VideoVAE uses to normalize latents) are set so that a smooth test clip encodes
to latents of mean ~0, std ~1 per channel, and its last decoder conv so that N(0, 1) latents
decode to pixels around 0.5 (std ~0.25). Random models do not reconstruct: check preservation
in latent space.

Needs ComfyUI importable (comfy_harness.bootstrap() or import_comfy()). No pytest import.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Optional

import torch

from comfy_testbed import tiny_families, tiny_models
from comfy_testbed.tiny_wan import _calibrate_conv, make_test_clip

LTXV_LATENT_CHANNELS = 128
LTXV_HEADS = 32              # model_detection: attention_head_dim = to_k rows // 32
LTXV_CONTEXT_DIM = 4096      # T5-XXL
LTXV_TOKENS = 128            # comfy.text_encoders.lt.T5XXLTokenizer pads to at least 128 tokens
LTXV_TIME_RATIO = 8          # pixel frames per latent frame (after the first)
LTXV_SPACE_RATIO = 32        # pixels per latent cell
LTXV_SHIFT = 2.37            # supported_models.LTXV sampling_settings


# --------------------------------------------------------------------------- diffusion model

def ltxv_skeleton(width: int = 128, num_layers: int = 1) -> dict:
    """The keys/shapes LTXV detection reads (width = 32 heads x head dim)."""
    if width % LTXV_HEADS:
        raise ValueError(f"width must be a multiple of {LTXV_HEADS} (32 heads), got {width}")
    sk = {"adaln_single.emb.timestep_embedder.linear_1.bias": (width,)}
    for i in range(num_layers):
        sk[f"transformer_blocks.{i}.attn2.to_k.weight"] = (width, width)
    return sk


def ltxv_config(width: int = 128, num_layers: int = 1):
    """(model_config, shapes) of the tiny LTXV as this ComfyUI detects and builds it."""
    cfg = tiny_families.detect(tiny_families._meta(ltxv_skeleton(width, num_layers)))
    if cfg is None:
        raise RuntimeError("ComfyUI did not detect the LTXV skeleton")
    return cfg, tiny_families.shapes_from_config(cfg)


# --------------------------------------------------------------------------- VAE

def ltxv_vae_config() -> dict:
    """The tiny VideoVAE layout (the checkpoint's metadata config["vae"])."""
    return {
        "_class_name": "CausalVideoAutoencoder", "dims": 3, "in_channels": 3, "out_channels": 3,
        "latent_channels": LTXV_LATENT_CHANNELS,
        "encoder_blocks": [["compress_all_res", {"multiplier": 1}]] * 3,
        "decoder_blocks": [["compress_all", {"residual": True, "multiplier": 1}]] * 3
                          + [["res_x", {"num_layers": 1, "inject_noise": False}]],
        "scaling_factor": 1.0, "norm_layer": "pixel_norm", "patch_size": 4,
        "latent_log_var": "uniform", "use_quant_conv": False, "causal_decoder": False,
        "timestep_conditioning": False,
    }


def _vae_module(device="meta"):
    from comfy.ldm.lightricks.vae.causal_video_autoencoder import VideoVAE
    with torch.device(device):
        return VideoVAE(config=ltxv_vae_config())


def ltxv_vae_shapes() -> dict:
    return {k: tuple(v.shape) for k, v in _vae_module().state_dict().items()}


def build_ltxv_vae_state_dict(seed: int = 0, calibrate: bool = True) -> dict:
    """Random tiny LTX-Video VAE state dict (bare VideoVAE keys), float32."""
    sd = tiny_models._fill(ltxv_vae_shapes(), seed)
    stats = "per_channel_statistics."
    for k in sd:
        if k.startswith(stats):
            sd[k] = torch.ones_like(sd[k]) if "std" in k else torch.zeros_like(sd[k])
    if not calibrate:
        return sd
    vae = _vae_module("cpu")
    vae.load_state_dict(sd)
    vae.eval()
    with torch.inference_mode(False), torch.no_grad():
        clip = make_test_clip(17, 128, 128, seed=12345).movedim(-1, 0)[None] * 2 - 1  # [1,3,T,H,W]
        z = vae.encode(clip)                                     # stats 0 / 1: the raw means
        flat = z[0].reshape(LTXV_LATENT_CHANNELS, -1)
        buffers = dict(vae.per_channel_statistics.named_buffers())
        buffers["mean-of-means"].copy_(flat.mean(dim=1))
        buffers["std-of-means"].copy_(flat.std(dim=1).clamp_min(1e-3))
        seen = []
        conv = vae.decoder.conv_out.conv
        hook = conv.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
        g = torch.Generator(device="cpu").manual_seed(12345)
        vae.decode(torch.randn(1, LTXV_LATENT_CHANNELS, 3, 4, 4, generator=g))
        hook.remove()
        rows = conv.out_channels
        _calibrate_conv(conv, seen, slice(0, rows), torch.zeros(rows), torch.full((rows,), 0.5))
    return {k: v.detach().clone().contiguous() for k, v in vae.state_dict().items()}


# --------------------------------------------------------------------------- files

@dataclasses.dataclass
class TinyLTXVFiles:
    ckpt_name: str               # CheckpointLoaderSimple (checkpoints/): model + VAE
    ckpt_path: Path
    detected: str                # supported_models class name
    unet_config: dict
    width: int
    num_layers: int
    params: int                  # diffusion model parameters
    vae_params: int
    vae_config: dict
    bytes: dict                  # file -> size
    build_seconds: float


def write_tiny_ltxv(models_dir, name: str = "tiny_ltxv", width: int = 128, num_layers: int = 1,
                    seed: int = 0, vae_seed: Optional[int] = None, overwrite: bool = False) -> TinyLTXVFiles:
    """Write checkpoints/<name>.safetensors: ``model.diffusion_model.*`` (LTXVModel, float32),
    ``vae.*`` (VideoVAE, float32) and the metadata ``config`` = {"vae": layout} ComfyUI reads."""
    t0 = time.perf_counter()
    models_dir = Path(models_dir)
    vae_seed = seed + 1 if vae_seed is None else vae_seed
    cfg, shapes = ltxv_config(width, num_layers)
    detected = tiny_families.check_detection("ltxv", shapes, cfg)
    vae_shapes = ltxv_vae_shapes()
    path = models_dir / "checkpoints" / f"{name}.safetensors"
    if overwrite or not path.exists():
        sd = {tiny_models.CKPT_UNET_PREFIX + k: v for k, v in tiny_models._fill(shapes, seed).items()}
        sd.update({"vae." + k: v for k, v in build_ltxv_vae_state_dict(vae_seed).items()})
        meta = {"ding_test_model": "tiny_ltxv", "width": width, "num_layers": num_layers, "seed": seed,
                "vae_seed": vae_seed, "config": json.dumps({"vae": ltxv_vae_config()})}
        tiny_models._save(sd, path, meta)
        del sd
    return TinyLTXVFiles(
        ckpt_name=path.name, ckpt_path=path, detected=detected, unet_config=dict(cfg.unet_config),
        width=width, num_layers=num_layers, params=sum(math.prod(s) for s in shapes.values()),
        vae_params=sum(math.prod(s) for s in vae_shapes.values()), vae_config=ltxv_vae_config(),
        bytes={str(path): path.stat().st_size}, build_seconds=time.perf_counter() - t0)
