"""Tiny real-architecture SD3-family models written at test time (nothing binary is committed).

The diffusion model is ComfyUI's own MMDiT (comfy.ldm.modules.diffusionmodules.mmdit) with the
SD3.5-Medium key layout (rms qk-norm `ln_q`/`ln_k`, MMDiT-X `x_block.attn2`), so ComfyUI's
model_detection detects it as SD3 (flow / CONST sampling, shift 3.0). The VAE is a random
16-channel TAESD (comfy.taesd) with SD3's vae_scale/vae_shift.

Weights are filled deterministically from a seed (CPU torch.Generator, sorted key order) with
small fan-in-scaled std, so outputs are finite and non-trivial. Random models do not
reconstruct images: assert preservation in latent space.

Building the MMDiT needs ComfyUI importable (call comfy_harness.bootstrap() first, or at least
comfy_harness.import_comfy(path)). The TAESD / conditioning / image helpers need only torch.
No pytest import: bench scripts can use this module.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Iterable, Optional

import torch

SD3_LATENT_CHANNELS = 16
SD3_PATCH_SIZE = 2
SD3_CONTEXT_DIM = 4096      # T5-XXL width; context_embedder.weight [hidden, 4096]
SD3_POOLED_DIM = 2048       # CLIP-L + CLIP-G pooled; y_embedder.mlp.0.weight [hidden, 2048]
SD3_TOKENS = 154            # 77 CLIP + 77 T5 tokens
SD3_VAE_SCALE = 1.5305
SD3_VAE_SHIFT = 0.0609
SD3_DOWNSCALE = 8           # pixels per latent cell

CKPT_UNET_PREFIX = "model.diffusion_model."   # CheckpointLoaderSimple (model_detection.unet_prefix_from_state_dict)
CKPT_VAE_PREFIX = "first_stage_model."        # supported_models_base.BASE.vae_key_prefix (SD3 inherits it)


# --------------------------------------------------------------------------- MMDiT

def default_x_block_self_attn_layers(depth: int) -> list:
    """SD3.5 Medium puts x_block.attn2 on the first half-ish of the blocks; here: all but the last."""
    return list(range(max(1, depth - 1)))


def mmdit_kwargs(depth: int = 2, pos_embed_max_size: int = 64,
                 x_block_self_attn_layers: Optional[Iterable[int]] = None) -> dict:
    """MMDiT(**kwargs) exactly as model_detection.detect_unet_config would reconstruct it."""
    hidden = 64 * depth
    if x_block_self_attn_layers is None:
        x_block_self_attn_layers = default_x_block_self_attn_layers(depth)
    return dict(
        input_size=None,
        patch_size=SD3_PATCH_SIZE,
        in_channels=SD3_LATENT_CHANNELS,
        out_channels=SD3_LATENT_CHANNELS,
        depth=depth,
        adm_in_channels=SD3_POOLED_DIM,
        context_embedder_config={"target": "torch.nn.Linear",
                                 "params": {"in_features": SD3_CONTEXT_DIM, "out_features": hidden}},
        num_patches=pos_embed_max_size * pos_embed_max_size,
        pos_embed_max_size=pos_embed_max_size,
        pos_embed_scaling_factor=None,
        qk_norm="rms",
        x_block_self_attn_layers=list(x_block_self_attn_layers),
    )


def _fill(shapes: dict, seed: int, std_scale: float = 1.0, relu_gain: bool = False,
          dtype: torch.dtype = torch.float32, generator: Optional[torch.Generator] = None) -> dict:
    """Deterministic weights for a {key: shape} dict, drawn in float32 and cast to `dtype` one
    tensor at a time (so a 0.5 B-parameter bf16 model never holds a float32 copy in memory).
    Drawn in sorted key order from `generator` (default: a new one seeded with `seed`)."""
    g = generator if generator is not None else torch.Generator(device="cpu").manual_seed(int(seed))
    out = {}
    for k in sorted(shapes):
        shape = tuple(shapes[k])
        leaf = k.rsplit(".", 1)[-1]
        if len(shape) == 0:
            out[k] = torch.zeros(())
        elif leaf == "bias":
            out[k] = torch.randn(shape, generator=g) * 0.02
        elif len(shape) == 1:  # norm scales (ln_q / ln_k rms weights ...)
            out[k] = 1.0 + torch.randn(shape, generator=g) * 0.02
        elif k.endswith("pos_embed"):
            out[k] = torch.randn(shape, generator=g) * 0.1
        else:
            fan_in = int(math.prod(shape[1:]))
            std = (math.sqrt(2.0) if relu_gain else 1.0) / math.sqrt(fan_in)
            out[k] = torch.randn(shape, generator=g) * (std * std_scale)
        out[k] = out[k].to(dtype).contiguous()
    return out


_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16", torch.int64: "I64",
                       torch.float8_e4m3fn: "F8_E4M3"}


def save_filled(shapes: dict, seed: int, path, meta: Optional[dict] = None, std_scale: float = 1.0,
                relu_gain: bool = False, dtype: torch.dtype = torch.float32) -> int:
    """_fill(shapes, seed, ...) written straight to a safetensors file, one tensor at a time, so a
    multi-GB model never sits in memory (nor its serialised copy). Same values as _fill; returns
    the file size."""
    import json
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    keys = sorted(shapes)
    header, offset = {}, 0
    for k in keys:
        shape = [int(d) for d in shapes[k]]
        n = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        header[k] = {"dtype": _SAFETENSORS_DTYPES[dtype], "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    if meta:
        header["__metadata__"] = {k: str(v) for k, v in meta.items()}
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    with open(path, "wb") as f:
        f.write(len(head).to_bytes(8, "little"))
        f.write(head)
        for k in keys:
            t = _fill({k: shapes[k]}, 0, std_scale, relu_gain, dtype, generator=g)[k]
            f.write(t.reshape(-1).view(torch.uint8).numpy().tobytes())
            del t
    return path.stat().st_size


def mmdit_shapes(depth: int = 2, pos_embed_max_size: int = 64,
                 x_block_self_attn_layers: Optional[Iterable[int]] = None) -> dict:
    """{bare key: shape} of ComfyUI's MMDiT built on the meta device (needs ComfyUI importable)."""
    import comfy.ops
    from comfy.ldm.modules.diffusionmodules.mmdit import MMDiT
    m = MMDiT(**mmdit_kwargs(depth, pos_embed_max_size, x_block_self_attn_layers),
              dtype=torch.float32, device="meta", operations=comfy.ops.disable_weight_init)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def build_mmdit_state_dict(depth: int = 2, pos_embed_max_size: int = 64, seed: int = 0,
                           x_block_self_attn_layers: Optional[Iterable[int]] = None,
                           std_scale: float = 1.0) -> dict:
    """Bare-key (UNETLoader layout) SD3.5-Medium-like MMDiT state dict, float32."""
    return _fill(mmdit_shapes(depth, pos_embed_max_size, x_block_self_attn_layers), seed, std_scale)


