"""Smoke tests of the ComfyUI integration harness itself (independent of the pack's nodes)."""
from __future__ import annotations

import math
import time

import pytest

from comfy_testbed import comfy_harness


def test_comfyui_imports(comfy_host):
    import comfy.model_management as mm
    import nodes

    assert nodes.__file__.startswith(str(comfy_host.comfyui_path))
    assert mm.cpu_state == mm.CPUState.CPU
    for k in ("CheckpointLoaderSimple", "UNETLoader", "VAELoader", "KSampler", "EmptySD3LatentImage",
              "VAEEncode", "VAEDecode", "SaveImage", "LoadImage", "SetLatentNoiseMask",
              "DInGTestConditioning", "DInGTestImageMask", "DInGTestCapture"):
        assert k in nodes.NODE_CLASS_MAPPINGS, k
    comfy_host.timings["ComfyUI import s"] = comfy_host.import_seconds
    comfy_host.timings["init_extra_nodes (builtin extras + pack) s"] = comfy_host.init_seconds
    print(f"import {comfy_host.import_seconds:.2f}s, init_extra_nodes {comfy_host.init_seconds:.2f}s, "
          f"extras not loaded: {comfy_host.extras_failed}")


def test_pack_loading_is_reported(ding_pack):
    print(ding_pack.summary())
    assert ding_pack.link is not None and ding_pack.link.is_symlink()
    if not ding_pack.has_init:
        pytest.skip("repo root has no __init__.py yet: nothing for ComfyUI to load")
    assert ding_pack.loaded, ding_pack.error
    assert ding_pack.node_ids, "pack loaded but registered no nodes"


def test_tiny_checkpoint_detected_as_sd3(comfy_host, tiny_sd3):
    import comfy.model_base
    import comfy.model_sampling
    import comfy.supported_models
    from comfy.ldm.modules.diffusionmodules.mmdit import MMDiT

    model, clip, vae = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)[:3]
    assert clip is None
    assert isinstance(model.model, comfy.model_base.SD3)
    assert isinstance(model.model.model_config, comfy.supported_models.SD3)
    dm = model.model.diffusion_model
    assert isinstance(dm, MMDiT)
    assert dm.depth == tiny_sd3.depth and dm.hidden_size == tiny_sd3.hidden
    assert dm.joint_blocks[0].context_block.attn.ln_q is not None          # rms qk-norm
    assert dm.joint_blocks[0].x_block.x_block_self_attn                     # MMDiT-X attn2
    ms = model.get_model_object("model_sampling")
    assert isinstance(ms, comfy.model_sampling.CONST)
    assert isinstance(ms, comfy.model_sampling.ModelSamplingDiscreteFlow)
    assert ms.shift == pytest.approx(3.0)
    assert vae.latent_channels == 16
    assert type(vae.first_stage_model).__name__ == "TAESD"
    assert float(vae.first_stage_model.vae_scale.detach()) == pytest.approx(1.5305)
    assert float(vae.first_stage_model.vae_shift.detach()) == pytest.approx(0.0609)


def test_unet_and_vae_loaders(comfy_host, tiny_sd3):
    import comfy.model_base
    import comfy.model_sampling

    (model,) = comfy_host.call_node("UNETLoader", unet_name=tiny_sd3.unet_name, weight_dtype="default")
    assert isinstance(model.model, comfy.model_base.SD3)
    assert isinstance(model.get_model_object("model_sampling"), comfy.model_sampling.CONST)
    (vae,) = comfy_host.call_node("VAELoader", vae_name=tiny_sd3.vae_name)
    assert vae.latent_channels == 16
    assert "taesd3" in comfy_host.nodes.VAELoader.INPUT_TYPES()["required"]["vae_name"][0]
    (vae3,) = comfy_host.call_node("VAELoader", vae_name="taesd3")
    assert vae3.latent_channels == 16


def test_taesd_encode_decode(comfy_host, tiny_sd3):
    import torch
    from comfy_testbed import tiny_models

    (vae,) = comfy_host.call_node("VAELoader", vae_name=tiny_sd3.vae_name)
    img = tiny_models.make_test_image(128, 128, seed=3)
    comfy_host.call_node("VAEEncode", pixels=img, vae=vae)  # warm-up
    t0 = time.perf_counter()
    (lat,) = comfy_host.call_node("VAEEncode", pixels=img, vae=vae)
    t1 = time.perf_counter()
    (dec,) = comfy_host.call_node("VAEDecode", samples=lat, vae=vae)
    t2 = time.perf_counter()
    assert lat["samples"].shape == (1, 16, 16, 16)
    assert torch.isfinite(lat["samples"]).all() and lat["samples"].std() > 1e-3
    assert dec.shape == (1, 128, 128, 3)
    assert torch.isfinite(dec).all() and dec.std() > 1e-3
    comfy_host.timings["TAESD encode 128px ms"] = 1000 * (t1 - t0)
    comfy_host.timings["TAESD decode 128px ms"] = 1000 * (t2 - t1)
    print(f"TAESD 128px encode {1000 * (t1 - t0):.1f} ms, decode {1000 * (t2 - t1):.1f} ms")


