"""Writes the example workflows of this folder from one description per graph.

    python example_workflows/generate.py   # rewrites *.json, api/*.api.json and *.jpg

This script is the one source of the workflows: edit a graph here and rerun it, do not
hand-edit the files it writes. For every graph it writes three files, named after the
graph's title (the template browser shows the file name as the template's title):

* ``<title>.json``: the workflow in the frontend's (UI) format. ComfyUI lists
  ``custom_nodes/<pack>/example_workflows/*.json`` in its template browser.
* ``api/<title>.api.json``: the same graph in API format, for ``POST /prompt``
  and headless runs. The twins live in ``api/`` because the template browser
  lists every ``*.json`` directly in this folder.
* ``<title>.jpg``: the template card's thumbnail (the frontend asks for
  ``<title>.jpg``): the title in large type over a before/after sketch.

Video workflows (a Load Video node makes one) are placed by ``video_layout``: add the nodes with
``Graph.add`` (positions are replaced; give ``size=`` only to make a node wider or taller than the
frontend's minimum), then ``video_layout(g, video_columns(...), stretch=(...))``, which sizes the
columns to the titles, leaves room for our nodes' source badge and saves the largest zoom at which
the graph shows whole in a 1600x900 browser window (see wan21_video_inpaint).

The JSON files need only the standard library; the thumbnails need Pillow.
``tests/test_workflows.py`` checks that the files are what this script writes.
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACK_ID = "ding-inpaint"  # [project].name in pyproject.toml (the registry id)

# --------------------------------------------------------------------------- node shapes

# type -> (link inputs [(name, type)], outputs [(name, type)], widget names).
# Widget names follow the node's input order. Names starting with "@" are
# frontend-only widgets with no API input: "@control_after_generate" follows a seed,
# "@upload" is LoadImage's upload button. This is the only copy of these tables:
# tests/test_workflows.py reads them from here, and the ComfyUI integration test
# checks them against the live node definitions of a real ComfyUI.
NODE_SHAPES = {
    "CheckpointLoaderSimple": ([], [("MODEL", "MODEL"), ("CLIP", "CLIP"), ("VAE", "VAE")], ["ckpt_name"]),
    "UNETLoader": ([], [("MODEL", "MODEL")], ["unet_name", "weight_dtype"]),
    "TripleCLIPLoader": ([], [("CLIP", "CLIP")], ["clip_name1", "clip_name2", "clip_name3"]),
    "DualCLIPLoader": ([], [("CLIP", "CLIP")], ["clip_name1", "clip_name2", "type", "device"]),
    "VAELoader": ([], [("VAE", "VAE")], ["vae_name"]),
    "LoadImage": ([], [("IMAGE", "IMAGE"), ("MASK", "MASK")], ["image", "@upload"]),
    "CLIPTextEncode": ([("clip", "CLIP")], [("CONDITIONING", "CONDITIONING")], ["text"]),
    "ConditioningZeroOut": ([("conditioning", "CONDITIONING")], [("CONDITIONING", "CONDITIONING")], []),
    "FluxGuidance": ([("conditioning", "CONDITIONING")], [("CONDITIONING", "CONDITIONING")], ["guidance"]),
    "ImagePadForOutpaint": ([("image", "IMAGE")], [("IMAGE", "IMAGE"), ("MASK", "MASK")],
                            ["left", "top", "right", "bottom", "feathering"]),
    "ModelSamplingSD3": ([("model", "MODEL")], [("MODEL", "MODEL")], ["shift"]),
    "ModelSamplingAuraFlow": ([("model", "MODEL")], [("MODEL", "MODEL")], ["shift"]),
    "CFGGuider": ([("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING")],
                  [("GUIDER", "GUIDER")], ["cfg"]),
    "BasicScheduler": ([("model", "MODEL")], [("SIGMAS", "SIGMAS")], ["scheduler", "steps", "denoise"]),
    "RandomNoise": ([], [("NOISE", "NOISE")], ["noise_seed", "@control_after_generate"]),
    "SamplerCustomAdvanced": ([("noise", "NOISE"), ("guider", "GUIDER"), ("sampler", "SAMPLER"),
                               ("sigmas", "SIGMAS"), ("latent_image", "LATENT")],
                              [("output", "LATENT"), ("denoised_output", "LATENT")], []),
    "VAEDecode": ([("samples", "LATENT"), ("vae", "VAE")], [("IMAGE", "IMAGE")], []),
    "SaveImage": ([("images", "IMAGE")], [], ["filename_prefix"]),
    "DInGInpaintEncode": ([("pixels", "IMAGE"), ("mask", "MASK"), ("vae", "VAE")],
                          [("latent", "LATENT"), ("repaint_mask", "MASK")], ["grow_mask_by", "mask_mode"]),
    "DInGKSampler": ([("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                      ("latent_image", "LATENT")], [("LATENT", "LATENT")],
                     ["seed", "@control_after_generate", "steps", "cfg", "scheduler", "denoise",
                      "variant", "obs_std", "eta", "particles"]),
    "DInGKSamplerAdvanced": ([("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                              ("latent_image", "LATENT"), ("observation", "LATENT")], [("LATENT", "LATENT")],
                             ["seed", "@control_after_generate", "steps", "cfg", "scheduler", "denoise",
                              "variant", "obs_std", "eta", "particles", "start_at_step", "end_at_step"]),
    "DInGSampler": ([("observation", "LATENT")], [("SAMPLER", "SAMPLER")],
                    ["variant", "obs_std", "eta", "particles"]),
    "DInGComposite": ([("original", "IMAGE"), ("generated", "IMAGE"), ("mask", "MASK")],
                      [("IMAGE", "IMAGE")], ["feather", "color_match"]),
    "CLIPLoader": ([], [("CLIP", "CLIP")], ["clip_name", "type", "device"]),
    "LoadVideo": ([], [("VIDEO", "VIDEO")], ["file", "@upload"]),
    "GetVideoComponents": ([("video", "VIDEO")], [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")], []),
    "ImageFromBatch": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], ["batch_index", "length"]),
    "ImageScale": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], ["upscale_method", "width", "height", "crop"]),
    "ImageToMask": ([("image", "IMAGE")], [("MASK", "MASK")], ["channel"]),
    "CreateVideo": ([("images", "IMAGE"), ("audio", "AUDIO")], [("VIDEO", "VIDEO")], ["fps"]),
    "SaveVideo": ([("video", "VIDEO")], [], ["filename_prefix", "format", "codec"]),
    "LTXVConditioning": ([("positive", "CONDITIONING"), ("negative", "CONDITIONING")],
                         [("positive", "CONDITIONING"), ("negative", "CONDITIONING")], ["frame_rate"]),
    "LTXVScheduler": ([("latent", "LATENT")], [("SIGMAS", "SIGMAS")],
                      ["steps", "max_shift", "base_shift", "stretch", "terminal"]),
    "SamplerCustom": ([("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                       ("sampler", "SAMPLER"), ("sigmas", "SIGMAS"), ("latent_image", "LATENT")],
                      [("output", "LATENT"), ("denoised_output", "LATENT")],
                      ["add_noise", "noise_seed", "@control_after_generate", "cfg"]),
    "MarkdownNote": ([], [], ["text"]),
}
FRONTEND_ONLY = {"MarkdownNote"}
# Link inputs a graph may leave unconnected (optional inputs of our nodes).
OPTIONAL_LINK_INPUTS = {("DInGKSamplerAdvanced", "observation"), ("DInGSampler", "observation")}
OURS = {"DInGInpaintEncode", "DInGKSampler", "DInGKSamplerAdvanced", "DInGSampler", "DInGComposite"}

# Default sizes [w, h] in canvas pixels (only looks matter).
SIZES = {
    "CheckpointLoaderSimple": (260, 98), "UNETLoader": (260, 82), "TripleCLIPLoader": (260, 106),
    "DualCLIPLoader": (260, 130), "VAELoader": (260, 58), "LoadImage": (260, 330),
    "CLIPTextEncode": (280, 140), "ConditioningZeroOut": (240, 26), "FluxGuidance": (280, 58),
    "ImagePadForOutpaint": (260, 174), "ModelSamplingSD3": (260, 58), "ModelSamplingAuraFlow": (260, 58),
    "CFGGuider": (280, 98),
    "BasicScheduler": (280, 106), "RandomNoise": (280, 82), "SamplerCustomAdvanced": (280, 126),
    "VAEDecode": (210, 46), "SaveImage": (280, 330), "DInGInpaintEncode": (280, 122),
    "DInGKSampler": (280, 330), "DInGKSamplerAdvanced": (280, 402), "DInGSampler": (280, 130),
    "DInGComposite": (286, 122),
    "MarkdownNote": (280, 660),
    "CLIPLoader": (225, 106), "LoadVideo": (225, 200), "GetVideoComponents": (225, 70),
    "ImageFromBatch": (225, 82), "ImageScale": (225, 130), "ImageToMask": (225, 58),
    "CreateVideo": (225, 90), "SaveVideo": (225, 430),
    "LTXVConditioning": (225, 78), "LTXVScheduler": (225, 154), "SamplerCustom": (225, 230),
}
# The saved view, in screen pixels of a 1600x900 window: the graph's top-left corner goes to
# VIEW_ORIGIN and everything must end inside VIEW_END. That region is visible in both
# frontends: 0.3.64's canvas (1536x822, right of the side bar and below the menu) and 0.8.0's
# full-window canvas (the side bar, about 64 px, and the menus, about 90 px, float over it).
VIEW_ORIGIN = (70, 95)
VIEW_END = (1536, 822)

# ----- what the frontend draws around a node (LiteGraph in ComfyUI frontends 1.27 and 1.35)
TITLE_BAR = 30    # LiteGraph.NODE_TITLE_HEIGHT, above pos[1]
BADGE_BAND = 22   # the "ding-inpaint" source badge of a custom node: 20 px high, 2 px above the
                  # title bar, right-aligned (LGraphNode.drawBadges); nothing may sit under it
TITLE_PAD = 60    # the title starts 30 px in and is cut ("...") past width - 2 * 30
                  # (LGraphNode.drawTitleText)
# Advance widths of the title font, 14px Inter (frontend 1.35; 1.27's 14px Arial is narrower),
# measured with canvas measureText in Chromium and rounded up to 0.5 px. The sum over a title is
# within 1.5 px above the frontend's own measure for every title of these workflows.
_TITLE_FONT = {
    3.5: "ijl", 4.0: "I ", 4.5: "!,.:;'`", 5.0: "t|", 5.5: "/\\()[]fr", 6.0: "1{}", 6.5: "_-^",
    7.0: '"', 7.5: "*?s", 8.0: "xkzavyL7Jc", 8.5: "eFnhu5oE2", 9.0: "bdpqg3869Z0#PS$",
    9.5: "R&T4B+<=>~KY", 10.0: "XAV", 10.5: "DCHUG", 11.0: "NOQ", 11.5: "w", 12.5: "m", 13.0: "M",
    14.0: "@%W",
}
TITLE_CHAR_PX = {c: px for px, chars in _TITLE_FONT.items() for c in chars}


def title_px(text: str) -> float:
    """The width of a node title in the frontend's title font (an upper estimate, 14.0 px for
    characters outside the table)."""
    return sum(TITLE_CHAR_PX.get(c, 14.0) for c in text)


# ----- the video layout: the view an artist gets in a 1600x900 browser window (1600x757 page)
# Measured in headless Chromium on an empty graph (elementFromPoint over the page), in canvas
# pixels at zoom 1 (screen = (pos + offset) * scale, from the canvas element's corner):
#   frontend 1.35 (ComfyUI 0.8.0): the canvas is the whole page; the side bar covers x < 60,
#     the tab bar and the floating workflow / Run bars y < 92, the minimap x >= 1344, y >= 500.
#   frontend 1.27 (ComfyUI 0.3.64): the canvas is the page right of the side bar (64 px) and
#     below the menu (78 px): 1536 x 679; its minimap covers page x >= 1280, y >= 492, i.e.
#     canvas x >= 1216, y >= 414.
# VIDEO_VIEW is the rectangle both show; VIDEO_KEEP_OUT the corner either minimap covers.
VIDEO_VIEW = (60, 92, 1536, 679)   # x0, y0, x1, y1
VIDEO_KEEP_OUT = (1216, 414)       # x >= 1216 and y >= 414 is under a minimap
VIDEO_MARGIN = 8                   # screen pixels kept free inside VIDEO_VIEW
VIDEO_NODE_WIDTH = 210             # the frontend's narrowest node (LiteGraph.NODE_WIDTH-like minimum)
NODE_GAP = 12                      # canvas pixels between stacked nodes and between columns

# Where each loader's files go (ComfyUI/models/<folder>), for the frontend's
# missing-model dialog ("models" property) and for the tests.
MODEL_FILES = {
    "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors": (
        "checkpoints",
        "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/"
        "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors"),
    "sd3.5_large_turbo.safetensors": (
        "checkpoints",
        "https://huggingface.co/stabilityai/stable-diffusion-3.5-large-turbo/resolve/main/"
        "sd3.5_large_turbo.safetensors"),
    "clip_l.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/text_encoders/clip_l.safetensors"),
    "clip_g.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/text_encoders/clip_g.safetensors"),
    "t5xxl_fp8_e4m3fn_scaled.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/stable-diffusion-3.5-fp8/resolve/main/text_encoders/"
        "t5xxl_fp8_e4m3fn_scaled.safetensors"),
    "flux1-dev.safetensors": (
        "diffusion_models", "https://huggingface.co/Comfy-Org/flux1-dev/resolve/main/flux1-dev.safetensors"),
    "t5xxl_fp16.safetensors": (
        "text_encoders",
        "https://huggingface.co/comfyanonymous/flux_text_encoders/resolve/main/t5xxl_fp16.safetensors"),
    "ae.safetensors": (
        "vae",
        "https://huggingface.co/Comfy-Org/Lumina_Image_2.0_Repackaged/resolve/main/split_files/vae/ae.safetensors"),
    "sd_xl_base_1.0.safetensors": (
        "checkpoints",
        "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/resolve/main/sd_xl_base_1.0.safetensors"),
    # Flux.2 Klein 4B (its text encoder is qwen_3_4b.safetensors, listed with Z-Image Turbo below)
    "flux-2-klein-4b.safetensors": (
        "diffusion_models",
        "https://huggingface.co/black-forest-labs/FLUX.2-klein-4B/resolve/main/flux-2-klein-4b.safetensors"),
    "flux2-vae.safetensors": (
        "vae", "https://huggingface.co/Comfy-Org/flux2-dev/resolve/main/split_files/vae/flux2-vae.safetensors"),
    "wan2.1_t2v_1.3B_fp16.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/"
        "diffusion_models/wan2.1_t2v_1.3B_fp16.safetensors"),
    "umt5_xxl_fp8_e4m3fn_scaled.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/"
        "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors"),
    "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/"
        "diffusion_models/wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors"),
    "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/"
        "diffusion_models/wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors"),
    "wan_2.1_vae.safetensors": (
        "vae",
        "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/vae/"
        "wan_2.1_vae.safetensors"),
    # Z-Image Turbo and Qwen-Image: the files (and names) of ComfyUI's own templates
    # (comfyui_workflow_templates: image_z_image_turbo, image_qwen_image)
    "z_image_turbo_bf16.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/diffusion_models/"
        "z_image_turbo_bf16.safetensors"),
    "qwen_3_4b.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors"),
    "qwen_image_fp8_e4m3fn.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/diffusion_models/"
        "qwen_image_fp8_e4m3fn.safetensors"),
    "qwen_2.5_vl_7b_fp8_scaled.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/text_encoders/"
        "qwen_2.5_vl_7b_fp8_scaled.safetensors"),
    "qwen_image_vae.safetensors": (
        "vae",
        "https://huggingface.co/Comfy-Org/Qwen-Image_ComfyUI/resolve/main/split_files/vae/qwen_image_vae.safetensors"),
    "wan2.2_ti2v_5B_fp16.safetensors": (
        "diffusion_models",
        "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/"
        "diffusion_models/wan2.2_ti2v_5B_fp16.safetensors"),
    "wan2.2_vae.safetensors": (
        "vae",
        "https://huggingface.co/Comfy-Org/Wan_2.2_ComfyUI_Repackaged/resolve/main/split_files/vae/"
        "wan2.2_vae.safetensors"),
    "ltx-video-2b-v0.9.5.safetensors": (
        "checkpoints", "https://huggingface.co/Lightricks/LTX-Video/resolve/main/ltx-video-2b-v0.9.5.safetensors"),
}
# SD3.5 and Flux both use the CLIP-L text encoder; ComfyUI's templates call it
# clip_l.safetensors in text_encoders/ for both, so one entry serves both workflows. Flux and
# Z-Image share the Flux VAE, ae.safetensors (the same file in both repackaged repositories).

# DInG settings of the distilled (few-step) workflows, one entry per family, chosen by measurement:
# bench/results/peers_064_fewstep.txt (`python -m bench.peers --few-step`, ComfyUI 0.3.64, N = 2000,
# seeds 1-3, exact posterior of a 25-component mixture behind each model's sampling grid; docs/results.md
# "Few model calls"). In that log, at 4 / 6 / 8 / 12 calls per image:
# - variant ding1 (one call a step) beats ding (two) at every budget on both grids (0.081 vs 0.135
#   SW1 at 8 calls, shift 3);
# - eta ddpm, square and default are within 0.003 of each other (seed spread 0.001-0.030); ddpm is
#   the lowest or within 0.001 of it at every budget, so the nodes' default stays; ddim is worse;
#   obs_std 0.1 is within 0.002 of 0.01 (obs_std does not matter here); final_sigma 0.05 and
#   particles K = 2 are worse at every budget;
# - steps 8: the fewest at which DInG beats ComfyUI's euler / euler_ancestral / dpmpp_2m /
#   res_multistep with a noise mask and LanPaint on all 3 seeds on both grids (shift 3: 0.081 vs
#   0.116-0.120, LanPaint 0.194; shift 9.7: 0.140 vs 0.163-0.164, LanPaint 0.216). At 4 calls DInG
#   gains 10 % on shift 3 (0.134 vs 0.149) and ties on shift 9.7 (0.194 vs 0.195); 12 steps is
#   better again (0.060 / 0.106) if the model keeps its quality there. The bench cannot say how a
#   distilled network does away from its training steps (it runs the exact denoiser).
# "shift" is the model's own sampling shift (no ModelSampling node needed), "bench_grid" the grid
# it was measured on (bench.peers.FEW_STEP_GRIDS). Flux.2's 2.02 is ModelSamplingFlux's mu: an
# SD3-style shift exp(2.02) = 7.54 under DInG KSampler's schedulers; the Flux2Scheduler node
# (custom sampling) gives 9.4-9.9 at 1024x1024, measured as 9.7; the 7.54 grid was measured too
# (bench/results/peers_064_shift7.54.txt: ding1/ddpm 0.125 vs 0.152-0.153 at 8 calls, every seed).
DISTILLED_SETTINGS = {
    "sd35_turbo": dict(steps=8, cfg=1.0, scheduler="simple", variant="ding1", eta="ddpm", obs_std=0.01,
                       particles=1, shift=3.0, bench_grid="shift 3"),
    "z_image_turbo": dict(steps=8, cfg=1.0, scheduler="simple", variant="ding1", eta="ddpm", obs_std=0.01,
                          particles=1, shift=3.0, bench_grid="shift 3"),
    "flux2_klein": dict(steps=8, cfg=1.0, scheduler="simple", variant="ding1", eta="ddpm", obs_std=0.01,
                        particles=1, shift=2.02, bench_grid="shift 9.7"),
}


def ding_ksampler_widgets(settings: dict, seed: int = 42) -> list:
    """DInGKSampler's widget values (NODE_SHAPES order) for one DISTILLED_SETTINGS entry."""
    return [seed, "fixed", settings["steps"], settings["cfg"], settings["scheduler"], 1.0, settings["variant"],
            settings["obs_std"], settings["eta"], settings["particles"]]


