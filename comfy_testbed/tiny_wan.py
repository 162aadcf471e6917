"""Tiny random-weight Wan 2.1 text-to-video model and Wan 2.1 VAE, written at test time.

Both are built from ComfyUI's own classes (comfy.ldm.wan.model.WanModel,
comfy.ldm.wan.vae.WanVAE) on the meta device for their key layout, filled with
deterministic weights and saved with safetensors; ComfyUI's own loaders detect them:

* diffusion model (UNETLoader, bare keys): ``head.modulation`` makes model_detection say
  image_model "wan2.1"; no ``img_emb.*`` / ``vace_*`` / ... keys makes it model_type "t2v",
  so supported_models.WAN21_T2V: flow (CONST) sampling with shift 8.0, latent format Wan21.
  num_heads = dim // 128, so dim 128 (one head) and one block is the smallest layout.
* VAE (VAELoader): ``decoder.middle.0.residual.0.gamma`` without
  ``decoder.upsamples.0.upsamples.0.residual.2.weight`` makes comfy.sd.VAE build the Wan 2.1
  VAE (16 channels, 8x in space, 4x in time with the first frame alone). ComfyUI 0.3.64
  fixes its width at dim 96 (127 M parameters), so that is the smallest one both supported
  versions load; ComfyUI 0.8.0 reads dim from ``decoder.head.0.gamma``.

The VAE's last encoder conv is calibrated so that a smooth test clip encodes to latents
with Wan21's per-channel mean/std (model-space latents of mean ~0, std ~1), and its last
decoder conv so that N(0, 1) model-space latents decode to pixels around 0.5 (std ~0.25).
Random models do not reconstruct: check preservation in latent space.

Needs ComfyUI importable (comfy_harness.bootstrap() or import_comfy() first).
No pytest import: bench scripts use this module too.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Optional

import torch

from comfy_testbed.tiny_models import _fill, _save, make_test_image, make_test_mask

WAN_LATENT_CHANNELS = 16
WAN_HEAD_DIM = 128           # model_detection: num_heads = dim // 128
WAN_VAE_DIM = 96             # the Wan 2.1 VAE width ComfyUI 0.3.64 hard-codes
WAN_TIME_RATIO = 4           # pixel frames per latent frame (after the first)
WAN_SPACE_RATIO = 8          # pixels per latent cell


# --------------------------------------------------------------------------- diffusion model

def wan_kwargs(dim: int = 128, ffn_dim: int = 256, num_layers: int = 1,
               channels: int = WAN_LATENT_CHANNELS) -> dict:
    """WanModel(**kwargs) exactly as model_detection rebuilds a Wan t2v state dict: Wan 2.1 with
    16 latent channels, Wan 2.2 TI2V-5B (WAN22_T2V) with 48."""
    if dim % WAN_HEAD_DIM:
        raise ValueError(f"dim must be a multiple of {WAN_HEAD_DIM} (heads of 128), got {dim}")
    return dict(model_type="t2v", patch_size=(1, 2, 2), in_dim=channels, dim=dim,
                ffn_dim=ffn_dim, freq_dim=256, out_dim=channels,
                num_heads=dim // WAN_HEAD_DIM, num_layers=num_layers, window_size=(-1, -1),
                qk_norm=True, cross_attn_norm=True, eps=1e-6, image_model="wan2.1")


def wan_shapes(dim: int = 128, ffn_dim: int = 256, num_layers: int = 1,
               channels: int = WAN_LATENT_CHANNELS) -> dict:
    """{bare key: shape} of ComfyUI's WanModel built on the meta device."""
    import comfy.ops
    from comfy.ldm.wan.model import WanModel
    m = WanModel(**wan_kwargs(dim, ffn_dim, num_layers, channels), device="meta", dtype=torch.float32,
                 operations=comfy.ops.disable_weight_init)
    return {k: tuple(v.shape) for k, v in m.state_dict().items()}


def build_wan_state_dict(dim: int = 128, ffn_dim: int = 256, num_layers: int = 1,
                         seed: int = 0) -> dict:
    """Bare-key (UNETLoader layout) Wan 2.1 t2v state dict, float32, deterministic: the
    tiny_models weight filling (norm weights 1 + small noise, biases small, matrices and
    modulations fan-in scaled)."""
    return _fill(wan_shapes(dim, ffn_dim, num_layers), seed)


