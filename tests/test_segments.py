"""ding_sample in segments (the Wan 2.2 A14B two-expert split, docs/algorithm.md section 8):
a first run over ``sigmas[:k + 1]`` returns the DInG state at ``sigmas[k]``, a second run over
``sigmas[k:]`` continues it with ``x_start`` and the same observation. With noise keyed by the
step (``sigma_keyed_generators``) the split run is the unsplit run."""
import pytest
import torch

from ding_sampler import ding_sample, flow_sigmas, karras_sigmas, sigma_keyed_generators
from ding_sampler.analytic import GaussianMixture, sliced_wasserstein

from test_sampler import iid_gaussian_denoiser


def _problem(shape=(3, 4, 6, 6), seed=0):
    g = torch.Generator().manual_seed(seed)
    noise = torch.randn(shape, generator=g)
    y = torch.randn(shape, generator=g)
    keep = torch.ones(shape[0], 1, *shape[2:])
    keep[..., 1:4, 2:5] = 0
    return noise, y, keep


def _split(denoiser, noise, y, keep, sigmas, k, seed, **kw):
    first = ding_sample(denoiser, noise, sigmas[:k + 1], y, keep,
                        step_generator=sigma_keyed_generators(seed), **kw)
    second = ding_sample(denoiser, torch.zeros_like(noise), sigmas[k:], y, keep, x_start=first,
                         step_generator=sigma_keyed_generators(seed), **kw)
    return first, second


@pytest.mark.parametrize("variant", ["ding", "ding1"])
@pytest.mark.parametrize("k", [1, 3, 6])
def test_flow_split_run_is_bit_identical_to_the_unsplit_run(variant, k):
    """Flow: the state is handed over unscaled and every step draws the noise keyed by its
    levels, so the two segments do exactly the arithmetic of the one run."""
    noise, y, keep = _problem()
    sigmas = flow_sigmas(8, shift=8.0)
    den = iid_gaussian_denoiser(0.3, 0.8)
    kw = dict(variant=variant, eta="ddpm", paste_observation=True)
    whole = ding_sample(den, noise, sigmas, y, keep, step_generator=sigma_keyed_generators(5), **kw)
    first, second = _split(den, noise, y, keep, sigmas, k, 5, **kw)
    assert torch.equal(second, whole)
    # the first segment is a noisy state, not a clean estimate with the observation pasted
    assert not torch.allclose(first * keep, y * keep, atol=0.05)


def test_ve_split_run_matches_the_unsplit_run_up_to_rounding():
    """VE: the hand-over divides by k(sigma) and multiplies back (one float32 rounding each)."""
    noise, y, keep = _problem()
    sigmas = karras_sigmas(8)
    den = iid_gaussian_denoiser(0.3, 0.8, parametrization="ve")
    kw = dict(parametrization="ve", variant="ding", eta="square", paste_observation=True)
    whole = ding_sample(den, noise * sigmas[0], sigmas, y, keep, step_generator=sigma_keyed_generators(2), **kw)
    _, second = _split(den, noise * sigmas[0], y, keep, sigmas, 4, 2, **kw)
    assert torch.allclose(second, whole, rtol=0, atol=1e-5)


def test_segment_returns_the_state_with_leftover_noise():
    """Sigmas ending above 0: no final estimate (calls = transitions only), no paste, and the
    state's spread at that level is that of the forward process a y + s e (i.i.d. prior)."""
    calls = []
    den = iid_gaussian_denoiser(0.0, 1.0)

    def counted(x, s):
        calls.append(float(s[0]))
        return den(x, s)

    noise, y, keep = _problem(shape=(64, 4, 6, 6))
    sigmas = flow_sigmas(8, shift=8.0)
    out = ding_sample(counted, noise, sigmas[:5], y, keep, variant="ding1", eta="ddpm",
                      paste_observation=True, step_generator=sigma_keyed_generators(0))
    assert len(calls) == 4 and calls[-1] == pytest.approx(sigmas[3])
    s = sigmas[4]
    free = out.expand_as(noise)[(keep == 0).expand_as(noise)]
    # free cells are a sample of the prior's marginal at s: variance (1 - s)^2 + s^2
    assert free.var().item() == pytest.approx((1 - s) ** 2 + s ** 2, rel=0.1)
    kept = (out - (1 - s) * y)[(keep == 1).expand_as(noise)]
    # kept cells: a_s y + s_s x1hat, the observation re-noised (spread ~ s, not pasted)
    assert kept.std().item() == pytest.approx(s, rel=0.15)


