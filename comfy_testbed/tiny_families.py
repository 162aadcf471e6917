"""Tiny random-weight models of more families (Flux.1, SD1.5, Lumina 2, Z-Image, Qwen-Image),
written at test time.

Each diffusion model is built by ComfyUI itself: a skeleton of the few keys that ComfyUI's
`model_detection` reads (meta tensors, no memory) is detected, the detected model config builds
its model on device="meta" (`model_config.get_model(..., device="meta")`), and the resulting
{key: shape} is filled deterministically (tiny_models._fill). The written file is then checked
to be detected again as the same family with the same config (`check_detection`), so whatever a
ComfyUI version derives from the keys, the file matches it. Nothing binary is committed.

Families and the keys their detection needs (ComfyUI 0.3.64 and 0.8.0):
- Flux.1 dev: `double_blocks.0.img_attn.norm.key_norm.scale` + `img_in.weight`; detection fixes
  hidden 3072 / 24 heads, so one double + one single block with guidance embedding is ~545 M
  parameters. Saved in bf16 (~1.1 GB). VAE: 16-channel TAESD with Flux's scale/shift.
- SD1.5: `input_blocks.0.0.weight` with model channels 320 and context 768 (SD15 config); one
  level (one res block + one transformer) plus the middle block, ~26 M parameters. Checkpoint
  with a 4-channel TAESD (SD1.5 scale 0.18215) as its VAE.
- Lumina 2: `cap_embedder.1.weight` [2304, 2304]; detection fixes dim 2304 / 24 heads and the
  model keeps 2 noise + 2 context refiner blocks, so one layer is ~427 M parameters. Flux latent
  format, so the Flux TAESD is its VAE.
- Z-Image (Turbo), ComfyUI 0.8.0 only: the same Lumina 2 (NextDiT) keys, detected as ZImage
  only when `cap_embedder.1.weight` is [3840, 2560] (width 3840, Qwen3-4B context 2560);
  detection then fixes 30 heads, Z-Image's modulation and rope, and `cap_pad_token` makes it pad
  text and image tokens to multiples of 32 (as the released file does). One layer + the 2 + 2
  refiners is ~909 M parameters (bf16, ~1.8 GB). Flux latent format: the Flux TAESD is its VAE.
  (0.3.64 reads every Lumina 2 file as width 2304, so it cannot load it.)
- Qwen-Image: `txt_norm.weight` makes detection say qwen_image; it reads only `img_in.weight`'s
  input width (16 latent channels x 2x2 patch = 64) and the block count, the model class fixes
  the rest (width 3072 = 24 heads x 128, Qwen2.5-VL-7B context 3584), so one block is ~380 M
  parameters (bf16, ~0.76 GB). Its VAE is the Wan 2.1 VAE (tiny_wan's, 127 M parameters,
  fp16); an image goes through it as a one-frame clip: latent [B, 16, 1, h, w], the 5-D latent
  QwenImage's model consumes (latent format Wan21).
- SDXL: ComfyUI's SDXL class matches on model_channels 320, use_linear_in_transformer,
  transformer_depth [0, 0, 2, 2, 10, 10], context_dim 2048, adm_in_channels 2816 and
  use_temporal_attention False only (supported_models_base.BASE.matches compares just the keys
  of SDXL.unet_config). transformer_depth has one entry per input res block, counted from
  `input_blocks.N.1.transformer_blocks.*`, so the layout is free as long as the six input res
  blocks carry 0, 0, 2, 2, 10, 10 transformer blocks: one level (channel_mult [1], num_res_blocks
  [6]), no transformers on the output side (transformer_depth_output all 0) and no middle block
  (transformer_depth_middle -2) is still detected as SDXL, with its adm `label_emb` (2816 ->
  1280). ~121 M parameters (the real SDXL UNet: ~2.57 B), saved in fp16 (~242 MB), computed in
  float32 on the CPU. The 24 transformer blocks of width 320 are the floor: model_channels and
  the block counts are what detection compares. Checkpoint with a 4-channel TAESD (SDXL scale
  0.13025) as its VAE.
- Flux.2, Klein layout (ComfyUI 0.8.0: supported_models.Flux2): the Flux keys plus
  `double_stream_modulation_img.lin.weight` (global modulation) make it Flux.2. Klein differs from
  Flux.2 dev only in what detection reads from the file: `txt_in.weight` [hidden, 7680] (Qwen3-4B's
  2560 x 3 tapped layers; dev: Mistral 5120 x 3 = 15360) and no `guidance_in` (Klein is
  step-distilled, not guidance-distilled). 0.8.0 fixes 48 heads x 128 (axes_dim [32]*4), so the
  width must be 6144 there (Klein 4B's real 3072 / 24 heads fails to build in 0.8.0); the builder
  asks detection for the width (num_heads * sum(axes_dim)) instead of assuming it. One double + one
  single block: ~2.2 B parameters, saved in fp8 (2.2 GB). Latent: 128 channels at 1/16.
  VAE: ComfyUI's Flux.2 VAE (sd.VAE: a KL VAE with `bn.running_mean`, 32 channels at 1/8 packed
  2x2 into 128 at 1/16); its width is fixed (ch 128, ch_mult 1,2,4,4), ~84 M parameters.
- Chroma: the Flux keys plus `distilled_guidance_layer.norms.0.scale` (its modulation approximator,
  fixed at 5 layers of width 5120); no guidance / pooled input. Detection fixes hidden 3072 / 24
  heads, so one double + one single block is ~630 M parameters. Flux latent format: the Flux TAESD.

Needs ComfyUI importable (comfy_harness.bootstrap() or import_comfy()). No pytest import.
"""
from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Optional

