"""The example workflows (example_workflows/api/*.api.json) inside a real ComfyUI.

Every API twin must pass ComfyUI's own prompt validation with its model files
present under the names it uses. Stand-ins: the tiny random-weight SD3 checkpoint
(tiny_models) is copied under each SD3.5 checkpoint name; files that are only
validated here (text encoders, Flux, its VAE) are small placeholder files, since
validation checks file names only.

The SD3.5 graphs are then executed end to end. Text encoders have no tiny version,
so before running, each CLIPTextEncode is replaced by the test-only
DInGTestConditioning node (SD3-shaped random conditioning) and the now unused CLIP
loader is dropped; the step counts are cut to STEPS for speed. Everything else runs
as shipped: LoadImage with the mask in the PNG's alpha, DInG Inpaint/Outpaint Encode, the DInG
sampler, VAE Decode, DInG Composite and Save Image.
"""
from __future__ import annotations

import copy
import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from comfy_testbed import families, tiny_models

ROOT = Path(__file__).resolve().parent.parent.parent
STEPS = 3
INPUT_SIZE = 128
MASK_RECT = dict(x=40, y=36, w=48, h=40)


def _load_unit_test_module():
    """tests/test_workflows.py holds the allow-list and widget tables; load it by path."""
    name = "ding_test_workflows_tables"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "test_workflows.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


wf = _load_unit_test_module()
NAMES = wf.workflow_names()
EXECUTED = ["ding_sd35_medium_inpaint", "ding_sd35_custom_sampling", "ding_sd35_outpaint",
            "ding_sd35_large_turbo_inpaint"]
LINK_TYPES_ARE_WIDGETS = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"}
# workflows for a model family that an older ComfyUI cannot load (e.g. no "flux2" CLIP type in
# 0.3.64): validated where the family's row says this ComfyUI has it, skipped with the reason else
WORKFLOW_FAMILY = {"ding_flux2_klein_inpaint": "flux2"}


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def workflow_files(comfy_host, tiny_sd3):
    """Every model file the twins name, under comfy_host.models_dir, plus the input image."""
    written = {}
    for name in NAMES:
        for node in wf.backend_nodes(wf.load_ui(name)):
            widgets = wf.named_widgets(node)
            for (node_type, widget), folder in wf.MODEL_WIDGETS.items():
                if node_type != node["type"]:
                    continue
                path = comfy_host.models_dir / folder / widgets[widget]
                if path in written:
                    continue
                if node_type == "CheckpointLoaderSimple":
                    shutil.copyfile(tiny_sd3.ckpt_path, path)  # runs for real
                    written[path] = "tiny SD3 checkpoint"
                else:
                    path.write_bytes(b"placeholder: only validated, never loaded")
                    written[path] = "placeholder"
    image = tiny_models.make_test_image(INPUT_SIZE, INPUT_SIZE, seed=7)
    mask = tiny_models.make_test_mask(INPUT_SIZE, INPUT_SIZE, kind="rect", **MASK_RECT)
    input_names = {wf.named_widgets(n)["image"] for name in NAMES
                   for n in wf.nodes_of(wf.load_ui(name), "LoadImage")}
    for input_name in input_names:
        comfy_host.write_input_image(input_name, image, mask)
    from comfy_testbed import tiny_wan  # Load Video validates that its file exists: a small clip will do
    for name in NAMES:
        for n in wf.nodes_of(wf.load_ui(name), "LoadVideo"):
            path = comfy_host.input_dir / wf.named_widgets(n)["file"]
            if not path.exists():
                tiny_wan.write_test_video(path, tiny_wan.make_test_clip(5, 64, 64))
    return {"models": written, "image": image, "mask": mask, "input_names": input_names}


def _executable(api: dict, steps: int = STEPS) -> dict:
    """The twin with text encoding replaced by DInGTestConditioning and fewer steps."""
    p = copy.deepcopy(api)
    for k, (node_id, node) in enumerate(sorted(p.items())):
        if node["class_type"] == "CLIPTextEncode":
            p[node_id] = {"class_type": "DInGTestConditioning",
                          "inputs": {"seed": 100 + k, "tokens": tiny_models.SD3_TOKENS}}
    used = {v[0] for node in p.values() for v in node["inputs"].values() if isinstance(v, list)}
    for node_id in [i for i, n in p.items() if n["class_type"] in ("TripleCLIPLoader", "DualCLIPLoader")]:
        assert node_id not in used
        del p[node_id]
    for node in p.values():
        if node["class_type"] in ("DInGKSampler", "BasicScheduler"):
            node["inputs"]["steps"] = steps
    return p


