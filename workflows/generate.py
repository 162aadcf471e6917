"""Writes the example workflows of this folder from one description per graph.

    python workflows/generate.py          # rewrites *.json, api/*.api.json and *.jpg

For every graph it writes three files:

* ``<name>.json``: the workflow in the frontend's (UI) format. ComfyUI lists
  ``custom_nodes/<pack>/workflows/*.json`` in its template browser.
* ``api/<name>.api.json``: the same graph in API format, for ``POST /prompt``
  and headless runs. The twins live in ``api/`` because the template browser
  lists every ``*.json`` directly in ``workflows/``; a twin next to its UI file
  would show up there as a second, broken template.
* ``<name>.jpg``: the template browser's thumbnail (it asks for ``<name>.jpg``):
  a drawing of the graph itself, boxes and wires. It is not a result image.

Only the standard library is needed for the JSON files; the thumbnails need
Pillow. Editing a workflow in ComfyUI and saving it over ``<name>.json`` is fine
too: then export the API twin with "Export (API)" and run
``python -m pytest tests/test_workflows.py``, which checks that the two agree.
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
# Widget names follow the node's INPUT_TYPES order. Names starting with "@" are
# frontend-only widgets with no API input: "@control_after_generate" follows a seed,
# "@upload" is LoadImage's upload button. tests/test_workflows.py keeps its own copy
# of the widget lists and the ComfyUI integration test checks both against ComfyUI.
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
                          [("latent", "LATENT"), ("repaint_mask", "MASK")], ["grow_mask_by"]),
    "DInGKSampler": ([("model", "MODEL"), ("positive", "CONDITIONING"), ("negative", "CONDITIONING"),
                      ("latent_image", "LATENT")], [("LATENT", "LATENT")],
                     ["seed", "@control_after_generate", "steps", "cfg", "scheduler", "denoise",
                      "variant", "obs_std", "eta"]),
    "DInGSampler": ([], [("SAMPLER", "SAMPLER")], ["variant", "obs_std", "eta"]),
    "DInGComposite": ([("original", "IMAGE"), ("generated", "IMAGE"), ("mask", "MASK")],
                      [("IMAGE", "IMAGE")], ["feather"]),
    "MarkdownNote": ([], [], ["text"]),
}
FRONTEND_ONLY = {"MarkdownNote"}
OURS = {"DInGInpaintEncode", "DInGKSampler", "DInGSampler", "DInGComposite"}

# Default sizes [w, h] in canvas pixels (only looks matter).
SIZES = {
    "CheckpointLoaderSimple": (340, 98), "UNETLoader": (340, 82), "TripleCLIPLoader": (340, 106),
    "DualCLIPLoader": (340, 130), "VAELoader": (340, 58), "LoadImage": (340, 330),
    "CLIPTextEncode": (400, 180), "ConditioningZeroOut": (240, 26), "FluxGuidance": (300, 58),
    "ImagePadForOutpaint": (315, 174), "ModelSamplingSD3": (315, 58), "CFGGuider": (315, 98),
    "BasicScheduler": (315, 106), "RandomNoise": (315, 82), "SamplerCustomAdvanced": (300, 126),
    "VAEDecode": (210, 46), "SaveImage": (420, 440), "DInGInpaintEncode": (315, 98),
    "DInGKSampler": (330, 310), "DInGSampler": (315, 106), "DInGComposite": (315, 102),
    "MarkdownNote": (420, 420),
}

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
}
# SD3.5 and Flux both use the CLIP-L text encoder; ComfyUI's templates call it
# clip_l.safetensors in text_encoders/ for both, so one entry serves both workflows.

INPUT_IMAGE = "ding_example.png"  # LoadImage's file; the user uploads their own

# Colours of the frontend's "green/red" prompt nodes and of our own nodes.
POSITIVE = ("#232", "#353")
NEGATIVE = ("#322", "#533")
DING = ("#233", "#355")
NOTE = ("#432", "#653")


# --------------------------------------------------------------------------- graph builder

class Graph:
    """A workflow under construction: nodes with positions, widgets and wires."""

    def __init__(self, name: str, title: str, summary: str):
        self.name, self.title, self.summary = name, title, summary
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
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PACK_ID}/workflows/{self.name}")),
            "revision": 0,
            "last_node_id": max(self.nodes),
            "last_link_id": len(self.wires),
            "nodes": nodes,
            "links": links,
            "groups": [],
            "config": {},
            "extra": {"ds": {"scale": 0.7, "offset": [520, 80]}},
            "version": 0.4,
        }

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
    "DInGInpaintEncode": ["pixels", "mask", "vae", "grow_mask_by"],
    "DInGKSampler": ["model", "seed", "steps", "cfg", "scheduler", "positive", "negative", "latent_image",
                     "denoise", "variant", "obs_std", "eta"],
    "DInGComposite": ["original", "generated", "mask", "feather"],
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
    "DInGInpaintEncode": "DInG Inpaint Encode", "DInGKSampler": "DInG KSampler",
    "DInGSampler": "DInG Sampler (SAMPLER)", "DInGComposite": "DInG Composite",
}

# --------------------------------------------------------------------------- the workflows

MASK_STEPS = (
    "1. **Load Image**: upload your picture, then right-click the node and choose "
    "**Open in MaskEditor**. Paint over what should change and save. The painted area "
    "is the node's MASK output (white = repaint).\n"
    "2. Write what the painted area should show in the green prompt. Leave the red one empty.\n"
    "3. Queue. The result keeps every pixel outside the painted area (plus a few pixels "
    "of seam) exactly as loaded."
)


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

X = [0, 400, 820, 1200, 1560]


def _tail(g: Graph, first_id: int, image_src, mask_src, latent_src, vae_src, prefix: str, x0: int) -> int:
    """VAE Decode -> DInG Composite -> Save Image; returns the next free id."""
    dec, comp, save = first_id, first_id + 1, first_id + 2
    g.add(dec, "VAEDecode", (x0, 0), inputs={"samples": latent_src, "vae": vae_src})
    g.add(comp, "DInGComposite", (x0, 110), [8], color=DING,
          inputs={"original": image_src, "generated": (dec, 0), "mask": mask_src})
    g.add(save, "SaveImage", (x0 + 360, 0), [prefix], inputs={"images": (comp, 0)})
    return first_id + 3


def _sd35_loaders(g: Graph) -> None:
    """Load Checkpoint (id 1, SD3.5 Medium with its text encoders) and Load Image (id 2)."""
    g.add(1, "CheckpointLoaderSimple", (X[0], 0), [SD35_MEDIUM])
    g.add(2, "LoadImage", (X[0], 160), [INPUT_IMAGE, "image"])


def _prompt_pair(g: Graph, pos_id: int, prompt: str, pos_title: str) -> None:
    """Positive CLIPTextEncode at pos_id and an empty negative at pos_id + 1, both on the
    checkpoint's CLIP."""
    g.add(pos_id, "CLIPTextEncode", (X[1], 0), [prompt], title=pos_title,
          color=POSITIVE, inputs={"clip": (1, 1)})
    g.add(pos_id + 1, "CLIPTextEncode", (X[1], 230), [""], title="Negative prompt (empty)", color=NEGATIVE,
          inputs={"clip": (1, 1)})


