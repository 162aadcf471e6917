"""Wan 2.2 A14B-style two-expert sampling with DInG: a high-noise model samples the first part of
the schedule, a low-noise model continues DInG's state for the rest (docs/algorithm.md, section 13).

The experts are two tiny random-weight Wan 2.1-layout models (comfy_testbed/tiny_wan.py) with
different weights; ComfyUI detects both as WAN21 (flow, shift 8), the layout Wan 2.2 A14B's
experts share. Clips of 5 frames at 64x64 (latent [1, 16, 2, 8, 8]), cfg 3 (cond and uncond
batched: one model call per step with ding1).

Both wirings are run: SplitSigmas + two SamplerCustomAdvanced with DInG Sampler (the second
with DisableNoise and the encoder's latent on DInG Sampler's ``observation``), and two DInG
Inpaint/Outpaint KSampler (Advanced) nodes with end_at_step / start_at_step (the compact DInG
KSampler, which has no step range, is the one-segment reference). Random weights do not denoise: what is checked is
the kept region, which expert is called at which sigma, call counts, determinism, and that with
one model as both experts the split run is the one-segment run.
"""

import pytest
import torch

from comfy_testbed import comfy_harness, tiny_wan
from comfy_testbed.comfy_harness import PromptExecutionError

STEPS, SPLIT = 6, 3
OBS_STD = 0.01
FRAMES, SIZE = 5, 64
RECT = dict(x=16, y=16, w=24, h=24)
SHIPPED = "Wan 2.2 A14B inpaint"  # example_workflows/api/<title>.api.json

# With one model as both experts the split run equals the one-segment run up to float32 rounding
# at the hand-over: ComfyUI divides the first segment's state by 1 - sigma (inverse noise
# scaling), maps it out of and back into model space (Wan21 latent format: * std + mean, then
# - mean / std) and multiplies by 1 - sigma again (noise scaling with zero noise). That is a few
# float32 roundings of values of size ~1 (~1e-7 each, amplified by up to 1/(1 - sigma) ~ 10
# before the division is undone); the remaining steps carry it to the output. Measured maximum
# differences (printed by the test): 7.2e-6 to 8.6e-6 on ComfyUI 0.8.0 and 0.3.64 alike, ding and
# ding1, both routes. 1e-4 leaves a margin of about 10; a second segment that draws other noise
# differs by more than 100 times that (checked in the same test).
SAME_MODEL_ATOL = 1e-4


@pytest.fixture(scope="session")
def experts(comfy_host):
    """Two tiny Wan models with different weights (and the VAE of the first)."""
    high = tiny_wan.write_tiny_wan(comfy_host.models_dir, name="tiny_wan22_high", seed=10)
    low = tiny_wan.write_tiny_wan(comfy_host.models_dir, name="tiny_wan22_low", seed=20, vae_seed=11)
    for k, v in tiny_wan.make_test_nodes().items():
        comfy_host.nodes.NODE_CLASS_MAPPINGS[k] = v
        comfy_host.nodes.NODE_DISPLAY_NAME_MAPPINGS[k] = k + " (test only)"
    comfy_host.timings["tiny Wan experts write (s)"] = high.build_seconds + low.build_seconds
    return high, low


@pytest.fixture(autouse=True)
def _release_models(comfy_host):
    """Every prompt here loads both experts and the 127 M-parameter Wan VAE afresh (a new executor
    per run); let ComfyUI drop them after each test so a session's memory stays flat (without
    this a full run on ComfyUI 0.3.64 grew past 9 GB on this machine)."""
    yield
    import gc

    import comfy.model_management as mm
    mm.unload_all_models()
    gc.collect()
    mm.soft_empty_cache()


def _fingerprint(weight: torch.Tensor) -> tuple:
    return tuple(round(float(v), 6) for v in weight.flatten()[:4])


@pytest.fixture(scope="session")
def expert_fingerprints(experts):
    """{fingerprint of a model's head weight: 'high' | 'low'} read from the written files."""
    from safetensors.torch import load_file
    out = {}
    for name, files in zip(("high", "low"), experts):
        out[_fingerprint(load_file(str(files.unet_path))["head.head.weight"])] = name
    assert len(out) == 2
    return out


