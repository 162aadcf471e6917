"""DInG on more model families inside a real ComfyUI (CPU): Flux.1 dev, SD1.5 (eps), SD1.5 made
v-prediction by core's ModelSamplingDiscrete, Lumina 2 and SDXL (eps with adm conditioning).

The tiny random-weight models come from comfy_testbed (family table: families.py; builders:
tiny_families.py): built from ComfyUI's own classes
after ComfyUI's own detection, written as safetensors, loaded by the standard loaders
(UNETLoader + VAELoader, CheckpointLoaderSimple). Conditioning is hand-made in each family's
text-encoder shapes (DInGTestConditioning family=...). Random weights do not denoise, so what is
checked is the plumbing per family: the model ComfyUI built, the documented call counts, the kept
latent region, a thin stroke, determinism and finite outputs.

Flux and Lumina 2 are ~0.5 B parameters (detection fixes their width), so they get few runs
(about 2 minutes together on 2 cores); `-k "not flux and not lumina2"` keeps the SD1.5 ones.
The tiny Flux.2 (Klein layout, ComfyUI 0.8.0 only) is 2.2 B parameters, held in fp8 (the row's
weight_dtype): its tests take several minutes; `-k "not flux2"` leaves them out.
SDXL's smallest detected UNet is ~121 M parameters (fp16 file ~252 MB), about 1 s per cfg call
at 128x128 px.
Everything here is in the slow tier anyway (conftest marks all integration tests slow); the
explicit marks below stay in case that changes.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
from pathlib import Path

import pytest
import torch

from comfy_testbed import families, tiny_families, tiny_models

ROOT = Path(__file__).resolve().parent.parent.parent
OBS_STD = 0.01
SIZE = 128                 # px; latent 16x16 at 1/8 (8x8 for Flux.2's 1/16)
RECT = dict(x=40, y=36, w=48, h=40)

# per family: the files fixture, loader kind, conditioning, cfg, steps and expectations, read from
# the family table (comfy_testbed/families.py)
def _spec(name):
    row = families.family(name)
    return dict(files=row.files_fixture, loader="ckpt" if row.loaders[0] == "CheckpointLoaderSimple" else "unet",
                cond=row.conditioning, tokens=row.tokens, cfg=row.cfg, steps=row.steps,
                scheduler=row.scheduler, detected=row.detected, sampling=row.sampling,
                channels=row.channels, space_ratio=row.space_ratio, flow=row.flow,
                flux_guidance=row.flux_guidance, v_prediction=row.v_prediction, shift=row.shift,
                shift_node=row.shift_node, image_as_frame=row.image_as_frame, weight_dtype=row.weight_dtype)


# every image family of the table (video families have their own tests); sd3 runs in test_nodes.py
FAMILY = {name: _spec(name) for name, row in families.FAMILIES.items() if row.time_ratio is None and name != "sd3"}
FAMILY_PARAMS = list(FAMILY)


@pytest.fixture(autouse=True)
def one_model_at_a_time(comfy_host):
    """Unload every model after each test: Z-Image (0.9 B parameters at width 3840), the tiny
    Flux.2 (2.2 B, 2.6 GB in memory) and the other ~0.5 B families would otherwise stay in
    ComfyUI's loaded-model list side by side."""
    yield
    _free_models(comfy_host)


def _free_models(comfy_host):
    """Unload ComfyUI's models and drop the captures holding them: every graph loads its model
    again (run_prompt uses a fresh executor) and a loaded ModelPatcher sits in reference cycles,
    so a finished run's model stays in memory until the garbage collector gets to it (a session
    with the tiny Flux.2 held over 14 GB without this)."""
    import gc
    import comfy.model_management as mm
    comfy_host.captured.clear()
    mm.unload_all_models()
    gc.collect()
    mm.soft_empty_cache()


def _skip_unless_detected(fam):
    reason = families.missing_reason(families.family(fam))
    if reason:
        pytest.skip(reason)


