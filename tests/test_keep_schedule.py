"""ding_sample(keep_schedule=...): a keep weight that changes between steps (docs/algorithm.md,
section 14; the ComfyUI nodes use it for Differential Diffusion's denoise_mask_function)."""
import pytest
import torch

from ding_sampler import ding_sample, flow_sigmas, karras_sigmas, sigma_keyed_generators

from test_sampler import iid_gaussian_denoiser


def _problem(shape=(2, 4, 6, 6), seed=0, soft=False):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(shape, generator=g)
    y = torch.randn(shape, generator=g)
    keep = torch.ones(shape[0], 1, *shape[2:])
    keep[..., 1:4, 2:5] = 0
    if soft:
        keep[..., 0, :] = 0.5
    return noise, y, keep


def _run(den, noise, y, keep, sigmas, seed=3, **kw):
    return ding_sample(den, noise, sigmas, y, keep, generator=torch.Generator().manual_seed(seed), **kw)


@pytest.mark.parametrize("variant,final_sigma", [("ding", None), ("ding1", None), ("ding1", 0.05)])
def test_hook_is_called_once_per_model_call_before_it(variant, final_sigma):
    """One call per model call on the chain (the ding proxy calls do not count), with the index and
    the level of that call, before the call; the final estimate's call is the last one."""
    noise, y, keep = _problem()
    sigmas = flow_sigmas(7, shift=3.0)
    den = iid_gaussian_denoiser(0.3, 0.8)
    events = []

    def counted(x, s):
        events.append(("model", float(s[0])))
        return den(x, s)

    def hook(i, sigma):
        events.append(("hook", i, sigma))
        return keep

    _run(counted, noise, y, keep, sigmas, variant=variant, final_sigma=final_sigma, keep_schedule=hook,
         paste_observation=True)
    levels = [float(v) for v in sigmas[:-1]]
    if final_sigma is not None:
        levels[-1] = final_sigma
    hooks = [e for e in events if e[0] == "hook"]
    assert [e[1] for e in hooks] == list(range(len(levels)))
    assert [e[2] for e in hooks] == levels  # the float levels of the grid, exactly
    assert all(isinstance(e[2], float) for e in hooks)
    # each hook call comes right before the model call at its level
    for k, e in enumerate(events):
        if e[0] == "hook":
            assert events[k + 1] == ("model", pytest.approx(e[2], abs=1e-6))
    model_calls = sum(e[0] == "model" for e in events)
    assert model_calls == (2 * len(levels) - 1 if variant == "ding" else len(levels))


def test_segment_calls_hook_for_transitions_only():
    noise, y, keep = _problem()
    sigmas = flow_sigmas(8)[:5]  # ends above 0: four transitions, no final estimate
    seen = []
    _run(iid_gaussian_denoiser(), noise, y, keep, sigmas, variant="ding1",
         keep_schedule=lambda i, s: seen.append(i) or keep)
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize("case", [
    dict(parametrization="flow", variant="ding", eta="square", sig="flow"),
    dict(parametrization="flow", variant="ding1", eta="ddpm", sig="flow", soft=True, paste_observation=True),
    dict(parametrization="flow", variant="ding", eta="default", obs_std=0.0, sig="flow", soft=True),
    dict(parametrization="ve", variant="ding1", eta="square", sig="karras", paste_observation=True),
    dict(parametrization="flow", variant="ding1", eta="ddpm", sig="partial"),
])
@pytest.mark.parametrize("fresh", [False, True])
def test_constant_hook_is_bit_identical_to_the_static_mask(case, fresh):
    """A schedule that returns the run's keep mask at every step (the same tensor, or a fresh copy
    each time, which is checked again) gives the static run bit for bit."""
    kw = dict(case)
    sig, soft = kw.pop("sig"), kw.pop("soft", False)
    noise, y, keep = _problem(soft=soft)
    sigmas = {"flow": flow_sigmas(8), "karras": karras_sigmas(8), "partial": flow_sigmas(8)[3:]}[sig]
    den = iid_gaussian_denoiser(0.3, 0.8, parametrization=kw["parametrization"])
    static = _run(den, noise, y, keep, sigmas, **kw)
    hook = (lambda i, s: keep.clone()) if fresh else (lambda i, s: keep)
    hooked = _run(den, noise, y, keep, sigmas, keep_schedule=hook, **kw)
    assert torch.equal(static, hooked)


