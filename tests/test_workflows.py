"""The example workflows in example_workflows/ and the pack metadata, checked without ComfyUI.

example_workflows/generate.py is the one source of the workflows and of the node tables
(widget order, sockets) they are written with: the files must be exactly what it writes.
Every UI workflow must parse, use only our nodes and the core nodes of the generator's
table, have internally consistent links, open at a zoom that fits a 1600x900 window, and
agree with its API twin in example_workflows/api/. The ComfyUI integration test
(tests/integration/test_workflows_comfy.py) checks the generator's tables against a real
ComfyUI and runs the twins.
"""
from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "example_workflows"
API_DIR = WORKFLOWS / "api"


def _load_generator():
    name = "ding_example_workflows_generate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, WORKFLOWS / "generate.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


gen = _load_generator()
OUR_NODE_TYPES = set(gen.OURS)
FRONTEND_ONLY_TYPES = set(gen.FRONTEND_ONLY)
CORE_NODE_TYPES = set(gen.NODE_SHAPES) - OUR_NODE_TYPES - FRONTEND_ONLY_TYPES
WIDGET_NAMES = {t: list(shape[2]) for t, shape in gen.NODE_SHAPES.items() if t not in FRONTEND_ONLY_TYPES}
FILE_NAMES = gen.file_names()  # key -> file stem (the template title)

# Loader widget -> the ComfyUI/models/ folder its file goes in.
MODEL_WIDGETS = {
    ("CheckpointLoaderSimple", "ckpt_name"): "checkpoints",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("TripleCLIPLoader", "clip_name1"): "text_encoders",
    ("TripleCLIPLoader", "clip_name2"): "text_encoders",
    ("TripleCLIPLoader", "clip_name3"): "text_encoders",
    ("DualCLIPLoader", "clip_name1"): "text_encoders",
    ("DualCLIPLoader", "clip_name2"): "text_encoders",
    ("VAELoader", "vae_name"): "vae",
    ("CLIPLoader", "clip_name"): "text_encoders",
}

EXPECTED_WORKFLOWS = {
    "ding_sd35_medium_inpaint", "ding_sd35_large_turbo_inpaint", "ding_sd35_outpaint",
    "ding_sd35_custom_sampling", "ding_flux1_dev_inpaint", "ding_flux2_klein_inpaint",
    "ding_wan21_video_inpaint",
}
VIDEO_WORKFLOWS = {"ding_wan21_video_inpaint"}  # clips in (Load Video), a video out (Save Video)

UI_NODE_KEYS = {"id", "type", "pos", "size", "flags", "order", "mode", "inputs", "outputs",
                "properties", "widgets_values"}


# --------------------------------------------------------------------------- helpers
# (also used by tests/integration/test_workflows_comfy.py)

def workflow_names() -> list:
    """The workflows' keys (stable ids; the files are named by FILE_NAMES[key])."""
    return sorted(FILE_NAMES)


def load_ui(name: str) -> dict:
    return json.loads((WORKFLOWS / f"{FILE_NAMES[name]}.json").read_text(encoding="utf-8"))


def load_api(name: str) -> dict:
    return json.loads((API_DIR / f"{FILE_NAMES[name]}.api.json").read_text(encoding="utf-8"))


def backend_nodes(ui: dict) -> list:
    return [n for n in ui["nodes"] if n["type"] not in FRONTEND_ONLY_TYPES]


def named_widgets(node: dict) -> dict:
    """{widget name: value} of a UI node, frontend-only widgets left out."""
    names = WIDGET_NAMES[node["type"]]
    values = node["widgets_values"]
    assert len(values) == len(names), (
        f"node {node['id']} ({node['type']}) has {len(values)} widget values, expected {names}")
    return {k: v for k, v in zip(names, values) if not k.startswith("@")}


def nodes_of(ui: dict, node_type: str) -> list:
    return [n for n in ui["nodes"] if n["type"] == node_type]


def source_of(ui: dict, node: dict, input_name: str):
    """(source node, slot) feeding `input_name` of `node` in a UI workflow."""
    inp = next(i for i in node["inputs"] if i["name"] == input_name)
    link = next(lk for lk in ui["links"] if lk[0] == inp["link"])
    return next(n for n in ui["nodes"] if n["id"] == link[1]), link[2]


NAMES = workflow_names()


# --------------------------------------------------------------------------- the set of files