def family_prompt(fam: str, files, *, variant="ding", seed=3, mask_kind="rect", steps=None) -> dict:
    """Loader(s) -> [ModelSamplingDiscrete v | the row's shift node] -> DInGInpaintEncode -> DInGKSampler
    -> VAEDecode -> DInGComposite -> SaveImage, with DInGTestCapture on the model, latents and images."""
    spec = FAMILY[fam]
    steps = steps or spec["steps"]
    if spec["loader"] == "ckpt":
        p = {"load": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": files.ckpt_name}}}
        model, vae = ["load", 0], ["load", 2]
    else:
        p = {"load": {"class_type": "UNETLoader", "inputs": {"unet_name": files.unet_name,
                                                              "weight_dtype": spec["weight_dtype"]}},
             "vae": {"class_type": "VAELoader", "inputs": {"vae_name": files.vae_name}}}
        model, vae = ["load", 0], ["vae", 0]
    if spec.get("v_prediction"):
        p["msd"] = {"class_type": "ModelSamplingDiscrete", "inputs": {
            "model": model, "sampling": "v_prediction", "zsnr": False}}
        model = ["msd", 0]
    if spec.get("shift_node"):
        p["shift"] = {"class_type": spec["shift_node"], "inputs": {"model": model, "shift": spec["shift"]}}
        model = ["shift", 0]
    cond = {"tokens": spec["tokens"], "family": spec["cond"]}
    p["pos"] = {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, **cond}}
    p["neg"] = {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, **cond}}
    positive = ["pos", 0]
    if spec.get("flux_guidance") is not None:
        p["guid"] = {"class_type": "FluxGuidance", "inputs": {"conditioning": positive,
                                                             "guidance": spec["flux_guidance"]}}
        positive = ["guid", 0]
    p.update({
        "img": {"class_type": "DInGTestImageMask", "inputs": {
            "width": SIZE, "height": SIZE, "seed": 0, "mask_kind": mask_kind, "x": RECT["x"], "y": RECT["y"],
            "w": RECT["w"], "h": RECT["h"] if mask_kind == "rect" else 0, "stroke_width": 3}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["img", 0], "mask": ["img", 1], "vae": vae, "grow_mask_by": 0}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": model, "seed": seed, "steps": steps, "cfg": spec["cfg"], "scheduler": spec["scheduler"],
            "positive": positive, "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": OBS_STD, "eta": "square"}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ding", 0], "vae": vae}},
        "comp": {"class_type": "DInGComposite", "inputs": {
            "original": ["img", 0], "generated": ["decode", 0], "mask": ["enc", 1], "feather": 4}},
        "save": {"class_type": "SaveImage", "inputs": {"images": ["comp", 0], "filename_prefix": f"ding_{fam}"}},
        "cap_model": {"class_type": "DInGTestCapture", "inputs": {"value": model, "key": "model"}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "encoded"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
        "cap_dec": {"class_type": "DInGTestCapture", "inputs": {"value": ["decode", 0], "key": "decoded"}},
        "cap_comp": {"class_type": "DInGTestCapture", "inputs": {"value": ["comp", 0], "key": "composite"}},
        "cap_img": {"class_type": "DInGTestCapture", "inputs": {"value": ["img", 0], "key": "original"}},
    })
    return p


def model_space_diff(model_patcher, encoded: dict, out: dict) -> torch.Tensor:
    """(out - encoded) in model space (latent_format.process_in), the units obs_std is in."""
    lf = model_patcher.model.latent_format
    return lf.process_in(out["samples"].float()) - lf.process_in(encoded["samples"].float())


def kept_and_free(result):
    cap = result["captured"]
    diff = model_space_diff(cap["model"], cap["encoded"], cap["latent"])
    keep = (1 - cap["encoded"]["noise_mask"]).expand_as(diff) > 0.5
    return diff[keep], diff[~keep]


def transition_residuals(calls, model_patcher, encoded):
    """Flow models, cfg 1, variant ding: for each transition t -> s whose next state is seen by a
    model call, (sigma_s, x_s - (a_s*y + z - a_s*D(z, sigma_s))) with a_s = 1 - sigma_s, z the proxy
    and D(z) its x0 estimate (call 2), x_s the input of the next step's call 1, y the observation
    in model space."""
    y = model_patcher.model.latent_format.process_in(encoded["samples"].float())
    out = []
    for k in range(1, len(calls) - 1, 2):  # calls: x_0, z_1, x_1, z_2, x_2, ..., final x0-estimate
        proxy, nxt = calls[k], calls[k + 1]
        sigma_s = proxy.sigmas[0]
        assert nxt.sigmas[0] == pytest.approx(sigma_s)
        a_s = 1.0 - sigma_s
        pseudo = a_s * y + proxy.x - a_s * proxy.out
        out.append((sigma_s, nxt.x - pseudo))
    return out


def _files(request, fam):
    _skip_unless_detected(fam)
    return request.getfixturevalue(FAMILY[fam]["files"])


def _record(comfy_host, fam, what, result, model_calls):
    comfy_host.timings[f"{fam} {what}: graph s"] = result["wall_s"]
    comfy_host.timings[f"{fam} {what}: ms/call"] = model_calls.ms_per_call()


# --------------------------------------------------------------------------- per family

def test_sd15_checkpoint_is_detected(tiny_sd15, comfy_host):
    """ComfyUI's detection of the written SD1.5 file itself (Flux and Lumina 2 are checked through
    the model their loader builds, in test_ding_inpaints_family)."""
    import comfy.utils
    sd = comfy.utils.load_torch_file(str(tiny_sd15.paths["ckpt"]))
    unet = {k[len(tiny_models.CKPT_UNET_PREFIX):]: v for k, v in sd.items()
            if k.startswith(tiny_models.CKPT_UNET_PREFIX)}
    cfg = tiny_families.detect(unet)
    assert type(cfg).__name__ == "SD15"
    assert cfg.unet_config["model_channels"] == 320 and cfg.unet_config["context_dim"] == 768
    assert tiny_sd15.params == sum(v.numel() for v in unet.values())
    assert any(k.startswith("first_stage_model.taesd_decoder.") for k in sd)