# --------------------------------------------------------------------------- VAE

def _wan_vae_module(dim: int, device="meta"):
    from comfy.ldm.wan.vae import WanVAE
    with torch.device(device):
        return WanVAE(dim=dim, z_dim=WAN_LATENT_CHANNELS, dim_mult=[1, 2, 4, 4], num_res_blocks=2,
                      attn_scales=[], temperal_downsample=[False, True, True], dropout=0.0)


def wan_vae_shapes(dim: int = WAN_VAE_DIM) -> dict:
    return {k: tuple(v.shape) for k, v in _wan_vae_module(dim).state_dict().items()}


def _fill_vae(shapes: dict, seed: int) -> dict:
    """RMS-norm gammas 1, small biases, fan-in-scaled conv / linear weights."""
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    out = {}
    for k in sorted(shapes):
        shape = shapes[k]
        if k.endswith("gamma"):
            out[k] = torch.ones(shape)
        elif k.endswith("bias"):
            out[k] = torch.randn(shape, generator=g) * 0.02
        else:
            out[k] = torch.randn(shape, generator=g) / math.sqrt(math.prod(shape[1:]))
    return out


def _calibrate_wan_vae(vae, latent_format, latent_channels: int, head_rows: int, z_size: tuple):
    """Calibrate a random Wan VAE module in place (see the module docstring): its last encoder
    conv (``conv1``, the mean rows) to the latent format's per-channel mean/std on a smooth
    5-frame 64x64 clip; its last decoder conv (``head_rows`` output rows) so that N(0, 1)
    model-space latents of size ``z_size`` (T', h, w) decode to pixels around 0.5 (std ~0.25)."""
    mean = latent_format.latents_mean.flatten().float()
    std = latent_format.latents_std.flatten().float()
    seen = []
    with torch.inference_mode(False), torch.no_grad():
        hook = vae.conv1.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
        clip = make_test_clip(5, 64, 64, seed=12345).movedim(-1, 0)[None] * 2 - 1  # [1,3,T,H,W] in -1..1
        vae.encode(clip)
        hook.remove()
        _calibrate_conv(vae.conv1, seen, slice(0, latent_channels), mean, std)
        seen.clear()
        head = vae.decoder.head[-1]
        hook = head.register_forward_hook(lambda m, i, o: seen.append(o.detach().clone()))
        g = torch.Generator(device="cpu").manual_seed(12345)
        z = torch.randn(1, latent_channels, *z_size, generator=g) * std.view(1, -1, 1, 1, 1) \
            + mean.view(1, -1, 1, 1, 1)
        vae.decode(z)
        hook.remove()
        _calibrate_conv(head, seen, slice(0, head_rows), torch.zeros(head_rows), torch.full((head_rows,), 0.5))


def make_test_clip(frames: int = 5, width: int = 64, height: int = 64, seed: int = 0,
                   shift: int = 2) -> torch.Tensor:
    """Smooth deterministic clip IMAGE [T, H, W, 3] in 0..1: one low-frequency image panning
    ``shift`` pixels to the right per frame."""
    wide = make_test_image(width + shift * max(0, frames - 1), height, seed=seed)[0]
    return torch.stack([wide[:, f * shift:f * shift + width] for f in range(frames)]).contiguous()


def _calibrate_conv(conv, outputs: list, rows: slice, target_mean: torch.Tensor,
                    target_std: torch.Tensor):
    """Rescale conv output channels ``rows`` so the recorded outputs get the target stats."""
    o = torch.cat([x[:, rows].movedim(1, 0).reshape(rows.stop - rows.start, -1) for x in outputs], 1)
    b = conv.bias.data[rows]
    raw = o - b[:, None]
    a = target_std / raw.std(dim=1).clamp_min(1e-6)
    conv.weight.data[rows] *= a.view(-1, *([1] * (conv.weight.ndim - 1)))
    conv.bias.data[rows] = target_mean - a * raw.mean(dim=1)