class ExpertSpy:
    """Records (expert, sigma) of every diffusion-model call, the expert told apart by its weights."""

    def __init__(self, fingerprints):
        self.fingerprints = fingerprints
        self.calls = []

    def __enter__(self):
        import comfy.model_base as mb
        self._orig = mb.BaseModel.apply_model
        orig, spy = self._orig, self

        def apply_model(model_self, x, t, *args, **kwargs):
            w = model_self.diffusion_model.head.head.weight
            spy.calls.append((spy.fingerprints.get(_fingerprint(w), "?"), float(t.flatten()[0])))
            return orig(model_self, x, t, *args, **kwargs)

        mb.BaseModel.apply_model = apply_model
        return self

    def __exit__(self, *exc):
        import comfy.model_base as mb
        mb.BaseModel.apply_model = self._orig
        return False

    def sigmas_of(self, expert):
        return [s for e, s in self.calls if e == expert]


# --------------------------------------------------------------------------- graphs

def _base(high, low, *, low_model=None):
    low_model = low_model or low
    return {
        "unet_high": {"class_type": "UNETLoader", "inputs": {"unet_name": high.unet_name, "weight_dtype": "default"}},
        "unet_low": {"class_type": "UNETLoader", "inputs": {"unet_name": low_model.unet_name,
                                                            "weight_dtype": "default"}},
        "vae": {"class_type": "VAELoader", "inputs": {"vae_name": high.vae_name}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1, "tokens": 32, "family": "wan"}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 2, "tokens": 32, "family": "wan"}},
        "clip": {"class_type": "DInGTestClipMask", "inputs": {
            "frames": FRAMES, "width": SIZE, "height": SIZE, "seed": 0, "mask_kind": "rect",
            "mask_frames": "per_frame", "only_frame": -1, "stroke_width": 3, **RECT}},
        "enc": {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": ["clip", 0], "mask": ["clip", 1], "vae": ["vae", 0], "grow_mask_by": 0}},
        "cap_encoded": {"class_type": "DInGTestCapture", "inputs": {"value": ["enc", 0], "key": "encoded"}},
    }


def sampler_route(high, low, *, variant="ding1", seed=5, same_model=False, observation=True, split=SPLIT):
    """SplitSigmas + SamplerCustomAdvanced (RandomNoise) with the high expert, then
    SamplerCustomAdvanced (DisableNoise) with the low expert and DInG Sampler's observation."""
    p = _base(high, low, low_model=high if same_model else low)
    ding = {"variant": variant, "obs_std": OBS_STD, "eta": "ddpm"}
    p.update({
        "sched": {"class_type": "BasicScheduler", "inputs": {"model": ["unet_high", 0], "scheduler": "simple",
                                                             "steps": STEPS, "denoise": 1.0}},
        "split": {"class_type": "SplitSigmas", "inputs": {"sigmas": ["sched", 0], "step": split}},
        "g_high": {"class_type": "CFGGuider", "inputs": {"model": ["unet_high", 0], "positive": ["pos", 0],
                                                         "negative": ["neg", 0], "cfg": 3.0}},
        "g_low": {"class_type": "CFGGuider", "inputs": {"model": ["unet_low", 0], "positive": ["pos", 0],
                                                        "negative": ["neg", 0], "cfg": 3.0}},
        "s_high": {"class_type": "DInGSampler", "inputs": dict(ding)},
        "s_low": {"class_type": "DInGSampler", "inputs": dict(ding)},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
        "no_noise": {"class_type": "DisableNoise", "inputs": {}},
        "first": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["g_high", 0], "sampler": ["s_high", 0],
            "sigmas": ["split", 0], "latent_image": ["enc", 0]}},
        "second": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["no_noise", 0], "guider": ["g_low", 0], "sampler": ["s_low", 0],
            "sigmas": ["split", 1], "latent_image": ["first", 0]}},
        "cap_first": {"class_type": "DInGTestCapture", "inputs": {"value": ["first", 0], "key": "first"}},
        "cap_latent": {"class_type": "DInGTestCapture", "inputs": {"value": ["second", 0], "key": "latent"}},
    })
    if observation:
        p["s_low"]["inputs"]["observation"] = ["enc", 0]
    return p