def settings_summary(settings: dict) -> str:
    """The template card's subtitle, e.g. '8 steps | cfg 1 | ding1'."""
    return f"{settings['steps']} steps | cfg {settings['cfg']:g} | {settings['variant']}"


INPUT_IMAGE = "example.png"  # ComfyUI ships input/example.png; the user uploads their own

# Colours of the frontend's "green/red" prompt nodes and of our own nodes.
POSITIVE = ("#232", "#353")
NEGATIVE = ("#322", "#533")
DING = ("#233", "#355")
NOTE = ("#432", "#653")


# --------------------------------------------------------------------------- graph builder

class Graph:
    """A workflow under construction: nodes with positions, widgets and wires."""

    def __init__(self, key: str, title: str, summary: str):
        # key: the stable id tests use; title: the file name, which the template browser shows
        self.key, self.title, self.summary = key, title, summary
        self.name = title
        self.nodes: dict[int, dict] = {}
        self.wires: list[tuple[int, int, int, str]] = []  # (from_id, from_slot, to_id, input name)
        self.view_scale = None  # set by video_layout(); None: the image graphs' 1:1 view

    def add(self, node_id: int, node_type: str, pos, widgets=(), *, title=None, color=None, size=None,
            inputs=None) -> int:
        link_inputs, _, widget_names = NODE_SHAPES[node_type]
        if len(widgets) != len(widget_names):
            raise ValueError(f"{node_type} takes {len(widget_names)} widget values {widget_names}, got {widgets!r}")
        assert node_id not in self.nodes, node_id
        self.nodes[node_id] = {"id": node_id, "type": node_type, "pos": list(pos), "widgets": list(widgets),
                               "title": title, "color": color, "size": size or SIZES[node_type],
                               "sized": size is not None}
        known = {n for n, _ in link_inputs}
        for name, (src, slot) in (inputs or {}).items():
            if name not in known:
                raise ValueError(f"{node_type} has no input {name!r}")
            self.wires.append((src, slot, node_id, name))
        return node_id

    # ----- output
    def _order(self) -> dict[int, int]:
        deps = {i: set() for i in self.nodes}
        for src, _, dst, _ in self.wires:
            deps[dst].add(src)
        order, done = {}, set()
        while len(done) < len(self.nodes):
            ready = sorted(i for i in self.nodes if i not in done and deps[i] <= done)
            if not ready:
                raise ValueError(f"{self.name}: the graph has a cycle")
            for i in ready:
                order[i] = len(order)
                done.add(i)
        return order

    def ui(self) -> dict:
        order = self._order()
        link_ids = {}
        for n, (src, slot, dst, name) in enumerate(self.wires, start=1):
            link_ids[(dst, name)] = n
        nodes = []
        for node_id in sorted(self.nodes):
            spec = self.nodes[node_id]
            t = spec["type"]
            link_inputs, outputs, _ = NODE_SHAPES[t]
            ui_inputs = []
            for name, typ in link_inputs:
                ui_inputs.append({"name": name, "type": typ, "link": link_ids.get((node_id, name))})
            ui_outputs = []
            for slot, (name, typ) in enumerate(outputs):
                links = [link_ids[(dst, nm)] for (src, s, dst, nm) in self.wires if src == node_id and s == slot]
                ui_outputs.append({"name": name, "type": typ, "links": links, "slot_index": slot})
            props = {}
            if t not in FRONTEND_ONLY:
                props["Node name for S&R"] = t
                props["cnr_id"] = PACK_ID if t in OURS else "comfy-core"
            models = [w for w in spec["widgets"] if isinstance(w, str) and w in MODEL_FILES]
            if models:
                props["models"] = [{"name": m, "url": MODEL_FILES[m][1], "directory": MODEL_FILES[m][0]}
                                   for m in models]
            node = {
                "id": node_id, "type": t, "pos": spec["pos"], "size": list(spec["size"]), "flags": {},
                "order": order[node_id], "mode": 0, "inputs": ui_inputs, "outputs": ui_outputs,
                "properties": props, "widgets_values": spec["widgets"],
            }
            if spec["title"]:
                node["title"] = spec["title"]
            if spec["color"]:
                node["color"], node["bgcolor"] = spec["color"]
            nodes.append(node)
        links = []
        for (src, slot, dst, name) in self.wires:
            typ = NODE_SHAPES[self.nodes[src]["type"]][1][slot][1]
            to_slot = [n for n, _ in NODE_SHAPES[self.nodes[dst]["type"]][0]].index(name)
            links.append([link_ids[(dst, name)], src, slot, dst, to_slot, typ])
        return {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PACK_ID}/workflows/{self.key}")),
            "revision": 0,
            "last_node_id": max(self.nodes),
            "last_link_id": len(self.wires),
            "nodes": nodes,
            "links": links,
            "groups": [],
            "config": {},
            "extra": {"ds": self.view()},
            "version": 0.4,
        }

    @property
    def video(self) -> bool:
        """A video workflow (clips in through Load Video): laid out with video_layout()."""
        return any(n["type"] == "LoadVideo" for n in self.nodes.values())

    def node_title(self, node_id: int) -> str:
        """The title the frontend shows: the node's own title, else its class's display name."""
        spec = self.nodes[node_id]
        return spec["title"] or DISPLAY_NAMES.get(spec["type"], spec["type"])

    def box(self, node_id: int):
        """(x0, y0, x1, y1) the node takes on the canvas: its title bar, and for our nodes the
        source badge band above it, included."""
        n = self.nodes[node_id]
        top = TITLE_BAR + (BADGE_BAND if n["type"] in OURS else 0)
        return (n["pos"][0], n["pos"][1] - top, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])

    def bounds(self):
        """(x0, y0, x1, y1) of every node, notes included, in canvas units."""
        if self.view_scale is not None:  # video layout: badges counted
            boxes = [self.box(i) for i in self.nodes]
            return tuple(f(b[k] for b in boxes) for k, f in enumerate((min, min, max, max)))
        boxes = [(n["pos"][0], n["pos"][1], n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
                 for n in self.nodes.values()]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes) - 30,  # 30: the title bar
                max(b[2] for b in boxes), max(b[3] for b in boxes))

    def view(self) -> dict:
        """The saved zoom and offset (screen = (canvas + offset) * scale). Image graphs: 1:1, the
        graph's corner at VIEW_ORIGIN, laid out to fit VIEW_END (tested). Video graphs (laid out
        with video_layout()): view_scale, the graph's corner VIDEO_MARGIN inside VIDEO_VIEW."""
        x0, y0, _, _ = self.bounds()
        if self.view_scale is None:
            return {"scale": 1.0, "offset": [VIEW_ORIGIN[0] - x0, VIEW_ORIGIN[1] - y0]}
        s = self.view_scale
        return {"scale": s, "offset": [round((VIDEO_VIEW[0] + VIDEO_MARGIN) / s - x0, 2),
                                       round((VIDEO_VIEW[1] + VIDEO_MARGIN) / s - y0, 2)]}

    def api(self) -> dict:
        out = {}
        for node_id in sorted(self.nodes):
            spec = self.nodes[node_id]
            t = spec["type"]
            if t in FRONTEND_ONLY:
                continue
            link_inputs, _, widget_names = NODE_SHAPES[t]
            inputs = {}
            for name, value in zip(widget_names, spec["widgets"]):
                if not name.startswith("@"):
                    inputs[name] = value
            for (src, slot, dst, name) in self.wires:
                if dst == node_id:
                    inputs[name] = [str(src), slot]
            # API order: the node's INPUT_TYPES order, as the frontend exports it
            ordered = {}
            for name in _input_order(t):
                if name in inputs:
                    ordered[name] = inputs.pop(name)
            ordered.update(inputs)
            out[str(node_id)] = {"inputs": ordered, "class_type": t,
                                 "_meta": {"title": spec["title"] or DISPLAY_NAMES.get(t, t)}}
        return out