def build_wan_vae_state_dict(seed: int = 0, dim: int = WAN_VAE_DIM, calibrate: bool = True) -> dict:
    """Random Wan 2.1 VAE state dict (VAELoader layout), float32."""
    sd = _fill_vae(wan_vae_shapes(dim), seed)
    if not calibrate:
        return sd
    from comfy.latent_formats import Wan21
    vae = _wan_vae_module(dim, device="cpu")
    vae.load_state_dict(sd)
    vae.eval()
    _calibrate_wan_vae(vae, Wan21(), WAN_LATENT_CHANNELS, 3, (2, 8, 8))
    return {k: v.detach().clone().contiguous() for k, v in vae.state_dict().items()}


# --------------------------------------------------------------------------- files

@dataclasses.dataclass
class TinyWanFiles:
    unet_name: str                # UNETLoader.unet_name (diffusion_models/)
    vae_name: str                 # VAELoader.vae_name (vae/)
    unet_path: Path
    vae_path: Path
    dim: int
    ffn_dim: int
    num_layers: int
    vae_dim: int
    unet_params: int
    vae_params: int
    bytes: dict                   # file -> size
    build_seconds: float


def write_tiny_wan(models_dir, name: str = "tiny_wan21", dim: int = 128, ffn_dim: int = 256,
                   num_layers: int = 1, seed: int = 0, vae_seed: Optional[int] = None,
                   vae_dim: int = WAN_VAE_DIM, vae_dtype: torch.dtype = torch.float16,
                   overwrite: bool = False) -> TinyWanFiles:
    """Write diffusion_models/<name>.safetensors (bare WanModel keys) and
    vae/<name>_vae.safetensors (Wan 2.1 VAE, stored in ``vae_dtype`` to halve the file;
    ComfyUI casts it to its VAE dtype on load) under ``models_dir``."""
    import time
    t0 = time.perf_counter()
    models_dir = Path(models_dir)
    vae_seed = seed + 1 if vae_seed is None else vae_seed
    unet_path = models_dir / "diffusion_models" / f"{name}.safetensors"
    vae_path = models_dir / "vae" / f"{name}_vae.safetensors"
    meta = {"ding_test_model": "tiny_wan21", "dim": dim, "ffn_dim": ffn_dim,
            "num_layers": num_layers, "seed": seed, "vae_seed": vae_seed, "vae_dim": vae_dim}
    shapes = wan_shapes(dim, ffn_dim, num_layers)
    unet_params = sum(math.prod(s) for s in shapes.values())
    if overwrite or not unet_path.exists():
        _save(build_wan_state_dict(dim, ffn_dim, num_layers, seed), unet_path, meta)
    vae_params = sum(math.prod(s) for s in wan_vae_shapes(vae_dim).values())
    if overwrite or not vae_path.exists():
        vae_sd = build_wan_vae_state_dict(vae_seed, vae_dim)
        _save({k: v.to(vae_dtype) for k, v in vae_sd.items()}, vae_path, meta)
    return TinyWanFiles(unet_name=unet_path.name, vae_name=vae_path.name, unet_path=unet_path,
                        vae_path=vae_path, dim=dim, ffn_dim=ffn_dim, num_layers=num_layers,
                        vae_dim=vae_dim, unet_params=unet_params, vae_params=vae_params,
                        bytes={str(p): p.stat().st_size for p in (unet_path, vae_path)},
                        build_seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- Wan 2.2 TI2V-5B

WAN22_LATENT_CHANNELS = 48   # supported_models.WAN22_T2V: unet_config out_dim 48
WAN22_SPACE_RATIO = 16       # the Wan 2.2 VAE: 2x2 patchify, then 8x


def wan22_skeleton(dim: int = 128, ffn_dim: int = 256, num_layers: int = 1) -> dict:
    """{bare key: shape} of a Wan 2.2 TI2V-5B-layout WanModel (48 latent channels in and out),
    from ComfyUI's WanModel on the meta device."""
    return wan_shapes(dim, ffn_dim, num_layers, channels=WAN22_LATENT_CHANNELS)


def detect_wan22(shapes: dict):
    """ComfyUI's own detection of a bare-key state dict of these shapes: the model config it
    picks, and the {key: shape} of the diffusion model that config builds (meta device)."""
    from comfy_testbed.tiny_families import _meta, detect, shapes_from_config
    cfg = detect(_meta(shapes))
    if cfg is None:
        raise RuntimeError("ComfyUI did not detect the tiny Wan 2.2 state dict")
    return cfg, shapes_from_config(cfg)


@dataclasses.dataclass
class TinyWan22Files:
    unet_name: str                # UNETLoader.unet_name (diffusion_models/)
    unet_path: Path
    detected: str                 # the comfy.supported_models class ComfyUI detected
    dim: int
    ffn_dim: int
    num_layers: int
    unet_params: int
    bytes: dict                   # file -> size
    build_seconds: float


def write_tiny_wan22(models_dir, name: str = "tiny_wan22", dim: int = 128, ffn_dim: int = 256,
                     num_layers: int = 1, seed: int = 0, overwrite: bool = False) -> TinyWan22Files:
    """Write diffusion_models/<name>.safetensors: a Wan 2.2 TI2V-5B-layout WanModel (bare keys,
    48 latent channels, float32) that ComfyUI detects as WAN22_T2V (model class WAN22). The
    full key set is detected before writing and must rebuild the same shapes.

    No VAE: ComfyUI builds the Wan 2.2 VAE at a fixed width (see ``wan22_vae_on_meta``), 705 M
    parameters whatever the file holds, too big for the test suite; ``write_wan22_vae`` writes
    one for opt-in checks."""
    import time
    t0 = time.perf_counter()
    path = Path(models_dir) / "diffusion_models" / f"{name}.safetensors"
    shapes = wan22_skeleton(dim, ffn_dim, num_layers)
    cfg, built = detect_wan22(shapes)
    detected = type(cfg).__name__
    if detected != "WAN22_T2V" or built != shapes:
        raise RuntimeError(f"ComfyUI detected the tiny Wan 2.2 state dict as {detected}"
                           + ("" if built == shapes else " and builds other shapes from it"))
    if overwrite or not path.exists():
        meta = {"ding_test_model": "tiny_wan22", "dim": dim, "ffn_dim": ffn_dim,
                "num_layers": num_layers, "seed": seed}
        _save(_fill(shapes, seed), path, meta)
    return TinyWan22Files(unet_name=path.name, unet_path=path, detected=detected, dim=dim,
                          ffn_dim=ffn_dim, num_layers=num_layers,
                          unet_params=sum(math.prod(s) for s in shapes.values()),
                          bytes={str(path): path.stat().st_size},
                          build_seconds=time.perf_counter() - t0)


class _DetectionKeys(dict):
    """An empty state dict that answers ``key in sd`` with True for the given keys: ComfyUI's VAE
    detection reads only key presence for the Wan VAEs, so this makes comfy.sd.VAE pick and
    build its Wan 2.2 VAE without holding any tensor."""

    def __init__(self, keys):
        super().__init__()
        self._keys = frozenset(keys)

    def __contains__(self, key):
        return key in self._keys


WAN22_VAE_DETECTION_KEYS = ("decoder.middle.0.residual.0.gamma",            # a Wan VAE
                            "decoder.upsamples.0.upsamples.0.residual.2.weight")  # ... the 2.2 one


def wan22_vae_on_meta():
    """ComfyUI's own comfy.sd.VAE for the Wan 2.2 VAE, built on the meta device from its detection
    keys alone: its ratios, channel count and module layout exactly as VAELoader would build them
    (ComfyUI fixes the width, so every key of ``wan22_vae_shapes()`` must be in a file), but no
    weights: it cannot encode or decode. ComfyUI warns about the missing keys."""
    import logging
    import comfy.sd
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # "Missing VAE keys [...196 keys]"
    try:
        with torch.device("meta"):
            vae = comfy.sd.VAE(sd=_DetectionKeys(WAN22_VAE_DETECTION_KEYS))
    finally:
        logging.getLogger().setLevel(level)
    if vae.first_stage_model is None or vae.latent_channels != WAN22_LATENT_CHANNELS:
        raise RuntimeError("ComfyUI did not build its Wan 2.2 VAE from the Wan 2.2 detection keys")
    return vae


def wan22_vae_shapes() -> dict:
    """{key: shape} of the Wan 2.2 VAE as ComfyUI builds it (VAELoader layout)."""
    return {k: tuple(v.shape) for k, v in wan22_vae_on_meta().first_stage_model.state_dict().items()}


def build_wan22_vae_state_dict(seed: int = 0, dtype: torch.dtype = torch.float16,
                               calibrate: bool = True) -> dict:
    """Random full-size Wan 2.2 VAE state dict (VAELoader layout) in ``dtype``, calibrated like
    the Wan 2.1 one (latents with Wan22's per-channel mean/std). About 705 M parameters: 2.8 GB
    of float32 while it is built, about 20 s on one core."""
    module = wan22_vae_on_meta().first_stage_model
    sd = _fill_vae({k: tuple(v.shape) for k, v in module.state_dict().items()}, seed)
    module.load_state_dict(sd, assign=True)
    del sd
    module.eval()
    if calibrate:
        from comfy.latent_formats import Wan22
        _calibrate_wan_vae(module, Wan22(), WAN22_LATENT_CHANNELS, module.decoder.head[-1].weight.shape[0],
                           (2, 4, 4))
    sd = module.state_dict()
    del module
    out = {}
    for k in list(sd):  # one float32 tensor at a time, so the float32 copy is let go as we go
        out[k] = sd.pop(k).detach().to(dtype).contiguous()
    return out


def write_wan22_vae(models_dir, name: str = "wan22_random_vae", seed: int = 1,
                    overwrite: bool = False) -> Path:
    """Write vae/<name>.safetensors: a random full-size Wan 2.2 VAE (float16, 1.4 GB) that
    VAELoader loads as ComfyUI's Wan 2.2 VAE. Its key set is checked against ComfyUI's layout."""
    path = Path(models_dir) / "vae" / f"{name}.safetensors"
    if overwrite or not path.exists():
        sd = build_wan22_vae_state_dict(seed)
        expected = wan22_vae_shapes()
        if {k: tuple(v.shape) for k, v in sd.items()} != expected:
            raise RuntimeError("the Wan 2.2 VAE state dict does not match ComfyUI's layout")
        _save(sd, path, {"ding_test_model": "wan22_random_vae", "seed": seed})
    return path


# --------------------------------------------------------------------------- inputs

def make_clip_masks(frames: int = 5, width: int = 64, height: int = 64, kind: str = "rect",
                    x: int = 16, y: int = 16, w: int = 24, h: int = 24, stroke_width: int = 3,
                    only_frame: int = -1) -> torch.Tensor:
    """MASK [T, H, W] (1 = repaint): the tiny_models.make_test_mask shape in every frame,
    or only in frame ``only_frame`` (>= 0), the others empty."""
    one = make_test_mask(width, height, kind=kind, x=x, y=y, w=w, h=h, stroke_width=stroke_width)[0]
    m = one.expand(frames, -1, -1).clone()
    if only_frame >= 0:
        if only_frame >= frames:
            raise ValueError(f"only_frame {only_frame} is not a frame of a {frames}-frame clip")
        keep = torch.zeros(frames, 1, 1)
        keep[only_frame] = 1
        m = m * keep
    return m


def make_test_nodes() -> dict:
    """TEST-ONLY node classes (register them yourself): a clip with per-frame masks and
    Wan-shaped conditioning."""

    class DInGTestClipMask:
        """TEST ONLY: a panning smooth clip IMAGE [T, H, W, 3] and its MASK: one mask for all
        frames (mask_frames 'one') or one per frame ('per_frame'), or a mask in a single frame."""
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {
                "frames": ("INT", {"default": 5, "min": 1, "max": 1024}),
                "width": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 8}),
                "height": ("INT", {"default": 64, "min": 8, "max": 4096, "step": 8}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**63 - 1}),
                "mask_kind": (["rect", "stroke", "none", "full"],),
                "mask_frames": (["one", "per_frame"],),
                "only_frame": ("INT", {"default": -1, "min": -1, "max": 1024}),
                "x": ("INT", {"default": 16, "min": 0, "max": 4096}),
                "y": ("INT", {"default": 16, "min": 0, "max": 4096}),
                "w": ("INT", {"default": 24, "min": 0, "max": 4096}),
                "h": ("INT", {"default": 24, "min": 0, "max": 4096}),
                "stroke_width": ("INT", {"default": 3, "min": 1, "max": 256}),
            }}
        RETURN_TYPES = ("IMAGE", "MASK")
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, frames, width, height, seed, mask_kind, mask_frames, only_frame,
                 x, y, w, h, stroke_width):
            clip = make_test_clip(frames, width, height, seed=seed)
            masks = make_clip_masks(frames, width, height, mask_kind, x, y, w, h, stroke_width,
                                    only_frame)
            if mask_frames == "one":
                if only_frame >= 0:
                    raise ValueError("mask_frames 'one' cannot have only_frame")
                masks = masks[:1]
            return (clip, masks)

    return {"DInGTestClipMask": DInGTestClipMask}