def test_keyed_generators_depend_on_seed_and_levels_only():
    a, b = sigma_keyed_generators(3), sigma_keyed_generators(3)
    draw = lambda g: torch.randn(8, generator=g)  # noqa: E731
    assert torch.equal(draw(a(0.9, 0.8)), draw(b(0.9, 0.8)))
    assert not torch.equal(draw(a(0.9, 0.8)), draw(a(0.8, 0.7)))
    assert not torch.equal(draw(a(0.9, 0.8)), draw(sigma_keyed_generators(4)(0.9, 0.8)))
    # float64 bits: a level rounded to float32 is another key
    assert not torch.equal(draw(a(0.9, 0.8)), draw(a(float(torch.tensor(0.9)), 0.8)))
    with pytest.raises(ValueError, match="seed"):
        sigma_keyed_generators(1.5)


def test_step_generator_refused_with_particles():
    noise, y, keep = _problem()
    with pytest.raises(ValueError, match="particles"):
        ding_sample(iid_gaussian_denoiser(), noise, flow_sigmas(4), y, keep, variant="ding1", particles=2,
                    step_generator=sigma_keyed_generators(0))
    with pytest.raises(ValueError, match="step_generator"):
        ding_sample(iid_gaussian_denoiser(), noise, flow_sigmas(4), y, keep, step_generator=3)


def test_continuing_with_the_observation_is_the_same_chain_and_without_it_is_not():
    """On an exact Gaussian-mixture prior: the split run with the observation y reaches the
    one-run distribution (sliced W2 at the exact-vs-exact floor); continuing with the first
    segment's output as the 'observation' (what ComfyUI hands a second sampler as its latent)
    leaves the kept coordinates far from y."""
    n, dim = 2000, 8
    prior = GaussianMixture.random(dim, 4, seed=3)
    x_true = prior.sample(1, torch.Generator().manual_seed(7))[0]
    keep = torch.zeros(1, dim)
    keep[:, : dim // 2] = 1
    y = x_true[None].float()
    den = prior.denoiser("flow")
    sigmas = flow_sigmas(20, shift=3.0)
    noise = torch.randn(n, dim, generator=torch.Generator().manual_seed(1))
    kw = dict(variant="ding1", eta="ddpm", paste_observation=True)
    whole = ding_sample(den, noise, sigmas, y, keep, generator=torch.Generator().manual_seed(2), **kw)
    first, second = _split(den, noise, y, keep, sigmas, 10, 9, **kw)
    other = ding_sample(den, torch.randn(n, dim, generator=torch.Generator().manual_seed(11)), sigmas, y, keep,
                        generator=torch.Generator().manual_seed(12), **kw)
    floor = sliced_wasserstein(whole.double(), other.double(), seed=0)
    assert sliced_wasserstein(second.double(), whole.double(), seed=0) < 2 * floor
    wrong = ding_sample(den, torch.zeros_like(noise), sigmas[10:], first, keep, x_start=first,
                        step_generator=sigma_keyed_generators(9), variant="ding1", eta="ddpm")
    kept_err = (wrong - y)[:, : dim // 2].abs().mean().item()
    right_err = (ding_sample(den, torch.zeros_like(noise), sigmas[10:], y, keep, x_start=first,
                             step_generator=sigma_keyed_generators(9), variant="ding1",
                             eta="ddpm") - y)[:, : dim // 2].abs().mean().item()
    # measured (seed as here): right 0.068 (the unpasted clean estimate at the last positive
    # level), wrong 0.71; split vs one run 0.0106 against the floor 0.0098
    assert right_err < 0.1 and kept_err > 5 * right_err
