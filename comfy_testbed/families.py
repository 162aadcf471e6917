"""The family table: one row per tiny test-model family.

A row says everything a test or a bench needs to run DInG on that family inside a real ComfyUI:
which builder writes its files, which loader nodes read them, which hand-made conditioning
stands in for its text encoder, its latent layout, the model class and sampling ComfyUI must
build from the file, the settings a graph runs it at, and which ComfyUI versions detect it.
Adding a family is one row here and one builder (in tiny_families.py, tiny_wan.py, or a module of
its own). Nothing here imports ComfyUI at import time.

``requires`` names the ComfyUI attribute (``module:attribute``) whose absence means this ComfyUI
cannot detect the family; ``missing_reason(row)`` turns that into a skip reason.
"""
from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class Family:
    name: str                       # table key, also the test id
    build: Callable                 # build(models_dir) -> the builder's files object (written once)
    loaders: tuple                  # ComfyUI loader node ids that read the files
    conditioning: str               # tiny_families.family_conditioning family
    tokens: int                     # text tokens of that conditioning
    channels: int                   # latent channels
    space_ratio: int                # pixels per latent cell
    time_ratio: Optional[int]       # pixel frames per latent frame after the first (video), else None
    detected: str                   # comfy.supported_models class name ComfyUI must detect
    sampling: str                   # comfy.model_sampling class the loaded model must use
    flow: bool                      # sigma_max 1 (flow) or a discrete VE schedule
    cfg: float                      # the family's own cfg in a test graph
    steps: int                      # steps in a test graph
    scheduler: str
    detected_by: tuple              # ComfyUI versions this family was executed on
    requires: Optional[str] = None  # "module:attribute" missing in versions that cannot detect it
    flux_guidance: Optional[float] = None   # FluxGuidance node on the positive conditioning
    v_prediction: bool = False      # core ModelSamplingDiscrete v_prediction on the loaded model
    files_fixture: Optional[str] = None     # the session fixture in tests/integration/conftest.py
    shift: Optional[float] = None   # the flow shift the loaded (and shift-node patched) model samples at
    shift_node: Optional[str] = None        # core node setting `shift` on the model (ModelSamplingAuraFlow)
    image_as_frame: bool = False    # an image model on a video VAE: an image is a one-frame clip
    weight_dtype: str = "default"   # UNETLoader weight_dtype in a test graph

    @property
    def latent(self) -> str:
        if self.time_ratio:
            return (f"[B,{self.channels},1+(F-1)/{self.time_ratio},H/{self.space_ratio},"
                    f"W/{self.space_ratio}]")
        if self.image_as_frame:
            return f"[B,{self.channels},1,H/{self.space_ratio},W/{self.space_ratio}]"
        return f"[B,{self.channels},H/{self.space_ratio},W/{self.space_ratio}]"


def _sd3(models_dir):
    from . import tiny_models
    return tiny_models.write_tiny_sd3(models_dir, name="tiny_sd3")


def _family(name):
    def build(models_dir):
        from . import tiny_families
        return tiny_families.write_tiny_family(models_dir, name)
    return build


def _wan21(models_dir):
    from . import tiny_wan
    return tiny_wan.write_tiny_wan(models_dir)


def _wan22(models_dir):
    from . import tiny_wan
    return tiny_wan.write_tiny_wan22(models_dir)


def _ltxv(models_dir):
    from . import tiny_ltxv
    return tiny_ltxv.write_tiny_ltxv(models_dir)


BOTH = ("0.3.64", "0.8.0")
FLUX2_VERSIONS = ("0.8.0",)  # 0.3.64 has no comfy.supported_models.Flux2
# 0.8.0 forces Flux.2's width to 6144, so the tiny Flux.2 has 2.2 B parameters: ComfyUI would hold
# them in float32 on a CPU (8.8 GB); kept in fp8 (the file is fp8 too) they take 2.2 GB and
# ComfyUI computes each layer in float32 (manual cast), as it does for Klein's fp8 files
FLUX2_WEIGHT_DTYPE = "fp8_e4m3fn"