import torch

from comfy_testbed import tiny_models

FLUX_CONTEXT_DIM = 4096     # T5-XXL
FLUX_POOLED_DIM = 768       # CLIP-L pooled
FLUX_TOKENS = 256           # FLUX.1 dev T5 length in ComfyUI
FLUX_HIDDEN = 3072
FLUX_VAE_SCALE = 0.3611     # latent_formats.Flux
FLUX_VAE_SHIFT = 0.1159
SD15_CONTEXT_DIM = 768      # CLIP-L
SD15_TOKENS = 77
SD15_VAE_SCALE = 0.18215    # latent_formats.SD15
LUMINA2_CAP_DIM = 2304      # Gemma-2-2B hidden size
LUMINA2_DIM = 2304
LUMINA2_TOKENS = 64
Z_IMAGE_DIM = 3840          # the width ComfyUI detects as Z-Image
Z_IMAGE_CAP_DIM = 2560      # Qwen3-4B hidden size
Z_IMAGE_TOKENS = 40         # not a multiple of 32: the model pads it with cap_pad_token
QWEN_IMAGE_HIDDEN = 3072    # 24 heads x 128, fixed by the model class
QWEN_IMAGE_CONTEXT = 3584   # Qwen2.5-VL-7B hidden size
QWEN_IMAGE_TOKENS = 32
SDXL_CONTEXT_DIM = 2048     # CLIP-L 768 + CLIP-G 1280 hidden states, concatenated
SDXL_POOLED_DIM = 1280      # CLIP-G pooled
SDXL_ADM_DIM = 2816         # pooled 1280 + 6 size embeddings of 256 (model_base.SDXL.encode_adm)
SDXL_TOKENS = 77
SDXL_VAE_SCALE = 0.13025    # latent_formats.SDXL
FLUX2_LATENT_CHANNELS = 128     # latent_formats.Flux2
FLUX2_KLEIN_CONTEXT_DIM = 7680  # Klein 4B txt_in: Qwen3-4B hidden 2560 x 3 tapped layers
FLUX2_KLEIN_HIDDEN = 3072       # Klein 4B (24 heads x 128); detection may force another width
FLUX2_TOKENS = 512              # model_base.Flux2 pads the text to 512 tokens anyway
# 2.2 B parameters (see above) in fp8: a 2.2 GB file whose loading peaks at ~4.4 GB (bf16: 4.4 GB
# and ~6.9 GB); the family row loads it with UNETLoader weight_dtype fp8_e4m3fn, so ComfyUI keeps
# it in fp8 and computes in float32 on a CPU, as for Klein's own fp8 release
FLUX2_FILE_DTYPE = torch.float8_e4m3fn
FLUX2_VAE_Z = 32                # Flux.2 VAE: 32 latent channels at 1/8, packed 2x2 -> 128 at 1/16
CHROMA_HIDDEN = 3072
CHROMA_APPROX_DIM = 5120        # distilled_guidance_layer hidden width (fixed by detection)
CHROMA_TOKENS = 32              # T5-XXL tokens, unpadded (min_padding 1 in ComfyUI's templates)