def write_test_video(path, frames: torch.Tensor, fps: int = 16) -> Path:
    """Write an IMAGE [T, H, W, 3] (0..1) as an H.264 (or MPEG-4 part 2) .mp4 with PyAV, a
    ComfyUI dependency, for Load Video. Lossy: threshold masks read back from it."""
    import av
    import numpy as np
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (frames.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    with av.open(str(path), mode="w") as container:
        try:
            stream = container.add_stream("libx264", rate=fps)
        except Exception:  # noqa: BLE001  (a PyAV build without libx264)
            stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = int(arr.shape[2]), int(arr.shape[1])
        stream.pix_fmt = "yuv420p"
        for f in arr:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def check_causal_frame_mapping(vae, frames: int, size: int, time_ratio: int) -> tuple:
    """Check a causal video VAE against the space-time mask rule (ding_sampler.masks): perturbing
    pixel frame j changes no latent frame before the one the rule says covers j and does change
    that one; perturbing latent frame k leaves every pixel frame before its span unchanged and
    changes the frames of its span. Raises AssertionError naming the frame; returns the latent
    shape of the ``frames`` x ``size`` x ``size`` test clip."""
    from ding_sampler.masks import latent_frame_spans
    spans = latent_frame_spans(frames, time_ratio)
    clip = make_test_clip(frames, size, size, seed=3)
    lo, hi = size // 4, 3 * size // 4
    with torch.inference_mode():
        base = vae.encode(clip)
        for j in sorted({0, 1, time_ratio, time_ratio + 1, frames - 1}):
            k = next(i for i, (a, b) in enumerate(spans) if a <= j < b)
            bumped = clip.clone()
            bumped[j, lo:hi, lo:hi] = 1.0 - bumped[j, lo:hi, lo:hi]
            z = vae.encode(bumped)
            assert torch.equal(z[:, :, :k], base[:, :, :k]), f"pixel frame {j} changed an earlier latent frame"
            assert (z[:, :, k] - base[:, :, k]).abs().max() > 1e-3, f"pixel frame {j} left latent frame {k} unchanged"
        pixels = vae.decode(base).reshape(-1, size, size, 3)
        assert pixels.shape[0] == frames, pixels.shape
        for k, (a, b) in enumerate(spans):
            z = base.clone()
            z[:, :, k] += 2.0
            out = vae.decode(z).reshape(-1, size, size, 3)
            assert torch.equal(out[:a], pixels[:a]), f"latent frame {k} changed an earlier pixel frame"
            assert all((out[f] - pixels[f]).abs().max() > 1e-3 for f in range(a, b)), \
                f"latent frame {k} left a frame of its span unchanged"
    return tuple(base.shape)


def write_twin_clips(prompt: dict, input_dir, size: int) -> tuple:
    """The clip and mask video a shipped Wan twin's Load Video nodes name, written to input_dir: a
    9-frame test clip at ``size`` px and, for the node whose file name holds "mask", a mask video
    with a box moving through frames 1-3 only. Returns (the box mask [9, size, size], {name: path})."""
    clip = make_test_clip(9, size, size, seed=5)
    box = torch.zeros(9, size, size)
    for f in (1, 2, 3):
        box[f, 16:32, 8 + 6 * f:24 + 6 * f] = 1
    files = {}
    for node in prompt.values():
        if node["class_type"] == "LoadVideo":
            name = node["inputs"]["file"]
            frames = box[..., None].expand(-1, -1, -1, 3) if "mask" in name else clip
            files[name] = write_test_video(Path(input_dir) / name, frames)
    return box, files
