"""ding_sampler against closed-form references (CPU, fixed seeds).

Tolerances are stated next to each check. Distances are sliced 2-Wasserstein
(``analytic.sliced_wasserstein``) between 2000 samples.
"""
import math

import pytest
import torch

from ding_sampler import ding_sample, flow_sigmas, plan_transitions, posterior_step
from ding_sampler.analytic import GaussianMixture, sliced_wasserstein
from ding_sampler.baselines import replacement_sample

N = 2000
# ding at 20 steps on the 8-d Gaussian sits at ~0.05 from exact samples and the
# exact-vs-exact floor at ~0.011; 0.08 separates a working sampler from a broken one.
SW_TOL = 0.08


def iid_gaussian_denoiser(mean=0.0, var=1.0, parametrization="flow", out_dtype=None):
    """Exact D(x, sigma) for an i.i.d. N(mean, var) prior on every coordinate, any rank."""

    def denoise(x, sigma):
        sig = sigma.to(torch.float64).reshape(-1, *([1] * (x.ndim - 1)))
        a, s = (1 - sig, sig) if parametrization == "flow" else (torch.ones_like(sig), sig)
        out = mean + a * var / (a * a * var + s * s) * (x.to(torch.float64) - a * mean)
        return out.to(out_dtype or x.dtype)

    return denoise


def counting(fn):
    calls = []

    def wrapped(x, sigma):
        calls.append(float(sigma.reshape(-1)[0]))
        return fn(x, sigma)

    return wrapped, calls