FAMILIES = ("flux", "sd15", "sd15_inpaint", "lumina2", "sdxl", "z_image", "qwen_image", "flux2", "chroma")
FLUX_TAESD_FAMILIES = ("flux", "lumina2", "z_image", "chroma")  # Flux latent format: the 16-channel TAESD
WAN_VAE_FAMILIES = ("qwen_image",)                    # Wan21 latent format: the Wan 2.1 VAE
FLUX2_VAE_FAMILIES = ("flux2",)                       # Flux2 latent format: the Flux.2 KL VAE
UNET_FAMILIES = FLUX_TAESD_FAMILIES + WAN_VAE_FAMILIES + FLUX2_VAE_FAMILIES  # UNETLoader + VAELoader files
CHECKPOINT_VAE_SCALE = {"sd15": SD15_VAE_SCALE, "sd15_inpaint": SD15_VAE_SCALE, "sdxl": SDXL_VAE_SCALE}
# conditioning families: text-encoder shapes (flux2_klein: Qwen3-4B x 3 layers; chroma: T5-XXL only);
# wan: comfy_testbed/tiny_wan.py builds its model; ltxv: comfy_testbed/tiny_ltxv.py
CONDITIONING_FAMILIES = ("sd3",) + tuple(f for f in FAMILIES if f != "flux2") + ("wan", "ltxv", "flux2_klein")


# --------------------------------------------------------------------------- detection

def _meta(shapes: dict) -> dict:
    return {k: torch.empty(tuple(s), device="meta") for k, s in shapes.items()}


def flux_skeleton(double_blocks: int = 1, single_blocks: int = 1, guidance: bool = True) -> dict:
    """The keys/shapes Flux detection reads (FLUX.1 dev when guidance, else schnell)."""
    sk = {
        "img_in.weight": (FLUX_HIDDEN, 16 * 2 * 2),
        "txt_in.weight": (FLUX_HIDDEN, FLUX_CONTEXT_DIM),
        "vector_in.in_layer.weight": (FLUX_HIDDEN, FLUX_POOLED_DIM),
    }
    for i in range(double_blocks):
        sk[f"double_blocks.{i}.img_attn.norm.key_norm.scale"] = (128,)
    for i in range(single_blocks):
        sk[f"single_blocks.{i}.norm.key_norm.scale"] = (128,)
    if guidance:
        sk["guidance_in.in_layer.weight"] = (FLUX_HIDDEN, 256)
    return sk


def lumina2_skeleton(layers: int = 1) -> dict:
    sk = {"cap_embedder.1.weight": (LUMINA2_DIM, LUMINA2_CAP_DIM)}
    for i in range(layers):
        sk[f"layers.{i}.attention.qkv.weight"] = (1, 1)
    return sk


def z_image_skeleton(layers: int = 1) -> dict:
    """The keys Z-Image detection reads (ComfyUI 0.8.0): Lumina 2's, at width 3840, with the pad
    tokens of the released file."""
    sk = {"cap_embedder.1.weight": (Z_IMAGE_DIM, Z_IMAGE_CAP_DIM), "cap_pad_token": (1, Z_IMAGE_DIM)}
    for i in range(layers):
        sk[f"layers.{i}.attention.qkv.weight"] = (1, 1)
    return sk


def qwen_image_skeleton(blocks: int = 1) -> dict:
    """The keys Qwen-Image detection reads: txt_norm (the family), img_in's input width
    (in_channels) and the transformer block count."""
    sk = {"txt_norm.weight": (QWEN_IMAGE_CONTEXT,), "img_in.weight": (QWEN_IMAGE_HIDDEN, 16 * 2 * 2)}
    for i in range(blocks):
        sk[f"transformer_blocks.{i}.attn.to_q.weight"] = (1, 1)
    return sk