def _only(api: dict, class_type: str) -> str:
    ids = [i for i, n in api.items() if n["class_type"] == class_type]
    assert len(ids) == 1, (class_type, ids)
    return ids[0]


# --------------------------------------------------------------------------- tables vs ComfyUI

def test_allow_list_is_core_comfyui(comfy_host):
    mappings = comfy_host.nodes.NODE_CLASS_MAPPINGS
    missing = sorted(t for t in wf.CORE_NODE_TYPES if t not in mappings)
    assert not missing, f"not ComfyUI node types: {missing}"
    for t in wf.CORE_NODE_TYPES:
        # core nodes come from nodes.py or comfy_extras, never from a custom node pack
        module = getattr(mappings[t], "RELATIVE_PYTHON_MODULE", None) or ""
        assert not module.startswith("custom_nodes"), (t, module)
    for t in wf.FRONTEND_ONLY_TYPES:
        assert t not in mappings, f"{t} is a backend node after all"


def test_workflow_node_types_are_registered(comfy_host, ding_nodes):
    mappings = comfy_host.nodes.NODE_CLASS_MAPPINGS
    for name in NAMES:
        for n in wf.backend_nodes(wf.load_ui(name)):
            assert n["type"] in mappings, (name, n["type"])


def _input_entries(cls):
    """(name, type, options) of every required then optional input of a node class."""
    spec = cls.INPUT_TYPES()
    for section in ("required", "optional"):
        for name, entry in (spec.get(section) or {}).items():
            opts = entry[1] if len(entry) > 1 and isinstance(entry[1], dict) else {}
            yield name, entry[0], opts


def _widget_names_from_comfyui(cls) -> list:
    names = []
    for name, typ, opts in _input_entries(cls):
        is_widget = isinstance(typ, (list, tuple)) or str(typ) in LINK_TYPES_ARE_WIDGETS
        if not is_widget or opts.get("forceInput"):
            continue
        names.append(name)
        if opts.get("control_after_generate"):
            names.append("@control_after_generate")
        if opts.get("image_upload") or opts.get("video_upload"):
            names.append("@upload")
    return names


def _link_inputs_from_comfyui(cls) -> list:
    return [(name, str(typ)) for name, typ, opts in _input_entries(cls)
            if not (isinstance(typ, (list, tuple))
                    or (str(typ) in LINK_TYPES_ARE_WIDGETS and not opts.get("forceInput")))]


@pytest.mark.parametrize("node_type", sorted(wf.WIDGET_NAMES))
def test_widget_table_matches_input_types(comfy_host, ding_nodes, node_type):
    cls = comfy_host.nodes.NODE_CLASS_MAPPINGS[node_type]
    assert wf.WIDGET_NAMES[node_type] == _widget_names_from_comfyui(cls)


@pytest.mark.parametrize("name", NAMES)
def test_ui_sockets_match_node_definitions(comfy_host, ding_nodes, name):
    mappings = comfy_host.nodes.NODE_CLASS_MAPPINGS
    for n in wf.backend_nodes(wf.load_ui(name)):
        cls = mappings[n["type"]]
        assert [(i["name"], i["type"]) for i in n["inputs"]] == _link_inputs_from_comfyui(cls), n["type"]
        types = [str(t) for t in cls.RETURN_TYPES]
        names = [str(t) for t in (getattr(cls, "RETURN_NAMES", None) or types)]
        assert [o["type"] for o in n["outputs"]] == types, n["type"]
        assert [o["name"] for o in n["outputs"]] == names, n["type"]


def test_display_names_are_the_titles_comfyui_gives(comfy_host, ding_nodes):
    """The generator's DISPLAY_NAMES are the titles the frontend shows for untitled nodes (the
    title-width check of tests/test_workflows.py measures those): NODE_DISPLAY_NAME_MAPPINGS,
    else the node's DISPLAY_NAME, else its type."""
    nodes = comfy_host.nodes
    for name in NAMES:
        for n in wf.backend_nodes(wf.load_ui(name)):
            t = n["type"]
            cls = nodes.NODE_CLASS_MAPPINGS[t]
            live = nodes.NODE_DISPLAY_NAME_MAPPINGS.get(t) or getattr(cls, "DISPLAY_NAME", None) or t
            assert wf.gen.DISPLAY_NAMES.get(t, t) == live, (name, t)


# --------------------------------------------------------------------------- validation

