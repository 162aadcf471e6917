"""A small in-process subset of bench/soak.py (which runs a real ComfyUI server for hundreds of
prompts): DInG's per-model probe cache stays bounded over many prompts, and a prompt cancelled
in the middle of DInG sampling leaves the next prompt on the same executor (as a server keeps
it) identical to the same prompt on a fresh executor.
"""
import gc
import sys

import pytest
import torch

from comfy_testbed import comfy_harness

STEPS = 3


def inpaint_prompt(ckpt, *, seed, steps=STEPS, shift=None, size=64, variant="ding1"):
    """Test image + mask -> DInG Inpaint/Outpaint Encode -> DInG KSampler, its latent captured."""
    p = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": 154}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": 154}},
        "img": {"class_type": "DInGTestImageMask", "inputs": {
            "width": size, "height": size, "seed": 0, "mask_kind": "rect", "x": 16, "y": 16, "w": 24, "h": 24,
            "stroke_width": 3}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["img", 0], "mask": ["img", 1], "vae": ["ckpt", 2], "grow_mask_by": 0}},
        "ding": {"class_type": "DInGKSampler", "inputs": {
            "model": ["ckpt", 0], "seed": seed, "steps": steps, "cfg": 1.0, "scheduler": "simple",
            "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["enc", 0], "denoise": 1.0,
            "variant": variant, "obs_std": 0.01, "eta": "ddpm"}},
        "cap": {"class_type": "DInGTestCapture", "inputs": {"value": ["ding", 0], "key": "latent"}},
    }
    if shift is not None:  # a new model_sampling object per prompt
        p["shift"] = {"class_type": "ModelSamplingSD3", "inputs": {"model": ["ckpt", 0], "shift": shift}}
        p["ding"]["inputs"]["model"] = ["shift", 0]
    return p


def sampling_module(ding_nodes):
    return sys.modules[ding_nodes["DInGKSampler"].__module__]


def test_probe_cache_stays_bounded_over_many_prompts(ding_nodes, tiny_sd3, run_prompt):
    """Every prompt reloads the checkpoint (fresh executor) and patches a new shift, so every
    prompt brings new model_sampling objects; the cache must forget the dead ones."""
    probed = sampling_module(ding_nodes)._PROBED
    sizes = []
    for k in range(8):
        run_prompt(inpaint_prompt(tiny_sd3.ckpt_name, seed=k, steps=1, shift=3.0 + 0.25 * k))
        gc.collect()
        sizes.append(len(probed))
    assert sizes[-1] <= sizes[0] + 1 and max(sizes) <= 3, sizes


def test_interrupt_mid_run_leaves_next_prompt_identical_to_a_fresh_run(ding_nodes, tiny_sd3, comfy_host):
    import comfy.model_management as mm
    import comfy.utils
    ckpt = tiny_sd3.ckpt_name
    executor = comfy_host.new_executor()  # one executor for the whole sequence, like a server's
    steps_seen = []
    armed = []
    original_hook = comfy.utils.PROGRESS_BAR_HOOK

    def hook(value, total, preview, prompt_id=None, node_id=None):
        if armed:
            steps_seen.append(value)
            if value >= 2:
                mm.interrupt_current_processing(True)
        return original_hook(value, total, preview, prompt_id, node_id)

    def run(prompt, executor):
        comfy_host._executor = executor
        return comfy_host.run_prompt(prompt, use_cache=True)["captured"]["latent"]["samples"].clone()

    comfy.utils.set_progress_bar_global_hook(hook)
    try:
        run(inpaint_prompt(ckpt, seed=1), executor)  # warm: models loaded, nodes cached
        armed.append(True)
        with pytest.raises(comfy_harness.PromptExecutionError) as info:
            run(inpaint_prompt(ckpt, seed=2, steps=20, variant="ding"), executor)
        armed.clear()
        after_cancel = run(inpaint_prompt(ckpt, seed=3), executor)
    finally:
        comfy.utils.set_progress_bar_global_hook(original_hook)
        comfy_host._executor = None
    # cancelled inside DInG sampling: ComfyUI reports the interrupt in that node, after some of its
    # steps and far fewer than 20
    assert info.value.message.get("node_type") == "DInGKSampler", info.value.message
    assert steps_seen and max(steps_seen) < 20, steps_seen
    fresh = run(inpaint_prompt(ckpt, seed=3), comfy_host.new_executor())
    comfy_host._executor = None
    assert torch.equal(after_cancel, fresh)