FAMILIES = {f.name: f for f in [
    Family("sd3", _sd3, ("CheckpointLoaderSimple", "UNETLoader", "VAELoader"), "sd3", 154, 16, 8, None,
           "SD3", "CONST", True, 2.0, 4, "simple", BOTH, files_fixture="tiny_sd3"),
    Family("sd15", _family("sd15"), ("CheckpointLoaderSimple",), "sd15", 77, 4, 8, None,
           "SD15", "EPS", False, 2.0, 6, "normal", BOTH, files_fixture="tiny_sd15"),
    Family("sd15_v", _family("sd15"), ("CheckpointLoaderSimple", "ModelSamplingDiscrete"), "sd15", 77, 4, 8,
           None, "SD15", "V_PREDICTION", False, 2.0, 6, "normal", BOTH, v_prediction=True,
           files_fixture="tiny_sd15"),
    Family("sd15_inpaint", _family("sd15_inpaint"), ("CheckpointLoaderSimple",), "sd15", 77, 4, 8, None,
           "SD15", "EPS", False, 2.0, 4, "normal", BOTH, files_fixture="tiny_sd15_inpaint"),
    Family("flux", _family("flux"), ("UNETLoader", "VAELoader"), "flux", 256, 16, 8, None,
           "Flux", "CONST", True, 1.0, 3, "simple", BOTH, flux_guidance=3.5, files_fixture="tiny_flux"),
    Family("lumina2", _family("lumina2"), ("UNETLoader", "VAELoader"), "lumina2", 64, 16, 8, None,
           "Lumina2", "CONST", True, 1.0, 3, "simple", BOTH, files_fixture="tiny_lumina2"),
    # Z-Image Turbo: ZImage's own shift 3 (its template's ModelSamplingAuraFlow 3 is the same), 8 steps, cfg 1
    Family("z_image", _family("z_image"), ("UNETLoader", "VAELoader"), "z_image", 40, 16, 8, None,
           "ZImage", "CONST", True, 1.0, 8, "simple", ("0.8.0",), requires="comfy.supported_models:ZImage",
           shift=3.0, files_fixture="tiny_z_image"),
    # Qwen-Image: ComfyUI's template sets ModelSamplingAuraFlow 3.1; cfg > 1 with a negative
    Family("qwen_image", _family("qwen_image"), ("UNETLoader", "VAELoader", "ModelSamplingAuraFlow"),
           "qwen_image", 32, 16, 8, None, "QwenImage", "CONST", True, 2.5, 3, "simple", BOTH,
           requires="comfy.supported_models:QwenImage", shift=3.1, shift_node="ModelSamplingAuraFlow",
           image_as_frame=True, files_fixture="tiny_qwen_image"),
    Family("sdxl", _family("sdxl"), ("CheckpointLoaderSimple",), "sdxl", 77, 4, 8, None,
           "SDXL", "EPS", False, 5.0, 4, "normal", BOTH, files_fixture="tiny_sdxl"),
    # Flux.2 in Klein's layout (Qwen3-4B context 7680, no guidance embedding: FluxGuidance would be a
    # no-op, so none; step-distilled, cfg 1, 4 steps). 128-channel latents at 1/16 from the Flux.2 VAE.
    Family("flux2", _family("flux2"), ("UNETLoader", "VAELoader"), "flux2_klein", 512, 128, 16, None,
           "Flux2", "CONST", True, 1.0, 4, "simple", FLUX2_VERSIONS, requires="comfy.supported_models:Flux2",
           files_fixture="tiny_flux2", weight_dtype=FLUX2_WEIGHT_DTYPE),
    # Chroma: T5-XXL only (no pooled, no guidance), a real negative at cfg 4; the Flux latent / TAESD.
    Family("chroma", _family("chroma"), ("UNETLoader", "VAELoader"), "chroma", 32, 16, 8, None,
           "Chroma", "CONST", True, 4.0, 3, "simple", BOTH, requires="comfy.supported_models:Chroma",
           files_fixture="tiny_chroma"),
    Family("wan21", _wan21, ("UNETLoader", "VAELoader"), "wan", 32, 16, 8, 4,
           "WAN21_T2V", "CONST", True, 1.0, 3, "simple", BOTH, files_fixture="tiny_wan_files"),
    # Wan 2.2 TI2V-5B: model class WAN22, whose process_timestep reads the noise_mask (one timestep
    # per latent frame). No tiny VAE: ComfyUI fixes the Wan 2.2 VAE at 705 M parameters.
    Family("wan22", _wan22, ("UNETLoader",), "wan", 32, 48, 16, 4,
           "WAN22_T2V", "CONST", True, 1.0, 3, "simple", BOTH, requires="comfy.supported_models:WAN22_T2V",
           files_fixture="tiny_wan22_files"),
    Family("ltxv", _ltxv, ("CheckpointLoaderSimple",), "ltxv", 128, 128, 32, 8,
           "LTXV", "CONST", True, 3.0, 4, "simple", BOTH, requires="comfy.supported_models:LTXV",
           files_fixture="tiny_ltxv_files"),
]}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"family: expected one of {sorted(FAMILIES)}, got {name!r}") from None


def missing_reason(row: Family) -> Optional[str]:
    """None when this ComfyUI can detect the family, else why not (for pytest.skip)."""
    if row.requires is None:
        return None
    module, _, attr = row.requires.partition(":")
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        return f"{row.name}: this ComfyUI has no {module} ({e})"
    if not hasattr(mod, attr):
        return (f"{row.name}: this ComfyUI has no {module}.{attr}, so it cannot detect the family "
                f"(executed on ComfyUI {', '.join(row.detected_by)})")
    return None


def write(name: str, models_dir) -> object:
    """Write the tiny files of family `name` under models_dir (no-op when already there)."""
    return family(name).build(Path(models_dir))