@pytest.mark.parametrize("fam", FAMILY_PARAMS)
def test_ding_inpaints_family(request, comfy_host, ding_nodes, run_prompt, model_calls, fam):
    spec = FAMILY[fam]
    files = _files(request, fam)
    steps = spec["steps"]
    with comfy_host.count_model_calls(keep_tensors=True) as recorded:
        result = run_prompt(family_prompt(fam, files, variant="ding"))
    _record(comfy_host, fam, "ding", result, model_calls)
    cap = result["captured"]

    # the model ComfyUI built from the file
    import comfy.model_sampling as ms
    model = cap["model"]
    assert type(model.model.model_config).__name__ == spec["detected"]
    sampling = model.get_model_object("model_sampling")
    assert isinstance(sampling, getattr(ms, spec["sampling"]))
    assert model.model.latent_format.latent_channels == spec["channels"]
    assert cap["encoded"]["samples"].shape[1] == spec["channels"]
    if spec["shift"] is not None:  # the family's own shift, or the one its shift node set
        assert float(sampling.shift) == pytest.approx(spec["shift"])
    # an image model on a video VAE (Qwen-Image): the image is a one-frame clip, latent and
    # noise_mask [B, C, 1, h, w] / [B, 1, 1, h, w]; else [B, C, h, w] / [B, 1, h, w]
    latent_rank = 5 if spec["image_as_frame"] else 4
    assert cap["encoded"]["samples"].ndim == cap["encoded"]["noise_mask"].ndim == latent_rank
    assert cap["latent"]["samples"].shape == cap["encoded"]["samples"].shape
    if spec["image_as_frame"]:
        assert cap["encoded"]["samples"].shape[2] == 1 and cap["encoded"]["noise_mask"].shape[:3] == (1, 1, 1)
    if spec["flow"]:
        assert float(sampling.sigma_max) == pytest.approx(1.0, abs=1e-3)
    else:
        assert float(sampling.sigma_max) > 10  # VE sigmas of a discrete eps / v schedule
    # every weight in the file found its parameter (no silently random-initialised layer)
    file_keys = set(_file_keys(files))
    assert set(model.model.diffusion_model.state_dict()) == file_keys

    # documented count: 2 per transition + the final estimate; cond+uncond batched when cfg > 1
    assert model_calls.count == 2 * steps - 1
    assert set(model_calls.batch_sizes) == {2 if spec["cfg"] > 1 else 1}
    assert model_calls.sigmas[0] == pytest.approx(float(sampling.sigma_max), rel=1e-3)
    # the calls walk the family's own schedule (its model_sampling + scheduler): call 1 of a
    # transition at sigma_t, the proxy call at sigma_s (so every later level twice), the last at
    # the last positive sigma
    import comfy.samplers
    sched = comfy.samplers.calculate_sigmas(sampling, spec["scheduler"], steps).tolist()
    assert sched[-1] == 0 and all(v > 0 for v in sched[:-1])
    expected = [sched[0]] + [v for v in sched[1:-1] for _ in range(2)]
    assert model_calls.sigmas == pytest.approx(expected, rel=1e-4)

    kept, free = kept_and_free(result)
    comfy_host.timings[f"{fam} ding: kept max |err| (model space)"] = kept.abs().max().item()
    assert kept.abs().max().item() <= OBS_STD  # the final latent (observation pasted back)
    assert free.abs().mean().item() > 0.1
    if spec["flow"] and spec["cfg"] == 1.0:
        # ... and DInG's own steps kept it before that paste: on kept cells every intermediate
        # state x_s is the pseudo-observation a_s*y + s_s*x1_hat(z) up to noise of std
        # tau = a_s*obs_std (algorithm doc, section 2, steps 5-7), while free cells are not
        r = transition_residuals(recorded.calls, cap["model"], cap["encoded"])
        keep = (1 - cap["encoded"]["noise_mask"]).expand_as(r[0][1]) > 0.5
        for sigma_s, res in r:
            tau = (1 - sigma_s) * OBS_STD
            comfy_host.timings[f"{fam} ding: sigma {sigma_s:.3f} kept residual / tau"] = \
                res[keep].abs().max().item() / tau
            assert res[keep].abs().max().item() <= 6 * tau, sigma_s
            assert res[~keep].abs().mean().item() > 10 * tau, sigma_s
    for key in ("latent", "decoded", "composite"):
        v = cap[key]["samples"] if key == "latent" else cap[key]
        assert torch.isfinite(v).all(), key
    assert cap["composite"].shape == cap["original"].shape
    assert len(comfy_host.output_files(result, "save")) == 1


def _file_keys(files):
    from safetensors import safe_open
    if files.ckpt_name:
        with safe_open(str(files.paths["ckpt"]), "pt") as f:
            return [k[len(tiny_models.CKPT_UNET_PREFIX):] for k in f.keys()
                    if k.startswith(tiny_models.CKPT_UNET_PREFIX)]
    with safe_open(str(files.paths["unet"]), "pt") as f:
        return list(f.keys())


