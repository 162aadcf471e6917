"""bench/gradient_reference.py's SAMPLER inside real ComfyUI: it reads the sampler call through the
DInG sampler's own glue (nodes/sampling.py host_context / step_reporter)."""
import torch

from bench import gradient_reference
from comfy_testbed import tiny_models


def _run(comfy_host, model, latent, zeta, steps=3):
    sigmas = comfy_host.call_node("BasicScheduler", model=model, scheduler="simple", steps=steps, denoise=1.0)[0]
    with torch.inference_mode(False):
        return comfy_host.node_class("SamplerCustom")().sample(
            model=model, add_noise=True, noise_seed=4, cfg=1.0, positive=tiny_models.sd3_conditioning(1),
            negative=tiny_models.sd3_conditioning(2), sampler=gradient_reference.dps_ksampler_object(zeta),
            sigmas=sigmas, latent_image=latent)[0]["samples"]


def test_gradient_reference_runs_through_the_shared_glue(ding_nodes, tiny_sd3, comfy_host, model_calls):
    with torch.inference_mode(False), torch.no_grad():  # weights autograd can save for backward
        model = comfy_host.node_class("CheckpointLoaderSimple")().load_checkpoint(tiny_sd3.ckpt_name)[0]
    y = torch.randn(1, 16, 16, 16, generator=torch.Generator().manual_seed(1))
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    guided = _run(comfy_host, model, {"samples": y, "noise_mask": mask}, zeta=1.0)
    assert model_calls.count == 3 and torch.isfinite(guided).all()
    plain = _run(comfy_host, model, {"samples": y, "noise_mask": mask}, zeta=0.0)
    assert not torch.equal(guided, plain)  # the gradient step acts
    # the glue is the DInG sampler's: a packed latent is refused the same way
    import pytest
    host_context, _ = gradient_reference._pack_glue()
    with pytest.raises(ValueError, match="nested latents"):
        host_context(object(), torch.zeros(1, 1, 64), {})