def flux2_skeleton(hidden: int = FLUX2_KLEIN_HIDDEN, double_blocks: int = 1, single_blocks: int = 1,
                   context_dim: int = FLUX2_KLEIN_CONTEXT_DIM, guidance: bool = False) -> dict:
    """The keys/shapes Flux.2 detection reads: Klein's layout by default (context 7680, no
    guidance_in); context_dim 15360 + guidance=True is Flux.2 dev's."""
    sk = {
        "img_in.weight": (hidden, FLUX2_LATENT_CHANNELS),
        "txt_in.weight": (hidden, context_dim),
        "double_stream_modulation_img.lin.weight": (6 * hidden, hidden),
    }
    for i in range(double_blocks):
        sk[f"double_blocks.{i}.img_attn.norm.key_norm.scale"] = (128,)
    for i in range(single_blocks):
        sk[f"single_blocks.{i}.norm.key_norm.scale"] = (128,)
    if guidance:
        sk["guidance_in.in_layer.weight"] = (hidden, 256)
    return sk


def flux2_klein_config():
    """Detect the Klein skeleton, then again at the width this ComfyUI's detection requires
    (num_heads x sum(axes_dim): 0.8.0 fixes 48 heads x 128 = 6144, whatever img_in says)."""
    cfg = detect(_meta(flux2_skeleton(FLUX2_KLEIN_HIDDEN)))
    if cfg is None or type(cfg).__name__ != "Flux2":
        raise RuntimeError(f"this ComfyUI detects the Flux.2 skeleton as {type(cfg).__name__}, not Flux2 "
                           "(it has no comfy.supported_models.Flux2)")
    width = int(cfg.unet_config["num_heads"]) * int(sum(cfg.unet_config["axes_dim"]))
    if width != FLUX2_KLEIN_HIDDEN:
        cfg = detect(_meta(flux2_skeleton(width)))
    return cfg


def chroma_skeleton(double_blocks: int = 1, single_blocks: int = 1) -> dict:
    """The keys/shapes Chroma detection reads (Flux keys + the modulation approximator's norms)."""
    sk = {
        "img_in.weight": (CHROMA_HIDDEN, 16 * 2 * 2),
        "txt_in.weight": (CHROMA_HIDDEN, FLUX_CONTEXT_DIM),
        "distilled_guidance_layer.norms.0.scale": (CHROMA_APPROX_DIM,),
    }
    for i in range(double_blocks):
        sk[f"double_blocks.{i}.img_attn.norm.key_norm.scale"] = (128,)
    for i in range(single_blocks):
        sk[f"single_blocks.{i}.norm.key_norm.scale"] = (128,)
    return sk


def sd15_unet_config(in_channels: int = 4) -> dict:
    """The unet_config ComfyUI's UNet detection returns for the one-level SD1.5 UNet below
    (in_channels 9: an inpainting UNet, latent + mask + masked-image channels)."""
    return {
        "use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
        "adm_in_channels": None, "in_channels": in_channels, "out_channels": 4, "model_channels": 320,
        "num_res_blocks": [1], "transformer_depth": [1], "transformer_depth_output": [1, 1],
        "channel_mult": [1], "transformer_depth_middle": 1, "use_linear_in_transformer": False,
        "context_dim": SD15_CONTEXT_DIM, "use_temporal_resblock": False, "use_temporal_attention": False,
    }


def sdxl_unet_config() -> dict:
    """The unet_config ComfyUI's UNet detection returns for the smallest UNet it detects as SDXL
    (module docstring): one level of six res blocks carrying SDXL's input transformer depths."""
    return {
        "use_checkpoint": False, "image_size": 32, "use_spatial_transformer": True, "legacy": False,
        "num_classes": "sequential", "adm_in_channels": SDXL_ADM_DIM, "in_channels": 4, "out_channels": 4,
        "model_channels": 320, "num_res_blocks": [6], "transformer_depth": [0, 0, 2, 2, 10, 10],
        "transformer_depth_output": [0] * 7, "channel_mult": [1], "transformer_depth_middle": -2,
        "use_linear_in_transformer": True, "context_dim": SDXL_CONTEXT_DIM,
        "use_temporal_resblock": False, "use_temporal_attention": False,
    }


def detect(state_dict: dict):
    """ComfyUI's own detection: the model config (supported_models class instance) or None."""
    import comfy.model_detection as md
    return md.model_config_from_unet(state_dict, "")


def shapes_from_config(model_config) -> dict:
    """{bare key: shape} of the diffusion model that model_config builds (on the meta device)."""
    model = model_config.get_model({}, "", device="meta")
    return {k: tuple(v.shape) for k, v in model.diffusion_model.state_dict().items()}


