"""Tiny add-on files for the tiny SD3 (comfy_testbed.tiny_models): a LoRA and an SD3.5 ControlNet.

Written at test time, nothing binary is committed. Both follow the key layouts ComfyUI's own
loaders read, so ``LoraLoaderModelOnly`` and ``ControlNetLoader`` take them like downloaded files:

- LoRA: kohya names (``lora_unet_<module path with _>.lora_up.weight`` / ``.lora_down.weight`` /
  ``.alpha``), which ``comfy.lora.model_lora_keys_unet`` maps to every ``diffusion_model.*.weight``.
- ControlNet: Stability's SD3.5 ControlNet layout (``comfy.cldm.dit_embedder.ControlNetEmbedder``,
  ``transformer_blocks.*`` + ``controlnet_blocks.*`` + ``pos_embed_input.*``, the embedders under
  their diffusers names from ``comfy.utils.MMDIT_MAP_BASIC``), which ``comfy.controlnet`` detects by
  ``controlnet_blocks.0.weight`` + ``pos_embed_input.proj.weight`` +
  ``transformer_blocks.0.adaLN_modulation.1.bias`` and loads with ``load_controlnet_sd35``. Its
  width follows the main model's (hidden 64 x depth, depth heads of 64).

Building the ControlNet shapes needs ComfyUI importable (after comfy_harness.bootstrap()).
No pytest import: bench scripts can use this module.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

import torch

from .tiny_models import SD3_LATENT_CHANNELS, SD3_POOLED_DIM, _fill, _save

# The MMDiT weights the tiny SD3 LoRA adapts, per joint block (bare MMDiT key, without ".weight").
SD3_LORA_TARGETS = ("x_block.attn.qkv", "x_block.attn.proj", "x_block.mlp.fc1", "context_block.attn.qkv")


def lora_key(module: str) -> str:
    """The kohya LoRA name of a bare MMDiT module path (``joint_blocks.0.x_block.attn.qkv`` ->
    ``lora_unet_joint_blocks_0_x_block_attn_qkv``)."""
    return "lora_unet_" + module.replace(".", "_")


def write_tiny_sd3_lora(models_dir, mmdit_shapes: dict, name: str = "tiny_sd3_lora", depth: int = 2,
                        targets: Iterable[str] = SD3_LORA_TARGETS, rank: int = 4, seed: int = 7,
                        std: float = 0.3, overwrite: bool = False) -> tuple:
    """Write loras/<name>.safetensors: a rank-``rank`` LoRA (alpha = rank, so scale 1) on
    ``targets`` of every joint block of a depth-``depth`` tiny SD3, its up and down matrices drawn
    with std ``std`` (a large change for random weights of std 1/sqrt(fan-in)).

    ``mmdit_shapes``: {bare key: shape} of the model (tiny_models.mmdit_shapes()).
    Returns (file name for LoraLoaderModelOnly, [the model's state-dict keys the LoRA patches,
    ``diffusion_model.<module>.weight``])."""
    path = Path(models_dir) / "loras" / f"{name}.safetensors"
    g = torch.Generator(device="cpu").manual_seed(int(seed))
    sd, patched = {}, []
    for block in range(depth):
        for target in targets:
            module = f"joint_blocks.{block}.{target}"
            out_dim, in_dim = mmdit_shapes[module + ".weight"]
            key = lora_key(module)
            sd[key + ".lora_up.weight"] = torch.randn((out_dim, rank), generator=g) * std
            sd[key + ".lora_down.weight"] = torch.randn((rank, in_dim), generator=g) * std
            sd[key + ".alpha"] = torch.tensor(float(rank))
            patched.append(f"diffusion_model.{module}.weight")
    if overwrite or not path.exists():
        _save(sd, path, {"ding_test_model": "tiny_sd3_lora", "rank": rank, "seed": seed})
    return path.name, patched


def sd35_controlnet_shapes(depth: int = 2, num_layers: int = 1) -> dict:
    """{key: shape} of ComfyUI's SD3.5 ControlNet (ControlNetEmbedder) for a depth-``depth`` SD3,
    built on the meta device, in the file layout (embedders under their diffusers names)."""
    import comfy.ops
    import comfy.utils
    from comfy.cldm.dit_embedder import ControlNetEmbedder
    hidden = 64 * depth
    net = ControlNetEmbedder(img_size=None, patch_size=2, in_chans=SD3_LATENT_CHANNELS, attention_head_dim=64,
                             num_attention_heads=depth, adm_in_channels=SD3_POOLED_DIM, num_layers=num_layers,
                             main_model_double=depth, double_y_emb=False, device="meta", dtype=torch.float32,
                             operations=comfy.ops.disable_weight_init)
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["y_embedder.mlp.0.weight"] == (hidden, SD3_POOLED_DIM)
    to_file = {entry[0]: entry[1] for entry in comfy.utils.MMDIT_MAP_BASIC}
    return {to_file.get(k, k): v for k, v in shapes.items()}


def write_tiny_sd35_controlnet(models_dir, name: str = "tiny_sd35_controlnet", depth: int = 2,
                               num_layers: int = 1, seed: int = 11, overwrite: bool = False) -> str:
    """Write controlnet/<name>.safetensors (float32, deterministic weights from ``seed``); returns
    the file name for ControlNetLoader."""
    path = Path(models_dir) / "controlnet" / f"{name}.safetensors"
    if overwrite or not path.exists():
        sd = _fill(sd35_controlnet_shapes(depth, num_layers), seed)
        _save(sd, path, {"ding_test_model": "tiny_sd35_controlnet", "depth": depth, "seed": seed})
    return path.name


def lora_patched_keys(model_patcher) -> Optional[set]:
    """The state-dict keys a MODEL (ModelPatcher) carries weight patches for."""
    patches = getattr(model_patcher, "patches", None)
    return None if patches is None else {k for k, v in patches.items() if v}
