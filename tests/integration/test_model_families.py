"""DInG on more model families inside a real ComfyUI (CPU): Flux.1 dev, SD1.5 (eps), SD1.5 made
v-prediction by core's ModelSamplingDiscrete, and Lumina 2.

The tiny random-weight models come from comfy_testbed (family table: families.py; builders:
tiny_families.py): built from ComfyUI's own classes
after ComfyUI's own detection, written as safetensors, loaded by the standard loaders
(UNETLoader + VAELoader, CheckpointLoaderSimple). Conditioning is hand-made in each family's
text-encoder shapes (DInGTestConditioning family=...). Random weights do not denoise, so what is
checked is the plumbing per family: the model ComfyUI built, the documented call counts, the kept
latent region, a thin stroke, determinism and finite outputs.

Flux and Lumina 2 are ~0.5 B parameters (detection fixes their width), so they get few runs
(about 2 minutes together on 2 cores); `-k "not flux and not lumina2"` keeps the SD1.5 ones.
Everything here is in the slow tier anyway (conftest marks all integration tests slow); the
explicit marks below stay in case that changes.
"""
from __future__ import annotations

import copy
import gc
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
                flux_guidance=row.flux_guidance, v_prediction=row.v_prediction,
                weight_dtype=row.weight_dtype)


# every image family of the table (video families have their own tests); sd3 runs in test_nodes.py
FAMILY = {name: _spec(name) for name, row in families.FAMILIES.items() if row.time_ratio is None and name != "sd3"}
FAMILY_PARAMS = list(FAMILY)


@pytest.fixture(autouse=True)
def _release_models(comfy_host):
    """Every graph loads its model again (run_prompt uses a fresh executor) and a loaded ModelPatcher
    sits in reference cycles, so a finished test's models stay in memory until the garbage
    collector gets to them: collect them after each test (the tiny Flux.2 is 2.6 GB in memory,
    and without this a session held over 14 GB)."""
    yield
    comfy_host.captured.clear()
    gc.collect()


def _skip_unless_detected(fam):
    reason = families.missing_reason(families.family(fam))
    if reason:
        pytest.skip(reason)