# --------------------------------------------------------------------------- TAESD

def taesd_shapes(latent_channels: int = SD3_LATENT_CHANNELS) -> dict:
    """{key: shape} of comfy.taesd.taesd.TAESD (taesd_encoder.*, taesd_decoder.*, vae_scale, vae_shift).
    Computed from a plain-torch replica of the layout, so no ComfyUI import is needed."""
    def conv(n_in, n_out, bias=True):
        return [((n_out, n_in, 3, 3)), ((n_out,) if bias else None)]

    def block(prefix, n_in, n_out, d):
        for j, idx in enumerate((0, 2, 4)):
            a, b = (n_in, n_out) if j == 0 else (n_out, n_out)
            d[f"{prefix}.conv.{idx}.weight"] = (b, a, 3, 3)
            d[f"{prefix}.conv.{idx}.bias"] = (b,)
        if n_in != n_out:
            d[f"{prefix}.skip.weight"] = (n_out, n_in, 1, 1)

    d = {}
    # Encoder: conv(3,64), Block, [conv s2 no bias, Block x3] x3, conv(64, lc)
    enc = ["conv3", "block"] + (["convs2", "block", "block", "block"] * 3) + ["convout"]
    for i, kind in enumerate(enc):
        p = f"taesd_encoder.{i}"
        if kind == "conv3":
            d[p + ".weight"] = (64, 3, 3, 3)
            d[p + ".bias"] = (64,)
        elif kind == "convs2":
            d[p + ".weight"] = (64, 64, 3, 3)
        elif kind == "convout":
            d[p + ".weight"] = (latent_channels, 64, 3, 3)
            d[p + ".bias"] = (latent_channels,)
        else:
            block(p, 64, 64, d)
    # Decoder: Clamp, conv(lc,64), ReLU, [Block x3, Upsample, conv no bias] x3, Block, conv(64,3)
    dec = ["clamp", "convin", "relu"] + (["block", "block", "block", "up", "convnb"] * 3) + ["block", "convout"]
    for i, kind in enumerate(dec):
        p = f"taesd_decoder.{i}"
        if kind == "convin":
            d[p + ".weight"] = (64, latent_channels, 3, 3)
            d[p + ".bias"] = (64,)
        elif kind == "convnb":
            d[p + ".weight"] = (64, 64, 3, 3)
        elif kind == "convout":
            d[p + ".weight"] = (3, 64, 3, 3)
            d[p + ".bias"] = (3,)
        elif kind == "block":
            block(p, 64, 64, d)
    return d