def posterior_problem(dim, components, obs_std, seed=1):
    prior = GaussianMixture.random(dim, components, seed=seed)
    x_true = prior.sample(1, torch.Generator().manual_seed(seed + 4))[0]
    keep = torch.zeros(dim, dtype=torch.float64)
    keep[: dim // 2] = 1
    y = x_true + obs_std * torch.randn(dim, generator=torch.Generator().manual_seed(seed + 5), dtype=torch.float64)
    exact = prior.posterior_given_observation(y, keep, obs_std).sample(N, torch.Generator().manual_seed(seed + 6))
    return prior, y[None].float(), keep[None].float(), exact


def run(prior, y, keep, *, steps=20, seed=0, parametrization="flow", sigmas=None, **kw):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(N, prior.dim, generator=g)
    sig = flow_sigmas(steps) if sigmas is None else sigmas
    return ding_sample(prior.denoiser(parametrization), noise, sig, y, keep,
                       parametrization=parametrization, generator=g, **kw)


# -- one transition ---------------------------------------------------------

@pytest.mark.parametrize("variant", ["ding", "ding1"])
def test_one_transition_matches_closed_form(variant):
    """Prior N(m0, C) per coordinate; coordinate 0 kept (y = 1.2), coordinate 1 free.

    For a Gaussian prior D is affine, D(z) = m0 + g (z - a m0), so x_s is Gaussian:
    kept: mean mu + k a_s (y - m0 - g (mu - a_s m0)) [ding], var k^2 eta^2 (1 - a_s g)^2 + eta^2 (1 - k);
    free: mean mu, var eta^2. Checked on 400k draws: means within 5 standard errors,
    variances within 2 %.
    """
    m0, C, obs_std, y_val = 0.3, 0.8, 0.05, 1.2
    (step,), _ = plan_transitions([0.7, 0.5], "flow", "square", obs_std)
    n = 400_000
    x_t = torch.full((n, 2), 0.4, dtype=torch.float64)
    den = iid_gaussian_denoiser(m0, C)
    x0 = den(x_t, torch.full((n,), step.sigma_t))
    y = torch.tensor([[y_val, 0.0]], dtype=torch.float64)
    w = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    g = torch.Generator().manual_seed(0)
    proxy = (lambda z: den(z, torch.full((n,), step.sigma_s))) if variant == "ding" else None
    out = posterior_step(x_t, x0, y, w, step, proxy,
                         lambda: torch.randn(n, 2, generator=g, dtype=torch.float64))

    a_t, s_t, a_s, s_s, eta = step.a_t, step.s_t, step.a_s, step.s_s, step.eta
    x0_val = float(x0[0, 0])
    mu = step.c_t * 0.4 + step.c_0 * x0_val
    k = eta**2 / (eta**2 + (a_s * obs_std) ** 2)
    if variant == "ding":
        gs = a_s * C / (a_s**2 * C + s_s**2)
        mean_kept = mu + k * a_s * (y_val - m0 - gs * (mu - a_s * m0))
        var_kept = k**2 * eta**2 * (1 - a_s * gs) ** 2 + eta**2 * (1 - k)
    else:
        y_tilde = a_s * y_val + s_s * (0.4 - a_t * x0_val) / s_t
        mean_kept = mu + k * (y_tilde - mu)
        var_kept = eta**2 * (1 - k)
    for col, mean, var in ((0, mean_kept, var_kept), (1, mu, eta**2)):
        emp_mean, emp_var = out[:, col].mean().item(), out[:, col].var().item()
        assert abs(emp_mean - mean) < 5 * math.sqrt(var / n), (col, emp_mean, mean)
        assert abs(emp_var / var - 1) < 0.02, (col, emp_var, var)


# -- the 2-D Gaussian of docs/algorithm.md, section 11 ----------------------

def _two_d(eta):
    prior = GaussianMixture.gaussian([0.0, 0.0], [[1.0, 0.9], [0.9, 1.0]])
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(4000, 2, generator=g, dtype=torch.float64)
    y = torch.tensor([[1.5, 0.0]], dtype=torch.float64)
    keep = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    return ding_sample(prior.denoiser(), noise, flow_sigmas(27), y, keep, eta=eta,
                       obs_std=0.01, generator=g)


def test_square_schedule_is_consistent_on_2d_gaussian():
    out = _two_d("square")
    assert abs(out[:, 0].mean().item() - 1.5) < 0.05
    assert out[:, 0].std().item() < 0.05
    # pulled toward the prior from the exact conditional mean 1.35 (docs/algorithm.md, section 11: 1.13)
    assert 0.8 < out[:, 1].mean().item() < 1.5


def test_ddim_schedule_breaks_consistency():
    out = _two_d("ddim")
    assert abs(out[:, 0].mean().item() - 1.5) > 0.2


# -- distance to the exact posterior ----------------------------------------

@pytest.mark.parametrize("components", [1, 25])
def test_ding_beats_replacement_at_20_steps(components):
    prior, y, keep, exact = posterior_problem(8, components, 0.01)
    ding = run(prior, y, keep)
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(N, prior.dim, generator=g)
    repl = replacement_sample(prior.denoiser(), noise, flow_sigmas(20), y, keep)
    d_ding, d_repl = sliced_wasserstein(ding, exact), sliced_wasserstein(repl, exact)
    assert d_ding < d_repl, (d_ding, d_repl)
    if components == 1:
        assert d_ding < SW_TOL


def test_ding1_close_to_exact_posterior_on_gaussian():
    prior, y, keep, exact = posterior_problem(8, 1, 0.01)
    assert sliced_wasserstein(run(prior, y, keep, variant="ding1"), exact) < SW_TOL


def test_all_kept_returns_observation():
    """keep_mask = 1 everywhere: the result equals y up to obs_std-scale error
    (RMSE below 4 obs_std, 99th percentile of |error| below 10 obs_std)."""
    obs_std = 0.01
    prior, y, _, _ = posterior_problem(8, 1, obs_std)
    out = run(prior, y, torch.ones(1, 8), obs_std=obs_std)
    err = out - y
    assert err.pow(2).mean().sqrt().item() < 4 * obs_std
    assert torch.quantile(err.abs().flatten(), 0.99).item() < 10 * obs_std


@pytest.mark.parametrize("components", [1, 25])
def test_nothing_kept_samples_the_prior(components):
    prior = GaussianMixture.random(8, components, seed=1)
    exact = prior.sample(N, torch.Generator().manual_seed(9))
    floor = sliced_wasserstein(exact, prior.sample(N, torch.Generator().manual_seed(10)))
    out = run(prior, torch.full((1, 8), 7.0), torch.zeros(1, 8))
    assert sliced_wasserstein(out, exact) < SW_TOL + floor


def test_soft_mask_is_a_likelihood_weight():
    """A soft weight w is exactly a likelihood with noise std obs_std / sqrt(w):
    keep = w with obs_std equals keep = 1 with obs_std / sqrt(w) (float error only)."""
    prior, y, _, _ = posterior_problem(8, 1, 0.05)
    for w in (0.25, 0.5):
        soft = run(prior, y, torch.full((1, 8), w), obs_std=0.05)
        hard = run(prior, y, torch.ones(1, 8), obs_std=0.05 / math.sqrt(w))
        assert torch.allclose(soft, hard, atol=1e-4), (soft - hard).abs().max()


def test_soft_mask_interpolates():
    """Prior N(0, 1), y = 1, obs_std 0.1: the kept coordinate's mean moves
    monotonically from the prior mean (w = 0) toward y as the weight grows
    (effective noise std 0.1 / sqrt(w): 1.8, 1.0, 0.58), and w = 1 lands within 0.1 of y."""
    y_val = 1.0
    prior = GaussianMixture.gaussian([0.0], [[1.0]])
    means = []
    for w in (0.0, 0.003, 0.01, 0.03, 1.0):
        out = run(prior, torch.tensor([[y_val]]), torch.tensor([[w]]), obs_std=0.1)
        means.append(out.mean().item())
    assert abs(means[0]) < 0.1 and abs(means[-1] - y_val) < 0.1, means
    assert all(b > a + 0.1 for a, b in zip(means[:4], means[1:4])), means


def test_ve_parametrization_matches_flow_quality():
    """Same mixture prior in the variance-exploding form (x = x0 + sigma e) on the
    grid with the same signal-to-noise ratios as the flow grid (sigma_ve = s/(1-s)):
    distance to the exact posterior within 25 % (+0.02) of flow's."""
    prior, y, keep, exact = posterior_problem(8, 25, 0.01, seed=3)
    flow_grid = flow_sigmas(20)
    ve_grid = [200.0] + [s / (1 - s) for s in flow_grid[1:]]
    d_flow = sliced_wasserstein(run(prior, y, keep), exact)
    d_ve = sliced_wasserstein(run(prior, y, keep, parametrization="ve", sigmas=ve_grid), exact)
    assert d_ve < 1.25 * d_flow + 0.02, (d_ve, d_flow)
    prior_g, y_g, keep_g, exact_g = posterior_problem(8, 1, 0.01)
    assert sliced_wasserstein(
        run(prior_g, y_g, keep_g, parametrization="ve", sigmas=ve_grid), exact_g) < SW_TOL


# -- mechanics ---------------------------------------------------------------

@pytest.mark.parametrize("variant,per_step", [("ding", 2), ("ding1", 1)])
def test_call_counts(variant, per_step):
    den, calls = counting(iid_gaussian_denoiser())
    noise = torch.randn(3, 4)
    sig = flow_sigmas(10)  # 11 points ending at 0: 9 transitions + final estimate
    ding_sample(den, noise, sig, torch.zeros(3, 4), torch.ones(1, 4), variant=variant,
                generator=torch.Generator().manual_seed(0))
    assert len(calls) == per_step * 9 + 1
    assert calls[-1] == pytest.approx(sig[-2], rel=1e-6)
    assert min(calls) > 0  # never evaluated at sigma = 0
    # sigmas ending above 0: every pair is a transition, no final estimate
    den, calls = counting(iid_gaussian_denoiser())
    ding_sample(den, noise, sig[:6], torch.zeros(3, 4), torch.ones(1, 4), variant=variant)
    assert len(calls) == per_step * 5


def test_callback_once_per_step():
    seen = []
    sig = flow_sigmas(6)
    ding_sample(iid_gaussian_denoiser(), torch.randn(2, 3), sig, torch.zeros(2, 3), torch.ones(1, 3),
                callback=lambda i, x, x0, s: seen.append((i, tuple(x.shape), tuple(x0.shape), float(s[0]))))
    assert [s[0] for s in seen] == list(range(len(sig) - 1))
    assert all(s[1] == s[2] == (2, 3) for s in seen)
    assert [s[3] for s in seen] == pytest.approx(sig[:-1], rel=1e-6)


def test_bf16_denoiser_stays_finite():
    den = iid_gaussian_denoiser(0.5, 2.0, out_dtype=torch.bfloat16)
    for noise_dtype in (torch.float32, torch.bfloat16):
        noise = torch.randn(4, 16, 8, 8).to(noise_dtype)
        keep = (torch.rand(1, 1, 8, 8) > 0.5).float()
        out = ding_sample(den, noise, flow_sigmas(28), torch.full((4, 16, 8, 8), 0.5), keep,
                          generator=torch.Generator().manual_seed(0))
        assert out.dtype == torch.float32
        assert torch.isfinite(out).all()
        assert (out - 0.5).mul(keep).abs().max() < 0.1


@pytest.mark.parametrize("parametrization", ["flow", "ve"])
def test_five_d_latent(parametrization):
    shape = (2, 4, 3, 6, 5)  # batch, channels, frames, height, width
    keep = torch.zeros(1, 1, 3, 6, 5)
    keep[..., :3, :] = 1
    y = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    sig = flow_sigmas(20) if parametrization == "flow" else [200.0] + [s / (1 - s) for s in flow_sigmas(20)[1:]]
    out = ding_sample(iid_gaussian_denoiser(parametrization=parametrization), torch.randn(shape), sig, y, keep,
                      parametrization=parametrization, generator=torch.Generator().manual_seed(0))
    assert out.shape == shape
    kept_err = ((out - y) * keep).pow(2).sum() / keep.expand(shape).sum()
    assert kept_err.sqrt() < (0.05 if parametrization == "flow" else 0.1)
    assert ((out - y) * (1 - keep)).abs().max() > 0.5  # the free region was regenerated


def test_same_seed_is_bit_identical():
    prior, y, keep, _ = posterior_problem(8, 3, 0.01)
    a, b, c = run(prior, y, keep, seed=5), run(prior, y, keep, seed=5), run(prior, y, keep, seed=6)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_partial_denoise_starts_from_observation():
    """sigmas[0] < 1: the start is (1 - s0) y + s0 noise, so with few steps the
    regenerated region stays near y (img2img), unlike a full-denoise run."""
    y = torch.full((500, 4), 2.0)
    keep = torch.tensor([[1.0, 1.0, 0.0, 0.0]])
    den = iid_gaussian_denoiser(0.0, 1.0)
    sig = flow_sigmas(20)
    half = [s for s in sig if s <= 0.3]
    out_half = ding_sample(den, torch.randn(500, 4), half, y, keep, generator=torch.Generator().manual_seed(0))
    out_full = ding_sample(den, torch.randn(500, 4), sig, y, keep, generator=torch.Generator().manual_seed(0))
    assert out_half[:, 2:].mean() > 1.0
    assert out_full[:, 2:].mean().abs() < 0.2


# -- bad input ---------------------------------------------------------------

def _args(**over):
    base = dict(denoiser=iid_gaussian_denoiser(), noise=torch.randn(2, 3), sigmas=flow_sigmas(4),
                observation=torch.zeros(2, 3), keep_mask=torch.ones(1, 3))
    base.update(over)
    return base


@pytest.mark.parametrize("over,fragment", [
    (dict(observation=torch.zeros(2, 4)), "observation"),
    (dict(keep_mask=torch.ones(5, 3)), "keep_mask"),
    (dict(keep_mask=torch.full((1, 3), 1.5)), "keep_mask"),
    (dict(sigmas=[1.0, 0.5, 0.5, 0.0]), "decreasing"),
    (dict(sigmas=[0.0, 0.5, 1.0]), "decreasing"),
    (dict(sigmas=[1.0]), "at least 2"),
    (dict(sigmas=torch.ones(2, 2)), "1-D"),
    (dict(sigmas=[2.0, 1.0, 0.0]), "exceeds 1"),
    (dict(noise=torch.randn(3)), "noise"),
    (dict(noise=torch.zeros(2, 3, dtype=torch.long)), "noise"),
    (dict(denoiser=lambda x, s: x[:1]), "denoiser returned"),
    (dict(denoiser="not callable"), "denoiser"),
])
def test_bad_input_raises_value_error(over, fragment):
    with pytest.raises(ValueError, match=fragment):
        ding_sample(**_args(**over))


@pytest.mark.parametrize("kw,fragment", [
    (dict(obs_std=-0.1), "obs_std"),
    (dict(obs_std=float("nan")), "obs_std"),
    (dict(variant="ding2"), "variant"),
    (dict(parametrization="eps"), "parametrization"),
    (dict(eta="linear"), "eta"),
    (dict(eta=-1.0), "eta"),
    (dict(eta=50.0), "eta"),
    (dict(callback=3), "callback"),
])
def test_bad_option_raises_value_error(kw, fragment):
    with pytest.raises(ValueError, match=fragment):
        ding_sample(**_args(), **kw)


def test_zero_obs_std_pins_kept_region():
    out = ding_sample(**_args(observation=torch.full((2, 3), 0.7), sigmas=flow_sigmas(20)), obs_std=0.0,
                      generator=torch.Generator().manual_seed(0))
    assert torch.isfinite(out).all()
    assert (out - 0.7).abs().max() < 0.05


def test_paste_observation_restores_kept_region():
    prior, y, keep, _ = posterior_problem(8, 1, 0.01)
    plain = run(prior, y, keep)
    pasted = run(prior, y, keep, paste_observation=True)
    kept = keep.expand_as(plain) > 0
    assert torch.equal(pasted[kept], y.expand_as(plain)[kept])
    assert torch.equal(pasted[~kept], plain[~kept])
    assert not torch.equal(plain[kept], pasted[kept])


def test_zero_obs_std_soft_mask_pins_every_weighted_coordinate():
    """obs_std = 0 makes any positive weight a hard constraint (gain = [w > 0])."""
    y = torch.full((2, 3), 0.7)
    soft = ding_sample(**_args(observation=y, keep_mask=torch.tensor([[0.3, 1.0, 0.0]]), sigmas=flow_sigmas(20)),
                       obs_std=0.0, generator=torch.Generator().manual_seed(0))
    hard = ding_sample(**_args(observation=y, keep_mask=torch.tensor([[1.0, 1.0, 0.0]]), sigmas=flow_sigmas(20)),
                       obs_std=0.0, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(soft, hard, atol=1e-3)  # soft and binary code paths round differently