def family_config(family: str):
    """(model_config, shapes) for a tiny model of `family`, as this ComfyUI detects/builds it."""
    if family == "flux":
        cfg = detect(_meta(flux_skeleton()))
    elif family == "lumina2":
        cfg = detect(_meta(lumina2_skeleton()))
    elif family == "z_image":
        cfg = detect(_meta(z_image_skeleton()))
    elif family == "qwen_image":
        cfg = detect(_meta(qwen_image_skeleton()))
    elif family == "flux2":
        cfg = flux2_klein_config()
    elif family == "chroma":
        cfg = detect(_meta(chroma_skeleton()))
    elif family in ("sd15", "sd15_inpaint"):
        import comfy.model_detection as md
        cfg = md.model_config_from_unet_config(sd15_unet_config(9 if family == "sd15_inpaint" else 4))
    elif family == "sdxl":
        import comfy.model_detection as md
        cfg = md.model_config_from_unet_config(sdxl_unet_config())
    else:
        raise ValueError(f"family: expected one of {FAMILIES}, got {family!r}")
    if cfg is None:
        raise RuntimeError(f"ComfyUI did not detect the {family} skeleton")
    return cfg, shapes_from_config(cfg)


def check_detection(family: str, shapes: dict, expected_cfg) -> str:
    """Detect the full key set again; raise unless it is the same class with the same unet_config.
    Returns the detected class name."""
    got = detect(_meta(shapes))
    if got is None:
        raise RuntimeError(f"{family}: the full state dict is not detected by ComfyUI")
    if type(got) is not type(expected_cfg) or got.unet_config != expected_cfg.unet_config:
        raise RuntimeError(f"{family}: detected {type(got).__name__} {got.unet_config}, "
                           f"expected {type(expected_cfg).__name__} {expected_cfg.unet_config}")
    return type(got).__name__


# --------------------------------------------------------------------------- files

@dataclasses.dataclass
class TinyFamilyFiles:
    family: str
    detected: str                 # ComfyUI supported_models class name
    unet_config: dict
    ckpt_name: Optional[str]      # CheckpointLoaderSimple
    unet_name: Optional[str]      # UNETLoader (diffusion_models/)
    vae_name: Optional[str]       # VAELoader (vae/)
    paths: dict                   # role -> Path
    params: int                   # diffusion model parameters
    vae_params: int
    dtype: str
    bytes: dict                   # role -> file size
    build_seconds: float          # shapes + fill + save (0 when the files already existed)


def flux2_vae_skeleton() -> dict:
    """Zero tensors for the keys comfy.sd.VAE reads to build the Flux.2 VAE: a KL VAE
    (`decoder.conv_in` with 32 latent channels, `post_quant_conv`), four levels
    (`encoder.down.2.downsample`, else it is taken for the x4 upscaler's VAE) and a batch-norm
    latent (`bn.running_mean`: 2x2 patches of 32 channels -> 128 channels at 1/16)."""
    return {
        "decoder.conv_in.weight": torch.zeros(512, FLUX2_VAE_Z, 3, 3),
        "post_quant_conv.weight": torch.zeros(FLUX2_VAE_Z, FLUX2_VAE_Z, 1, 1),
        "encoder.down.2.downsample.conv.weight": torch.zeros(512, 512, 3, 3),
        "bn.running_mean": torch.zeros(4 * FLUX2_VAE_Z),
    }


def _comfy_vae(sd: dict):
    """comfy.sd.VAE(sd) without its "Missing VAE keys" warning (expected for a skeleton)."""
    import logging
    import comfy.sd
    logging.disable(logging.WARNING)
    try:
        return comfy.sd.VAE(sd=sd)
    finally:
        logging.disable(logging.NOTSET)


def check_flux2_vae(vae, keys=None) -> None:
    """Raise unless ComfyUI built a VAE with Flux.2's latent (128 channels at 1/16) and, when
    `keys` is given, exactly those state-dict keys."""
    ratio = int(vae.spacial_compression_encode())
    if vae.latent_channels != FLUX2_LATENT_CHANNELS or ratio != 16:
        raise RuntimeError(f"flux2 VAE: ComfyUI built {vae.latent_channels} channels at 1/{ratio}, "
                           f"expected {FLUX2_LATENT_CHANNELS} at 1/16")
    if keys is not None:
        got = set(vae.first_stage_model.state_dict())
        if got != set(keys):
            raise RuntimeError(f"flux2 VAE: file keys differ from the model's: "
                               f"{sorted(got ^ set(keys))[:8]}")