def sd35_medium_inpaint() -> Graph:
    g = Graph("ding_sd35_medium_inpaint", "SD3.5 Medium inpaint",
              "28 steps | cfg 2 | ding | obs_std 0.01 | eta square")
    _sd35_loaders(g)
    _prompt_pair(g, 3, PROMPT_INPAINT, "Positive prompt (what to paint)")
    g.add(5, "DInGInpaintEncode", (X[1], 460), [6], color=DING,
          inputs={"pixels": (2, 0), "mask": (2, 1), "vae": (1, 2)})
    g.add(6, "DInGKSampler", (X[2], 0), [42, "fixed", 28, 2.0, "simple", 1.0, "ding", 0.01, "square"],
          color=DING, inputs={"model": (1, 0), "positive": (3, 0), "negative": (4, 0), "latent_image": (5, 0)})
    _tail(g, 7, (2, 0), (5, 1), (6, 0), (1, 2), "ding_inpaint", X[3])
    g.add(10, "MarkdownNote", (X[0] - 460, 0), [
        "## DInG inpainting with SD3.5 Medium\n\nNo inpainting checkpoint needed: DInG conditions the "
        "base model on the unmasked pixels at every step.\n\n" + MASK_STEPS + "\n\n"
        + _files_note([(SD35_MEDIUM, "about 11.6 GB")]) + "\n\n"
        "Settings follow the DInG paper: 28 steps, cfg 2 (2-3 is fine), variant `ding`, "
        "obs_std 0.01, eta `square`. Keep images near 1 megapixel; crop large photos around "
        "the mask first."], color=NOTE)
    return g