# The frontend's own minimum heights (LGraphNode.computeSize, the same in frontends 1.27 and
# 1.35, measured): a node saved smaller is grown on load, so a layout must count with these.
# DInGKSampler: 334 (10 widget rows, 4 sockets); DInGKSamplerAdvanced: 402 (start_at_step,
# end_at_step and the observation socket more); DInGSampler: 130 with its observation socket (one
# row, beside the SAMPLER output): all three measured in both frontends.
MIN_HEIGHTS = {
    "BasicScheduler": 106, "CFGGuider": 98, "CLIPLoader": 106, "CLIPTextEncode": 88,
    "CheckpointLoaderSimple": 98, "ConditioningZeroOut": 26, "CreateVideo": 78, "DInGComposite": 122,
    "DInGInpaintEncode": 122, "DInGKSampler": 334, "DInGKSamplerAdvanced": 402,
    "DInGSampler": 130, "DualCLIPLoader": 130,
    "FluxGuidance": 58, "GetVideoComponents": 66, "ImageFromBatch": 82, "ImagePadForOutpaint": 174,
    "ImageScale": 130, "ImageToMask": 58, "LTXVConditioning": 78, "LTXVScheduler": 154, "LoadImage": 326,
    "LoadVideo": 82, "MarkdownNote": 88, "ModelSamplingSD3": 58, "RandomNoise": 82, "SamplerCustom": 230,
    "SamplerCustomAdvanced": 106, "SaveImage": 58,
    "SaveVideo": 106, "TripleCLIPLoader": 106, "UNETLoader": 82, "VAEDecode": 46, "VAELoader": 58,
}

# Widths the frontend 1.35 grows a node to, however short its title (Load Video: its upload
# button), measured like MIN_HEIGHTS.
MIN_WIDTHS = {"LoadVideo": 223, "SamplerCustom": 212, "DInGSampler": 211}