@pytest.mark.parametrize("cfg", [1.0, 4.0])
def test_txt2img_graph_through_executor(comfy_host, tiny_sd3, run_prompt, cfg):
    import torch

    steps = 4
    prompt = comfy_harness.sd3_txt2img_prompt(tiny_sd3.ckpt_name, width=128, height=128, steps=steps,
                                              cfg=cfg, sampler_name="euler", scheduler="simple", seed=7)
    run_prompt(prompt)  # warm-up: model load, first-call overheads
    with comfy_host.count_model_calls() as calls:
        res = run_prompt(prompt)
    # euler: one model call per step; cfg == 1 skips the uncond, cfg > 1 batches cond+uncond
    assert calls.count == steps
    assert calls.batch_sizes == [1 if cfg == 1.0 else 2] * steps
    assert all(c.shape[1:] == (16, 16, 16) for c in calls.calls)
    sig = calls.sigmas
    assert sig[0] == pytest.approx(1.0, abs=1e-3) and all(a > b for a, b in zip(sig, sig[1:]))
    lat = res["captured"]["latent"]["samples"]
    assert lat.shape == (1, 16, 16, 16) and torch.isfinite(lat).all() and lat.std() > 1e-3
    files = comfy_host.output_files(res, "save")
    assert len(files) == 1 and files[0].is_file()
    assert len([e for e in res["progress"] if e["node"] == "ksampler"]) == steps
    ms = calls.ms_per_call()
    comfy_host.timings[f"MMDiT depth-{tiny_sd3.depth} 128px cfg{cfg:g} ms/call"] = ms
    comfy_host.timings[f"txt2img graph 128px {steps} steps cfg{cfg:g} wall s"] = res["wall_s"]
    print(f"128px cfg {cfg:g}: {ms:.1f} ms per model call, graph wall {res['wall_s']:.2f}s")
    # same seed, same graph -> same latent
    res2 = run_prompt(prompt)
    assert torch.equal(res2["captured"]["latent"]["samples"], lat)


def test_loadimage_mask_and_capture(comfy_host, run_prompt):
    import torch
    from comfy_testbed import tiny_models

    img = tiny_models.make_test_image(64, 48, seed=5)
    mask = tiny_models.make_test_mask(64, 48, kind="stroke", x=8, y=8, w=40, h=30, stroke_width=3)
    name = comfy_host.write_input_image("ding_test_stroke.png", img, mask)
    res = run_prompt({
        "load": {"class_type": "LoadImage", "inputs": {"image": name}},
        "ci": {"class_type": "DInGTestCapture", "inputs": {"value": ["load", 0], "key": "image"}},
        "cm": {"class_type": "DInGTestCapture", "inputs": {"value": ["load", 1], "key": "mask"}},
        "gen": {"class_type": "DInGTestImageMask", "inputs": {
            "width": 64, "height": 48, "seed": 5, "mask_kind": "stroke", "x": 8, "y": 8, "w": 40, "h": 30,
            "stroke_width": 3}},
        "cg": {"class_type": "DInGTestCapture", "inputs": {"value": ["gen", 1], "key": "gen_mask"}},
    })
    cap = res["captured"]
    assert cap["image"].shape == (1, 48, 64, 3)
    assert (cap["image"] - img).abs().max() <= 1 / 255 + 1e-6
    assert cap["mask"].shape == (1, 48, 64)
    assert torch.equal(cap["mask"], mask)
    assert torch.equal(cap["gen_mask"], mask)
    assert 0 < mask.sum() < mask.numel()


def test_validation_errors_raise(run_prompt):
    with pytest.raises(comfy_harness.PromptValidationError, match="DoesNotExist"):
        run_prompt({"x": {"class_type": "DoesNotExist", "inputs": {}}})
    with pytest.raises(comfy_harness.PromptValidationError):
        run_prompt({"ck": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "missing.safetensors"}},
                    "cap": {"class_type": "DInGTestCapture", "inputs": {"value": ["ck", 0], "key": "m"}}})


def test_conditioning_node_shapes(comfy_host):
    (cond,) = comfy_host.call_node("DInGTestConditioning", seed=0, tokens=154)
    assert cond[0][0].shape == (1, 154, 4096)
    assert cond[0][1]["pooled_output"].shape == (1, 2048)
    assert math.isfinite(float(cond[0][0].std()))