def _taesd_layout(latent_channels: int):
    enc = ["conv3", "block"] + (["convs2", "block", "block", "block"] * 3) + ["convout"]
    dec = ["clamp", "convin", "relu"] + (["block", "block", "block", "up", "convnb"] * 3) + ["block", "convout"]
    return enc, dec


def _taesd_run(sd: dict, prefix: str, kinds: list, x: torch.Tensor, stop_before_last: bool = False):
    """Functional forward of comfy.taesd's Encoder/Decoder Sequential (for weight calibration only)."""
    F = torch.nn.functional
    n = len(kinds) - 1 if stop_before_last else len(kinds)
    for i, kind in enumerate(kinds[:n]):
        p = f"{prefix}.{i}"
        if kind == "clamp":
            x = torch.tanh(x / 3) * 3
        elif kind == "relu":
            x = F.relu(x)
        elif kind == "up":
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        elif kind == "block":
            h = F.relu(F.conv2d(x, sd[p + ".conv.0.weight"], sd[p + ".conv.0.bias"], padding=1))
            h = F.relu(F.conv2d(h, sd[p + ".conv.2.weight"], sd[p + ".conv.2.bias"], padding=1))
            h = F.conv2d(h, sd[p + ".conv.4.weight"], sd[p + ".conv.4.bias"], padding=1)
            skip = F.conv2d(x, sd[p + ".skip.weight"]) if p + ".skip.weight" in sd else x
            x = F.relu(h + skip)
        else:
            x = F.conv2d(x, sd[p + ".weight"], sd.get(p + ".bias"), padding=1,
                         stride=2 if kind == "convs2" else 1)
    return x


def build_taesd_state_dict(seed: int = 0, latent_channels: int = SD3_LATENT_CHANNELS,
                           vae_scale: float = SD3_VAE_SCALE, vae_shift: float = SD3_VAE_SHIFT,
                           latent_std: float = 1.0, image_std: float = 0.25) -> dict:
    """Random TAESD state dict in VAE-file layout (`taesd_decoder.1.weight` is what sd.VAE detects).

    The last conv of each half is calibrated on a fixed input so that encoding a smooth test image
    gives model-space latents ((raw - shift) * scale) of mean ~0 / std ~latent_std, and decoding
    N(0,1) model-space latents gives pixels of mean ~0.5 / std ~image_std (not saturated)."""
    sd = _fill(taesd_shapes(latent_channels), seed, std_scale=0.5, relu_gain=True)
    enc, dec = _taesd_layout(latent_channels)
    F = torch.nn.functional
    with torch.no_grad():
        # encoder: taesd_encoder sees pixels in 0..1
        img = make_test_image(64, 64, seed=12345).movedim(-1, 1)
        h = _taesd_run(sd, "taesd_encoder", enc, img, stop_before_last=True)
        last = f"taesd_encoder.{len(enc) - 1}"
        o = F.conv2d(h, sd[last + ".weight"], None, padding=1)
        sd[last + ".weight"] = sd[last + ".weight"] * (latent_std / float(o.std()))
        o = F.conv2d(h, sd[last + ".weight"], None, padding=1)
        sd[last + ".bias"] = -o.mean(dim=(0, 2, 3))
        # decoder: input is model-space latent ((raw - shift) * scale)
        g = torch.Generator(device="cpu").manual_seed(12345)
        z = torch.randn(1, latent_channels, 8, 8, generator=g)
        h = _taesd_run(sd, "taesd_decoder", dec, z, stop_before_last=True)
        last = f"taesd_decoder.{len(dec) - 1}"
        o = F.conv2d(h, sd[last + ".weight"], None, padding=1)
        sd[last + ".weight"] = sd[last + ".weight"] * (image_std / float(o.std()))
        o = F.conv2d(h, sd[last + ".weight"], None, padding=1)
        sd[last + ".bias"] = 0.5 - o.mean(dim=(0, 2, 3))
    sd = {k: v.contiguous() for k, v in sd.items()}
    sd["vae_scale"] = torch.tensor(float(vae_scale))
    sd["vae_shift"] = torch.tensor(float(vae_shift))
    return sd