def sampler_one_segment(high, *, variant="ding1", seed=5):
    """The same SamplerCustomAdvanced run over the whole schedule with one model."""
    p = _base(high, high)
    p.update({
        "sched": {"class_type": "BasicScheduler", "inputs": {"model": ["unet_high", 0], "scheduler": "simple",
                                                             "steps": STEPS, "denoise": 1.0}},
        "g_high": {"class_type": "CFGGuider", "inputs": {"model": ["unet_high", 0], "positive": ["pos", 0],
                                                         "negative": ["neg", 0], "cfg": 3.0}},
        "s_high": {"class_type": "DInGSampler", "inputs": {"variant": variant, "obs_std": OBS_STD, "eta": "ddpm"}},
        "noise": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
        "first": {"class_type": "SamplerCustomAdvanced", "inputs": {
            "noise": ["noise", 0], "guider": ["g_high", 0], "sampler": ["s_high", 0],
            "sigmas": ["sched", 0], "latent_image": ["enc", 0]}},
        "cap_latent": {"class_type": "DInGTestCapture", "inputs": {"value": ["first", 0], "key": "latent"}},
    })
    return p


def _ksampler(model, latent, seed, variant, start=0, end=10000, advanced=True):
    """DInG KSampler (Advanced) over steps start-end, or with ``advanced=False`` the compact DInG
    KSampler (the whole schedule; it has no start/end inputs)."""
    inputs = {"model": [model, 0], "seed": seed, "steps": STEPS, "cfg": 3.0, "scheduler": "simple",
              "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": latent, "denoise": 1.0,
              "variant": variant, "obs_std": OBS_STD, "eta": "ddpm"}
    if not advanced:
        return {"class_type": "DInGKSampler", "inputs": inputs}
    return {"class_type": "DInGKSamplerAdvanced", "inputs": dict(inputs, start_at_step=start, end_at_step=end)}


def ksampler_route(high, low, *, variant="ding1", seed=5, same_model=False, observation=False):
    """Two DInG KSampler (Advanced) nodes: steps 0-SPLIT with the high expert, SPLIT-end with the low
    one. The second gets the original from the first's output (the latent dict carries it), or, with
    ``observation``, from the encoder wired to its observation input."""
    p = _base(high, low, low_model=high if same_model else low)
    p["first"] = _ksampler("unet_high", ["enc", 0], seed, variant, end=SPLIT)
    p["second"] = _ksampler("unet_low", ["first", 0], seed, variant, start=SPLIT)
    if observation:
        p["second"]["inputs"]["observation"] = ["enc", 0]
    p["cap_first"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["first", 0], "key": "first"}}
    p["cap_latent"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["second", 0], "key": "latent"}}
    return p


def ksampler_one_segment(high, *, variant="ding1", seed=5, advanced=False):
    """One run over the whole schedule: the compact DInG KSampler, or the Advanced node at its
    default start 0 / end 10000."""
    p = _base(high, high)
    p["first"] = _ksampler("unet_high", ["enc", 0], seed, variant, advanced=advanced)
    p["cap_latent"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["first", 0], "key": "latent"}}
    return p


def model_space(x):
    return comfy_harness.model_space("Wan21", x)


def kept_and_free(cap):
    return comfy_harness.kept_and_free("Wan21", cap["encoded"], cap["latent"])[:2]


def schedule(comfy_host, experts):
    """The STEPS-step simple schedule of the tiny Wan (shift 8), as BasicScheduler makes it."""
    (model,) = comfy_host.call_node("UNETLoader", unet_name=experts[0].unet_name, weight_dtype="default")
    (sigmas,) = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=STEPS, denoise=1.0)
    return [float(s) for s in sigmas]


ROUTES = {"sampler": sampler_route, "ksampler": ksampler_route}


# --------------------------------------------------------------------------- the two experts

