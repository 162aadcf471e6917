"""ComfyUI integration-test fixtures for ding-inpaint (test-only; see comfy_harness.py).

ComfyUI is found via $COMFYUI_PATH, or because the pack sits in ComfyUI/custom_nodes/.
Without it (or without its Python deps) every test under tests/integration is SKIPPED with
the reason (`pytest -rs` shows it); nothing here imports torch or ComfyUI at collection time.

Test modules here may import torch / tiny_models / comfy_harness at module level, but must not
import ComfyUI modules (comfy.*, nodes, execution, ...) at module level: ComfyUI only becomes
importable once the session fixture `comfy_host` has bootstrapped it.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(os.path.abspath(__file__)).parent

from comfy_testbed import comfy_harness  # noqa: E402  (stdlib-only at import time)

UNAVAILABLE_REASON = comfy_harness.unavailable_reason()


def _is_ours(item) -> bool:
    try:
        return Path(str(item.path)).resolve().is_relative_to(HERE.resolve())
    except (AttributeError, ValueError):
        return str(item.fspath).startswith(str(HERE))


def pytest_collection_modifyitems(config, items):
    """Every test here is in the slow tier (it runs ComfyUI); skipped with the reason without it."""
    skip = None if UNAVAILABLE_REASON is None else pytest.mark.skip(reason=UNAVAILABLE_REASON)
    for item in items:
        if _is_ours(item):
            item.add_marker(pytest.mark.slow)
            if skip is not None:
                item.add_marker(skip)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    h = comfy_harness._HARNESS
    if h is None:
        return
    tr = terminalreporter
    tr.section("ding-inpaint ComfyUI harness")
    tr.write_line(f"ComfyUI: {h.comfyui_path}  import {h.import_seconds:.2f}s, "
                  f"init_extra_nodes {h.init_seconds:.2f}s")
    if h.pack is not None:
        tr.write_line(h.pack.summary().splitlines()[0])
    if h.extras_failed:
        tr.write_line(f"comfy_extras not loaded: {', '.join(h.extras_failed)}")
    for k, v in h.timings.items():
        tr.write_line(f"{k}: {v:.2f}")


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="session")
def comfy_host(tmp_path_factory) -> comfy_harness.ComfyHarness:
    """Bootstrapped in-process ComfyUI (CPU) with this pack loaded from a tmp custom_nodes symlink
    and the DInGTest* nodes registered. Skips the requesting test if ComfyUI is unavailable."""
    if UNAVAILABLE_REASON is not None:
        pytest.skip(UNAVAILABLE_REASON)
    try:
        return comfy_harness.bootstrap(base_dir=tmp_path_factory.mktemp("comfy"))
    except comfy_harness.ComfyUIUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def ding_pack(comfy_host) -> comfy_harness.PackInfo:
    """How ComfyUI loaded this pack: .loaded, .node_ids, .error, .has_init, .module_name, ..."""
    return comfy_host.pack


@pytest.fixture(scope="session")
def ding_nodes(comfy_host) -> dict:
    """{node id: class} for the pack's expected nodes; FAILS (not skips) if the pack did not load
    or one of comfy_harness.EXPECTED_PACK_NODE_IDS is missing."""
    pack = comfy_host.pack
    if not pack.loaded:
        pytest.fail(f"ComfyUI did not load the ding-inpaint pack: {pack.error}", pytrace=False)
    missing = pack.missing()
    if missing:
        pytest.fail(f"pack loaded but nodes missing: {missing}; registered: {pack.node_ids}", pytrace=False)
    return {k: comfy_host.nodes.NODE_CLASS_MAPPINGS[k] for k in pack.node_ids}


@pytest.fixture(scope="session")
def tiny_sd3(comfy_host):
    """tiny_models.TinySD3Files for the default tiny SD3 (depth 2, pos_embed_max_size 64, seed 0),
    written once under comfy_host.models_dir: checkpoints/, diffusion_models/, vae/ all named
    'tiny_sd3.safetensors', plus vae_approx/taesd3_{encoder,decoder}.safetensors."""
    from comfy_testbed import tiny_models
    return tiny_models.write_tiny_sd3(comfy_host.models_dir, name="tiny_sd3")


@pytest.fixture(scope="session")
def run_prompt(comfy_host):
    """run_prompt(prompt, *, use_cache=False, outputs=None, client_id=None, strict=True) -> dict."""
    return comfy_host.run_prompt


@pytest.fixture
def captured(comfy_host) -> dict:
    """comfy_harness.CAPTURED, cleared: DInGTestCapture stores {key: value} here (run_prompt also
    returns a copy as result['captured'])."""
    comfy_host.captured.clear()
    return comfy_host.captured


@pytest.fixture
def model_calls(comfy_host):
    """A ModelCallCounter active for the whole test: .count, .batch_sizes, .sigmas, .calls,
    .ms_per_call(skip_first), .reset()."""
    with comfy_host.count_model_calls() as counter:
        yield counter


def _tiny_family(comfy_host, family):
    from comfy_testbed import families
    files = families.write(family, comfy_host.models_dir)
    comfy_host.timings[f"tiny {family}: build s"] = files.build_seconds
    return files


@pytest.fixture(scope="session")
def tiny_flux(comfy_host):
    """tiny_families.TinyFamilyFiles: FLUX.1-dev-detected model (1 double + 1 single block, bf16,
    diffusion_models/tiny_flux.safetensors) and its 16-channel TAESD (vae/tiny_flux_vae.safetensors)."""
    return _tiny_family(comfy_host, "flux")


@pytest.fixture(scope="session")
def tiny_sd15(comfy_host):
    """tiny_families.TinyFamilyFiles: SD1.5-detected one-level UNet + 4-channel TAESD in
    checkpoints/tiny_sd15.safetensors."""
    return _tiny_family(comfy_host, "sd15")


@pytest.fixture(scope="session")
def tiny_sd15_inpaint(comfy_host):
    """tiny_families.TinyFamilyFiles: the one-level SD1.5 UNet with 9 input channels (an inpainting
    UNet: latent + mask + masked image) + 4-channel TAESD in checkpoints/tiny_sd15_inpaint.safetensors."""
    return _tiny_family(comfy_host, "sd15_inpaint")


@pytest.fixture(scope="session")
def tiny_sdxl(comfy_host):
    """tiny_families.TinyFamilyFiles: the smallest UNet ComfyUI detects as SDXL (one level, six res
    blocks with SDXL's transformer depths 0,0,2,2,10,10, adm 2816; ~121 M parameters, fp16) + a
    4-channel TAESD with SDXL's scale in checkpoints/tiny_sdxl.safetensors (~243 MB)."""
    return _tiny_family(comfy_host, "sdxl")


@pytest.fixture(scope="session")
def tiny_lumina2(comfy_host):
    """tiny_families.TinyFamilyFiles: Lumina 2 (1 layer, bf16, diffusion_models/tiny_lumina2.safetensors)
    with the Flux TAESD as VAE."""
    return _tiny_family(comfy_host, "lumina2")


@pytest.fixture(scope="session")
def tiny_z_image(comfy_host):
    """tiny_families.TinyFamilyFiles: Z-Image (ComfyUI 0.8.0's ZImage: width 3840, 1 layer + 2 + 2
    refiners, bf16, diffusion_models/tiny_z_image.safetensors) with the Flux TAESD as VAE."""
    return _tiny_family(comfy_host, "z_image")


@pytest.fixture(scope="session")
def tiny_qwen_image(comfy_host):
    """tiny_families.TinyFamilyFiles: Qwen-Image (1 block, bf16, diffusion_models/tiny_qwen_image.safetensors)
    with tiny_wan's Wan 2.1 VAE (vae/tiny_wan21_vae.safetensors)."""
    return _tiny_family(comfy_host, "qwen_image")


@pytest.fixture(scope="session")
def tiny_flux2(comfy_host):
    """tiny_families.TinyFamilyFiles: Flux.2 in Klein's layout (context 7680, no guidance embedding,
    1 double + 1 single block at the width this ComfyUI's detection requires, fp8,
    diffusion_models/tiny_flux2.safetensors) and a random Flux.2 VAE (128 channels at 1/16,
    vae/tiny_flux2_vae.safetensors). Skips with the reason where this ComfyUI has no Flux.2."""
    from comfy_testbed import families
    reason = families.missing_reason(families.family("flux2"))
    if reason:
        pytest.skip(reason)
    return _tiny_family(comfy_host, "flux2")


@pytest.fixture(scope="session")
def tiny_chroma(comfy_host):
    """tiny_families.TinyFamilyFiles: Chroma (1 double + 1 single block + its modulation
    approximator, bf16, diffusion_models/tiny_chroma.safetensors) with the Flux TAESD as VAE."""
    return _tiny_family(comfy_host, "chroma")