# --------------------------------------------------------------------------- files

@dataclasses.dataclass
class TinySD3Files:
    name: str                     # "<name>.safetensors": same file name in each folder
    ckpt_name: Optional[str]      # for CheckpointLoaderSimple.ckpt_name
    unet_name: Optional[str]      # for UNETLoader.unet_name (diffusion_models/)
    vae_name: Optional[str]       # for VAELoader.vae_name (vae/)
    taesd3: bool                  # vae_approx/taesd3_{encoder,decoder}.safetensors written ("taesd3" in VAELoader)
    ckpt_path: Optional[Path]
    unet_path: Optional[Path]
    vae_path: Optional[Path]
    depth: int
    hidden: int
    heads: int
    pos_embed_max_size: int
    max_image_side: int           # px: pos_embed_max_size * patch 2 * 8
    x_block_self_attn_layers: list
    seed: int
    unet_params: int
    vae_params: int
    bytes: dict                   # file -> size


def _save(sd: dict, path: Path, meta: dict):
    from safetensors.torch import save_file
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in sd.items()}, str(path), metadata={k: str(v) for k, v in meta.items()})


def write_tiny_sd3(models_dir, name: str = "tiny_sd3", depth: int = 2, pos_embed_max_size: int = 64,
                   seed: int = 0, x_block_self_attn_layers: Optional[Iterable[int]] = None,
                   checkpoint: bool = True, unet: bool = True, vae: bool = True,
                   taesd3_pair: bool = True, vae_seed: Optional[int] = None,
                   overwrite: bool = False) -> TinySD3Files:
    """Write the tiny SD3 files under models_dir/{checkpoints,diffusion_models,vae,vae_approx}.

    checkpoints/<name>.safetensors: model.diffusion_model.* + first_stage_model.<taesd keys>
    diffusion_models/<name>.safetensors: bare MMDiT keys
    vae/<name>.safetensors: taesd_encoder.*, taesd_decoder.*, vae_scale, vae_shift
    vae_approx/taesd3_{encoder,decoder}.safetensors: same TAESD, the "taesd3" VAELoader entry / previews
    The VAE is identical in all places (vae_seed, default seed + 1).
    """
    models_dir = Path(models_dir)
    fname = f"{name}.safetensors"
    if x_block_self_attn_layers is None:
        x_block_self_attn_layers = default_x_block_self_attn_layers(depth)
    x_block_self_attn_layers = list(x_block_self_attn_layers)
    vae_seed = seed + 1 if vae_seed is None else vae_seed
    unet_sd = build_mmdit_state_dict(depth, pos_embed_max_size, seed, x_block_self_attn_layers)
    vae_sd = build_taesd_state_dict(vae_seed)
    meta = {"ding_test_model": "tiny_sd3", "depth": depth, "pos_embed_max_size": pos_embed_max_size,
            "seed": seed, "vae_seed": vae_seed}
    paths = {}

    def want(p: Path) -> bool:
        return overwrite or not p.exists()

    if checkpoint:
        p = models_dir / "checkpoints" / fname
        if want(p):
            sd = {CKPT_UNET_PREFIX + k: v for k, v in unet_sd.items()}
            sd.update({CKPT_VAE_PREFIX + k: v for k, v in vae_sd.items()})
            _save(sd, p, meta)
        paths["ckpt"] = p
    if unet:
        p = models_dir / "diffusion_models" / fname
        if want(p):
            _save(unet_sd, p, meta)
        paths["unet"] = p
    if vae:
        p = models_dir / "vae" / fname
        if want(p):
            _save(vae_sd, p, meta)
        paths["vae"] = p
    if taesd3_pair:
        for part in ("encoder", "decoder"):
            p = models_dir / "vae_approx" / f"taesd3_{part}.safetensors"
            if want(p):
                pre = f"taesd_{part}."
                _save({k[len(pre):]: v for k, v in vae_sd.items() if k.startswith(pre)}, p, meta)
    return TinySD3Files(
        name=name,
        ckpt_name=fname if checkpoint else None,
        unet_name=fname if unet else None,
        vae_name=fname if vae else None,
        taesd3=taesd3_pair,
        ckpt_path=paths.get("ckpt"), unet_path=paths.get("unet"), vae_path=paths.get("vae"),
        depth=depth, hidden=64 * depth, heads=depth, pos_embed_max_size=pos_embed_max_size,
        max_image_side=pos_embed_max_size * SD3_PATCH_SIZE * SD3_DOWNSCALE,
        x_block_self_attn_layers=x_block_self_attn_layers, seed=seed,
        unet_params=sum(v.numel() for v in unet_sd.values()),
        vae_params=sum(v.numel() for v in vae_sd.values()),
        bytes={str(p): p.stat().st_size for p in paths.values()},
    )