@pytest.mark.parametrize("route", sorted(ROUTES))
@pytest.mark.parametrize("variant", ["ding1", "ding"])
def test_two_expert_calls_each_expert_at_its_sigmas(comfy_host, experts, expert_fingerprints, run_prompt,
                                                    model_calls, route, variant):
    """The high expert is called at the schedule's first SPLIT levels (and, with ding, at the
    proxy levels up to the split), the low expert from the split on; the call count is the
    one-segment run's (ding1: one per step; ding: 2 x steps - 1); every call batches cond and
    uncond of the one clip."""
    sig = schedule(comfy_host, experts)
    with ExpertSpy(expert_fingerprints) as spy:
        cap = run_prompt(ROUTES[route](*experts, variant=variant))["captured"]
    assert {e for e, _ in spy.calls} == {"high", "low"}
    if variant == "ding1":
        assert model_calls.count == STEPS
        assert spy.sigmas_of("high") == pytest.approx(sig[:SPLIT], abs=1e-6)
        assert spy.sigmas_of("low") == pytest.approx(sig[SPLIT:STEPS], abs=1e-6)
    else:
        assert model_calls.count == 2 * STEPS - 1
        assert sorted(set(spy.sigmas_of("high")), reverse=True) == pytest.approx(sig[:SPLIT + 1], abs=1e-6)
        assert sorted(set(spy.sigmas_of("low")), reverse=True) == pytest.approx(sig[SPLIT:STEPS], abs=1e-6)
        assert len(spy.sigmas_of("high")) == 2 * SPLIT
    assert min(spy.sigmas_of("high")) >= sig[SPLIT] - 1e-6 and max(spy.sigmas_of("low")) <= sig[SPLIT] + 1e-6
    assert all(b == 2 for b in model_calls.batch_sizes)
    assert cap["latent"]["samples"].shape == (1, 16, 2, 8, 8)


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_two_expert_keeps_the_region_and_hands_over_a_noisy_state(comfy_host, experts, run_prompt, route):
    """The result keeps the encoded latent on the kept cells (within obs_std, model space) and
    repaints the rest; what the first expert hands over is DInG's noisy state at the split, not
    the observation: its kept cells are far from the encoded latent."""
    cap = run_prompt(ROUTES[route](*experts))["captured"]
    kept, free = kept_and_free(cap)
    assert kept.numel() > 0 and kept.abs().max().item() <= OBS_STD
    assert free.abs().mean().item() > 0.1
    enc = cap["encoded"]
    keep = (1 - enc["noise_mask"]).expand_as(enc["samples"]) > 0.5
    handed = model_space(cap["first"]["samples"]) - model_space(enc["samples"])
    assert handed[keep].abs().mean().item() > 0.1  # noisy: ComfyUI's latent_image for the second run


@pytest.mark.parametrize("route", sorted(ROUTES))
def test_two_expert_same_seed_same_output(comfy_host, experts, run_prompt, route):
    a = run_prompt(ROUTES[route](*experts, seed=11))["captured"]["latent"]["samples"]
    b = run_prompt(ROUTES[route](*experts, seed=11))["captured"]["latent"]["samples"]
    c = run_prompt(ROUTES[route](*experts, seed=12))["captured"]["latent"]["samples"]
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)


@pytest.mark.parametrize("variant", ["ding1", "ding"])
def test_two_expert_with_one_model_equals_the_one_segment_run(comfy_host, experts, run_prompt, variant):
    """One model as both experts: the split run continues the state and draws each step's noise
    keyed by its sigmas, so it is the one-segment run up to the hand-over's float rounding
    (SAME_MODEL_ATOL). DInG KSampler route: the same seed in both samplers. SamplerCustomAdvanced
    route: DisableNoise passes seed 0 to the second segment, so the one-segment run with seed 0
    is the reference."""
    diffs = {}
    for name, split, whole, seed in (("ksampler", ksampler_route, ksampler_one_segment, 7),
                                     ("sampler", sampler_route, sampler_one_segment, 0)):
        a = run_prompt(split(*experts, variant=variant, seed=seed, same_model=True))["captured"]["latent"]["samples"]
        b = run_prompt(whole(experts[0], variant=variant, seed=seed))["captured"]["latent"]["samples"]
        diffs[name] = (a - b).abs().max().item()
        assert a.shape == b.shape
        assert torch.allclose(a, b, rtol=0, atol=SAME_MODEL_ATOL), (name, diffs[name])
    # the same check can fail: another seed in the second DInG KSampler draws other noise
    p = ksampler_route(*experts, variant=variant, seed=7, same_model=True)
    p["second"]["inputs"]["seed"] = 8
    other = run_prompt(p)["captured"]["latent"]["samples"]
    ref = run_prompt(ksampler_one_segment(experts[0], variant=variant, seed=7))["captured"]["latent"]["samples"]
    assert (other - ref).abs().max().item() > 100 * SAME_MODEL_ATOL
    print(f"two-expert split vs one segment ({variant}), max |diff|: {diffs}")