def test_expected_workflows_are_there():
    assert EXPECTED_WORKFLOWS <= set(NAMES), f"missing: {EXPECTED_WORKFLOWS - set(NAMES)}"


def test_every_workflow_has_a_twin_and_a_thumbnail():
    # ComfyUI's template browser lists example_workflows/*.json: twins must not sit there
    assert not list(WORKFLOWS.glob("*.api.json")), "API twins belong in example_workflows/api/"
    assert sorted(p.stem for p in WORKFLOWS.glob("*.json")) == sorted(FILE_NAMES.values())
    twins = sorted(p.name[: -len(".api.json")] for p in API_DIR.glob("*.api.json"))
    assert twins == sorted(FILE_NAMES.values())
    for stem in FILE_NAMES.values():
        thumb = WORKFLOWS / f"{stem}.jpg"  # the frontend asks for <name>.jpg
        assert thumb.is_file(), f"{thumb.name} missing"
        assert thumb.read_bytes()[:3] == b"\xff\xd8\xff", f"{thumb.name} is not a JPEG"


@pytest.mark.parametrize("name", NAMES)
def test_files_are_what_the_generator_writes(name):
    """One source: the JSON files equal the generator's output (rerun example_workflows/generate.py)."""
    _, ui, api = gen.build_all()[name]
    assert load_ui(name) == json.loads(gen._dump(ui))
    assert load_api(name) == json.loads(gen._dump(api))


def test_file_names_are_readable_titles():
    for stem in FILE_NAMES.values():
        assert "_" not in stem and " " in stem and len(stem) <= 24, stem  # the card shows ~24 characters


