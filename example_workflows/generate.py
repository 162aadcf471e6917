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
    "DInGSampler": ([], [("SAMPLER", "SAMPLER")], ["variant", "obs_std", "eta", "particles"]),
    "DInGComposite": ([("original", "IMAGE"), ("generated", "IMAGE"), ("mask", "MASK")],
                      [("IMAGE", "IMAGE")], ["feather"]),
    "CLIPLoader": ([], [("CLIP", "CLIP")], ["clip_name", "type", "device"]),
    "LoadVideo": ([], [("VIDEO", "VIDEO")], ["file", "@upload"]),
    "GetVideoComponents": ([("video", "VIDEO")], [("images", "IMAGE"), ("audio", "AUDIO"), ("fps", "FLOAT")], []),
    "ImageFromBatch": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], ["batch_index", "length"]),
    "ImageScale": ([("image", "IMAGE")], [("IMAGE", "IMAGE")], ["upscale_method", "width", "height", "crop"]),
    "ImageToMask": ([("image", "IMAGE")], [("MASK", "MASK")], ["channel"]),
    "CreateVideo": ([("images", "IMAGE"), ("audio", "AUDIO")], [("VIDEO", "VIDEO")], ["fps"]),
    "SaveVideo": ([("video", "VIDEO")], [], ["filename_prefix", "format", "codec"]),
    "MarkdownNote": ([], [], ["text"]),
}
FRONTEND_ONLY = {"MarkdownNote"}
OURS = {"DInGInpaintEncode", "DInGKSampler", "DInGSampler", "DInGComposite"}