def test_two_expert_ksampler_carried_and_wired_observation_agree(comfy_host, experts, run_prompt):
    """The second DInG KSampler gets the original from the first's output, or from the encoder
    wired to its observation input: the same result."""
    carried = run_prompt(ksampler_route(*experts))["captured"]
    wired = run_prompt(ksampler_route(*experts, observation=True))["captured"]
    assert "ding_observation" in carried["first"]
    assert torch.equal(carried["first"]["ding_observation"], carried["encoded"]["samples"])
    assert "ding_observation" not in carried["latent"]
    assert torch.equal(carried["latent"]["samples"], wired["latent"]["samples"])


# --------------------------------------------------------------------------- refusals

def test_two_expert_continuation_without_observation_is_refused(comfy_host, experts, run_prompt, model_calls):
    """DisableNoise without an observation: a ValueError that says what to connect, before any
    call of the second segment."""
    with pytest.raises(PromptExecutionError, match="observation") as info:
        run_prompt(sampler_route(*experts, observation=False))
    assert info.value.exception_type.endswith("ValueError") and info.value.node_id == "second"
    assert "DInG Inpaint/Outpaint Encode" in info.value.exception_message
    assert model_calls.count == SPLIT  # the first segment ran, the second made no call
    # a DInG KSampler that starts mid-schedule on a latent that carries no original
    p = ksampler_route(*experts)
    p["second"]["inputs"]["latent_image"] = ["enc", 0]
    p.pop("first"), p.pop("cap_first")
    with pytest.raises(PromptExecutionError, match="observation") as info:
        run_prompt(p)
    assert info.value.exception_type.endswith("ValueError")


@pytest.mark.parametrize("change,fragment", [
    (dict(start_at_step=4, end_at_step=4), "start_at_step"),
    (dict(start_at_step=STEPS), "start_at_step"),
    (dict(end_at_step=SPLIT, variant="ding1", particles=2), "particles"),
])
def test_two_expert_bad_segment_inputs_are_named(comfy_host, experts, run_prompt, change, fragment):
    p = ksampler_one_segment(experts[0], advanced=True)
    p["first"]["inputs"].update(change)
    with pytest.raises(PromptExecutionError, match=fragment) as info:
        run_prompt(p)
    assert info.value.exception_type.endswith("ValueError")


def test_two_expert_particles_refused_in_segments_on_the_sampler_route(comfy_host, experts, run_prompt):
    p = sampler_route(*experts)
    p["s_high"]["inputs"]["particles"] = 2
    with pytest.raises(PromptExecutionError, match="particles") as info:
        run_prompt(p)
    assert info.value.exception_type.endswith("ValueError")


def test_two_expert_compact_and_sampler_prompts_validate(comfy_host, experts):
    """A compact DInG KSampler prompt (no step range, as saved before the Advanced node existed)
    and a DInG Sampler prompt without its optional observation validate."""
    for p in (ksampler_one_segment(experts[0]), sampler_one_segment(experts[0])):
        ok, error, _, node_errors = comfy_host.validate(p)
        assert ok and not node_errors, (error, node_errors)


SEGMENT_INPUTS = ("start_at_step", "end_at_step", "observation")


def test_two_expert_inputs_are_on_the_advanced_ksampler_only(comfy_host, ding_nodes):
    """DInG KSampler stays compact: none of the split-run inputs. DInG KSampler (Advanced) has all
    of DInG KSampler's inputs (same order) plus the three, each with a tooltip; DInG Sampler keeps
    its optional observation."""
    def inputs(node):
        types = ding_nodes[node].INPUT_TYPES()
        return {**types.get("required", {}), **types.get("optional", {})}

    compact, advanced = inputs("DInGKSampler"), inputs("DInGKSamplerAdvanced")
    assert not set(SEGMENT_INPUTS) & set(compact)
    assert list(advanced) == list(compact) + list(SEGMENT_INPUTS)
    assert "observation" in ding_nodes["DInGKSamplerAdvanced"].INPUT_TYPES()["optional"]
    for name in SEGMENT_INPUTS:
        assert advanced[name][1].get("tooltip"), name
    assert ding_nodes["DInGSampler"].INPUT_TYPES()["optional"]["observation"][1].get("tooltip")