def family_prompt(fam: str, files, *, variant="ding", seed=3, mask_kind="rect", steps=None) -> dict:
    """Loader(s) -> [ModelSamplingDiscrete v] -> DInGInpaintEncode -> DInGKSampler -> VAEDecode
    -> DInGComposite -> SaveImage, with DInGTestCapture on the model, latents and images."""
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
    model_calls.reset()
    b = run_prompt(prompt)
    assert model_calls.count == steps

    enc = a["captured"]["encoded"]
    nm = enc["noise_mask"]
    # horizontal 3-px stroke through pixel rows 35-37, columns 40-88: at r px per latent cell,
    # latent row 36 // r (4 at 1/8, 2 at 1/16), and the cells between columns 40 and 88
    r = spec["space_ratio"]
    assert nm.shape[-2:] == (SIZE // r, SIZE // r)
    row, cols = RECT["y"] // r, slice(RECT["x"] // r + 1, (RECT["x"] + RECT["w"]) // r - 1)
    assert nm[0, 0, row, cols].numel() > 0 and nm[0, 0, row, cols].eq(1).all()
    assert nm[0, 0, 64 // r:].eq(0).all() and nm[0, 0, :16 // r].eq(0).all()
    diff = model_space_diff(a["captured"]["model"], enc, a["captured"]["latent"])
    assert diff[0, :, row, cols].abs().mean() > 0.1          # the stroke's cells were repainted
    kept, _ = kept_and_free(a)
    assert kept.abs().max().item() <= OBS_STD
    assert torch.isfinite(a["captured"]["latent"]["samples"]).all()
    assert torch.isfinite(a["captured"]["composite"]).all()
    assert torch.equal(a["captured"]["latent"]["samples"], b["captured"]["latent"]["samples"])
    assert torch.equal(a["captured"]["composite"], b["captured"]["composite"])


# --------------------------------------------------------------------------- shipped Flux workflow

FLUX_WORKFLOW = "ding_flux1_dev_inpaint"
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


def _link_workflow_files(comfy_host, api: dict, files):
    """Symlinks from the twin's UNETLoader / VAELoader file names to the tiny family's files,
    and its input image (same picture and mask as test_workflows_comfy uses). Returns the links."""
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
    return links


def _unlink(links):
    # removed afterwards so a later fixture writing placeholders under those names cannot write
    # through them
    for link, _ in links:
        if link.is_symlink():
            link.unlink()


@pytest.fixture(scope="module")
def flux_workflow_files(comfy_host, tiny_flux):
    """The Flux twin's model file names pointing at the tiny Flux files, and its input image."""
    api = shipped_workflow_api(FLUX_WORKFLOW)
    links = _link_workflow_files(comfy_host, api, tiny_flux)
    yield {"api": api}
    _unlink(links)


@pytest.fixture(scope="module")
def flux2_workflow_files(comfy_host, tiny_flux2):
    """The Flux.2 Klein twin's model file names pointing at the tiny Flux.2 files, and its input image."""
    api = shipped_workflow_api(FLUX2_WORKFLOW)
    links = _link_workflow_files(comfy_host, api, tiny_flux2)
    yield {"api": api}
    _unlink(links)


def _executable_twin(api: dict, fam: str, steps=None) -> dict:
    """The shipped twin with each CLIPTextEncode replaced by DInGTestConditioning in the family's
    text-encoder shapes (the now unused CLIP loaders dropped), `steps` if given, the UNETLoader at
    the family's test weight_dtype, and captures of the model, latents, images and conditioning."""
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
              "DInGComposite", "SaveImage", "LoadImage"):
        assert t in ids, f"shipped workflow has no {t}"
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
    return prompt, ids


def _check_twin_run(comfy_host, result, model_calls, prompt, ids, fam):
    """What every executed twin must show: the family's model, the documented call count, the
    kept latent region, finite outputs, and the original pixels outside the repaint area."""
    spec = FAMILY[fam]
    sampler = prompt[ids["DInGKSampler"]]["inputs"]
    cap = result["captured"]
    assert type(cap["model"].model.model_config).__name__ == spec["detected"]
    steps = sampler["steps"]
    assert model_calls.count == (2 * steps - 1 if sampler["variant"] == "ding" else steps)
    assert set(model_calls.batch_sizes) == {1 if sampler["cfg"] == 1.0 else 2}
    kept, free = kept_and_free(result)
    assert kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.1
    assert torch.isfinite(cap["latent"]["samples"]).all() and torch.isfinite(cap["composite"]).all()
    # pixels farther than `feather` px from the repaint area are the original, bit for bit
    comp = ids["DInGComposite"]
    feather = prompt[comp]["inputs"]["feather"]
    near = torch.nn.functional.max_pool2d((cap["repaint"] > 0).float()[:, None], 2 * feather + 1, stride=1,
                                          padding=feather)[:, 0] > 0
    assert (~near).sum() > 0.1 * near.numel()
    assert torch.equal(cap["composite"][~near], cap["original"][~near])
    assert len(comfy_host.output_files(result, ids["SaveImage"])) == 1
    return cap


@pytest.mark.slow
def test_shipped_flux_workflow_runs(comfy_host, ding_nodes, flux_workflow_files, run_prompt, model_calls):
    """The shipped Flux twin as shipped, except: the text encoder nodes replaced by Flux-shaped
    DInGTestConditioning (its FluxGuidance and ConditioningZeroOut stay), steps cut to 3."""
    api = flux_workflow_files["api"]
    prompt, ids = _executable_twin(api, "flux", WORKFLOW_STEPS)
    assert "FluxGuidance" in ids, "shipped Flux workflow has no FluxGuidance"
    result = run_prompt(prompt)
    comfy_host.timings["flux shipped workflow: graph s"] = result["wall_s"]
    cap = _check_twin_run(comfy_host, result, model_calls, prompt, ids, "flux")
    assert cap["positive"][0][1]["guidance"] == api[ids["FluxGuidance"]]["inputs"]["guidance"]


@pytest.mark.slow
def test_flux2_shipped_workflow_runs(comfy_host, ding_nodes, flux2_workflow_files, run_prompt, model_calls):
    """The shipped Flux.2 Klein twin with the tiny Flux.2 (Klein's layout) as its model files:
    as shipped (its steps, cfg 1, variant, eta), except the text encoder replaced by Klein-shaped
    DInGTestConditioning (the ConditioningZeroOut negative stays) and the diffusion model held in
    fp8 (the row's weight_dtype; 2.2 B parameters on a CPU). 128-channel latents at 1/16."""
    _skip_unless_detected("flux2")
    api = flux2_workflow_files["api"]
    prompt, ids = _executable_twin(api, "flux2")
    assert "FluxGuidance" not in ids and "ConditioningZeroOut" in ids
    result = run_prompt(prompt)
    comfy_host.timings["flux2 shipped workflow: graph s"] = result["wall_s"]
    comfy_host.timings["flux2 shipped workflow: ms/call"] = model_calls.ms_per_call()
    cap = _check_twin_run(comfy_host, result, model_calls, prompt, ids, "flux2")
    enc = cap["encoded"]
    assert enc["samples"].shape[1:] == (FAMILY["flux2"]["channels"], SIZE // 16, SIZE // 16)
    assert enc["noise_mask"].shape[-2:] == (SIZE // 16, SIZE // 16)
    # the positive reaching the sampler is Klein-shaped (Qwen3-4B x 3 layers)
    assert cap["positive"][0][0].shape[-1] == tiny_families.FLUX2_KLEIN_CONTEXT_DIM