def build_flux2_vae_state_dict(seed: int = 1, latent_std: float = 1.0, image_std: float = 0.5) -> dict:
    """Random Flux.2 VAE in VAE-file layout, float32, built from the class ComfyUI picks for
    flux2_vae_skeleton(). Calibrated like the TAESDs: the batch-norm statistics make a smooth test
    image encode to model-space latents of mean ~0 / std ~latent_std per channel (Flux.2's latent
    format is the identity, the VAE normalises), and the last decoder conv maps N(0,1) latents to
    [-1, 1] outputs of mean ~0 / std ~image_std (pixels ~0.5 +- image_std / 2)."""
    vae = _comfy_vae(flux2_vae_skeleton())
    check_flux2_vae(vae)
    fsm = vae.first_stage_model
    shapes = {k: tuple(v.shape) for k, v in fsm.state_dict().items()}
    sd = tiny_models._fill(shapes, seed, std_scale=0.5)
    sd["bn.num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    sd["bn.running_mean"] = torch.zeros(shapes["bn.running_mean"])
    sd["bn.running_var"] = torch.ones(shapes["bn.running_var"]) - fsm.bn_eps  # normalise by 1
    fsm.load_state_dict(sd)
    fsm.float().eval()
    with torch.no_grad():
        img = tiny_models.make_test_image(128, 128, seed=12345).movedim(-1, 1) * 2.0 - 1.0
        raw = fsm.encode(img)                                  # 2x2-packed, [1, 128, 8, 8]
        sd["bn.running_mean"] = raw.mean(dim=(0, 2, 3))
        sd["bn.running_var"] = raw.var(dim=(0, 2, 3)) / latent_std ** 2 - fsm.bn_eps
        fsm.load_state_dict(sd)
        g = torch.Generator(device="cpu").manual_seed(12345)
        z = torch.randn(1, FLUX2_LATENT_CHANNELS, 4, 4, generator=g)
        sd["decoder.conv_out.bias"] = torch.zeros_like(sd["decoder.conv_out.bias"])
        fsm.load_state_dict(sd)
        o = fsm.decode(z)
        k = image_std / float(o.std())
        sd["decoder.conv_out.weight"] = sd["decoder.conv_out.weight"] * k
        sd["decoder.conv_out.bias"] = -k * o.mean(dim=(0, 2, 3))
    return {key: v.contiguous() for key, v in sd.items()}


def write_tiny_family(models_dir, family: str, seed: int = 0, dtype: torch.dtype = None,
                      name: Optional[str] = None, vae_name: Optional[str] = None,
                      overwrite: bool = False) -> TinyFamilyFiles:
    """Write the tiny model files of `family` under models_dir.

    flux, lumina2, z_image, chroma: diffusion_models/<name>.safetensors (bare keys, bf16)
        + vae/<vae_name> (the 16-channel Flux TAESD, tiny_flux_vae.safetensors)
    qwen_image: diffusion_models/<name>.safetensors (bf16) + vae/<vae_name> (tiny_wan's Wan 2.1
            VAE, fp16; the same file as tiny_wan.write_tiny_wan's default VAE)
    flux2: diffusion_models/<name>.safetensors (bare keys, fp8: FLUX2_FILE_DTYPE)
        + vae/<vae_name> (the Flux.2 KL VAE, bf16, tiny_flux2_vae.safetensors)
    sd15, sd15_inpaint: checkpoints/<name>.safetensors (model.diffusion_model.* +
        first_stage_model.taesd_*, float32)
    sdxl: the same checkpoint layout, fp16, TAESD with SDXL's scale
    """
    t0 = time.perf_counter()
    models_dir = Path(models_dir)
    name = name or f"tiny_{family}"
    if dtype is None:
        dtype = {"sd15": torch.float32, "sd15_inpaint": torch.float32, "sdxl": torch.float16,
                 "flux2": FLUX2_FILE_DTYPE}.get(family, torch.bfloat16)
    cfg, shapes = family_config(family)
    detected = check_detection(family, shapes, cfg)
    params = sum(int(torch.Size(s).numel()) for s in shapes.values())
    meta = {"ding_test_model": f"tiny_{family}", "seed": seed, "dtype": str(dtype)}
    paths = {}
    fname = f"{name}.safetensors"
    if family in UNET_FAMILIES:
        wan_vae = family in WAN_VAE_FAMILIES
        flux2 = family in FLUX2_VAE_FAMILIES
        vae_fname = vae_name or ("tiny_wan21_vae.safetensors" if wan_vae else
                                 "tiny_flux2_vae.safetensors" if flux2 else "tiny_flux_vae.safetensors")
        paths["unet"] = models_dir / "diffusion_models" / fname
        paths["vae"] = models_dir / "vae" / vae_fname
        if overwrite or not paths["vae"].exists():
            if wan_vae:
                from comfy_testbed import tiny_wan
                vae_sd = {k: v.to(torch.float16) for k, v in tiny_wan.build_wan_vae_state_dict(seed + 1).items()}
                tiny_models._save(vae_sd, paths["vae"], {**meta, "ding_test_model": "tiny_wan21_vae"})
            elif flux2:
                vae_sd = {k: (v.to(torch.bfloat16) if v.is_floating_point() else v)
                          for k, v in build_flux2_vae_state_dict(seed + 1).items()}
                tiny_models._save(vae_sd, paths["vae"], {**meta, "ding_test_model": "tiny_flux2_vae"})
            else:
                vae_sd = tiny_models.build_taesd_state_dict(seed + 1, 16, FLUX_VAE_SCALE, FLUX_VAE_SHIFT)
                tiny_models._save(vae_sd, paths["vae"], {**meta, "ding_test_model": "tiny_flux_taesd"})
            del vae_sd
        if flux2:
            import comfy.utils
            vae_sd = comfy.utils.load_torch_file(str(paths["vae"]))
            check_flux2_vae(_comfy_vae(vae_sd), vae_sd.keys())  # ComfyUI reads the file as Flux.2's VAE
            vae_params = sum(v.numel() for v in vae_sd.values())
            del vae_sd
        elif wan_vae:
            from comfy_testbed import tiny_wan
            vae_params = sum(int(torch.Size(s).numel()) for s in tiny_wan.wan_vae_shapes().values())
        else:
            vae_params = sum(int(torch.Size(s).numel()) for s in tiny_models.taesd_shapes(16).values()) + 2
        if overwrite or not paths["unet"].exists():  # streamed: Flux.2's is 2.2 B parameters
            tiny_models.save_filled(shapes, seed, paths["unet"], meta, dtype=dtype)
        ckpt_name, unet_name, vae_file = None, fname, vae_fname
    else:
        paths["ckpt"] = models_dir / "checkpoints" / fname
        if overwrite or not paths["ckpt"].exists():
            sd = {tiny_models.CKPT_UNET_PREFIX + k: v for k, v in tiny_models._fill(shapes, seed, dtype=dtype).items()}
            vae_sd = tiny_models.build_taesd_state_dict(seed + 1, 4, CHECKPOINT_VAE_SCALE[family], 0.0)
            sd.update({tiny_models.CKPT_VAE_PREFIX + k: v for k, v in vae_sd.items()})
            tiny_models._save(sd, paths["ckpt"], meta)
            del sd
        ckpt_name, unet_name, vae_file = fname, None, None
        vae_params = sum(int(torch.Size(s).numel()) for s in tiny_models.taesd_shapes(4).values()) + 2
    return TinyFamilyFiles(
        family=family, detected=detected, unet_config=dict(cfg.unet_config),
        ckpt_name=ckpt_name, unet_name=unet_name, vae_name=vae_file, paths=paths,
        params=params, vae_params=vae_params, dtype=str(dtype).replace("torch.", ""),
        bytes={k: p.stat().st_size for k, p in paths.items()},
        build_seconds=time.perf_counter() - t0)


# --------------------------------------------------------------------------- conditioning

def family_conditioning(family: str, seed: int = 0, tokens: Optional[int] = None, batch: int = 1,
                        scale: float = 1.0, guidance: float = 3.5, width: Optional[int] = None,
                        height: Optional[int] = None) -> list:
    """Hand-made CONDITIONING in each family's own text-encoder shapes (no text encoder):
    sd3     [[ [B,T,4096], {"pooled_output": [B,2048]} ]]            (T default 154)
    flux    [[ [B,T,4096], {"pooled_output": [B,768], "guidance": g} ]] (T default 256, T5-XXL + CLIP-L)
    sd15    [[ [B,T,768], {} ]]                                       (T default 77, CLIP-L)
    lumina2 [[ [B,T,2304], {"attention_mask": ones [B,T]} ]]          (T default 64, Gemma-2-2B;
            its text encoder always returns the mask, and Lumina 2's model needs it for num_tokens)
    z_image [[ [B,T,2560], {"attention_mask": ones [B,T]} ]]          (T default 40, Qwen3-4B; a
            Lumina 2 model, its text encoder returns the mask the same way)
    qwen_image [[ [B,T,3584], {} ]]                                   (T default 32, Qwen2.5-VL-7B;
            its text encoder drops an all-ones mask)
    wan     [[ [B,T,4096], {} ]]                                      (T default 32, umt5-xxl)
    sdxl    [[ [B,T,2048], {"pooled_output": [B,1280]} ]]            (T default 77, CLIP-L + CLIP-G),
            as core CLIPTextEncode gives it: ComfyUI then takes the adm sizes from the latent. With
            width and height, also {"width", "height", "crop_w": 0, "crop_h": 0, "target_width",
            "target_height"} as CLIPTextEncodeSDXL adds them (model_base.SDXL.encode_adm reads them).
    ltxv    [[ [B,T,4096], {"attention_mask": ones [B,T]} ]]          (T default 128, T5-XXL; LTX-Video's
            T5 (comfy.text_encoders.lt / genmo) pads to at least 128 tokens and returns the mask,
            which LTXV.extra_conds passes to the model; frame_rate comes from LTXVConditioning or
            defaults to 25 in extra_conds)
    flux2_klein [[ [B,T,7680], {"pooled_output": None} ]]             (T default 512; Flux.2 Klein 4B:
            Qwen3-4B's hidden states of 3 layers side by side; no pooled vector, and Flux's
            encode_adm reads the key, so it is there as None like a text encoder leaves it)
    chroma  [[ [B,T,4096], {"pooled_output": None} ]]                 (T default 32, T5-XXL only)
    """
    if (width is None) != (height is None):
        raise ValueError(f"width/height: give both or neither, got width={width!r}, height={height!r}")
    if width is not None and family != "sdxl":
        raise ValueError(f"width/height: only the sdxl conditioning carries sizes, got family {family!r}")
    if family == "sd3":
        return tiny_models.sd3_conditioning(seed=seed, tokens=tokens or tiny_models.SD3_TOKENS,
                                            batch=batch, scale=scale)
    dims = {"flux": (FLUX_CONTEXT_DIM, FLUX_TOKENS), "sd15": (SD15_CONTEXT_DIM, SD15_TOKENS),
            "lumina2": (LUMINA2_CAP_DIM, LUMINA2_TOKENS), "wan": (4096, 32),
            "z_image": (Z_IMAGE_CAP_DIM, Z_IMAGE_TOKENS), "qwen_image": (QWEN_IMAGE_CONTEXT, QWEN_IMAGE_TOKENS),
            "sdxl": (SDXL_CONTEXT_DIM, SDXL_TOKENS), "ltxv": (4096, 128),
            "flux2_klein": (FLUX2_KLEIN_CONTEXT_DIM, FLUX2_TOKENS), "chroma": (FLUX_CONTEXT_DIM, CHROMA_TOKENS)}
    if family not in dims:
        raise ValueError(f"family: expected one of {CONDITIONING_FAMILIES}, got {family!r}")
    dim, default_tokens = dims[family]
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    cond = torch.randn(batch, tokens or default_tokens, dim, generator=g) * scale
    extra = {}
    if family == "flux":
        extra = {"pooled_output": torch.randn(batch, FLUX_POOLED_DIM, generator=g) * scale,
                 "guidance": float(guidance)}
    elif family in ("lumina2", "z_image", "ltxv"):
        extra = {"attention_mask": torch.ones(batch, cond.shape[1], dtype=torch.long)}
    elif family == "sdxl":
        extra = {"pooled_output": torch.randn(batch, SDXL_POOLED_DIM, generator=g) * scale}
        if width is not None:
            extra.update({"width": int(width), "height": int(height), "crop_w": 0, "crop_h": 0,
                          "target_width": int(width), "target_height": int(height)})
    elif family in ("flux2_klein", "chroma"):
        extra = {"pooled_output": None}
    return [[cond, extra]]
