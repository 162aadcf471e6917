"""The nodes' measured defaults and the experimental particles input, inside real ComfyUI."""
import pytest
import torch

from comfy_testbed import tiny_models

OBS_STD = 0.01


def _sample(comfy_host, model, latent, **kw):
    args = dict(model=model, seed=3, steps=4, cfg=1.0, scheduler="simple",
                positive=tiny_models.sd3_conditioning(1), negative=tiny_models.sd3_conditioning(2),
                latent_image=latent, denoise=1.0, variant="ding1", obs_std=OBS_STD, eta="ddpm")
    args.update(kw)
    return comfy_host.call_node("DInGKSampler", **args)[0]["samples"]


def test_defaults_are_ding1_ddpm_particles_off(ding_nodes):
    for node_id in ("DInGKSampler", "DInGSampler"):
        inputs = {i.id: i for i in ding_nodes[node_id].GET_SCHEMA().inputs}
        assert inputs["variant"].default == "ding1" and inputs["eta"].default == "ddpm"
        assert inputs["particles"].default == 1 and inputs["particles"].optional  # old API prompts validate


def test_particles_run_k_latents_per_call_and_return_one(ding_nodes, tiny_sd3, comfy_host, model_calls):
    (model, _, vae) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    pixels = tiny_models.make_test_image(128, 128, seed=4)
    mask = tiny_models.make_test_mask(128, 128, kind="rect")
    latent, _ = comfy_host.call_node("DInGInpaintEncode", pixels=pixels, mask=mask, vae=vae, grow_mask_by=0)
    out = _sample(comfy_host, model, latent, particles=3)
    assert model_calls.count == 4 and model_calls.batch_sizes == [3] * 4  # steps calls, K latents each (cfg 1)
    assert out.shape == latent["samples"].shape and torch.isfinite(out).all()
    keep = (1 - latent["noise_mask"]).expand_as(out) > 0.5
    assert ((out - latent["samples"])[keep] * tiny_models.SD3_VAE_SCALE).abs().max() <= OBS_STD
    again = _sample(comfy_host, model, latent, particles=3)
    assert torch.equal(out, again)  # same seed, same result
    single = _sample(comfy_host, model, latent, particles=1)
    assert not torch.equal(out, single)


def test_particles_need_ding1(ding_nodes, tiny_sd3, comfy_host, model_calls):
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    latent = {"samples": torch.zeros(1, 16, 16, 16), "noise_mask": torch.ones(1, 1, 16, 16)}
    with pytest.raises(ValueError, match="particles > 1 needs variant='ding1'"):
        _sample(comfy_host, model, latent, variant="ding", particles=2)
    with pytest.raises(ValueError, match="particles"):
        comfy_host.call_node("DInGSampler", variant="ding", obs_std=OBS_STD, eta="ddpm", particles=2)
    assert model_calls.count == 0


def test_particles_rows_carry_their_own_items_conditioning(ding_nodes, tiny_sd3, comfy_host):
    """A batch of 2 with a different prompt per item and particles K = 2: in every network call
    each row's text conditioning (tiled by ComfyUI to the K x batch rows) belongs to the same item
    as the row's latent. The items' latents are told apart in the kept cells (far apart values)."""
    (model, _, _) = comfy_host.call_node("CheckpointLoaderSimple", ckpt_name=tiny_sd3.ckpt_name)
    samples = torch.stack([torch.full((16, 16, 16), -2.0), torch.full((16, 16, 16), 2.0)])
    noise_mask = torch.zeros(2, 1, 16, 16)
    noise_mask[:, :, 4:12, 4:12] = 1.0
    latent = {"samples": samples, "noise_mask": noise_mask}
    cond = tiny_models.sd3_conditioning(1, batch=2)
    item_context = cond[0][0]                      # [2, T, 4096]: item 0's and item 1's prompt
    seen = []
    hook = model.model.diffusion_model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append((args[0].detach().float().clone(), args[1].detach().float().clone(),
                                               kwargs["context"].detach().float().clone())), with_kwargs=True)
    try:
        _sample(comfy_host, model, latent, particles=2, positive=cond, negative=cond, steps=4)
    finally:
        hook.remove()
    assert len(seen) == 4
    observation = model.model.latent_format.process_in(samples)
    keep = noise_mask[0, 0] < 0.5
    checked = 0
    for x, t, context in seen:
        assert x.shape[0] == 4 and context.shape[0] == 4  # 2 items x 2 particles
        if float(t.max()) > 800:  # sigma > 0.8: the state is mostly noise, no item to read off
            continue
        checked += 1
        for row in range(4):
            kept = x[row][:, keep].mean()
            latent_item = int(torch.argmin(torch.stack([(kept - observation[b].mean()).abs() for b in (0, 1)])))
            context_item = [b for b in (0, 1) if torch.allclose(context[row], item_context[b])]
            assert context_item == [latent_item], (row, context_item, latent_item)
    assert checked >= 2