def sd35_large_turbo_inpaint() -> Graph:
    g = Graph("ding_sd35_large_turbo_inpaint", "SD3.5 Large Turbo inpaint",
              "6 steps | cfg 1 | ding | obs_std 0.01 | eta square")
    g.add(1, "CheckpointLoaderSimple", (X[0], 0), ["sd3.5_large_turbo.safetensors"],
          title="Load Checkpoint (model + VAE; no text encoders inside)")
    g.add(2, "TripleCLIPLoader", (X[0], 140),
          ["clip_l.safetensors", "clip_g.safetensors", "t5xxl_fp8_e4m3fn_scaled.safetensors"])
    g.add(3, "LoadImage", (X[0], 290), [INPUT_IMAGE, "image"])
    g.add(4, "CLIPTextEncode", (X[1], 0), [PROMPT_INPAINT], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(5, "ConditioningZeroOut", (X[1], 230), [], title="Negative (unused at cfg 1)", color=NEGATIVE,
          inputs={"conditioning": (4, 0)})
    g.add(6, "DInGInpaintEncode", (X[1], 330), [6], color=DING,
          inputs={"pixels": (3, 0), "mask": (3, 1), "vae": (1, 2)})
    g.add(7, "DInGKSampler", (X[2], 0), [42, "fixed", 6, 1.0, "simple", 1.0, "ding", 0.01, "square"],
          color=DING, inputs={"model": (1, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (6, 0)})
    _tail(g, 8, (3, 0), (6, 1), (7, 0), (1, 2), "ding_turbo_inpaint", X[3])
    g.add(11, "MarkdownNote", (X[0] - 460, 0), [
        "## DInG inpainting with SD3.5 Large Turbo\n\n" + MASK_STEPS + "\n\n"
        + _files_note([("sd3.5_large_turbo.safetensors", "about 16.5 GB; gated, accept the licence on "
                        "Hugging Face first"),
                       ("clip_l.safetensors", "about 250 MB"), ("clip_g.safetensors", "about 1.4 GB"),
                       ("t5xxl_fp8_e4m3fn_scaled.safetensors", "about 5.2 GB")]) + "\n\n"
        "Turbo is distilled for few steps without guidance: 4-8 steps, cfg 1. `ding` at 6 steps "
        "makes 11 model calls; `ding1` at 8 steps makes 8 and is a little weaker at seams.\n\n"
        "**SD3.5 Large (not Turbo):** pick `sd3.5_large.safetensors` (same folder, about 16.5 GB), "
        "28 steps, cfg 2-3. Untested here."], color=NOTE)
    return g


def sd35_outpaint() -> Graph:
    g = Graph("ding_sd35_outpaint", "SD3.5 Medium outpaint",
              "pad 192 px left/right | 28 steps | cfg 2 | ding")
    _sd35_loaders(g)
    g.add(3, "ImagePadForOutpaint", (X[0], 520), [192, 0, 192, 0, 0], inputs={"image": (2, 0)})
    _prompt_pair(g, 4, PROMPT_OUTPAINT, "Positive prompt (the whole picture)")
    g.add(6, "DInGInpaintEncode", (X[1], 460), [8], color=DING,
          inputs={"pixels": (3, 0), "mask": (3, 1), "vae": (1, 2)})
    g.add(7, "DInGKSampler", (X[2], 0), [42, "fixed", 28, 2.0, "simple", 1.0, "ding", 0.01, "square"],
          color=DING, inputs={"model": (1, 0), "positive": (4, 0), "negative": (5, 0), "latent_image": (6, 0)})
    _tail(g, 8, (3, 0), (6, 1), (7, 0), (1, 2), "ding_outpaint", X[3])
    g.add(11, "MarkdownNote", (X[0] - 460, 0), [
        "## DInG outpainting with SD3.5 Medium\n\n"
        "**Pad Image for Outpainting** adds grey borders and a mask that covers them; DInG fills "
        "the borders and keeps the original picture. No mask painting needed.\n\n"
        "- Set the borders in pixels (multiples of 8 keep the latent grid aligned). Feathering 0: "
        "`grow_mask_by` on DInG Inpaint Encode already lets the model redraw an 8 px strip of the "
        "original so that the seam blends.\n"
        "- Describe the whole scene in the prompt.\n- Keep the padded image near 1 megapixel.\n\n"
        + _files_note([(SD35_MEDIUM, "about 11.6 GB")])], color=NOTE)
    return g


def sd35_custom_sampling() -> Graph:
    g = Graph("ding_sd35_custom_sampling", "SD3.5 Medium, custom sampling",
              "ModelSamplingSD3 | CFGGuider | DInG SAMPLER | BasicScheduler | RandomNoise")
    _sd35_loaders(g)
    _prompt_pair(g, 3, PROMPT_INPAINT, "Positive prompt (what to paint)")
    g.add(5, "ModelSamplingSD3", (X[1], 460), [3.0], inputs={"model": (1, 0)})
    g.add(10, "DInGInpaintEncode", (X[1], 570), [6], color=DING,
          inputs={"pixels": (2, 0), "mask": (2, 1), "vae": (1, 2)})
    g.add(6, "CFGGuider", (X[2], 0), [2.0], inputs={"model": (5, 0), "positive": (3, 0), "negative": (4, 0)})
    g.add(7, "DInGSampler", (X[2], 150), ["ding", 0.01, "square"], color=DING)
    g.add(8, "BasicScheduler", (X[2], 300), ["simple", 28, 1.0], inputs={"model": (5, 0)})
    g.add(9, "RandomNoise", (X[2], 450), [42, "fixed"])
    g.add(11, "SamplerCustomAdvanced", (X[3], 0), [],
          inputs={"noise": (9, 0), "guider": (6, 0), "sampler": (7, 0), "sigmas": (8, 0),
                  "latent_image": (10, 0)})
    _tail(g, 12, (2, 0), (10, 1), (11, 0), (1, 2), "ding_custom", X[4])
    g.add(15, "MarkdownNote", (X[0] - 460, 0), [
        "## DInG as a SAMPLER\n\n**DInG Sampler (SAMPLER)** plugs into SamplerCustomAdvanced like any "
        "other sampler, so every guider, scheduler and noise node works with it.\n\n" + MASK_STEPS + "\n\n"
        "- **ModelSamplingSD3** shift sets the noise schedule (3.0 is SD3.5's own value; higher "
        "spends more steps at high noise).\n"
        "- The latent must come from **DInG Inpaint Encode** (it carries the mask). Without a "
        "mask DInG samples freely and logs a warning.\n"
        "- Model calls: 2 x steps - 1 with `ding`, steps with `ding1`.\n\n"
        + _files_note([(SD35_MEDIUM, "about 11.6 GB")])], color=NOTE)
    return g


def flux1_dev_inpaint() -> Graph:
    g = Graph("ding_flux1_dev_inpaint", "Flux.1 dev inpaint",
              "20 steps | cfg 1 | Flux guidance 3.5 | ding")
    g.add(1, "UNETLoader", (X[0], 0), ["flux1-dev.safetensors", "default"])
    g.add(2, "DualCLIPLoader", (X[0], 120), ["clip_l.safetensors", "t5xxl_fp16.safetensors", "flux", "default"])
    g.add(3, "VAELoader", (X[0], 290), ["ae.safetensors"])
    g.add(4, "LoadImage", (X[0], 390), [INPUT_IMAGE, "image"])
    g.add(5, "CLIPTextEncode", (X[1], 0), [PROMPT_FLUX], title="Positive prompt (what to paint)",
          color=POSITIVE, inputs={"clip": (2, 0)})
    g.add(6, "FluxGuidance", (X[1], 230), [3.5], inputs={"conditioning": (5, 0)})
    g.add(7, "ConditioningZeroOut", (X[1], 330), [], title="Negative (unused at cfg 1)", color=NEGATIVE,
          inputs={"conditioning": (5, 0)})
    g.add(8, "DInGInpaintEncode", (X[1], 420), [6], color=DING,
          inputs={"pixels": (4, 0), "mask": (4, 1), "vae": (3, 0)})
    g.add(9, "DInGKSampler", (X[2], 0), [42, "fixed", 20, 1.0, "simple", 1.0, "ding", 0.01, "square"],
          color=DING, inputs={"model": (1, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (8, 0)})
    _tail(g, 10, (4, 0), (8, 1), (9, 0), (3, 0), "ding_flux_inpaint", X[3])
    g.add(13, "MarkdownNote", (X[0] - 460, 0), [
        "## DInG inpainting with Flux.1 dev\n\nThe base Flux.1 dev model, not the Fill model: DInG "
        "does the conditioning.\n\n" + MASK_STEPS.replace(" Leave the red one empty.", "") + "\n\n"
        + _files_note([("flux1-dev.safetensors", "about 23.8 GB; gated, accept the licence on Hugging "
                        "Face first"),
                       ("clip_l.safetensors", "about 250 MB"),
                       ("t5xxl_fp16.safetensors", "about 9.8 GB; or t5xxl_fp8_e4m3fn_scaled, about 5.2 GB"),
                       ("ae.safetensors", "about 335 MB")]) + "\n\n"
        "Flux dev is guidance-distilled: keep cfg at 1 and steer with **FluxGuidance** (about 3.5). "
        "`ding` at 20 steps makes 39 model calls, about twice a plain 20-step run. "
        "Use `weight_dtype` fp8 on cards with less than 24 GB."], color=NOTE)
    return g


WORKFLOWS = [sd35_medium_inpaint, sd35_large_turbo_inpaint, sd35_outpaint, sd35_custom_sampling,
             flux1_dev_inpaint]


# --------------------------------------------------------------------------- thumbnails

TYPE_COLOURS = {
    "MODEL": (180, 160, 230), "CLIP": (235, 210, 90), "VAE": (230, 110, 110), "LATENT": (240, 150, 200),
    "IMAGE": (110, 180, 240), "MASK": (110, 210, 140), "CONDITIONING": (245, 170, 90),
    "GUIDER": (150, 200, 200), "SAMPLER": (200, 200, 150), "SIGMAS": (170, 200, 120), "NOISE": (200, 200, 200),
}


def _font(size):
    from PIL import ImageFont
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: one small bitmap font
        return ImageFont.load_default()


def draw_thumbnail(graph: Graph, ui: dict, path: Path, size=(640, 400)):
    """The graph as boxes and wires (DInG nodes highlighted), titled. No result image."""
    from PIL import Image, ImageDraw
    W, H = size
    img = Image.new("RGB", size, (30, 32, 38))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, W, 74], fill=(34, 51, 51))
    d.text((18, 12), "DInG  " + graph.title, font=_font(26), fill=(235, 245, 245))
    d.text((18, 46), graph.summary, font=_font(15), fill=(170, 205, 205))

    nodes = [n for n in ui["nodes"] if n["type"] not in FRONTEND_ONLY]
    x0 = min(n["pos"][0] for n in nodes)
    y0 = min(n["pos"][1] for n in nodes)
    x1 = max(n["pos"][0] + n["size"][0] for n in nodes)
    y1 = max(n["pos"][1] + n["size"][1] for n in nodes)
    pad, top, bottom = 16, 90, 30
    scale = min((W - 2 * pad) / (x1 - x0), (H - top - bottom) / (y1 - y0))
    ox = pad + ((W - 2 * pad) - scale * (x1 - x0)) / 2
    oy = top + ((H - top - bottom) - scale * (y1 - y0)) / 2
    d.text((18, H - 22), "Diagram of the workflow graph. Teal: DInG nodes.", font=_font(13),
           fill=(150, 155, 165))

    def pt(x, y):
        return ox + (x - x0) * scale, oy + (y - y0) * scale

    by_id = {n["id"]: n for n in nodes}
    header = max(10, int(26 * scale))

    def slot_y(n, slot):
        return n["pos"][1] + 26 + 20 * slot + 10

    for link in ui["links"]:
        _, src, s_slot, dst, d_slot, typ = link
        a, b = by_id[src], by_id[dst]
        p0 = pt(a["pos"][0] + a["size"][0], slot_y(a, s_slot))
        p3 = pt(b["pos"][0], slot_y(b, d_slot))
        dx = max(30.0, abs(p3[0] - p0[0]) / 2)
        pts = []
        for k in range(25):
            t = k / 24
            c = [(1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3]
            xs = [p0[0], p0[0] + dx, p3[0] - dx, p3[0]]
            ys = [p0[1], p0[1], p3[1], p3[1]]
            pts.append((sum(ci * v for ci, v in zip(c, xs)), sum(ci * v for ci, v in zip(c, ys))))
        d.line(pts, fill=TYPE_COLOURS.get(typ, (200, 200, 200)), width=2)

    title_font = _font(max(9, min(14, int(15 * scale * 1.6))))
    for n in nodes:
        ours = n["type"] in OURS
        a = pt(*n["pos"])
        b = pt(n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
        body = (51, 85, 85) if ours else (53, 53, 58)
        head = (70, 150, 150) if ours else (80, 80, 88)
        d.rounded_rectangle([a, b], radius=4, fill=body, outline=(20, 20, 22))
        d.rounded_rectangle([a, (b[0], a[1] + header)], radius=4, fill=head)
        label = n.get("title") or DISPLAY_NAMES.get(n["type"], n["type"])
        label = label.split(" (")[0]
        max_w = b[0] - a[0] - 6
        while label and d.textlength(label, font=title_font) > max_w:
            label = label[:-1]
        d.text((a[0] + 3, a[1] + 1), label, font=title_font, fill=(245, 245, 245))
    img.save(path, "JPEG", quality=88)


# --------------------------------------------------------------------------- main

def build_all() -> dict:
    """{name: (graph, ui dict, api dict)} without writing anything."""
    out = {}
    for make in WORKFLOWS:
        g = make()
        out[g.name] = (g, g.ui(), g.api())
    return out


def _dump(obj) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    thumbnails = "--no-thumbnails" not in argv
    (HERE / "api").mkdir(exist_ok=True)
    for name, (g, ui, api) in build_all().items():
        (HERE / f"{name}.json").write_text(_dump(ui), encoding="utf-8")
        (HERE / "api" / f"{name}.api.json").write_text(_dump(api), encoding="utf-8")
        if thumbnails:
            draw_thumbnail(g, ui, HERE / f"{name}.jpg")
        print(f"wrote {name}: {len(ui['nodes'])} nodes, {len(ui['links'])} links")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