@pytest.mark.parametrize("name", NAMES)
def test_nodes_do_not_overlap(name):
    """No node's box (its 30-px title bar included) covers another's."""
    boxes = [(n["id"], n["pos"][0], n["pos"][1] - 30, n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in load_ui(name)["nodes"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]), (a[0], b[0])


@pytest.mark.parametrize("name", NAMES)
def test_opens_ready_to_run_and_fits_the_window(name):
    ui = load_ui(name)
    for node in nodes_of(ui, "LoadImage"):
        assert named_widgets(node)["image"] == "example.png"  # ComfyUI ships input/example.png
    ds = ui["extra"]["ds"]
    scale, (ox, oy) = ds["scale"], ds["offset"]
    assert scale == 1.0  # notes at the frontend's own font size (about 10 px; at 0.7 it was 7 px)
    for n in ui["nodes"]:  # in a 1600x900 window: right of the side bar, below the menus, on the canvas
        x0, y0 = (n["pos"][0] + ox) * scale, (n["pos"][1] - 30 + oy) * scale  # 30: the title bar
        x1, y1 = (n["pos"][0] + n["size"][0] + ox) * scale, (n["pos"][1] + n["size"][1] + oy) * scale
        assert 64 <= x0 and x1 <= 1536 and 90 <= y0 and y1 <= 822, (n["id"], n["type"], x0, y0, x1, y1)


# --------------------------------------------------------------------------- per workflow

@pytest.mark.parametrize("name", NAMES)
def test_ui_format(name):
    ui = load_ui(name)
    assert ui["version"] == 0.4
    for key in ("last_node_id", "last_link_id", "nodes", "links", "groups", "config", "extra"):
        assert key in ui, key
    ids = [n["id"] for n in ui["nodes"]]
    assert len(ids) == len(set(ids)), "duplicate node ids"
    assert ui["last_node_id"] >= max(ids)
    link_ids = [lk[0] for lk in ui["links"]]
    assert len(link_ids) == len(set(link_ids)), "duplicate link ids"
    assert ui["last_link_id"] >= max(link_ids)
    for n in ui["nodes"]:
        assert UI_NODE_KEYS <= set(n), f"node {n['id']} lacks {UI_NODE_KEYS - set(n)}"
        assert n["mode"] == 0, f"node {n['id']} is muted or bypassed"
        if n["type"] not in FRONTEND_ONLY_TYPES:
            assert n["properties"].get("Node name for S&R") == n["type"]


@pytest.mark.parametrize("name", NAMES)
def test_node_types_are_ours_or_core(name):
    ui = load_ui(name)
    allowed = OUR_NODE_TYPES | CORE_NODE_TYPES | FRONTEND_ONLY_TYPES
    unknown = {n["type"] for n in ui["nodes"]} - allowed
    assert not unknown, f"node types outside the allow-list: {unknown}"
    types = {n["type"] for n in ui["nodes"]}
    io_types = {"LoadVideo", "SaveVideo"} if name in VIDEO_WORKFLOWS else {"LoadImage", "SaveImage"}
    assert {"DInGInpaintEncode", "DInGComposite"} | io_types <= types
    assert types & {"DInGKSampler", "DInGSampler"}
    for n in backend_nodes(ui):
        expected = "ding-inpaint" if n["type"] in OUR_NODE_TYPES else "comfy-core"
        assert n["properties"].get("cnr_id", expected) == expected


@pytest.mark.parametrize("name", NAMES)
def test_links_are_consistent(name):
    ui = load_ui(name)
    by_id = {n["id"]: n for n in ui["nodes"]}
    seen_inputs = set()
    for link in ui["links"]:
        assert len(link) == 6, link
        lid, src, src_slot, dst, dst_slot, typ = link
        assert src in by_id and dst in by_id, f"link {lid} names a missing node"
        out = by_id[src]["outputs"][src_slot]
        inp = by_id[dst]["inputs"][dst_slot]
        assert lid in out["links"], f"link {lid} not in node {src} output {src_slot}"
        assert inp["link"] == lid, f"node {dst} input {inp['name']} does not point back to link {lid}"
        assert out["type"] == typ == inp["type"], f"link {lid}: {out['type']} -> {typ} -> {inp['type']}"
        assert (dst, dst_slot) not in seen_inputs
        seen_inputs.add((dst, dst_slot))
    all_links = {lk[0] for lk in ui["links"]}
    for n in ui["nodes"]:
        for slot, out in enumerate(n["outputs"]):
            assert out.get("slot_index", slot) == slot
            for lid in out["links"] or []:
                assert lid in all_links, f"node {n['id']} output lists unknown link {lid}"
        for inp in n["inputs"]:
            # every input of these graphs is wired (no dangling sockets)
            assert inp["link"] in all_links, f"node {n['id']} input {inp['name']} is not connected"


@pytest.mark.parametrize("name", NAMES)
def test_ui_agrees_with_api_twin(name):
    ui, api = load_ui(name), load_api(name)
    nodes = backend_nodes(ui)
    assert sorted(api, key=int) == [str(i) for i in sorted(n["id"] for n in nodes)]
    by_id = {n["id"]: n for n in ui["nodes"]}
    for n in nodes:
        entry = api[str(n["id"])]
        assert entry["class_type"] == n["type"]
        inputs = entry["inputs"]
        wired = {k: v for k, v in inputs.items() if isinstance(v, list)}
        literal = {k: v for k, v in inputs.items() if not isinstance(v, list)}
        # widgets: UI values equal the twin's literal inputs, nothing more or less
        assert literal == named_widgets(n), f"node {n['id']} ({n['type']})"
        # wires: each connected UI input is the twin's [source id, slot] reference
        ui_wired = {}
        for inp in n["inputs"]:
            if inp["link"] is None:
                continue
            link = next(lk for lk in ui["links"] if lk[0] == inp["link"])
            ui_wired[inp["name"]] = [str(link[1]), link[2]]
            assert by_id[link[1]]["type"] not in FRONTEND_ONLY_TYPES
        assert wired == ui_wired, f"node {n['id']} ({n['type']})"


@pytest.mark.parametrize("name", NAMES)
def test_model_files_are_named_and_downloadable(name):
    ui = load_ui(name)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for n in backend_nodes(ui):
        widgets = named_widgets(n)
        files = [(w, folder) for (t, w), folder in MODEL_WIDGETS.items() if t == n["type"]]
        if not files:
            continue
        listed = {m["name"]: m for m in n["properties"].get("models", [])}
        for widget, folder in files:
            fname = widgets[widget]
            assert fname.endswith(".safetensors")
            m = listed.get(fname)
            assert m, f"node {n['id']}: no download entry for {fname}"
            assert m["directory"] == folder
            assert m["url"].startswith("https://huggingface.co/") and m["url"].endswith("/" + fname)
            assert fname in readme, f"README does not name {fname}"


@pytest.mark.parametrize("name", NAMES)
def test_composite_is_wired_to_the_repaint_mask(name):
    """DInG Composite gets the encoder's repaint_mask and the image the encoder saw,
    and its result is what gets saved."""
    ui = load_ui(name)
    (enc,) = nodes_of(ui, "DInGInpaintEncode")
    (comp,) = nodes_of(ui, "DInGComposite")
    assert source_of(ui, comp, "mask") == (enc, 1)
    pix_src = source_of(ui, enc, "pixels")
    assert source_of(ui, comp, "original") == pix_src
    if name in VIDEO_WORKFLOWS:  # Composite -> Create Video -> Save Video
        (save,) = nodes_of(ui, "SaveVideo")
        video, _ = source_of(ui, save, "video")
        assert video["type"] == "CreateVideo" and source_of(ui, video, "images") == (comp, 0)
    else:
        (save,) = nodes_of(ui, "SaveImage")
        assert source_of(ui, save, "images") == (comp, 0)
    decoded, _ = source_of(ui, comp, "generated")
    assert decoded["type"] == "VAEDecode"
    if pix_src[0]["type"] == "LoadImage":
        assert source_of(ui, enc, "mask") == (pix_src[0], 1)  # the mask editor's mask


def _ding_settings(ui):
    samplers = nodes_of(ui, "DInGKSampler") + nodes_of(ui, "DInGSampler")
    assert len(samplers) == 1
    return named_widgets(samplers[0])


@pytest.mark.parametrize("name", NAMES)
def test_ding_settings_are_the_measured_defaults(name):
    """ding1 with the ddpm bridge noise: best per model call in bench.peers / bench.defaults
    (README, Quality per model call); particles (experimental) off."""
    w = _ding_settings(load_ui(name))
    assert w["obs_std"] == 0.01 and w["eta"] == "ddpm" and w["variant"] == "ding1" and w["particles"] == 1


def test_sd35_medium_settings():
    for name in ("ding_sd35_medium_inpaint", "ding_sd35_outpaint"):
        w = _ding_settings(load_ui(name))
        assert w["steps"] == 28 and 2.0 <= w["cfg"] <= 3.0 and w["variant"] == "ding1"
        assert w["denoise"] == 1.0
    ui = load_ui("ding_sd35_custom_sampling")
    (sched,) = nodes_of(ui, "BasicScheduler")
    (guider,) = nodes_of(ui, "CFGGuider")
    assert named_widgets(sched)["steps"] == 28 and 2.0 <= named_widgets(guider)["cfg"] <= 3.0
    # scheduler and guider both see the ModelSamplingSD3-patched model
    for node in (sched, guider):
        assert source_of(ui, node, "model")[0]["type"] == "ModelSamplingSD3"


def test_turbo_and_flux_settings():
    w = _ding_settings(load_ui("ding_sd35_large_turbo_inpaint"))
    assert 4 <= w["steps"] <= 8 and w["cfg"] == 1.0
    ui = load_ui("ding_flux1_dev_inpaint")
    w = _ding_settings(ui)
    assert w["cfg"] == 1.0
    (ks,) = nodes_of(ui, "DInGKSampler")
    assert source_of(ui, ks, "positive")[0]["type"] == "FluxGuidance"
    (clip,) = nodes_of(ui, "DualCLIPLoader")
    assert named_widgets(clip)["type"] == "flux"


def test_flux2_klein_settings():
    """Klein 4B is step-distilled with no guidance input: the generator's step constant (4),
    cfg 1, no FluxGuidance, a blanked negative; its Qwen3-4B text encoder loads as a flux2 CLIP."""
    ui = load_ui("ding_flux2_klein_inpaint")
    w = _ding_settings(ui)
    assert w["steps"] == gen.KLEIN_STEPS == 4 and w["cfg"] == 1.0 and w["denoise"] == 1.0
    assert (w["variant"], w["eta"]) == (gen.KLEIN_VARIANT, gen.KLEIN_ETA)
    assert not nodes_of(ui, "FluxGuidance")
    (ks,) = nodes_of(ui, "DInGKSampler")
    assert source_of(ui, ks, "negative")[0]["type"] == "ConditioningZeroOut"
    assert source_of(ui, ks, "model")[0]["type"] == "UNETLoader"
    (clip,) = nodes_of(ui, "CLIPLoader")
    assert named_widgets(clip) == {"clip_name": "qwen_3_4b.safetensors", "type": "flux2", "device": "default"}
    (unet,) = nodes_of(ui, "UNETLoader")
    assert named_widgets(unet)["unet_name"] == "flux-2-klein-4b.safetensors"
    (vae,) = nodes_of(ui, "VAELoader")
    assert named_widgets(vae)["vae_name"] == "flux2-vae.safetensors"


def test_wan_video_settings():
    """Wan 2.1 1.3B t2v: its own shift 8 on the sampler's model, umt5 as a 'wan' CLIP, clip and
    mask clip cut to the same 1 + 4n frames and scaled to the same size on Wan's grid (8 px
    latent cells, 2x2 patches), the mask clip's red channel as the encoder's mask."""
    ui = load_ui("ding_wan21_video_inpaint")
    (ks,) = nodes_of(ui, "DInGKSampler")
    w = named_widgets(ks)
    assert w["variant"] == "ding1" and w["denoise"] == 1.0 and 4.0 <= w["cfg"] <= 6.0 and w["steps"] >= 20
    shift, _ = source_of(ui, ks, "model")
    assert shift["type"] == "ModelSamplingSD3" and named_widgets(shift)["shift"] == 8.0
    assert source_of(ui, shift, "model")[0]["type"] == "UNETLoader"
    (clip,) = nodes_of(ui, "CLIPLoader")
    assert named_widgets(clip)["type"] == "wan"
    (enc,) = nodes_of(ui, "DInGInpaintEncode")
    chains = []
    for start, _ in (source_of(ui, enc, "pixels"), source_of(ui, enc, "mask")):
        node, chain = start, []
        while node["inputs"]:  # walk back to the Load Video
            chain.append(node)
            node, _ = source_of(ui, node, node["inputs"][0]["name"])
        assert node["type"] == "LoadVideo"
        chains.append({n["type"]: named_widgets(n) for n in chain})
    pixels, mask = chains
    assert mask["ImageToMask"]["channel"] == "red"
    assert pixels["ImageFromBatch"] == mask["ImageFromBatch"]
    assert (pixels["ImageFromBatch"]["length"] - 1) % 4 == 0 and pixels["ImageFromBatch"]["batch_index"] == 0
    size = lambda c: (c["ImageScale"]["width"], c["ImageScale"]["height"], c["ImageScale"]["crop"])
    assert size(pixels) == size(mask) and size(pixels)[0] % 16 == 0 and size(pixels)[1] % 16 == 0
    assert mask["ImageScale"]["upscale_method"] == "nearest-exact"


def test_outpaint_pads_then_encodes():
    ui = load_ui("ding_sd35_outpaint")
    (enc,) = nodes_of(ui, "DInGInpaintEncode")
    pad, _ = source_of(ui, enc, "pixels")
    assert pad["type"] == "ImagePadForOutpaint" and source_of(ui, enc, "mask") == (pad, 1)
    w = named_widgets(pad)
    assert w["left"] + w["right"] + w["top"] + w["bottom"] > 0
    assert all(w[k] % 8 == 0 for k in ("left", "top", "right", "bottom"))


# --------------------------------------------------------------------------- metadata

def _load_toml(path: Path) -> dict:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs Python 3.11+ or tomli")
    with open(path, "rb") as f:
        return tomllib.load(f)


def test_pyproject_has_registry_metadata():
    data = _load_toml(ROOT / "pyproject.toml")
    project = data["project"]
    name = project["name"]
    assert "comfyui" not in name.lower(), "the registry asks for names without 'ComfyUI'"
    assert re.fullmatch(r"[A-Za-z][A-Za-z0-9]*(?:[-_.][A-Za-z0-9]+)*", name) and len(name) < 100
    assert re.fullmatch(r"\d+\.\d+\.\d+", project["version"])
    assert project["description"].strip()
    assert project["license"] == {"file": "LICENSE"} and (ROOT / "LICENSE").is_file()
    assert isinstance(project["dependencies"], list)
    assert project["urls"]["Repository"].startswith("https://")
    comfy = data["tool"]["comfy"]
    for key in ("PublisherId", "DisplayName", "Icon"):
        assert key in comfy, key
    assert comfy["PublisherId"] and comfy["DisplayName"]
    # the workflows name this pack by its registry id (cnr_id) for ComfyUI-Manager
    for wf in NAMES:
        for n in load_ui(wf)["nodes"]:
            if n["type"] in OUR_NODE_TYPES:
                assert n["properties"]["cnr_id"] == name
    # the test configuration stays as it is
    assert data["tool"]["pytest"]["ini_options"]["pythonpath"] == ["."]


def test_readme_names_every_workflow_and_node():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in NAMES:
        assert f"{FILE_NAMES[name]}.json" in readme, name
    for node in OUR_NODE_TYPES:
        assert node in readme, node
    assert "## Measured results" in readme