def test_two_expert_advanced_ksampler_whole_run_is_the_compact_ksampler(comfy_host, experts, run_prompt):
    """DInG KSampler (Advanced) at start 0 / end 10000 is DInG KSampler: one shared implementation."""
    compact = run_prompt(ksampler_one_segment(experts[0], seed=9))["captured"]["latent"]["samples"]
    advanced = run_prompt(ksampler_one_segment(experts[0], seed=9, advanced=True))["captured"]["latent"]["samples"]
    assert torch.equal(compact, advanced)


# --------------------------------------------------------------------------- the shipped workflow

def test_two_expert_shipped_wan22_workflow_executes_with_tiny_models(comfy_host, experts, expert_fingerprints,
                                                                     run_prompt, model_calls):
    """The API twin of the shipped Wan 2.2 A14B workflow, run as shipped except: text encoding
    replaced by Wan-shaped test conditioning (no tiny umt5), the tiny experts and VAE instead of the
    real files, 4 steps split at 2, 5 frames at 64x64 from a 9-frame clip whose mask video marks a
    box in frames 1-3."""
    from ding_sampler.masks import feather_alpha
    p, by_type = comfy_harness.with_test_conditioning(comfy_harness.load_twin(SHIPPED), "wan",
                                                      32)
    assert "DInGKSampler" not in by_type
    high_ks, low_ks = sorted(by_type["DInGKSamplerAdvanced"], key=lambda i: p[i]["inputs"]["start_at_step"])
    for node_id, files in ((high_ks, experts[0]), (low_ks, experts[1])):
        shift = p[node_id]["inputs"]["model"][0]
        loader = p[shift]["inputs"]["model"][0]
        assert p[shift]["class_type"] == "ModelSamplingSD3" and p[loader]["class_type"] == "UNETLoader"
        p[loader]["inputs"]["unet_name"] = files.unet_name
        p[node_id]["inputs"]["steps"] = 4
    p[high_ks]["inputs"]["end_at_step"] = 2
    p[low_ks]["inputs"]["start_at_step"] = 2
    (vae,) = by_type["VAELoader"]
    p[vae]["inputs"]["vae_name"] = experts[0].vae_name
    for node_id in by_type["ImageFromBatch"]:
        p[node_id]["inputs"]["length"] = FRAMES
    for node_id in by_type["ImageScale"]:
        p[node_id]["inputs"].update(width=SIZE, height=SIZE)
    tiny_wan.write_twin_clips(p, comfy_host.input_dir, SIZE)
    (enc,), (comp,), (save,) = by_type["DInGInpaintEncode"], by_type["DInGComposite"], by_type["SaveVideo"]
    for key, src in (("encoded", [enc, 0]), ("repaint", [enc, 1]), ("latent", [low_ks, 0]),
                     ("original", p[comp]["inputs"]["original"]), ("composite", [comp, 0])):
        p["cap_" + key] = {"class_type": "DInGTestCapture", "inputs": {"value": src, "key": key}}
    with ExpertSpy(expert_fingerprints) as spy:
        result = run_prompt(p)
    cap = result["captured"]
    variant = p[high_ks]["inputs"]["variant"]
    assert model_calls.count == (2 * 4 - 1 if variant == "ding" else 4)
    high_sigmas, low_sigmas = spy.sigmas_of("high"), spy.sigmas_of("low")
    assert high_sigmas and low_sigmas and min(high_sigmas) > max(low_sigmas)
    assert spy.calls[0][0] == "high" and spy.calls[-1][0] == "low"
    kept, free = kept_and_free(cap)
    assert kept.numel() > 0 and kept.abs().max().item() <= OBS_STD and free.abs().mean().item() > 0.05
    repaint, original, composite = cap["repaint"], cap["original"], cap["composite"]
    assert repaint.shape == (FRAMES, SIZE, SIZE) and repaint[0].sum() == 0
    outside = (feather_alpha(repaint, p[comp]["inputs"]["feather"]) == 0)[..., None].expand_as(original)
    assert torch.equal(composite[outside], original[outside])
    saved = comfy_host.output_files(result, save)
    assert len(saved) == 1 and saved[0].exists() and saved[0].stat().st_size > 0