@pytest.mark.parametrize("fam", FAMILY_PARAMS)
def test_ding1_stroke_same_seed_family(request, comfy_host, ding_nodes, run_prompt, model_calls, fam):
    """ding1 with a 3-px stroke: `steps` calls, the stroke's latent cells regenerated, the rest kept,
    and the same seed gives the identical latent on a second run."""
    import comfy.samplers
    spec = FAMILY[fam]
    files = _files(request, fam)
    steps = spec["steps"]
    prompt = family_prompt(fam, files, variant="ding1", mask_kind="stroke", seed=5)
    a = run_prompt(prompt)
    _record(comfy_host, fam, "ding1", a, model_calls)
    assert model_calls.count == steps
    sched = comfy.samplers.calculate_sigmas(a["captured"]["model"].get_model_object("model_sampling"),
                                            spec["scheduler"], steps).tolist()
    assert model_calls.sigmas == pytest.approx(sched[:-1], rel=1e-4)  # one call per level

    enc = a["captured"]["encoded"]
    nm = enc["noise_mask"]
    # horizontal 3-px stroke through pixel rows 35-37, columns 40-88: at r px per latent cell,
    # latent row 36 // r (4 at 1/8, 2 at 1/16), and the cells between columns 40 and 88;
    # "...": the one-frame time axis of a video-VAE latent (Qwen-Image)
    r = spec["space_ratio"]
    assert nm.shape[-2:] == (SIZE // r, SIZE // r)
    row, cols = RECT["y"] // r, slice(RECT["x"] // r + 1, (RECT["x"] + RECT["w"]) // r - 1)
    assert nm[0, 0, ..., row, cols].numel() > 0 and nm[0, 0, ..., row, cols].eq(1).all()
    assert nm[0, 0, ..., 64 // r:, :].eq(0).all() and nm[0, 0, ..., :16 // r, :].eq(0).all()
    diff = model_space_diff(a["captured"]["model"], enc, a["captured"]["latent"])
    assert diff[0, :, ..., row, cols].abs().mean() > 0.1     # the stroke's cells were repainted
    kept, _ = kept_and_free(a)
    assert kept.abs().max().item() <= OBS_STD
    latent_a, composite_a = a["captured"]["latent"]["samples"], a["captured"]["composite"]
    assert torch.isfinite(latent_a).all() and torch.isfinite(composite_a).all()

    del a  # drop the first run's model before the second loads its own (one model alive at a time)
    _free_models(comfy_host)
    model_calls.reset()
    b = run_prompt(prompt)
    assert model_calls.count == steps
    assert torch.equal(latent_a, b["captured"]["latent"]["samples"])
    assert torch.equal(composite_a, b["captured"]["composite"])


# --------------------------------------------------------------------------- shipped workflows

FLUX_WORKFLOW = "ding_flux1_dev_inpaint"
Z_IMAGE_WORKFLOW = "ding_z_image_turbo_inpaint"
QWEN_IMAGE_WORKFLOW = "ding_qwen_image_inpaint"
FLUX2_WORKFLOW = "ding_flux2_klein_inpaint"
WORKFLOW_STEPS = 3


def _workflow_tables():
    """tests/test_workflows.py (the workflow key -> file tables), loaded by path under the same
    module name tests/integration/test_workflows_comfy.py uses."""
    import importlib.util
    import sys
    name = "ding_test_workflows_tables"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "test_workflows.py")
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


def shipped_workflow_api(key: str) -> dict:
    """The API twin of a shipped workflow by its stable key (e.g. "ding_flux1_dev_inpaint"), found
    through the workflow tests' own tables, so it follows the files when they move or are renamed."""
    return _workflow_tables().load_api(key)


@contextlib.contextmanager
def _linked_workflow_files(comfy_host, key: str, files):
    """The twin's model file names pointing at a family's tiny files (symlinks, removed afterwards
    so a later fixture writing placeholders under those names cannot write through them), and its
    input image (same picture and mask as test_workflows_comfy uses)."""
    api = shipped_workflow_api(key)
    links = []
    for node in api.values():
        if node["class_type"] == "UNETLoader":
            links.append((comfy_host.models_dir / "diffusion_models" / node["inputs"]["unet_name"],
                          files.paths["unet"]))
        elif node["class_type"] == "VAELoader":
            links.append((comfy_host.models_dir / "vae" / node["inputs"]["vae_name"], files.paths["vae"]))
    for link, target in links:
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)
    image = tiny_models.make_test_image(SIZE, SIZE, seed=7)
    mask = tiny_models.make_test_mask(SIZE, SIZE, kind="rect", **RECT)
    for node in api.values():
        if node["class_type"] == "LoadImage":
            comfy_host.write_input_image(node["inputs"]["image"], image, mask)
    try:
        yield {"api": api, "image": image, "mask": mask}
    finally:
        for link, _ in links:
            if link.is_symlink():
                link.unlink()


@pytest.fixture(scope="module")
def flux_workflow_files(comfy_host, tiny_flux):
    with _linked_workflow_files(comfy_host, FLUX_WORKFLOW, tiny_flux) as w:
        yield w


@pytest.fixture(scope="module")
def z_image_workflow_files(comfy_host, tiny_z_image):
    with _linked_workflow_files(comfy_host, Z_IMAGE_WORKFLOW, tiny_z_image) as w:
        yield w


@pytest.fixture(scope="module")
def qwen_image_workflow_files(comfy_host, tiny_qwen_image):
    with _linked_workflow_files(comfy_host, QWEN_IMAGE_WORKFLOW, tiny_qwen_image) as w:
        yield w


@pytest.fixture(scope="module")
def flux2_workflow_files(comfy_host, tiny_flux2):
    with _linked_workflow_files(comfy_host, FLUX2_WORKFLOW, tiny_flux2) as w:
        yield w