@pytest.mark.parametrize("name", NAMES)
def test_twin_passes_comfyui_validation(comfy_host, ding_nodes, workflow_files, name):
    if name in WORKFLOW_FAMILY:
        reason = families.missing_reason(families.family(WORKFLOW_FAMILY[name]))
        if reason:
            pytest.skip(f"{name}: {reason}")
    ok, error, outputs, node_errors = comfy_host.validate(wf.load_api(name))
    assert ok, f"{error}\n{node_errors}"
    assert node_errors == {}
    api = wf.load_api(name)
    save = "SaveVideo" if any(n["class_type"] == "SaveVideo" for n in api.values()) else "SaveImage"
    assert outputs == [_only(api, save)]


def test_validation_notices_a_missing_model_file(comfy_host, ding_nodes, workflow_files):
    """The check above means something: a file name that is not on disk fails."""
    api = wf.load_api("ding_sd35_medium_inpaint")
    api[_only(api, "CheckpointLoaderSimple")]["inputs"]["ckpt_name"] = "not_downloaded.safetensors"
    ok, error, outputs, node_errors = comfy_host.validate(api)
    assert not ok or node_errors


# --------------------------------------------------------------------------- execution

def _png(path: Path) -> np.ndarray:
    from PIL import Image
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.mark.parametrize("name", EXECUTED)
def test_workflow_runs_and_keeps_unmasked_pixels(comfy_host, ding_nodes, workflow_files, run_prompt,
                                                 model_calls, name):
    api = wf.load_api(name)
    prompt = _executable(api)
    load, enc, comp, save = (_only(prompt, t) for t in ("LoadImage", "DInGInpaintEncode", "DInGComposite",
                                                        "SaveImage"))
    feather = prompt[comp]["inputs"]["feather"]
    original_ref = prompt[comp]["inputs"]["original"]
    prompt.update({
        "cap_load_image": {"class_type": "DInGTestCapture", "inputs": {"value": [load, 0], "key": "loaded"}},
        "cap_load_mask": {"class_type": "DInGTestCapture", "inputs": {"value": [load, 1], "key": "mask"}},
        "cap_original": {"class_type": "DInGTestCapture", "inputs": {"value": original_ref, "key": "original"}},
        "cap_repaint": {"class_type": "DInGTestCapture", "inputs": {"value": [enc, 1], "key": "repaint"}},
        "cap_comp": {"class_type": "DInGTestCapture", "inputs": {"value": [comp, 0], "key": "composite"}},
    })
    result = run_prompt(prompt)
    cap = result["captured"]

    # the DInG sampler ran: 2 x steps - 1 model calls ("ding"), cond+uncond batched when cfg > 1
    variant = next(n["inputs"]["variant"] for n in prompt.values()
                   if n["class_type"] in ("DInGKSampler", "DInGSampler"))
    assert model_calls.count == (2 * STEPS - 1 if variant == "ding" else STEPS)

    # LoadImage read the mask from the alpha channel (1 = repaint) and the encoder kept it
    assert torch.equal(cap["mask"], workflow_files["mask"])
    assert torch.allclose(cap["loaded"], workflow_files["image"], atol=0.51 / 255)

    # pixels farther than `feather` px from the repaint area are the original, bit for bit
    repaint = cap["repaint"]
    near = torch.nn.functional.max_pool2d((repaint > 0).float()[:, None], 2 * feather + 1, stride=1,
                                          padding=feather)[:, 0] > 0
    outside = ~near
    assert outside.sum() > 0.1 * outside.numel()
    original, composite = cap["original"], cap["composite"]
    assert composite.shape == original.shape
    assert torch.equal(composite[outside], original[outside])
    assert not torch.equal(composite[~outside], original[~outside])  # something was painted

    # ... and so is the saved PNG: compare with the input PNG where the original picture sits
    files = comfy_host.output_files(result, save)
    assert len(files) == 1 and files[0].exists()
    saved = _png(files[0])
    assert saved.shape[:2] == tuple(original.shape[1:3])
    top = left = 0
    if any(n["class_type"] == "ImagePadForOutpaint" for n in prompt.values()):
        pad = prompt[_only(prompt, "ImagePadForOutpaint")]["inputs"]
        top, left = pad["top"], pad["left"]
        grown = repaint[0] > 0
        assert grown[:, :left].all() and grown[:, left + INPUT_SIZE:].all()  # the borders get painted
    input_png = _png(comfy_host.input_dir / next(iter(workflow_files["input_names"])))
    window = (slice(top, top + INPUT_SIZE), slice(left, left + INPUT_SIZE))
    keep = outside[0][window].numpy()
    assert keep.sum() > 0
    assert np.array_equal(saved[window][keep], input_png[keep])
    # the user's mask is inside what was repainted
    if top == left == 0:
        assert bool((repaint[workflow_files["mask"] > 0] > 0).all())