# --------------------------------------------------------------------------- inputs

def sd3_conditioning(seed: int = 0, tokens: int = SD3_TOKENS, batch: int = 1, scale: float = 1.0) -> list:
    """Hand-made SD3 CONDITIONING: [[cross_attn [B,tokens,4096], {"pooled_output": [B,2048]}]]."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    cond = torch.randn(batch, tokens, SD3_CONTEXT_DIM, generator=g) * scale
    pooled = torch.randn(batch, SD3_POOLED_DIM, generator=g) * scale
    return [[cond, {"pooled_output": pooled}]]


def make_test_image(width: int = 128, height: int = 128, seed: int = 0, batch: int = 1) -> torch.Tensor:
    """Smooth deterministic RGB IMAGE [B,H,W,3] in 0..1 (low-frequency noise, bilinear upsampled)."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    low = torch.rand(batch, 3, max(2, height // 16), max(2, width // 16), generator=g)
    img = torch.nn.functional.interpolate(low, size=(height, width), mode="bilinear", align_corners=False)
    return img.clamp(0, 1).movedim(1, -1).contiguous()


def make_test_mask(width: int = 128, height: int = 128, kind: str = "rect", x: int = 32, y: int = 32,
              w: int = 64, h: int = 64, stroke_width: int = 3) -> torch.Tensor:
    """MASK [1,H,W] float, 1 = repaint. rect: [y:y+h, x:x+w]; stroke: line (x,y)->(x+w,y+h)
    of `stroke_width` px (distance to segment <= stroke_width/2); none: zeros; full: ones."""
    m = torch.zeros(1, height, width)
    if kind == "full":
        m[:] = 1.0
    elif kind == "rect":
        m[:, y:y + h, x:x + w] = 1.0
    elif kind == "stroke":
        yy, xx = torch.meshgrid(torch.arange(height) + 0.5, torch.arange(width) + 0.5, indexing="ij")
        x0, y0, x1, y1 = float(x), float(y), float(x + w), float(y + h)
        dx, dy = x1 - x0, y1 - y0
        L2 = dx * dx + dy * dy
        if L2 == 0:
            t = torch.zeros_like(xx)
        else:
            t = (((xx - x0) * dx + (yy - y0) * dy) / L2).clamp(0, 1)
        dist = torch.sqrt((xx - (x0 + t * dx)) ** 2 + (yy - (y0 + t * dy)) ** 2)
        m[0] = (dist <= stroke_width / 2.0).float()
    elif kind != "none":
        raise ValueError(f"unknown mask kind {kind!r}")
    return m