# Default sizes [w, h] in canvas pixels (only looks matter).
SIZES = {
    "CheckpointLoaderSimple": (260, 98), "UNETLoader": (260, 82), "TripleCLIPLoader": (260, 106),
    "DualCLIPLoader": (260, 130), "VAELoader": (260, 58), "LoadImage": (260, 330),
    "CLIPTextEncode": (280, 140), "ConditioningZeroOut": (240, 26), "FluxGuidance": (280, 58),
    "ImagePadForOutpaint": (260, 174), "ModelSamplingSD3": (260, 58), "CFGGuider": (280, 98),
    "BasicScheduler": (280, 106), "RandomNoise": (280, 82), "SamplerCustomAdvanced": (280, 126),
    "VAEDecode": (210, 46), "SaveImage": (280, 330), "DInGInpaintEncode": (280, 122),
    "DInGKSampler": (280, 330), "DInGSampler": (280, 130), "DInGComposite": (280, 102),
    "MarkdownNote": (280, 660),
    "CLIPLoader": (225, 106), "LoadVideo": (225, 200), "GetVideoComponents": (225, 70),
    "ImageFromBatch": (225, 82), "ImageScale": (225, 130), "ImageToMask": (225, 58),
    "CreateVideo": (225, 90), "SaveVideo": (225, 430),
}
# The saved view, in screen pixels of a 1600x900 window: the graph's top-left corner goes to
# VIEW_ORIGIN and everything must end inside VIEW_END. That region is visible in both
# frontends: 0.3.64's canvas (1536x822, right of the side bar and below the menu) and 0.8.0's
# full-window canvas (the side bar, about 64 px, and the menus, about 90 px, float over it).
VIEW_ORIGIN = (70, 95)
VIEW_END = (1536, 822)

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
    "flux-2-klein-4b.safetensors": (
        "diffusion_models",
        "https://huggingface.co/black-forest-labs/FLUX.2-klein-4B/resolve/main/flux-2-klein-4b.safetensors"),
    "qwen_3_4b.safetensors": (
        "text_encoders",
        "https://huggingface.co/Comfy-Org/z_image_turbo/resolve/main/split_files/text_encoders/qwen_3_4b.safetensors"),
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
    "wan_2.1_vae.safetensors": (
        "vae",
        "https://huggingface.co/Comfy-Org/Wan_2.1_ComfyUI_repackaged/resolve/main/split_files/vae/"
        "wan_2.1_vae.safetensors"),
}
# SD3.5 and Flux both use the CLIP-L text encoder; ComfyUI's templates call it
# clip_l.safetensors in text_encoders/ for both, so one entry serves both workflows.

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

    def add(self, node_id: int, node_type: str, pos, widgets=(), *, title=None, color=None, size=None,
            inputs=None) -> int:
        link_inputs, _, widget_names = NODE_SHAPES[node_type]
        if len(widgets) != len(widget_names):
            raise ValueError(f"{node_type} takes {len(widget_names)} widget values {widget_names}, got {widgets!r}")
        assert node_id not in self.nodes, node_id
        self.nodes[node_id] = {"id": node_id, "type": node_type, "pos": list(pos), "widgets": list(widgets),
                               "title": title, "color": color, "size": size or SIZES[node_type]}
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

    def bounds(self):
        """(x0, y0, x1, y1) of every node, notes included, in canvas units."""
        boxes = [(n["pos"][0], n["pos"][1], n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
                 for n in self.nodes.values()]
        return (min(b[0] for b in boxes), min(b[1] for b in boxes) - 30,  # 30: the title bar
                max(b[2] for b in boxes), max(b[3] for b in boxes))

    def view(self) -> dict:
        """The saved zoom and offset: 1:1, the graph's corner at VIEW_ORIGIN (screen = (canvas +
        offset) * scale). The graphs are laid out to fit VIEW_END at that zoom (tested)."""
        x0, y0, _, _ = self.bounds()
        return {"scale": 1.0, "offset": [VIEW_ORIGIN[0] - x0, VIEW_ORIGIN[1] - y0]}

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


# INPUT_TYPES order of every node (links and widgets interleaved as ComfyUI declares them).
INPUT_ORDER = {
    "CLIPTextEncode": ["text", "clip"],
    "VAEDecode": ["samples", "vae"],
    "SaveImage": ["images", "filename_prefix"],
    "ImagePadForOutpaint": ["image", "left", "top", "right", "bottom", "feathering"],
    "ModelSamplingSD3": ["model", "shift"],
    "CFGGuider": ["model", "positive", "negative", "cfg"],
    "BasicScheduler": ["model", "scheduler", "steps", "denoise"],
    "FluxGuidance": ["conditioning", "guidance"],
    "DInGInpaintEncode": ["pixels", "mask", "vae", "grow_mask_by", "mask_mode"],
    "DInGKSampler": ["model", "seed", "steps", "cfg", "scheduler", "positive", "negative", "latent_image",
                     "denoise", "variant", "obs_std", "eta", "particles"],
    "DInGComposite": ["original", "generated", "mask", "feather"],
    "CLIPLoader": ["clip_name", "type", "device"],
    "ImageFromBatch": ["image", "batch_index", "length"],
    "ImageScale": ["image", "upscale_method", "width", "height", "crop"],
    "ImageToMask": ["image", "channel"],
    "CreateVideo": ["images", "fps", "audio"],
    "SaveVideo": ["video", "filename_prefix", "format", "codec"],
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
    "CFGGuider": "CFGGuider", "BasicScheduler": "BasicScheduler", "RandomNoise": "RandomNoise",
    "SamplerCustomAdvanced": "SamplerCustomAdvanced", "VAEDecode": "VAE Decode", "SaveImage": "Save Image",
    "DInGInpaintEncode": "DInG Inpaint/Outpaint Encode", "DInGKSampler": "DInG Inpaint/Outpaint KSampler",
    "DInGSampler": "DInG Inpaint/Outpaint Sampler (SAMPLER)", "DInGComposite": "DInG Inpaint Composite",
    "CLIPLoader": "Load CLIP", "LoadVideo": "Load Video", "GetVideoComponents": "Get Video Components",
    "ImageFromBatch": "ImageFromBatch", "ImageScale": "Upscale Image", "ImageToMask": "Convert Image to Mask",
    "CreateVideo": "Create Video", "SaveVideo": "Save Video",
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
STACKED = ((X[4], 0), (X[4], 80), (X[4], 220))


def _tail(g: Graph, first_id: int, image_src, mask_src, latent_src, vae_src, prefix: str,
          spots=UNDER_SAMPLER) -> int:
    """VAE Decode -> DInG Composite -> Save Image at ``spots``; returns the next free id."""
    dec, comp, save = first_id, first_id + 1, first_id + 2
    g.add(dec, "VAEDecode", spots[0], inputs={"samples": latent_src, "vae": vae_src})
    g.add(comp, "DInGComposite", spots[1], [8], color=DING,
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
    g = Graph("ding_sd35_large_turbo_inpaint", "SD3.5 Turbo inpaint",
              "8 steps | cfg 1 | ding1")
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
    g.add(7, "DInGKSampler", (X[3], 0), [42, "fixed", 8, 1.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, inputs={"model": (1, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (6, 0)})
    _tail(g, 8, (3, 0), (6, 1), (7, 0), (1, 2), "ding_turbo_inpaint")
    _note(g, 11,
          "## DInG inpainting, SD3.5 Large Turbo\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([("sd3.5_large_turbo.safetensors", "16.5 GB; gated: accept the licence first"),
                         ("clip_l.safetensors", "250 MB"), ("clip_g.safetensors", "1.4 GB"),
                         ("t5xxl_fp8_e4m3fn_scaled.safetensors", "5.2 GB")]) + "\n\n"
          "Turbo is distilled for few steps without guidance: 4-8 steps, cfg 1. `ding1` at 8 steps "
          "makes 8 model calls. **SD3.5 Large** (not Turbo): `sd3.5_large.safetensors`, 28 steps, "
          "cfg 2-3 (untested here).")
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
              "SamplerCustomAdvanced | DInG SAMPLER")
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


KLEIN_UNET = "flux-2-klein-4b.safetensors"
KLEIN_TEXT = "qwen_3_4b.safetensors"  # Qwen3-4B, the file ComfyUI's Z-Image templates use too
FLUX2_VAE = "flux2-vae.safetensors"   # the name ComfyUI's Flux.2 templates use
# The Klein workflow's DInG settings, in one place: the current defaults (ding1 with the ddpm
# bridge noise) at Klein's own 4 distilled steps; a measurement of few-step settings may change them.
KLEIN_STEPS = 4
KLEIN_VARIANT = "ding1"
KLEIN_ETA = "ddpm"


def flux2_klein_inpaint() -> Graph:
    g = Graph("ding_flux2_klein_inpaint", "Flux.2 Klein inpaint",
              f"{KLEIN_STEPS} steps | cfg 1 | {KLEIN_VARIANT}")
    g.add(1, "UNETLoader", (X[1], 0), [KLEIN_UNET, "default"])
    g.add(2, "CLIPLoader", (X[1], 115), [KLEIN_TEXT, "flux2", "default"], size=(260, 106))
    g.add(3, "VAELoader", (X[1], 255), [FLUX2_VAE])
    g.add(4, "LoadImage", (X[1], 343), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[2], 0), [PROMPT_FLUX], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "ConditioningZeroOut", (X[2], 170), [], title="Negative (blank, unused at cfg 1)",
          color=NEGATIVE, inputs={"conditioning": (5, 0)})
    g.add(7, "DInGInpaintEncode", (X[2], 230), [6, "hard"], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(8, "DInGKSampler", (X[3], 0),
          [42, "fixed", KLEIN_STEPS, 1.0, "simple", 1.0, KLEIN_VARIANT, 0.01, KLEIN_ETA, 1],
          color=DING, inputs={"model": (1, 0), "positive": (5, 0), "negative": (6, 0), "latent_image": (7, 0)})
    _tail(g, 9, (4, 0), (7, 1), (8, 0), (3, 0), "ding_klein_inpaint")
    _note(g, 12,
          "## DInG inpainting, Flux.2 Klein 4B\n\nThe distilled Flux.2 [klein] 4B text-to-image model; "
          "DInG does the inpainting.\n\n" + mask_steps(ZERO_NEGATIVE) + "\n\n"
          + _files_note([(KLEIN_UNET, "about 7.8 GB"), (KLEIN_TEXT, "about 8 GB"),
                         (FLUX2_VAE, "336 MB")]) + "\n\n"
          f"Klein is step-distilled: {KLEIN_STEPS} steps, cfg 1, no FluxGuidance (Klein has no "
          f"guidance input). `{KLEIN_VARIANT}` at {KLEIN_STEPS} steps makes {KLEIN_STEPS} model calls. "
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


def wan21_video_inpaint() -> Graph:
    g = Graph("ding_wan21_video_inpaint", "Wan 2.1 video inpaint",
              "33 frames | 30 steps | cfg 5 | ding1")
    x = [0, 265, 505, 745, 985, 1225]  # note, models + prompts, clip, mask clip, DInG, output
    g.add(1, "UNETLoader", (x[1], 0), [WAN_T2V, "default"], size=(225, 82))
    g.add(2, "CLIPLoader", (x[1], 115), [WAN_TEXT, "wan", "default"])
    g.add(3, "VAELoader", (x[1], 255), [WAN_VAE], size=(225, 58))
    g.add(4, "CLIPTextEncode", (x[1], 345), [PROMPT_WAN], title="Positive prompt (the scene)",
          color=POSITIVE, size=(225, 140), inputs={"clip": (2, 0)})
    g.add(5, "CLIPTextEncode", (x[1], 515), [NEGATIVE_WAN], title="Negative prompt", color=NEGATIVE,
          size=(225, 100), inputs={"clip": (2, 0)})
    # the clip: frames 0 .. WAN_FRAMES-1 at Wan's size
    g.add(6, "LoadVideo", (x[2], 0), [INPUT_VIDEO, "image"], title="Load Video (your clip)")
    g.add(7, "GetVideoComponents", (x[2], 235), [], inputs={"video": (6, 0)})
    g.add(8, "ImageFromBatch", (x[2], 340), [0, WAN_FRAMES], inputs={"image": (7, 0)})
    g.add(9, "ImageScale", (x[2], 455), ["lanczos", *WAN_SIZE, "center"], inputs={"image": (8, 0)})
    # the mask clip: the same frames at the same size, white = change
    g.add(10, "LoadVideo", (x[3], 0), [INPUT_MASK_VIDEO, "image"], title="Load Video (mask, white = change)")
    g.add(11, "GetVideoComponents", (x[3], 235), [], inputs={"video": (10, 0)})
    g.add(12, "ImageFromBatch", (x[3], 340), [0, WAN_FRAMES], inputs={"image": (11, 0)})
    g.add(13, "ImageScale", (x[3], 455), ["nearest-exact", *WAN_SIZE, "center"], inputs={"image": (12, 0)})
    g.add(14, "ImageToMask", (x[3], 620), ["red"], inputs={"image": (13, 0)})
    # DInG on Wan's own schedule (shift 8)
    g.add(15, "ModelSamplingSD3", (x[4], 0), [8.0], title="ModelSamplingSD3 (shift 8)", size=(225, 58),
          inputs={"model": (1, 0)})
    g.add(16, "DInGInpaintEncode", (x[4], 90), [8, "hard"], color=DING, size=(225, 122),
          inputs={"pixels": (9, 0), "mask": (14, 0), "vae": (3, 0)})
    g.add(17, "DInGKSampler", (x[4], 245), [42, "fixed", 30, 5.0, "simple", 1.0, "ding1", 0.01, "ddpm", 1],
          color=DING, size=(225, 310),
          inputs={"model": (15, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (16, 0)})
    g.add(18, "VAEDecode", (x[4], 610), inputs={"samples": (17, 0), "vae": (3, 0)}, size=(225, 46))
    g.add(19, "DInGComposite", (x[5], 0), [8], color=DING, size=(225, 102),
          inputs={"original": (9, 0), "generated": (18, 0), "mask": (16, 1)})
    g.add(20, "CreateVideo", (x[5], 135), [16.0], inputs={"images": (19, 0), "audio": (7, 1)})
    g.add(21, "SaveVideo", (x[5], 260), ["ding_video", "auto", "auto"], inputs={"video": (20, 0)})
    g.add(22, "MarkdownNote", (x[0], 0), [
        "## DInG video inpainting, Wan 2.1\n\n"
        "Remove or replace an object in a clip with the base Wan 2.1 1.3B text-to-video model.\n\n"
        "1. **Load Video (your clip)** and **Load Video (mask)**: a mask video of the same size "
        "and length, white where the picture should change. One mask for all frames instead: "
        "wire a **Load Image** MASK (MaskEditor) to the encoder's mask.\n"
        "2. **ImageFromBatch** keeps 33 frames (Wan takes 1 + 4n: 17, 33, 49, 81); both clips "
        "are scaled to 832x480.\n"
        "3. Green prompt: the scene without the object, or with the new one. **Queue**.\n\n"
        "Outside the mask every frame keeps the original pixels. Set **Create Video** fps to "
        "the clip's (16 is Wan's).\n\n"
        + _files_note([(WAN_T2V, "2.8 GB"), (WAN_TEXT, "6.7 GB"), (WAN_VAE, "254 MB")]) + "\n\n"
        "`ding1`, 30 steps: 30 model calls. Time grows with frames x pixels."],
        title="Read me", color=NOTE, size=(250, 697))
    return g


WORKFLOWS = [sd35_medium_inpaint, sd35_large_turbo_inpaint, sd35_outpaint, sd35_custom_sampling,
             flux1_dev_inpaint, flux2_klein_inpaint, wan21_video_inpaint]


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