def run_shipped_workflow(comfy_host, run_prompt, model_calls, workflow: dict, fam: str, steps=None,
                         required=()) -> dict:
    """Run a shipped twin as shipped, except: each CLIPTextEncode replaced by DInGTestConditioning
    in family `fam`'s text-encoder shapes (the now unused CLIP loader dropped; FluxGuidance,
    ConditioningZeroOut and shift nodes stay), steps cut to `steps` when given, the UNETLoader at
    the family row's test weight_dtype. Checks what every such run must show and returns
    (prompt, result, ids {class_type: node id})."""
    api = workflow["api"]
    spec = FAMILY[fam]
    prompt = copy.deepcopy(api)
    for node_id, node in sorted(prompt.items()):
        if node["class_type"] == "CLIPTextEncode":
            prompt[node_id] = {"class_type": "DInGTestConditioning", "inputs": {
                "seed": 100 + int(node_id), "tokens": spec["tokens"], "family": spec["cond"]}}
    used = {v[0] for node in prompt.values() for v in node["inputs"].values() if isinstance(v, list)}
    for node_id in [i for i, n in prompt.items() if n["class_type"] in ("DualCLIPLoader", "CLIPLoader")]:
        assert node_id not in used
        del prompt[node_id]
    ids = {n["class_type"]: i for i, n in prompt.items()}
    for t in ("UNETLoader", "VAELoader", "DInGInpaintEncode", "DInGKSampler", "VAEDecode",
              "DInGComposite", "SaveImage", "LoadImage") + tuple(required):
        assert t in ids, f"shipped workflow {fam} has no {t}"
    prompt[ids["UNETLoader"]]["inputs"]["weight_dtype"] = spec["weight_dtype"]
    sampler = prompt[ids["DInGKSampler"]]["inputs"]
    if steps is not None:
        sampler["steps"] = steps
    enc, comp, load = ids["DInGInpaintEncode"], ids["DInGComposite"], ids["LoadImage"]
    prompt.update({
        "cap_model": {"class_type": "DInGTestCapture", "inputs": {"value": sampler["model"], "key": "model"}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": [enc, 0], "key": "encoded"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": [ids["DInGKSampler"], 0], "key": "latent"}},
        "cap_comp": {"class_type": "DInGTestCapture", "inputs": {"value": [comp, 0], "key": "composite"}},
        "cap_img": {"class_type": "DInGTestCapture", "inputs": {"value": [load, 0], "key": "original"}},
        "cap_repaint": {"class_type": "DInGTestCapture", "inputs": {"value": [enc, 1], "key": "repaint"}},
        "cap_pos": {"class_type": "DInGTestCapture", "inputs": {"value": sampler["positive"], "key": "positive"}},
    })
    result = run_prompt(prompt)
    comfy_host.timings[f"{fam} shipped workflow: graph s"] = result["wall_s"]
    comfy_host.timings[f"{fam} shipped workflow: ms/call"] = model_calls.ms_per_call()
    cap = result["captured"]
    assert type(cap["model"].model.model_config).__name__ == spec["detected"]
    n = sampler["steps"]
    expected = 2 * n - 1 if sampler["variant"] == "ding" else n
    assert model_calls.count == expected
    assert set(model_calls.batch_sizes) == {1 if sampler["cfg"] == 1.0 else 2}
    kept, free = kept_and_free(result)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1
    assert torch.isfinite(cap["latent"]["samples"]).all() and torch.isfinite(cap["composite"]).all()
    assert cap["composite"].shape == cap["original"].shape
    # pixels farther than `feather` px from the repaint area are the original, bit for bit
    feather = prompt[comp]["inputs"]["feather"]
    near = torch.nn.functional.max_pool2d((cap["repaint"] > 0).float()[:, None], 2 * feather + 1, stride=1,
                                          padding=feather)[:, 0] > 0
    assert (~near).sum() > 0.1 * near.numel()
    assert torch.equal(cap["composite"][~near], cap["original"][~near])
    assert len(comfy_host.output_files(result, ids["SaveImage"])) == 1
    return prompt, result, ids


@pytest.mark.slow
def test_shipped_flux_workflow_runs(comfy_host, ding_nodes, flux_workflow_files, run_prompt, model_calls):
    """The shipped Flux twin as shipped, except: the text encoder nodes replaced by Flux-shaped
    DInGTestConditioning (its FluxGuidance and ConditioningZeroOut stay), steps cut to 3."""
    api = flux_workflow_files["api"]
    _, result, ids = run_shipped_workflow(comfy_host, run_prompt, model_calls, flux_workflow_files, "flux",
                                          steps=WORKFLOW_STEPS, required=("FluxGuidance",))
    assert result["captured"]["positive"][0][1]["guidance"] == api[ids["FluxGuidance"]]["inputs"]["guidance"]


def _shift_node_checks(result, api, ids):
    """The sampler's model is the shift node's: it samples at the workflow's shift."""
    sampling = result["captured"]["model"].get_model_object("model_sampling")
    assert float(sampling.shift) == pytest.approx(api[ids["ModelSamplingAuraFlow"]]["inputs"]["shift"])
    assert api[ids["DInGKSampler"]]["inputs"]["model"] == [ids["ModelSamplingAuraFlow"], 0]


@pytest.mark.slow
def test_z_image_shipped_workflow_runs(request, comfy_host, ding_nodes, run_prompt, model_calls):
    """The shipped Z-Image Turbo twin with the tiny Z-Image, as shipped (all its steps, cfg 1 with
    the ConditioningZeroOut negative, ModelSamplingAuraFlow) except the Qwen3-4B text encoder,
    replaced by Z-Image-shaped DInGTestConditioning."""
    _skip_unless_detected("z_image")
    workflow = request.getfixturevalue("z_image_workflow_files")
    api = workflow["api"]
    _, result, ids = run_shipped_workflow(comfy_host, run_prompt, model_calls, workflow, "z_image",
                                          required=("ModelSamplingAuraFlow", "ConditioningZeroOut"))
    sampler = api[ids["DInGKSampler"]]["inputs"]
    assert sampler["cfg"] == 1.0 and set(model_calls.batch_sizes) == {1}  # Turbo: no guidance
    _shift_node_checks(result, api, ids)


