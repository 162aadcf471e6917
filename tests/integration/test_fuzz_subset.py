"""A fixed subset of bench/fuzz.py's cases, in-process (comfy_harness.run_prompt): bad inputs of the
pack's nodes are refused by ComfyUI's validation or with a ValueError naming the input, and the
runs that succeed keep the kept region (the check nodes of comfy_testbed.fuzz read the outputs
back). The regression tests of what the fuzz found are the cases with a message fragment."""
import pytest

from comfy_testbed import fuzz

CASES = fuzz.subset_cases(fuzz.Models(ckpt="tiny_sd3.safetensors"))


@pytest.fixture(scope="module")
def fuzz_host(comfy_host, tiny_sd3, ding_nodes):
    assert tiny_sd3.ckpt_name == "tiny_sd3.safetensors"
    for k, v in fuzz.make_fuzz_nodes().items():
        comfy_host.nodes.NODE_CLASS_MAPPINGS.setdefault(k, v)
    return comfy_host


@pytest.mark.parametrize("case,expected,fragment", CASES, ids=[c.label for c, _, _ in CASES])
def test_fuzz_case(fuzz_host, case, expected, fragment):
    outcome, detail = fuzz.run_in_harness(fuzz_host, case)
    assert outcome not in fuzz.GOAL_ZERO, f"{case.label}: {outcome}: {detail}"
    assert outcome == expected, f"{case.label}: expected {expected}, got {outcome}: {detail}"
    if fragment is not None:
        assert fragment in detail, f"{case.label}: {detail}"


def test_subset_covers_every_node_and_class(ding_nodes):
    nodes = {case.prompt[node_id]["class_type"] for (case, _, _), spec in zip(CASES, fuzz.SUBSET)
             for node_id in [spec[1]]}
    assert set(fuzz.OUR_INPUTS) - {"DInGKSamplerAdvanced"} <= nodes | {"DInGKSamplerAdvanced"}
    assert {"ok", "rejected", "failed_named"} <= {expected for _, expected, _ in CASES}


def test_check_nodes_catch_a_broken_kept_region(fuzz_host):
    """The checks can fail: a composite that changes a far pixel, a latent whose kept cell moved."""
    import torch
    original = torch.rand(1, 32, 32, 3)
    mask = torch.zeros(1, 32, 32)
    mask[:, 10:14, 10:14] = 1
    result = original.clone()
    assert fuzz.check_composite(original, mask, result, 4)[0]
    result[0, 30, 30, 0] += 0.5
    ok, why = fuzz.check_composite(original, mask, result, 4)
    assert not ok and "differ from the original" in why
    before = {"samples": torch.randn(1, 16, 4, 4), "noise_mask": torch.zeros(1, 1, 4, 4)}
    before["noise_mask"][..., :2, :2] = 1
    after = {"samples": before["samples"].clone()}
    after["samples"][..., :2, :2] += 1  # repainted cells may change
    assert fuzz.check_latent(before, after)[0]
    after["samples"][..., 3, 3] += 1
    assert not fuzz.check_latent(before, after)[0]
    after["samples"][..., 3, 3] = float("nan")
    assert "NaN" in fuzz.check_latent(before, after)[1]
