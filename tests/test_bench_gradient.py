"""The gradient-based (DPS-style) inpainting reference in bench/ works: CPU, no ComfyUI.

The prior is a correlated Gaussian, whose denoiser E[x0 | x_t] under the flow
forward process x_t = (1 - sigma) x0 + sigma e is a closed-form, differentiable
torch function. A guided run must fit the observed coordinates much better
than unguided Euler from the same noise.
"""
import math

import torch

from ding_sampler.baselines import euler_sample
from bench.gradient_reference import dps_guidance, dps_sample, dps_step
from ding_sampler.schedule import flow_sigmas

D = 8
N = 64


def _gaussian_problem(seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(D, D, generator=g, dtype=torch.float64)
    cov = a @ a.T / D + 0.1 * torch.eye(D, dtype=torch.float64)
    chol = torch.linalg.cholesky(cov)
    x_true = (chol @ torch.randn(D, generator=g, dtype=torch.float64)).float()
    keep = torch.zeros(D)
    keep[: D // 2] = 1.0
    y = x_true * keep
    noise = torch.randn(N, D, generator=g)
    return cov.float(), y, keep, noise


def _gaussian_denoiser(cov):
    eye = torch.eye(cov.shape[0])

    def denoise(x, sigma):  # x [B, D], sigma [B] (one level per call)
        s = sigma.reshape(-1)[0]
        a = 1.0 - s
        gain = a * cov @ torch.linalg.inv(a * a * cov + s * s * eye)  # E[x0|x] = gain x
        return x @ gain.T

    return denoise


def _masked_rmse(x, y, keep):
    return float(((x - y) * keep).square().sum(dim=1).div(keep.sum()).mean().sqrt())


def test_guidance_reduces_masked_data_fit():
    cov, y, keep, noise = _gaussian_problem()
    den = _gaussian_denoiser(cov)
    sigmas = flow_sigmas(20)
    # DPS's normalised step has length ~2 zeta whatever the residual, so zeta must be
    # small next to ||r|| (here 4 observed coordinates); 0.3 fits, 1.0 would overshoot
    guided = dps_sample(den, noise.clone(), sigmas, y, keep, zeta=0.3)
    plain = dps_sample(den, noise.clone(), sigmas, y, keep, zeta=0.0)
    reference = euler_sample(den, noise.clone(), sigmas)
    # zeta = 0 is k-diffusion Euler exactly (same arithmetic as ding_sampler.baselines.euler_sample)
    assert torch.allclose(plain, reference, atol=1e-5)
    err_guided, err_plain = _masked_rmse(guided, y, keep), _masked_rmse(plain, y, keep)
    assert math.isfinite(err_guided)
    assert err_guided < 0.25 * err_plain, (err_guided, err_plain)
    # the regenerated coordinates stay finite and move with the observation (correlated prior)
    assert torch.isfinite(guided).all()


def test_gradient_reaches_input_only_under_inference_mode():
    """ComfyUI's situation: everything runs under inference_mode and x / y / mask are
    inference tensors; a small network with frozen (non-inference) weights."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D + 1, 32), torch.nn.SiLU(), torch.nn.Linear(32, D))
    net.requires_grad_(False)

    def den(x, sigma):
        return net(torch.cat([x, sigma[:, None].to(x.dtype)], dim=1))

    cov, y, keep, noise = _gaussian_problem(1)
    with torch.inference_mode():
        x = noise[:4].clone()
        y_i, keep_i = y.clone(), keep.clone()
        sigma = torch.full((4,), 0.7)
        x0, grad, sq = dps_guidance(den, x, sigma, y_i, keep_i)
        x_next, _ = dps_step(den, x, sigma, torch.full((4,), 0.5), y_i, keep_i, zeta=0.5)
    assert grad.shape == x.shape and grad.abs().sum() > 0
    assert torch.isfinite(x_next).all()
    assert all(p.grad is None for p in net.parameters())
    # finite-difference check of the gradient on one coordinate
    eps = 1e-3
    with torch.no_grad():
        def loss(xx):
            return ((y - den(xx, sigma)) * keep).square().sum(dim=1)
        xp, xm = noise[:4].clone(), noise[:4].clone()
        xp[:, 0] += eps
        xm[:, 0] -= eps
        fd = (loss(xp) - loss(xm)) / (2 * eps)
    assert torch.allclose(grad[:, 0], fd, rtol=1e-2, atol=1e-3), (grad[:, 0], fd)
