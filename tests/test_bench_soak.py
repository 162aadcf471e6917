"""bench.soak's prompts (the bench itself needs a ComfyUI server; these check the prompt graphs)."""
import random

import pytest

from bench.soak import PATHS, SAMPLER_NODE, api_prompt, make_specs, warm_block

DING_CLASSES = {"DInGInpaintEncode", "DInGKSampler", "DInGComposite"}
CONTROL_CLASSES = {"VAEEncode", "SetLatentNoiseMask", "KSampler", "ImageCompositeMasked"}


def _links(prompt):
    for node_id, node in prompt.items():
        for name, value in node["inputs"].items():
            if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
                yield node_id, name, value[0]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_link_of_every_prompt_names_a_node_of_that_prompt(path):
    specs = make_specs(60, 6, seed=3)
    assert {s.kind for s in specs} == {"sd3", "wan"}
    for spec in specs:
        prompt = api_prompt(spec, "x", path=path)
        for node_id, name, target in _links(prompt):
            assert target in prompt, (spec.label(), node_id, name, target)


def test_control_path_runs_comfyuis_own_inpaint_nodes_on_the_same_inputs():
    for spec in warm_block(random.Random(0), 0):
        ding = api_prompt(spec, "x", path="ding")
        control = api_prompt(spec, "x", path="comfyui")
        ding_classes = {n["class_type"] for n in ding.values()}
        control_classes = {n["class_type"] for n in control.values()}
        assert DING_CLASSES <= ding_classes and not CONTROL_CLASSES - {"KSampler"} & ding_classes
        assert CONTROL_CLASSES <= control_classes and not DING_CLASSES & control_classes
        # same inputs: the source image / mask nodes, model and conditioning are identical
        for key in ("src", "pos", "neg"):
            assert ding[key] == control[key]
        sampler = control[SAMPLER_NODE]["inputs"]
        assert (sampler["seed"], sampler["steps"], sampler["cfg"]) == (spec.seed, spec.steps, spec.cfg)
        assert sampler["sampler_name"] == ("euler" if spec.variant == "ding" else "euler_ancestral")
        # the composite puts the generated image where the mask (1 = repaint) is set
        comp = control["comp"]["inputs"]
        assert comp["source"] == ["dec", 0] and comp["mask"] == control["noise_mask"]["inputs"]["mask"]


def test_unknown_path_is_refused():
    with pytest.raises(ValueError, match="path"):
        api_prompt(make_specs(20, 2, seed=0)[0], "x", path="lanpaint")


def test_mixed_paths_swap_exactly_their_stage():
    spec = warm_block(random.Random(1), 0)[6]  # 512 px, soft mask
    classes = {path: {k: n["class_type"] for k, n in api_prompt(spec, "x", path=path).items()} for path in PATHS}
    assert classes["ding-sampler"][SAMPLER_NODE] == "DInGKSampler"
    assert classes["ding-sampler"]["enc"] == "VAEEncode" and classes["ding-sampler"]["comp"] == "ImageCompositeMasked"
    assert classes["ding-io"][SAMPLER_NODE] == "KSampler"
    assert classes["ding-io"]["enc"] == "DInGInpaintEncode" and classes["ding-io"]["comp"] == "DInGComposite"
    # the pack's composite takes the Encode's repaint mask; behind ComfyUI's encode, the input mask
    io = api_prompt(spec, "x", path="ding-io")
    assert io["comp"]["inputs"]["mask"] == ["enc", 1]
    assert io[SAMPLER_NODE]["inputs"]["latent_image"] == ["enc", 0]
    sampler_only = api_prompt(spec, "x", path="ding-sampler")
    assert sampler_only[SAMPLER_NODE]["inputs"]["latent_image"] == ["noise_mask", 0]
    assert sampler_only[SAMPLER_NODE]["inputs"]["particles"] == spec.particles