@pytest.mark.slow
def test_qwen_image_shipped_workflow_runs(request, comfy_host, ding_nodes, run_prompt, model_calls):
    """The shipped Qwen-Image twin with the tiny Qwen-Image and the tiny Wan 2.1 VAE (the picture
    a one-frame clip), as shipped (cfg > 1 with the negative, ModelSamplingAuraFlow) except the
    Qwen2.5-VL text encoder, replaced by Qwen-Image-shaped DInGTestConditioning, and steps cut to 3."""
    _skip_unless_detected("qwen_image")
    workflow = request.getfixturevalue("qwen_image_workflow_files")
    api = workflow["api"]
    _, result, ids = run_shipped_workflow(comfy_host, run_prompt, model_calls, workflow, "qwen_image",
                                          steps=WORKFLOW_STEPS, required=("ModelSamplingAuraFlow",))
    assert api[ids["DInGKSampler"]]["inputs"]["cfg"] > 1
    assert set(model_calls.batch_sizes) == {2}
    enc = result["captured"]["encoded"]
    assert enc["samples"].ndim == enc["noise_mask"].ndim == 5 and enc["samples"].shape[2] == 1
    _shift_node_checks(result, api, ids)


@pytest.mark.slow
def test_flux2_shipped_workflow_runs(request, comfy_host, ding_nodes, run_prompt, model_calls):
    """The shipped Flux.2 Klein twin with the tiny Flux.2 (Klein's layout) as its model files: as
    shipped (cfg 1, its variant and eta, no FluxGuidance, no shift node, the ConditioningZeroOut
    negative), except the Qwen3-4B text encoder replaced by Klein-shaped DInGTestConditioning,
    steps cut to 3 (2.2 B parameters, about 25 s a model call on one busy core) and the diffusion
    model held in fp8 (the row's weight_dtype). 128-channel latents at 1/16."""
    _skip_unless_detected("flux2")
    workflow = request.getfixturevalue("flux2_workflow_files")
    api = workflow["api"]
    _, result, ids = run_shipped_workflow(comfy_host, run_prompt, model_calls, workflow, "flux2",
                                          steps=WORKFLOW_STEPS, required=("ConditioningZeroOut",))
    assert "FluxGuidance" not in ids and "ModelSamplingAuraFlow" not in ids
    sampler = api[ids["DInGKSampler"]]["inputs"]
    assert sampler["cfg"] == 1.0 and set(model_calls.batch_sizes) == {1}  # step-distilled: no guidance
    assert api[ids["DInGKSampler"]]["inputs"]["model"] == [ids["UNETLoader"], 0]
    cap = result["captured"]
    enc = cap["encoded"]
    assert enc["samples"].shape[1:] == (FAMILY["flux2"]["channels"], SIZE // 16, SIZE // 16)
    assert enc["noise_mask"].shape[-2:] == (SIZE // 16, SIZE // 16)
    # the positive reaching the sampler is Klein-shaped (Qwen3-4B x 3 layers)
    assert cap["positive"][0][0].shape[-1] == tiny_families.FLUX2_KLEIN_CONTEXT_DIM


# --------------------------------------------------------------------------- SDXL

def _sinusoid(value: float, dim: int = 256) -> torch.Tensor:
    """The sinusoidal embedding [cos(v f_i), sin(v f_i)], f_i = 10000^(-i/(dim/2)), that SDXL puts
    on each size number (written out here, not taken from ComfyUI)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    args = torch.tensor([float(value)], dtype=torch.float32) * freqs
    return torch.cat([torch.cos(args), torch.sin(args)])


def _sdxl_adm(pooled: torch.Tensor, height, width, crop_h=0, crop_w=0, target_h=None, target_w=None):
    """SDXL's adm vector: pooled CLIP-G (1280) + embeddings of height, width, crop_h, crop_w,
    target height, target width (256 each) = 2816."""
    sizes = [height, width, crop_h, crop_w, height if target_h is None else target_h,
             width if target_w is None else target_w]
    return torch.cat([pooled.float().flatten()] + [_sinusoid(v) for v in sizes])


def test_sdxl_conditioning_shapes():
    """The hand-made SDXL conditioning: CLIP-L + CLIP-G hidden states (2048 wide) and CLIP-G's pooled
    output (1280); sizes only when asked, both or neither, and only for SDXL."""
    (cond, extra), = tiny_families.family_conditioning("sdxl", seed=4, batch=2)
    assert tuple(cond.shape) == (2, tiny_families.SDXL_TOKENS, tiny_families.SDXL_CONTEXT_DIM)
    assert set(extra) == {"pooled_output"} and tuple(extra["pooled_output"].shape) == (2, 1280)
    (cond2, sized), = tiny_families.family_conditioning("sdxl", seed=4, batch=2, width=1152, height=896)
    assert torch.equal(cond, cond2) and torch.equal(extra["pooled_output"], sized["pooled_output"])
    assert {k: sized[k] for k in sized if k != "pooled_output"} == {
        "width": 1152, "height": 896, "crop_w": 0, "crop_h": 0, "target_width": 1152, "target_height": 896}
    with pytest.raises(ValueError, match="width/height"):
        tiny_families.family_conditioning("sdxl", width=1024)
    with pytest.raises(ValueError, match="width/height"):
        tiny_families.family_conditioning("sd15", width=1024, height=1024)


def test_sdxl_checkpoint_is_detected(tiny_sdxl, comfy_host):
    """ComfyUI's detection of the written SDXL file: the SDXL class with SDXL's input transformer
    depths, context width and adm width, from a UNet about 20x smaller than SDXL's; and SDXL's real
    layout (meta tensors, nothing allocated) is detected as the same class with the same values on
    every key the class compares, so both are told apart from SD1.5 / SSD-1B / Refiner alike."""
    import comfy.latent_formats
    import comfy.model_detection as md
    import comfy.supported_models
    import comfy.utils
    sd = comfy.utils.load_torch_file(str(tiny_sdxl.paths["ckpt"]))
    unet = {k[len(tiny_models.CKPT_UNET_PREFIX):]: v for k, v in sd.items()
            if k.startswith(tiny_models.CKPT_UNET_PREFIX)}
    cfg = tiny_families.detect(unet)
    assert type(cfg).__name__ == "SDXL"
    uc = cfg.unet_config
    assert uc["transformer_depth"] == [0, 0, 2, 2, 10, 10] and uc["channel_mult"] == [1]
    assert uc["adm_in_channels"] == tiny_families.SDXL_ADM_DIM == unet["label_emb.0.0.weight"].shape[1]
    assert uc["context_dim"] == tiny_families.SDXL_CONTEXT_DIM and uc["model_channels"] == 320
    assert tiny_sdxl.params == sum(v.numel() for v in unet.values())
    assert {v.dtype for v in unet.values()} == {torch.float16}
    assert float(sd["first_stage_model.vae_scale"]) == pytest.approx(comfy.latent_formats.SDXL.scale_factor)
    assert sd["first_stage_model.taesd_decoder.1.weight"].shape[1] == 4

    # SDXL base 1.0's own layout: three levels of two res blocks, 10 transformer blocks in the middle
    real = dict(uc, num_res_blocks=[2, 2, 2], channel_mult=[1, 2, 4],
                transformer_depth_output=[0, 0, 0, 2, 2, 2, 10, 10, 10], transformer_depth_middle=10)
    shapes = tiny_families.shapes_from_config(md.model_config_from_unet_config(real))
    full = tiny_families.detect(tiny_families._meta(shapes))
    assert type(full).__name__ == "SDXL"
    assert full.unet_config["num_res_blocks"] == [2, 2, 2] and full.unet_config["transformer_depth_middle"] == 10
    for k in comfy.supported_models.SDXL.unet_config:
        assert full.unet_config[k] == uc[k], k
    real_params = sum(int(torch.Size(s).numel()) for s in shapes.values())
    comfy_host.timings["sdxl: tiny UNet M params"] = tiny_sdxl.params / 1e6
    comfy_host.timings["sdxl: real SDXL UNet M params (meta)"] = real_params / 1e6
    assert real_params > 2.5e9 and tiny_sdxl.params * 20 < real_params


def test_sdxl_adm_reaches_the_network(tiny_sdxl, comfy_host, ding_nodes, run_prompt, model_calls, monkeypatch):
    """Under DInG (whose run re-encodes the model conds without the noise_mask) SDXL's UNet gets
    the adm vector y, 2816 wide, built from each conditioning: the positive carries sizes as
    CLIPTextEncodeSDXL sets them (1152 wide, 896 high), the negative none, as core
    CLIPTextEncode gives it (ComfyUI then uses the image's size, 128x128). Spied at the diffusion
    model's forward."""
    from comfy.ldm.modules.diffusionmodules import openaimodel
    seen = []
    orig = openaimodel.UNetModel.forward

    def spy(self, x, timesteps=None, context=None, y=None, *args, **kwargs):
        seen.append({"y": None if y is None else y.detach().float().clone(),
                     "context": tuple(context.shape), "x": tuple(x.shape)})
        return orig(self, x, timesteps, context, y, *args, **kwargs)

    monkeypatch.setattr(openaimodel.UNetModel, "forward", spy)
    steps = 2
    prompt = family_prompt("sdxl", tiny_sdxl, variant="ding1", steps=steps)
    prompt["pos"]["inputs"].update(width=1152, height=896)
    result = run_prompt(prompt)
    _record(comfy_host, "sdxl", "adm", result, model_calls)
    assert model_calls.count == len(seen) == steps

    spec = FAMILY["sdxl"]
    pos = tiny_families.family_conditioning("sdxl", seed=1, tokens=spec["tokens"], width=1152, height=896)
    neg = tiny_families.family_conditioning("sdxl", seed=2, tokens=spec["tokens"])
    expected = {"positive": _sdxl_adm(pos[0][1]["pooled_output"], 896, 1152),
                "negative": _sdxl_adm(neg[0][1]["pooled_output"], SIZE, SIZE)}
    assert all(v.shape == (tiny_families.SDXL_ADM_DIM,) for v in expected.values())
    for call in seen:
        y = call["y"]
        assert y is not None and tuple(y.shape) == (2, tiny_families.SDXL_ADM_DIM)  # cond + uncond, cfg > 1
        assert call["context"] == (2, spec["tokens"], tiny_families.SDXL_CONTEXT_DIM)
        assert call["x"] == (2, 4, SIZE // 8, SIZE // 8)
        matched = sorted(name for row in y for name, e in expected.items()
                         if torch.allclose(row, e, atol=1e-4, rtol=0))
        assert matched == ["negative", "positive"], [(row - e).abs().max().item()
                                                     for row in y for e in expected.values()]
    assert torch.isfinite(result["captured"]["latent"]["samples"]).all()


SDXL_WORKFLOW = "ding_sdxl_inpaint"


@pytest.fixture
def sdxl_workflow_files(comfy_host, tiny_sdxl):
    """The SDXL twin with its checkpoint name pointing at the tiny SDXL checkpoint (a symlink,
    removed afterwards, as for Flux) and its input image."""
    api = shipped_workflow_api(SDXL_WORKFLOW)
    links = [(comfy_host.models_dir / "checkpoints" / node["inputs"]["ckpt_name"], tiny_sdxl.paths["ckpt"])
             for node in api.values() if node["class_type"] == "CheckpointLoaderSimple"]
    assert links, "the shipped SDXL workflow has no Load Checkpoint"
    for link, target in links:
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)
    image = tiny_models.make_test_image(SIZE, SIZE, seed=7)
    mask = tiny_models.make_test_mask(SIZE, SIZE, kind="rect", **RECT)
    for node in api.values():
        if node["class_type"] == "LoadImage":
            comfy_host.write_input_image(node["inputs"]["image"], image, mask)
    yield {"api": api, "image": image, "mask": mask}
    for link, _ in links:
        if link.is_symlink():
            link.unlink()


@pytest.mark.slow
def test_sdxl_shipped_workflow_runs(comfy_host, ding_nodes, sdxl_workflow_files, run_prompt, model_calls):
    """The shipped SDXL twin as shipped (Load Checkpoint -> DInG Inpaint/Outpaint Encode -> DInG
    KSampler at the twin's cfg and scheduler -> VAE Decode -> DInG Composite -> Save Image), except:
    each CLIPTextEncode replaced by SDXL-shaped DInGTestConditioning (no sizes, as CLIPTextEncode
    gives them), steps cut to 3."""
    api = sdxl_workflow_files["api"]
    prompt = copy.deepcopy(api)
    for node_id, node in sorted(prompt.items()):
        if node["class_type"] == "CLIPTextEncode":
            prompt[node_id] = {"class_type": "DInGTestConditioning", "inputs": {
                "seed": 100 + int(node_id), "tokens": tiny_families.SDXL_TOKENS, "family": "sdxl"}}
    ids = {n["class_type"]: i for i, n in prompt.items()}
    for t in ("CheckpointLoaderSimple", "DInGInpaintEncode", "DInGKSampler", "VAEDecode", "DInGComposite",
              "SaveImage", "LoadImage"):
        assert t in ids, f"shipped SDXL workflow has no {t}"
    sampler = prompt[ids["DInGKSampler"]]["inputs"]
    assert sampler["cfg"] > 1.0 and sampler["steps"] == 28
    sampler["steps"] = WORKFLOW_STEPS
    enc, comp, load = ids["DInGInpaintEncode"], ids["DInGComposite"], ids["LoadImage"]
    prompt.update({
        "cap_model": {"class_type": "DInGTestCapture", "inputs": {"value": sampler["model"], "key": "model"}},
        "cap_enc": {"class_type": "DInGTestCapture", "inputs": {"value": [enc, 0], "key": "encoded"}},
        "cap_out": {"class_type": "DInGTestCapture", "inputs": {"value": [ids["DInGKSampler"], 0], "key": "latent"}},
        "cap_comp": {"class_type": "DInGTestCapture", "inputs": {"value": [comp, 0], "key": "composite"}},
        "cap_img": {"class_type": "DInGTestCapture", "inputs": {"value": [load, 0], "key": "original"}},
        "cap_repaint": {"class_type": "DInGTestCapture", "inputs": {"value": [enc, 1], "key": "repaint"}},
    })
    result = run_prompt(prompt)
    comfy_host.timings["sdxl shipped workflow: graph s"] = result["wall_s"]
    cap = result["captured"]
    import comfy.model_sampling as ms
    assert type(cap["model"].model.model_config).__name__ == "SDXL"
    assert isinstance(cap["model"].get_model_object("model_sampling"), ms.EPS)
    expected = 2 * WORKFLOW_STEPS - 1 if sampler["variant"] == "ding" else WORKFLOW_STEPS
    assert model_calls.count == expected
    assert set(model_calls.batch_sizes) == {2}  # cond + uncond in one call at cfg > 1
    kept, free = kept_and_free(result)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1
    assert torch.isfinite(cap["latent"]["samples"]).all() and torch.isfinite(cap["composite"]).all()
    feather = prompt[comp]["inputs"]["feather"]
    near = torch.nn.functional.max_pool2d((cap["repaint"] > 0).float()[:, None], 2 * feather + 1, stride=1,
                                          padding=feather)[:, 0] > 0
    assert (~near).sum() > 0.1 * near.numel()
    assert torch.equal(cap["composite"][~near], cap["original"][~near])
    assert len(comfy_host.output_files(result, ids["SaveImage"])) == 1