def video_layout(g: Graph, columns, *, stretch=(), gap: int = NODE_GAP) -> float:
    """Place a video graph's nodes in columns and save the largest zoom at which it fits the page.

    ``columns``: the columns left to right, each a list of node ids top to bottom (every node of
    the graph exactly once). Each node keeps its height (raised to MIN_HEIGHTS) and gets its
    column's width: the widest of its nodes' widths (``size=`` given to Graph.add, else
    VIDEO_NODE_WIDTH and the MIN_HEIGHTS height) and title needs (title_px + TITLE_PAD), so no
    title is cut. Boxes (title bar, and for our nodes the badge band above it) stack ``gap`` apart,
    so no badge covers the node above. Each MarkdownNote and each node in ``stretch`` (at most
    one per column) grows so that its column is as tall as the tallest (room for the note, a
    Load Video preview, a longer prompt). The zoom: the largest, in steps of 0.01 and at most 1.0,
    at which every box lies inside VIDEO_VIEW (VIDEO_MARGIN in) and out of VIDEO_KEEP_OUT; stored
    as g.view_scale (Graph.view writes it) and returned. Raises ValueError if even 0.5 does not
    fit. Call it after the last Graph.add; positions given to Graph.add are replaced.
    """
    placed = [i for col in columns for i in col]
    if sorted(placed) != sorted(g.nodes):
        raise ValueError(f"{g.title}: columns must list every node once, got {placed}")
    g.view_scale = 1.0  # Graph.box/bounds count badges from here on
    for n in g.nodes.values():
        if not n["sized"]:
            n["size"] = [VIDEO_NODE_WIDTH, MIN_HEIGHTS.get(n["type"], n["size"][1])]
    x, heights = 0, []
    for col in columns:
        width = max(max(g.nodes[i]["size"][0], title_px(g.node_title(i)) + TITLE_PAD,
                        MIN_WIDTHS.get(g.nodes[i]["type"], 0)) for i in col)
        width = int(-(-width // 5) * 5)  # round up to 5 px
        y = 0
        for i in col:
            n = g.nodes[i]
            h = max(n["size"][1], MIN_HEIGHTS.get(n["type"], 0))
            top = TITLE_BAR + (BADGE_BAND if n["type"] in OURS else 0)
            n["pos"], n["size"] = [x, y + top], [width, h]
            y += top + h + gap
        heights.append(y - gap)
        x += width + gap
    tallest = max(heights)
    for col, height in zip(columns, heights):
        grow = [i for i in col if i in stretch or g.nodes[i]["type"] == "MarkdownNote"]
        if len(grow) > 1:
            raise ValueError(f"{g.title}: stretch at most one node per column, got {grow}")
        if grow:
            g.nodes[grow[0]]["size"][1] += tallest - height
            below = col[col.index(grow[0]) + 1:]
            for i in below:
                g.nodes[i]["pos"][1] += tallest - height
    for step in range(100, 49, -1):
        g.view_scale = step / 100
        if _fits(g, g.view_scale):
            return g.view_scale
    raise ValueError(f"{g.title}: does not fit VIDEO_VIEW even at zoom 0.5")


def video_columns(*, note, vae, models, prompts, clip, mask, ding, decode, save):
    """The columns of the video workflows, for video_layout (each argument a list of node ids,
    top to bottom): the note over the VAE loader | the diffusion model loader(s) with their
    patches (ModelSamplingSD3), the text encoder loader, the prompts | the clip's chain (Load
    Video > Get Video Components > ImageFromBatch > Upscale Image) | the mask clip's chain, the
    same | its last step (Convert Image to Mask), DInG Encode, DInG KSampler | VAE Decode, DInG
    Composite, Create Video | Save Video alone at the right, above the minimaps' corner."""
    return [list(note) + list(vae), list(models) + list(prompts), list(clip), list(mask), list(ding),
            list(decode), list(save)]


def screen_box(g: Graph, node_id: int, scale: float):
    """A node's box (Graph.box) on the screen in video_layout's view at ``scale``."""
    gx0, gy0, _, _ = g.bounds()
    ox, oy = VIDEO_VIEW[0] + VIDEO_MARGIN, VIDEO_VIEW[1] + VIDEO_MARGIN
    x0, y0, x1, y1 = g.box(node_id)
    return (ox + (x0 - gx0) * scale, oy + (y0 - gy0) * scale, ox + (x1 - gx0) * scale, oy + (y1 - gy0) * scale)


def _fits(g: Graph, scale: float) -> bool:
    for i in g.nodes:
        x0, y0, x1, y1 = screen_box(g, i, scale)
        if x1 > VIDEO_VIEW[2] - VIDEO_MARGIN or y1 > VIDEO_VIEW[3] - VIDEO_MARGIN:
            return False
        if x1 > VIDEO_KEEP_OUT[0] - VIDEO_MARGIN and y1 > VIDEO_KEEP_OUT[1] - VIDEO_MARGIN:
            return False
    return True


# INPUT_TYPES order of every node (links and widgets interleaved as ComfyUI declares them).
INPUT_ORDER = {
    "CLIPTextEncode": ["text", "clip"],
    "VAEDecode": ["samples", "vae"],
    "SaveImage": ["images", "filename_prefix"],
    "ImagePadForOutpaint": ["image", "left", "top", "right", "bottom", "feathering"],
    "ModelSamplingSD3": ["model", "shift"],
    "ModelSamplingAuraFlow": ["model", "shift"],
    "CFGGuider": ["model", "positive", "negative", "cfg"],
    "BasicScheduler": ["model", "scheduler", "steps", "denoise"],
    "FluxGuidance": ["conditioning", "guidance"],
    "DInGInpaintEncode": ["pixels", "mask", "vae", "grow_mask_by", "mask_mode"],
    "DInGKSampler": ["model", "seed", "steps", "cfg", "scheduler", "positive", "negative", "latent_image",
                     "denoise", "variant", "obs_std", "eta", "particles"],
    "DInGKSamplerAdvanced": ["model", "seed", "steps", "cfg", "scheduler", "positive", "negative",
                             "latent_image", "denoise", "variant", "obs_std", "eta", "particles", "start_at_step",
                             "end_at_step", "observation"],
    "DInGComposite": ["original", "generated", "mask", "feather", "color_match"],
    "CLIPLoader": ["clip_name", "type", "device"],
    "ImageFromBatch": ["image", "batch_index", "length"],
    "ImageScale": ["image", "upscale_method", "width", "height", "crop"],
    "ImageToMask": ["image", "channel"],
    "CreateVideo": ["images", "fps", "audio"],
    "SaveVideo": ["video", "filename_prefix", "format", "codec"],
    "LTXVConditioning": ["positive", "negative", "frame_rate"],
    "LTXVScheduler": ["steps", "max_shift", "base_shift", "stretch", "terminal", "latent"],
    "SamplerCustom": ["model", "add_noise", "noise_seed", "cfg", "positive", "negative", "sampler", "sigmas",
                      "latent_image"],
}


def _input_order(node_type: str) -> list:
    if node_type in INPUT_ORDER:
        return INPUT_ORDER[node_type]
    link_inputs, _, widget_names = NODE_SHAPES[node_type]
    return [n for n, _ in link_inputs] + [w for w in widget_names if not w.startswith("@")]


DISPLAY_NAMES = {
    "CheckpointLoaderSimple": "Load Checkpoint", "UNETLoader": "Load Diffusion Model",
    "TripleCLIPLoader": "TripleCLIPLoader", "DualCLIPLoader": "DualCLIPLoader", "VAELoader": "Load VAE",
    "LoadImage": "Load Image", "CLIPTextEncode": "CLIP Text Encode (Prompt)",
    "ConditioningZeroOut": "ConditioningZeroOut", "FluxGuidance": "FluxGuidance",
    "ImagePadForOutpaint": "Pad Image for Outpainting", "ModelSamplingSD3": "ModelSamplingSD3",
    "ModelSamplingAuraFlow": "ModelSamplingAuraFlow",
    "CFGGuider": "CFGGuider", "BasicScheduler": "BasicScheduler", "RandomNoise": "RandomNoise",
    "SamplerCustomAdvanced": "SamplerCustomAdvanced", "VAEDecode": "VAE Decode", "SaveImage": "Save Image",
    "DInGInpaintEncode": "DInG Inpaint/Outpaint Encode", "DInGKSampler": "DInG Inpaint/Outpaint KSampler",
    "DInGKSamplerAdvanced": "DInG Inpaint/Outpaint KSampler (Advanced)",
    "DInGSampler": "DInG Inpaint/Outpaint Sampler (SAMPLER)", "DInGComposite": "DInG Inpaint/Outpaint Composite",
    "CLIPLoader": "Load CLIP", "LoadVideo": "Load Video", "GetVideoComponents": "Get Video Components",
    "ImageFromBatch": "ImageFromBatch", "ImageScale": "Upscale Image", "ImageToMask": "Convert Image to Mask",
    "CreateVideo": "Create Video", "SaveVideo": "Save Video",
    "LTXVConditioning": "LTXVConditioning", "LTXVScheduler": "LTXVScheduler", "SamplerCustom": "SamplerCustom",
}

# --------------------------------------------------------------------------- the workflows

def mask_steps(negative: str) -> str:
    """The how-to of every inpainting note; ``negative`` says what to do with the red node."""
    return (
        "1. **Load Image**: upload your picture (the example image is loaded to start with), then "
        "right-click the node and choose **Open in MaskEditor**. Paint over what should change "
        "and **Save**. Without a painted mask DInG stops and says so.\n"
        "2. Write what the painted area should show in the green prompt. " + negative + "\n"
        "3. **Queue**. Every pixel outside the painted area (and a few pixels of seam) is kept "
        "exactly as loaded."
    )


EMPTY_NEGATIVE = "Leave the red negative prompt empty."
ZERO_NEGATIVE = "The red node blanks the negative prompt; at cfg 1 it is not used."


def _files_note(files) -> str:
    lines = ["**Model files** (folder under `ComfyUI/models/`):", ""]
    for f, size in files:
        folder, url = MODEL_FILES[f]
        lines.append(f"- `{folder}/` [{f}]({url}) ({size})")
    return "\n".join(lines)


SD35_MEDIUM = "sd3.5_medium_incl_clips_t5xxlfp8scaled.safetensors"
PROMPT_INPAINT = "a weathered wooden bench on the grass, soft afternoon light, photo"
PROMPT_OUTPAINT = "a wide landscape photo, the same scene continuing to the left and right, natural light"
PROMPT_FLUX = "a weathered wooden bench on the grass, soft afternoon light, photo"

# Columns: the note, loaders and image, prompts and encoding, sampling, decode + composite + save.
X = [0, 300, 580, 880, 1180]


def _note(g: Graph, node_id: int, text: str) -> None:
    g.add(node_id, "MarkdownNote", (X[0], 0), [text], title="Read me", color=NOTE)


UNDER_SAMPLER = ((X[3], 372), (X[3], 452), (X[4], 0))  # decode, composite, save
STACKED = ((X[4], 0), (X[4], 80), (X[4], 235))


def _tail(g: Graph, first_id: int, image_src, mask_src, latent_src, vae_src, prefix: str,
          spots=UNDER_SAMPLER) -> int:
    """VAE Decode -> DInG Composite -> Save Image at ``spots``; returns the next free id."""
    dec, comp, save = first_id, first_id + 1, first_id + 2
    g.add(dec, "VAEDecode", spots[0], inputs={"samples": latent_src, "vae": vae_src})
    g.add(comp, "DInGComposite", spots[1], [8, "off"], color=DING,
          inputs={"original": image_src, "generated": (dec, 0), "mask": mask_src})
    g.add(save, "SaveImage", spots[2], [prefix], inputs={"images": (comp, 0)})
    return first_id + 3


def _sd35_loaders(g: Graph) -> None:
    """Load Checkpoint (id 1, SD3.5 Medium with its text encoders) and Load Image (id 2)."""
    g.add(1, "CheckpointLoaderSimple", (X[1], 0), [SD35_MEDIUM])
    g.add(2, "LoadImage", (X[1], 130), [INPUT_IMAGE, "image"])


def _prompt_pair(g: Graph, pos_id: int, prompt: str, pos_title: str) -> None:
    """Positive CLIPTextEncode at pos_id and an empty negative at pos_id + 1, both on the
    checkpoint's CLIP."""
    g.add(pos_id, "CLIPTextEncode", (X[2], 0), [prompt], title=pos_title,
          color=POSITIVE, inputs={"clip": (1, 1)})
    g.add(pos_id + 1, "CLIPTextEncode", (X[2], 170), [""], title="Negative prompt (leave empty)",
          color=NEGATIVE, inputs={"clip": (1, 1)})


def sd35_medium_inpaint() -> Graph:
    g = Graph("ding_sd35_medium_inpaint", "SD3.5 Medium inpaint",
              "28 steps | cfg 2 | ding1")
    _sd35_loaders(g)
    _prompt_pair(g, 3, PROMPT_INPAINT, "Positive prompt (what to paint)")
    g.add(5, "DInGInpaintEncode", (X[2], 345), [6, "hard"], color=DING,
          inputs={"pixels": (2, 0), "mask": (2, 1), "vae": (1, 2)})
    g.add(6, "DInGKSampler", (X[3], 0), [42, "fixed", 28, 2.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (1, 0), "positive": (3, 0), "negative": (4, 0), "latent_image": (5, 0)})
    _tail(g, 7, (2, 0), (5, 1), (6, 0), (1, 2), "ding_inpaint")
    _note(g, 10,
          "## DInG inpainting, SD3.5 Medium\n\nNo inpainting checkpoint needed: DInG conditions the "
          "base model on the unmasked pixels at every step.\n\n" + mask_steps(EMPTY_NEGATIVE) + "\n\n"
          + _files_note([(SD35_MEDIUM, "about 11.6 GB")]) + "\n\n"
          "28 steps, cfg 2 (2-3 is fine), `ding1` with eta `ddpm`: 28 model calls, the best measured "
          "per call. The paper's setting is `ding` with eta `square` (55 calls at 28 steps). Keep "
          "images near 1 megapixel. Grey mask strokes: set `mask_mode` to "
          "`soft` for partial-strength edits.")
    return g


def sd35_large_turbo_inpaint() -> Graph:
    ds = DISTILLED_SETTINGS["sd35_turbo"]
    g = Graph("ding_sd35_large_turbo_inpaint", "SD3.5 Turbo inpaint", settings_summary(ds))
    g.add(1, "CheckpointLoaderSimple", (X[1], 0), ["sd3.5_large_turbo.safetensors"],
          title="Load Checkpoint (model + VAE)")
    g.add(2, "TripleCLIPLoader", (X[1], 130),
          ["clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp8_e4m3fn_scaled.safetensors"])
    g.add(3, "LoadImage", (X[1], 270), [INPUT_IMAGE, "image"])
    g.add(4, "CLIPTextEncode", (X[2], 0), [PROMPT_INPAINT], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(5, "ConditioningZeroOut", (X[2], 175), [], title="Negative (blank, unused at cfg 1)",
          color=NEGATIVE, inputs={"conditioning": (4, 0)})
    g.add(6, "DInGInpaintEncode", (X[2], 245), [6, "hard"], color=DING,
          inputs={"pixels": (3, 0), "mask": (3, 1), "vae": (1, 2)})
    g.add(7, "DInGKSampler", (X[3], 0), ding_ksampler_widgets(ds),
          color=DING, inputs={"model": (1, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (6, 0)})
    _tail(g, 8, (3, 0), (6, 1), (7, 0), (1, 2), "ding_turbo_inpaint")
    _note(g, 11,
          "## DInG inpainting, SD3.5 Large Turbo\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([("sd3.5_large_turbo.safetensors", "16.5 GB; gated: accept the licence first"),
                         ("clip_l.safetensors", "250 MB"), ("clip_g.safetensors", "1.4 GB"),
                         ("t5xxl_fp8_e4m3fn_scaled.safetensors", "5.2 GB")]) + "\n\n"
          f"Turbo is distilled for few steps without guidance: cfg {ds['cfg']:g}. `{ds['variant']}` at "
          f"{ds['steps']} steps makes {ds['steps']} model calls; eta `{ds['eta']}`. Chosen by "
          "`python -m bench.peers --few-step` (docs/results.md, *Few model calls*): from 8 calls DInG beats "
          "ComfyUI's samplers with a noise mask and LanPaint on every seed; at 4 it gains little. "
          "**SD3.5 Large** (not Turbo): `sd3.5_large.safetensors`, 28 steps, cfg 2-3 (untested here).")
    return g


def sd35_outpaint() -> Graph:
    g = Graph("ding_sd35_outpaint", "SD3.5 Medium outpaint",
              "192 px each side | 28 steps | cfg 2")
    _sd35_loaders(g)
    g.add(3, "ImagePadForOutpaint", (X[1], 495), [192, 0, 192, 0, 0], inputs={"image": (2, 0)})
    _prompt_pair(g, 4, PROMPT_OUTPAINT, "Positive prompt (the whole picture)")
    g.add(6, "DInGInpaintEncode", (X[2], 345), [8, "hard"], color=DING,
          inputs={"pixels": (3, 0), "mask": (3, 1), "vae": (1, 2)})
    g.add(7, "DInGKSampler", (X[3], 0), [42, "fixed", 28, 2.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (1, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (6, 0)})
    _tail(g, 8, (3, 0), (6, 1), (7, 0), (1, 2), "ding_outpaint")
    _note(g, 11,
          "## DInG outpainting, SD3.5 Medium\n\n"
          "**Pad Image for Outpainting** adds borders and a mask that covers them; DInG fills the "
          "borders and keeps the picture. No mask painting needed: load a picture and **Queue**.\n\n"
          "- Borders in pixels; multiples of 8 keep the latent grid aligned. Feathering 0: "
          "`grow_mask_by` already lets the model redraw an 8 px strip so the seam blends.\n"
          "- Describe the whole scene in the green prompt; leave the red one empty.\n"
          "- Keep the padded image near 1 megapixel.\n\n"
          + _files_note([(SD35_MEDIUM, "about 11.6 GB")]))
    return g


def sd35_custom_sampling() -> Graph:
    g = Graph("ding_sd35_custom_sampling", "SD3.5 custom sampler",
              "SamplerCustomAdvanced | ding1")
    _sd35_loaders(g)
    _prompt_pair(g, 3, PROMPT_INPAINT, "Positive prompt (what to paint)")
    g.add(5, "ModelSamplingSD3", (X[1], 495), [3.0], inputs={"model": (1, 0)})
    g.add(10, "DInGInpaintEncode", (X[2], 345), [6, "hard"], color=DING,
          inputs={"pixels": (2, 0), "mask": (2, 1), "vae": (1, 2)})
    g.add(6, "CFGGuider", (X[3], 0), [2.0], inputs={"model": (5, 0), "positive": (3, 0), "negative": (4, 0)})
    g.add(7, "DInGSampler", (X[3], 130), ["ding1", 0.01, "ddpm", 1], color=DING)
    g.add(8, "BasicScheduler", (X[3], 295), ["simple", 28, 1.0], inputs={"model": (5, 0)})
    g.add(9, "RandomNoise", (X[3], 435), [42, "fixed"])
    g.add(11, "SamplerCustomAdvanced", (X[3], 550), [],
          inputs={"noise": (9, 0), "guider": (6, 0), "sampler": (7, 0), "sigmas": (8, 0),
                  "latent_image": (10, 0)})
    _tail(g, 12, (2, 0), (10, 1), (11, 0), (1, 2), "ding_custom", STACKED)
    _note(g, 15,
          "## DInG as a SAMPLER\n\n**DInG Inpaint/Outpaint Sampler (SAMPLER)** plugs into SamplerCustomAdvanced "
          "like any other sampler: every guider, scheduler and noise node works with it.\n\n"
          + mask_steps(EMPTY_NEGATIVE) + "\n\n"
          "- **ModelSamplingSD3** shift 3.0 is SD3.5's own schedule.\n"
          "- The latent must come from **DInG Inpaint/Outpaint Encode** (it carries the mask).\n"
          "- Model calls: steps with `ding1`, 2 x steps - 1 with `ding`.\n\n"
          + _files_note([(SD35_MEDIUM, "about 11.6 GB")]))
    return g


def flux1_dev_inpaint() -> Graph:
    g = Graph("ding_flux1_dev_inpaint", "Flux.1 dev inpaint",
              "28 steps | guidance 3.5 | ding1")
    g.add(1, "UNETLoader", (X[1], 0), ["flux1-dev.safetensors", "default"])
    g.add(2, "DualCLIPLoader", (X[1], 115), ["clip_l.safetensors", "t5xxl_fp16.safetensors", "flux", "default"])
    g.add(3, "VAELoader", (X[1], 275), ["ae.safetensors"])
    g.add(4, "LoadImage", (X[1], 363), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[2], 0), [PROMPT_FLUX], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "FluxGuidance", (X[2], 170), [3.5], inputs={"conditioning": (5, 0)})
    g.add(7, "ConditioningZeroOut", (X[2], 258), [], title="Negative (blank, unused at cfg 1)",
          color=NEGATIVE, inputs={"conditioning": (5, 0)})
    g.add(8, "DInGInpaintEncode", (X[2], 315), [6, "hard"], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(9, "DInGKSampler", (X[3], 0), [42, "fixed", 28, 1.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (1, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (8, 0)})
    _tail(g, 10, (4, 0), (8, 1), (9, 0), (3, 0), "ding_flux_inpaint")
    _note(g, 13,
          "## DInG inpainting, Flux.1 dev\n\nThe base Flux.1 dev model, not the Fill model: DInG "
          "does the conditioning.\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([("flux1-dev.safetensors", "23.8 GB; gated: accept the licence first"),
                         ("clip_l.safetensors", "250 MB"),
                         ("t5xxl_fp16.safetensors", "9.8 GB"),
                         ("ae.safetensors", "335 MB")]) + "\n\n"
          "Flux dev is guidance-distilled: keep cfg 1 and steer with **FluxGuidance** (about 3.5). "
          "`ding1` at 28 steps makes 28 model calls. Use `weight_dtype` fp8 below 24 GB of VRAM.")
    return g


# DInG settings of the Qwen-Image workflow (the Z-Image Turbo one takes DISTILLED_SETTINGS
# ["z_image_turbo"]): the measured default, ding1 with the ddpm bridge noise, one model call per
# step. Change them here and rerun this script.
QWEN_IMAGE_SETTINGS = dict(steps=20, cfg=2.5, scheduler="simple", variant="ding1", eta="ddpm", obs_std=0.01,
                           particles=1)  # the base model runs with a real negative at cfg 2.5-4
QWEN_IMAGE_SHIFT = 3.1     # ModelSamplingAuraFlow, as ComfyUI's Qwen-Image template
Z_IMAGE_MODEL = "z_image_turbo_bf16.safetensors"
Z_IMAGE_TEXT = "qwen_3_4b.safetensors"
QWEN_IMAGE_MODEL = "qwen_image_fp8_e4m3fn.safetensors"
QWEN_IMAGE_TEXT = "qwen_2.5_vl_7b_fp8_scaled.safetensors"
QWEN_IMAGE_VAE = "qwen_image_vae.safetensors"


def z_image_turbo_inpaint() -> Graph:
    ds = DISTILLED_SETTINGS["z_image_turbo"]
    g = Graph("ding_z_image_turbo_inpaint", "Z-Image Turbo inpaint", settings_summary(ds))
    g.add(1, "UNETLoader", (X[1], 0), [Z_IMAGE_MODEL, "default"])
    g.add(2, "CLIPLoader", (X[1], 115), [Z_IMAGE_TEXT, "lumina2", "default"], size=(260, 106))
    g.add(3, "VAELoader", (X[1], 255), ["ae.safetensors"])
    g.add(4, "LoadImage", (X[1], 345), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[2], 0), [PROMPT_INPAINT], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "ConditioningZeroOut", (X[2], 170), [], title="Negative (blank, unused at cfg 1)",
          color=NEGATIVE, inputs={"conditioning": (5, 0)})
    g.add(7, "DInGInpaintEncode", (X[2], 230), [6, "hard"], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(8, "ModelSamplingAuraFlow", (X[2], 390), [ds["shift"]], inputs={"model": (1, 0)})
    g.add(9, "DInGKSampler", (X[3], 0), ding_ksampler_widgets(ds), color=DING,
          inputs={"model": (8, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (7, 0)})
    _tail(g, 10, (4, 0), (7, 1), (9, 0), (3, 0), "ding_z_image_inpaint")
    _note(g, 13,
          "## DInG inpainting, Z-Image Turbo\n\nThe text-to-image Turbo model: DInG conditions it "
          "on the unmasked pixels at every step.\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([(Z_IMAGE_MODEL, "12.3 GB"), (Z_IMAGE_TEXT, "8 GB"), ("ae.safetensors", "335 MB")])
          + "\n\n"
          f"Turbo is distilled for few steps without guidance: {ds['steps']} steps, cfg {ds['cfg']:g}, "
          f"**ModelSamplingAuraFlow** shift {ds['shift']:g} (Z-Image's own). `{ds['variant']}` with eta "
          f"`{ds['eta']}` makes {ds['steps']} model calls (measured on the shift-{ds['shift']:g} grid: "
          "bench/results/peers_064_fewstep.txt). Needs a ComfyUI that knows Z-Image (0.8.0 does, "
          "0.3.64 does not).")
    return g


def qwen_image_inpaint() -> Graph:
    qs = QWEN_IMAGE_SETTINGS
    g = Graph("ding_qwen_image_inpaint", "Qwen-Image inpaint", settings_summary(qs))
    g.add(1, "UNETLoader", (X[1], 0), [QWEN_IMAGE_MODEL, "default"])
    g.add(2, "CLIPLoader", (X[1], 115), [QWEN_IMAGE_TEXT, "qwen_image", "default"], size=(260, 106))
    g.add(3, "VAELoader", (X[1], 255), [QWEN_IMAGE_VAE])
    g.add(4, "LoadImage", (X[1], 345), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[2], 0), [PROMPT_INPAINT], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "CLIPTextEncode", (X[2], 170), [""], title="Negative prompt (leave empty)",
          color=NEGATIVE, inputs={"clip": (2, 0)})
    g.add(7, "DInGInpaintEncode", (X[2], 345), [6, "hard"], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(8, "ModelSamplingAuraFlow", (X[2], 505), [QWEN_IMAGE_SHIFT], inputs={"model": (1, 0)})
    g.add(9, "DInGKSampler", (X[3], 0), ding_ksampler_widgets(qs), color=DING,
          inputs={"model": (8, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (7, 0)})
    _tail(g, 10, (4, 0), (7, 1), (9, 0), (3, 0), "ding_qwen_image_inpaint")
    _note(g, 13,
          "## DInG inpainting, Qwen-Image\n\nThe text-to-image base model (not Qwen-Image-Edit): "
          "DInG conditions it on the unmasked pixels at every step.\n\n" + mask_steps(EMPTY_NEGATIVE)
          + "\n\n"
          + _files_note([(QWEN_IMAGE_MODEL, "20.4 GB"), (QWEN_IMAGE_TEXT, "9.4 GB"), (QWEN_IMAGE_VAE, "254 MB")])
          + "\n\n"
          f"{qs['steps']} steps, cfg {qs['cfg']:g} with the negative (2.5-4), "
          f"**ModelSamplingAuraFlow** shift {QWEN_IMAGE_SHIFT:g} as ComfyUI's template. `{qs['variant']}` "
          f"makes {qs['steps']} model calls (cond and uncond batched). The VAE is a video VAE: "
          "the picture is a one-frame clip; load one image at a time.")
    return g


SDXL_BASE = "sd_xl_base_1.0.safetensors"


def sdxl_inpaint() -> Graph:
    g = Graph("ding_sdxl_inpaint", "SDXL inpaint", "28 steps | cfg 6 | ding1")
    g.add(1, "CheckpointLoaderSimple", (X[1], 0), [SDXL_BASE], title="Load Checkpoint (SDXL base 1.0)")
    g.add(2, "LoadImage", (X[1], 130), [INPUT_IMAGE, "image"])
    _prompt_pair(g, 3, PROMPT_INPAINT, "Positive prompt (what to paint)")
    g.add(5, "DInGInpaintEncode", (X[2], 345), [6, "hard"], color=DING,
          inputs={"pixels": (2, 0), "mask": (2, 1), "vae": (1, 2)})
    g.add(6, "DInGKSampler", (X[3], 0), [42, "fixed", 28, 6.0, "normal", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (1, 0), "positive": (3, 0), "negative": (4, 0), "latent_image": (5, 0)})
    _tail(g, 7, (2, 0), (5, 1), (6, 0), (1, 2), "ding_sdxl_inpaint")
    _note(g, 10,
          "## DInG inpainting, SDXL\n\nThe SDXL base model, not an inpainting checkpoint: DInG "
          "conditions it on the unmasked pixels at every step.\n\n" + mask_steps(EMPTY_NEGATIVE) + "\n\n"
          + _files_note([(SDXL_BASE, "6.9 GB: model, both CLIP text encoders and VAE")]) + "\n\n"
          "SDXL is an eps model: 28 steps, cfg 5-7, scheduler `normal` (or `karras`), `ding1` with "
          "eta `ddpm`: 28 model calls. Keep images near 1 megapixel (1024x1024, 1152x896, ...); the "
          "size SDXL is conditioned on is the image's. Fine-tuned SDXL checkpoints load the same way.")
    return g


KLEIN_UNET = "flux-2-klein-4b.safetensors"
KLEIN_TEXT = "qwen_3_4b.safetensors"  # Qwen3-4B, the file ComfyUI's Z-Image templates use too
FLUX2_VAE = "flux2-vae.safetensors"   # the name ComfyUI's Flux.2 templates use


def flux2_klein_inpaint() -> Graph:
    ds = DISTILLED_SETTINGS["flux2_klein"]
    g = Graph("ding_flux2_klein_inpaint", "Flux.2 Klein inpaint", settings_summary(ds))
    g.add(1, "UNETLoader", (X[1], 0), [KLEIN_UNET, "default"])
    g.add(2, "CLIPLoader", (X[1], 115), [KLEIN_TEXT, "flux2", "default"], size=(260, 106))
    g.add(3, "VAELoader", (X[1], 255), [FLUX2_VAE])
    g.add(4, "LoadImage", (X[1], 345), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[2], 0), [PROMPT_FLUX], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "ConditioningZeroOut", (X[2], 170), [], title="Negative (blank, unused at cfg 1)",
          color=NEGATIVE, inputs={"conditioning": (5, 0)})
    g.add(7, "DInGInpaintEncode", (X[2], 230), [6, "hard"], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(8, "DInGKSampler", (X[3], 0), ding_ksampler_widgets(ds), color=DING,
          inputs={"model": (1, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (7, 0)})
    _tail(g, 9, (4, 0), (7, 1), (8, 0), (3, 0), "ding_klein_inpaint")
    _note(g, 12,
          "## DInG inpainting, Flux.2 Klein 4B\n\nThe distilled Flux.2 [klein] 4B text-to-image model; "
          "DInG does the inpainting.\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([(KLEIN_UNET, "about 7.8 GB"), (KLEIN_TEXT, "about 8 GB"),
                         (FLUX2_VAE, "336 MB")]) + "\n\n"
          f"Klein is step-distilled (4 steps in its own workflows); DInG runs it at {ds['steps']} steps, "
          f"cfg {ds['cfg']:g}, with no FluxGuidance (Klein has no guidance input) and no ModelSampling "
          f"node (the model's own Flux.2 shift). `{ds['variant']}` with eta `{ds['eta']}` makes "
          f"{ds['steps']} model calls (measured on the {ds['bench_grid']} grid that approximates Flux.2's "
          "scheduler at 1024x1024: bench/results/peers_064_fewstep.txt). "
          "Latent cells are 16 px. Needs a ComfyUI that loads Flux.2 Klein: 0.8.0 builds only "
          "Flux.2 dev's width.")
    return g


WAN_T2V = "wan2.1_t2v_1.3B_fp16.safetensors"
WAN_TEXT = "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
WAN_VAE = "wan_2.1_vae.safetensors"
INPUT_VIDEO = "ding_video.mp4"            # the user's clip (uploaded in Load Video)
INPUT_MASK_VIDEO = "ding_video_mask.mp4"  # white where the clip should change
WAN_FRAMES = 33                           # Wan encodes 1 + 4n frames: about 2 s at 16 fps
WAN_SIZE = (832, 480)                     # Wan 2.1 1.3B's resolution (480p)
PROMPT_WAN = "an empty city street on a sunny day, parked cars, trees, smooth camera motion, high quality video"
NEGATIVE_WAN = "blurry, distorted, flickering, low quality, watermark, text"


def clip_note(example: str = "make_example_clip.py") -> str:
    """The note's paragraph on where the clips come from (ComfyUI ships no example video)."""
    return (
        f"**Your clip.** `{INPUT_VIDEO}` and `{INPUT_MASK_VIDEO}` are placeholder names: ComfyUI "
        "has no example video. Click **choose file to upload** on each **Load Video** and pick your "
        "clip, then a mask video of the same clip (white = change). To try the graph first, "
        f"`python custom_nodes/ding-inpaint/example_workflows/{example}` (ComfyUI's Python) writes "
        "an example pair with those names into `ComfyUI/input/`; press **R** to reload.")


def _wan_video_inpaint(g: Graph, unet: str, vae: str, frames: int, size, grow: int, feather: int, fps: float,
                       note: str) -> Graph:
    """Load Video (clip, mask clip) -> Image From Batch -> Image Scale -> DInG Inpaint Encode ->
    ModelSamplingSD3 (shift 8) -> DInG KSampler -> VAE Decode -> DInG Composite -> Create Video ->
    Save Video, with umt5 as a 'wan' CLIP: the Wan video graph, for Wan 2.1 and Wan 2.2 files,
    placed by video_layout()."""
    g.add(1, "UNETLoader", (0, 0), [unet, "default"])
    g.add(2, "CLIPLoader", (0, 0), [WAN_TEXT, "wan", "default"])
    g.add(3, "VAELoader", (0, 0), [vae])
    g.add(4, "CLIPTextEncode", (0, 0), [PROMPT_WAN], title="Positive prompt", color=POSITIVE,
          inputs={"clip": (2, 0)})
    g.add(5, "CLIPTextEncode", (0, 0), [NEGATIVE_WAN], title="Negative prompt", color=NEGATIVE,
          inputs={"clip": (2, 0)})
    # the clip: frames 0 .. frames-1 at the model's size
    g.add(6, "LoadVideo", (0, 0), [INPUT_VIDEO, "image"], title="Load Video (your clip)", size=(230, 82))
    g.add(7, "GetVideoComponents", (0, 0), [], inputs={"video": (6, 0)})
    g.add(8, "ImageFromBatch", (0, 0), [0, frames], inputs={"image": (7, 0)})
    g.add(9, "ImageScale", (0, 0), ["lanczos", *size, "center"], inputs={"image": (8, 0)})
    # the mask clip: the same frames at the same size, white = change
    g.add(10, "LoadVideo", (0, 0), [INPUT_MASK_VIDEO, "image"], title="Load Video (mask video)")
    g.add(11, "GetVideoComponents", (0, 0), [], inputs={"video": (10, 0)})
    g.add(12, "ImageFromBatch", (0, 0), [0, frames], inputs={"image": (11, 0)})
    g.add(13, "ImageScale", (0, 0), ["nearest-exact", *size, "center"], inputs={"image": (12, 0)})
    g.add(14, "ImageToMask", (0, 0), ["red"], inputs={"image": (13, 0)})
    # DInG on Wan's own schedule (shift 8)
    g.add(15, "ModelSamplingSD3", (0, 0), [8.0], inputs={"model": (1, 0)})
    g.add(16, "DInGInpaintEncode", (0, 0), [grow, "hard"], color=DING,
          inputs={"pixels": (9, 0), "mask": (14, 0), "vae": (3, 0)})
    g.add(17, "DInGKSampler", (0, 0), [42, "fixed", 30, 5.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (15, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (16, 0)})
    g.add(18, "VAEDecode", (0, 0), inputs={"samples": (17, 0), "vae": (3, 0)})
    g.add(19, "DInGComposite", (0, 0), [feather, "off"], color=DING,
          inputs={"original": (9, 0), "generated": (18, 0), "mask": (16, 1)})
    g.add(20, "CreateVideo", (0, 0), [fps], inputs={"images": (19, 0), "audio": (7, 1)})
    g.add(21, "SaveVideo", (0, 0), ["ding_video", "auto", "auto"], inputs={"video": (20, 0)})
    g.add(22, "MarkdownNote", (0, 0), [note], title="Read me", color=NOTE, size=(270, 100))
    video_layout(g, video_columns(note=[22], vae=[3], models=[1, 15, 2], prompts=[4, 5], clip=[6, 7, 8, 9],
                                  mask=[10, 11, 12, 13], ding=[14, 16, 17], decode=[18, 19, 20], save=[21]),
                 stretch=(4, 6, 10))
    return g


def wan21_video_inpaint() -> Graph:
    g = Graph("ding_wan21_video_inpaint", "Wan 2.1 video inpaint",
              "33 frames | 30 steps | cfg 5 | ding1")
    return _wan_video_inpaint(g, WAN_T2V, WAN_VAE, WAN_FRAMES, WAN_SIZE, 8, 8, 16.0, (
        "## DInG video inpainting, Wan 2.1\n\n"
        "Remove or replace an object in a clip with the base Wan 2.1 1.3B text-to-video model.\n\n"
        + clip_note() + "\n\n"
        "1. Both clips are cut to 33 frames (**ImageFromBatch**; Wan takes 1 + 4n: 17, 33, 49, 81) "
        "and scaled to 832x480. One mask for all frames instead: wire a **Load Image** MASK "
        "(MaskEditor) to the encoder's mask.\n"
        "2. Green prompt: the scene without the object, or with the new one. **Queue**.\n\n"
        "Outside the mask every frame keeps the original pixels. Set **Create Video** fps to "
        "the clip's (16 is Wan's).\n\n"
        + _files_note([(WAN_T2V, "2.8 GB"), (WAN_TEXT, "6.7 GB"), (WAN_VAE, "254 MB")]) + "\n\n"
        "`ding1`, 30 steps: 30 model calls. Time grows with frames x pixels."))


WAN22_TI2V = "wan2.2_ti2v_5B_fp16.safetensors"
WAN22_VAE = "wan2.2_vae.safetensors"
# Wan 2.2 5B's own size (ComfyUI's Wan 2.2 5B template: 1280x704, 121 frames at 24 fps), cut to 49
# frames (2 s): 13 latent frames of 40x22 tokens = 11,440 tokens per model call instead of 27,280,
# so attention costs about a sixth and the latent, activations and VAE decode under half, for a
# consumer GPU. The size stays on the 32-px grid (16-px VAE cells, 2x2 patches).
WAN22_FRAMES = 49
WAN22_SIZE = (1280, 704)


def wan22_video_inpaint() -> Graph:
    g = Graph("ding_wan22_video_inpaint", "Wan 2.2 5B video inpaint",
              "49 frames | 1280x704 | 30 steps | ding1")
    return _wan_video_inpaint(g, WAN22_TI2V, WAN22_VAE, WAN22_FRAMES, WAN22_SIZE, 16, 16, 24.0, (
        "## DInG video inpainting, Wan 2.2 5B\n\n"
        "Remove or replace an object in a clip with the base Wan 2.2 TI2V-5B model and its own "
        "VAE (16x smaller in space, 4x in time).\n\n"
        + clip_note() + "\n\n"
        "1. Both clips are cut to 49 frames (**ImageFromBatch**; 1 + 4n: 49 = 2 s at 24 fps; up to "
        "121) and scaled to 1280x704, the model's own size. One mask for all frames instead: wire "
        "a **Load Image** MASK (MaskEditor) to the encoder's mask.\n"
        "2. Green prompt: the scene without the object, or with the new one. **Queue**.\n\n"
        "Outside the mask every frame keeps the original pixels. Set **Create Video** fps to "
        "the clip's (24 is Wan 2.2's).\n\n"
        + _files_note([(WAN22_TI2V, "10 GB"), (WAN_TEXT, "6.7 GB"), (WAN22_VAE, "1.4 GB")]) + "\n\n"
        "`ding1`, 30 steps: 30 model calls. Time grows with frames x pixels; fewer frames or "
        "832x480 for less memory."))


LTXV_CKPT = "ltx-video-2b-v0.9.5.safetensors"  # model + VAE in one file
LTXV_TEXT = "t5xxl_fp16.safetensors"
LTXV_FRAMES = 97                          # LTX-Video encodes 1 + 8n frames: about 4 s at 25 fps
LTXV_SIZE = (768, 512)                    # LTX-Video 2B's own size (a multiple of 32)
LTXV_FPS = 25.0
PROMPT_LTXV = ("An empty city street on a sunny day, parked cars along the curb and trees on the sidewalk. "
               "The camera moves slowly forward. Natural light, realistic, high quality video.")
NEGATIVE_LTXV = "worst quality, inconsistent motion, blurry, jittery, distorted, watermark, text"


def ltxv_video_inpaint() -> Graph:
    g = Graph("ding_ltxv_video_inpaint", "LTX-Video inpaint",
              "97 frames | 30 steps | cfg 3 | ding1")
    g.add(1, "CheckpointLoaderSimple", (0, 0), [LTXV_CKPT], title="Load Checkpoint (model + VAE)")
    g.add(2, "CLIPLoader", (0, 0), [LTXV_TEXT, "ltxv", "default"])
    g.add(3, "CLIPTextEncode", (0, 0), [PROMPT_LTXV], title="Positive prompt", color=POSITIVE,
          inputs={"clip": (2, 0)})
    g.add(4, "CLIPTextEncode", (0, 0), [NEGATIVE_LTXV], title="Negative prompt", color=NEGATIVE,
          inputs={"clip": (2, 0)})
    g.add(5, "LTXVConditioning", (0, 0), [LTXV_FPS], inputs={"positive": (3, 0), "negative": (4, 0)})
    # the clip: frames 0 .. LTXV_FRAMES-1 at LTX-Video's size
    g.add(6, "LoadVideo", (0, 0), [INPUT_VIDEO, "image"], title="Load Video (your clip)", size=(230, 210))
    g.add(7, "GetVideoComponents", (0, 0), [], inputs={"video": (6, 0)})
    g.add(8, "ImageFromBatch", (0, 0), [0, LTXV_FRAMES], inputs={"image": (7, 0)})
    g.add(9, "ImageScale", (0, 0), ["lanczos", *LTXV_SIZE, "center"], inputs={"image": (8, 0)})
    # the mask clip: the same frames at the same size, white = change
    g.add(10, "LoadVideo", (0, 0), [INPUT_MASK_VIDEO, "image"], title="Load Video (mask video)",
          size=(230, 210))
    g.add(11, "GetVideoComponents", (0, 0), [], inputs={"video": (10, 0)})
    g.add(12, "ImageFromBatch", (0, 0), [0, LTXV_FRAMES], inputs={"image": (11, 0)})
    g.add(13, "ImageScale", (0, 0), ["nearest-exact", *LTXV_SIZE, "center"], inputs={"image": (12, 0)})
    g.add(14, "ImageToMask", (0, 0), ["red"], inputs={"image": (13, 0)})
    # DInG on LTX-Video's own schedule (LTXVScheduler, shifted by the clip's token count)
    g.add(15, "DInGInpaintEncode", (0, 0), [8, "hard"], color=DING,
          inputs={"pixels": (9, 0), "mask": (14, 0), "vae": (1, 2)})
    g.add(16, "LTXVScheduler", (0, 0), [30, 2.05, 0.95, True, 0.1], inputs={"latent": (15, 0)})
    g.add(17, "DInGSampler", (0, 0), ["ding1", 0.01, "ddpm", 1], title="DInG Sampler (SAMPLER)", color=DING)
    g.add(18, "VAEDecode", (0, 0), inputs={"samples": (19, 0), "vae": (1, 2)})
    g.add(19, "SamplerCustom", (0, 0), [True, 42, "fixed", 3.0],
          inputs={"model": (1, 0), "positive": (5, 0), "negative": (5, 1), "sampler": (17, 0),
                  "sigmas": (16, 0), "latent_image": (15, 0)})
    g.add(20, "DInGComposite", (0, 0), [8, "off"], color=DING,
          inputs={"original": (9, 0), "generated": (18, 0), "mask": (15, 1)})
    g.add(21, "CreateVideo", (0, 0), [LTXV_FPS], inputs={"images": (20, 0), "audio": (7, 1)})
    g.add(22, "SaveVideo", (0, 0), ["ding_ltxv", "auto", "auto"], inputs={"video": (21, 0)})
    g.add(23, "MarkdownNote", (0, 0), [
        "## DInG video inpainting, LTX-Video\n\n"
        "Remove or replace an object in a clip with the base LTX-Video 2B model (text-to-video).\n\n"
        + clip_note() + "\n\n"
        "1. Both clips are cut to 97 frames (**ImageFromBatch**; LTX-Video takes 1 + 8n: 25, 49, 97, "
        "121) and scaled to 768x512 (multiples of 32). One mask for all frames instead: wire a "
        "**Load Image** MASK (MaskEditor) to the encoder's mask.\n"
        "2. Green prompt: the scene without the object, or with the new one (LTX-Video likes long, "
        "detailed prompts). **Queue**.\n\n"
        "Outside the mask every frame keeps the original pixels. Set the fps of **LTXVConditioning** "
        "and **Create Video** to the clip's.\n\n"
        + _files_note([(LTXV_CKPT, "6 GB"), (LTXV_TEXT, "9.8 GB")]) + "\n\n"
        "`ding1`, 30 steps: 30 model calls. LTX-Video repaints in cells of 32x32 pixels and "
        "8 frames."],
        title="Read me", color=NOTE, size=(270, 100))
    # Wan's columns, but right of x 1357 (zoom 0.84) only the top 364 px are clear of the minimaps,
    # and Sampler Custom (230 px high) does not fit there: it goes under the encoder. The DInG
    # SAMPLER (no inputs) sits under the checkpoint loader, LTXVScheduler under Save Video (the only
    # room left at this zoom); both Load Video nodes are 210 high, room for the clip's preview.
    video_layout(g, [[23, 1, 17], [2, 3, 4, 5], [6, 7, 8, 9], [10, 11, 12, 13], [14, 15, 19], [18, 20, 21],
                     [22, 16]], stretch=(3, 6, 10))
    return g


WAN22_HIGH = "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors"
WAN22_LOW = "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors"
WAN22_STEPS, WAN22_SPLIT = 20, 10  # ComfyUI's own Wan 2.2 14B t2v template: 20 steps, the experts switch at 10


def wan22_a14b_video_inpaint() -> Graph:
    """Wan 2.2 A14B: the high-noise expert samples steps 0-10 and returns DInG's noisy state, the
    low-noise expert continues it from step 10 (start_at_step) with the encoder's latent as its
    observation (docs/algorithm.md, section 13). Placed by video_layout()."""
    g = Graph("ding_wan22_a14b_video_inpaint", "Wan 2.2 A14B inpaint",
              f"two experts | {WAN_FRAMES} frames | {WAN22_STEPS} steps | ding1")
    g.add(1, "UNETLoader", (0, 0), [WAN22_HIGH, "default"], title="Load Diffusion Model (high noise)")
    g.add(2, "UNETLoader", (0, 0), [WAN22_LOW, "default"], title="Load Diffusion Model (low noise)")
    g.add(3, "CLIPLoader", (0, 0), [WAN_TEXT, "wan", "default"])
    g.add(4, "VAELoader", (0, 0), [WAN_VAE])
    g.add(5, "CLIPTextEncode", (0, 0), [PROMPT_WAN], title="Positive prompt", color=POSITIVE,
          inputs={"clip": (3, 0)})
    g.add(6, "CLIPTextEncode", (0, 0), [NEGATIVE_WAN], title="Negative prompt", color=NEGATIVE,
          inputs={"clip": (3, 0)})
    # the clip and the mask clip: frames 0 .. WAN_FRAMES-1 at the same size
    g.add(7, "LoadVideo", (0, 0), [INPUT_VIDEO, "image"], title="Load Video (your clip)", size=(230, 82))
    g.add(8, "GetVideoComponents", (0, 0), [], inputs={"video": (7, 0)})
    g.add(9, "ImageFromBatch", (0, 0), [0, WAN_FRAMES], inputs={"image": (8, 0)})
    g.add(10, "ImageScale", (0, 0), ["lanczos", *WAN_SIZE, "center"], inputs={"image": (9, 0)})
    g.add(11, "LoadVideo", (0, 0), [INPUT_MASK_VIDEO, "image"], title="Load Video (mask video)")
    g.add(12, "GetVideoComponents", (0, 0), [], inputs={"video": (11, 0)})
    g.add(13, "ImageFromBatch", (0, 0), [0, WAN_FRAMES], inputs={"image": (12, 0)})
    g.add(14, "ImageScale", (0, 0), ["nearest-exact", *WAN_SIZE, "center"], inputs={"image": (13, 0)})
    g.add(15, "ImageToMask", (0, 0), ["red"], inputs={"image": (14, 0)})
    # the high-noise expert: steps 0 .. WAN22_SPLIT, returns DInG's noisy state there
    g.add(16, "ModelSamplingSD3", (0, 0), [8.0], inputs={"model": (1, 0)})
    g.add(18, "DInGInpaintEncode", (0, 0), [8, "hard"], color=DING,
          inputs={"pixels": (10, 0), "mask": (15, 0), "vae": (4, 0)})
    g.add(17, "DInGKSamplerAdvanced", (0, 0),
          [42, "fixed", WAN22_STEPS, 3.5, "simple", 1.0, "ding1", 0.01, "ddpm", 1, 0, WAN22_SPLIT],
          title="DInG KSampler (high noise)", color=DING,
          inputs={"model": (16, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (18, 0)})
    # the low-noise expert: continues from step WAN22_SPLIT with the same seed, steps and scheduler
    g.add(19, "ModelSamplingSD3", (0, 0), [8.0], inputs={"model": (2, 0)})
    g.add(20, "DInGKSamplerAdvanced", (0, 0),
          [42, "fixed", WAN22_STEPS, 3.5, "simple", 1.0, "ding1", 0.01, "ddpm", 1, WAN22_SPLIT, 10000],
          title="DInG KSampler (low noise)", color=DING,
          inputs={"model": (19, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (17, 0),
                  "observation": (18, 0)})
    g.add(21, "VAEDecode", (0, 0), inputs={"samples": (20, 0), "vae": (4, 0)})
    g.add(22, "DInGComposite", (0, 0), [8, "off"], color=DING,
          inputs={"original": (10, 0), "generated": (21, 0), "mask": (18, 1)})
    g.add(23, "CreateVideo", (0, 0), [16.0], inputs={"images": (22, 0), "audio": (8, 1)})
    g.add(24, "SaveVideo", (0, 0), ["ding_video", "auto", "auto"], inputs={"video": (23, 0)})
    g.add(25, "MarkdownNote", (0, 0), [
        "## DInG video inpainting, Wan 2.2 A14B\n\n"
        "Wan 2.2 A14B is two models: the **high-noise** expert lays out the picture (steps 0-10), "
        "the **low-noise** expert refines it (steps 10-20), as in ComfyUI's own Wan 2.2 template.\n\n"
        + clip_note() + "\n\n"
        "1. Both clips are cut to 33 frames (**ImageFromBatch**; Wan takes 1 + 4n) and scaled to "
        "832x480.\n"
        "2. Green prompt: the scene without the object, or with the new one. **Queue**.\n\n"
        "The first DInG Inpaint/Outpaint KSampler stops at step 10 (`end_at_step`) and passes its "
        "noisy latent to the second (`start_at_step` 10, no noise added), which also gets the encoded "
        "original (`observation`). Keep **seed, steps and scheduler the same in both**.\n\n"
        + _files_note([(WAN22_HIGH, "14.3 GB"), (WAN22_LOW, "14.3 GB"), (WAN_TEXT, "6.7 GB"),
                       (WAN_VAE, "254 MB")]) + "\n\n"
        "`ding1`, 20 steps: 20 model calls, 10 per expert."],
        title="Read me", color=NOTE, size=(270, 100))
    video_layout(g, video_columns(note=[25], vae=[4], models=[1, 16, 2, 19, 3], prompts=[5, 6],
                                  clip=[7, 8, 9, 10], mask=[11, 12, 13, 14], ding=[15, 18, 17],
                                  decode=[20, 21, 22, 23], save=[24]),
                 stretch=(5, 7, 11))
    return g


WORKFLOWS = [sd35_medium_inpaint, sd35_large_turbo_inpaint, sd35_outpaint, sd35_custom_sampling,
             flux1_dev_inpaint, flux2_klein_inpaint, z_image_turbo_inpaint, qwen_image_inpaint, sdxl_inpaint,
             wan21_video_inpaint, wan22_video_inpaint, wan22_a14b_video_inpaint, ltxv_video_inpaint]


# --------------------------------------------------------------------------- thumbnails

def _font(size):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def _sketch(d, box, repaint: bool, outpaint: bool):
    """A small landscape (sky, hill, sun) in ``box``; the masked part hatched (before) or filled
    with the new object (after)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    d.rectangle(box, fill=(120, 170, 220))
    d.ellipse([x0 + 0.68 * w, y0 + 0.12 * h, x0 + 0.86 * w, y0 + 0.38 * h], fill=(250, 220, 110))
    d.polygon([(x0, y0 + 0.62 * h), (x0 + 0.45 * w, y0 + 0.45 * h), (x1, y0 + 0.66 * h), (x1, y1), (x0, y1)],
              fill=(90, 150, 80))
    hole = ([x0, y0, x0 + 0.2 * w, y1], [x1 - 0.2 * w, y0, x1, y1]) if outpaint else \
        ([x0 + 0.28 * w, y0 + 0.5 * h, x0 + 0.62 * w, y0 + 0.86 * h],)
    for hx0, hy0, hx1, hy1 in hole:
        if not repaint:
            d.rectangle([hx0, hy0, hx1, hy1], fill=(235, 235, 235))
            step = 10
            for k in range(int(-(hy1 - hy0)), int(hx1 - hx0), step):
                a = (hx0 + max(k, 0), hy0 + max(-k, 0))
                b = (hx0 + min(k + (hy1 - hy0), hx1 - hx0), hy0 + min(hx1 - hx0 - k, hy1 - hy0))
                d.line([a, b], fill=(200, 90, 90), width=3)
        elif outpaint:
            d.rectangle([hx0, hy0, hx1, hy1], outline=(255, 255, 255), width=3)
        else:  # a bench where the hole was
            bw, bh = hx1 - hx0, hy1 - hy0
            d.rectangle([hx0 + 0.1 * bw, hy0 + 0.35 * bh, hx1 - 0.1 * bw, hy0 + 0.5 * bh], fill=(120, 80, 50))
            d.rectangle([hx0 + 0.1 * bw, hy0 + 0.55 * bh, hx1 - 0.1 * bw, hy0 + 0.68 * bh], fill=(120, 80, 50))
            for fx in (0.18, 0.78):
                d.rectangle([hx0 + fx * bw, hy0 + 0.68 * bh, hx0 + (fx + 0.05) * bw, hy1 - 0.05 * bh],
                            fill=(90, 60, 40))


def draw_thumbnail(graph: Graph, ui: dict, path: Path, size=(640, 400)):
    """The workflow's title in large type over a before -> after sketch, with its key settings."""
    from PIL import Image, ImageDraw
    W, H = size
    img = Image.new("RGB", size, (34, 51, 51))
    d = ImageDraw.Draw(img)
    d.text((24, 16), graph.title, font=_font(54), fill=(240, 250, 250))
    d.text((26, 84), graph.summary, font=_font(30), fill=(170, 215, 215))
    outpaint = "outpaint" in graph.key
    top, bottom = 140, H - 24
    _sketch(d, (24, top, 284, bottom), repaint=False, outpaint=outpaint)
    _sketch(d, (356, top, 616, bottom), repaint=True, outpaint=outpaint)
    mid = (top + bottom) / 2
    d.polygon([(296, mid - 22), (344, mid), (296, mid + 22)], fill=(120, 220, 220))
    img.save(path, "JPEG", quality=90)


# --------------------------------------------------------------------------- main

def build_all() -> dict:
    """{key: (graph, ui dict, api dict)} without writing anything; files are named by graph.title."""
    out = {}
    for make in WORKFLOWS:
        g = make()
        out[g.key] = (g, g.ui(), g.api())
    return out


def file_names() -> dict:
    """{key: file stem} of every workflow (the stem is the title the template browser shows)."""
    return {key: g.title for key, (g, _, _) in build_all().items()}


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    thumbnails = "--no-thumbnails" not in argv
    (HERE / "api").mkdir(exist_ok=True)
    stale = list(HERE.glob("*.json")) + list((HERE / "api").glob("*.api.json"))
    if thumbnails:
        stale += list(HERE.glob("*.jpg"))
    for old in stale:
        old.unlink()  # this script writes every workflow; nothing else belongs here
    for key, (g, ui, api) in build_all().items():
        name = g.title
        (HERE / f"{name}.json").write_text(_dump(ui), encoding="utf-8")
        (HERE / "api" / f"{name}.api.json").write_text(_dump(api), encoding="utf-8")
        if thumbnails:
            draw_thumbnail(g, ui, HERE / f"{name}.jpg")
        print(f"wrote {name}: {len(ui['nodes'])} nodes, {len(ui['links'])} links")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