@pytest.mark.parametrize("variant", ["ding", "ding1"])
def test_switching_weight_equals_two_segments(variant):
    """A hook that switches from a binary weight to a soft one at step k does exactly what two
    segments do (the first with the binary mask, the second with the soft one, continuing the first
    one's state): each transition is the posterior with that step's weight, the fast binary path
    and the soft path both, and the paste uses the last weight."""
    noise, y, binary = _problem()
    _, _, soft = _problem(soft=True)
    soft = soft * 0.7  # kept cells 0.7, the grey row 0.35, the hole 0
    sigmas = flow_sigmas(8, shift=3.0)
    den = iid_gaussian_denoiser(0.3, 0.8)
    k = 4
    kw = dict(variant=variant, eta="ddpm")
    whole = ding_sample(den, noise, sigmas, y, binary, step_generator=sigma_keyed_generators(9),
                        paste_observation=True, keep_schedule=lambda i, s: binary if i < k else soft, **kw)
    first = ding_sample(den, noise, sigmas[:k + 1], y, binary, step_generator=sigma_keyed_generators(9), **kw)
    second = ding_sample(den, torch.zeros_like(noise), sigmas[k:], y, soft, x_start=first,
                         step_generator=sigma_keyed_generators(9), paste_observation=True, **kw)
    assert torch.equal(whole, second)
    # and it is not the static binary run
    static = ding_sample(den, noise, sigmas, y, binary, step_generator=sigma_keyed_generators(9),
                         paste_observation=True, **kw)
    assert not torch.allclose(whole, static, atol=1e-3)


def test_cells_freed_later_track_the_observation_longer():
    """Per-cell SDEdit: a cell kept until step k and free after it ends closer to y the later it is
    freed. Prior N(0, 1) i.i.d., y = 2.5 everywhere; four groups of cells freed after 0, 3, 6 and 9
    of 12 model calls on a linear grid (freed at sigma 1, 0.75, 0.5, 0.25; group 0 is free from the
    start: an unconditional sample)."""
    shape = (64, 4, 8, 8)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(shape, generator=g)
    y = torch.full(shape, 2.5)
    free_after = torch.tensor([0, 3, 6, 9]).repeat_interleave(2).view(1, 1, 1, 8).expand(1, 1, 8, 8)
    sigmas = flow_sigmas(12, shift=1.0)

    def hook(i, sigma):
        return (free_after > i).to(torch.float32)

    out = ding_sample(iid_gaussian_denoiser(0.0, 1.0), noise, sigmas, y, torch.zeros(1, 1, 8, 8),
                      variant="ding1", eta="ddpm", generator=g, keep_schedule=hook, paste_observation=True)
    err = [(out - y)[..., free_after[0, 0, 0] == f].abs().mean().item() for f in (0, 3, 6, 9)]
    assert all(a > b + 0.05 for a, b in zip(err, err[1:])), err
    assert err[0] == pytest.approx(2.5, abs=0.15)  # free from the start: the prior, mean 0
    assert err[-1] < 0.6 * err[0]


def test_paste_uses_the_last_calls_weight():
    """paste_observation restores y where the weight of the last call is 1, not where keep_mask is."""
    noise, y, keep = _problem()
    last = torch.zeros_like(keep)
    last[..., :, :2] = 1  # two kept columns at the end
    sigmas = flow_sigmas(6)
    n_calls = len(sigmas) - 1
    out = _run(iid_gaussian_denoiser(0.3, 0.8), noise, y, keep, sigmas, variant="ding1", paste_observation=True,
               keep_schedule=lambda i, s: keep if i < n_calls - 1 else last)
    pasted = last.expand_as(out) == 1
    assert torch.equal(out[pasted], y[pasted])
    kept_not_pasted = ((keep == 1) & (last == 0)).expand_as(out)
    assert kept_not_pasted.any() and not torch.equal(out[kept_not_pasted], y[kept_not_pasted])


@pytest.mark.parametrize("bad,fragment", [
    (lambda i, s: torch.ones(3, 1, 6, 6), "keep_schedule returned"),
    (lambda i, s: None, "keep_schedule returned"),
    (lambda i, s: torch.full((1, 1, 6, 6), float("nan")), "keep_schedule's weights"),
    (lambda i, s: torch.full((1, 1, 6, 6), 1.5), r"keep_schedule's weights \(step 0\) values must lie in \[0, 1\]"),
])
def test_bad_hook_output_raises_value_error(bad, fragment):
    noise, y, keep = _problem()
    with pytest.raises(ValueError, match=fragment):
        _run(iid_gaussian_denoiser(), noise, y, keep, flow_sigmas(4), keep_schedule=bad)


def test_hook_refused_with_particles_and_when_not_callable():
    noise, y, keep = _problem()
    with pytest.raises(ValueError, match="keep_schedule.*particles > 1"):
        _run(iid_gaussian_denoiser(), noise, y, keep, flow_sigmas(4), variant="ding1", particles=3,
             keep_schedule=lambda i, s: keep)
    with pytest.raises(ValueError, match="keep_schedule must be callable"):
        _run(iid_gaussian_denoiser(), noise, y, keep, flow_sigmas(4), keep_schedule=keep)
