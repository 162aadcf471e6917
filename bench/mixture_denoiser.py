"""The exact flow denoiser of a ``GaussianMixture`` in float32, batched (bench.peers serves it through
ComfyUI; bench.learned, bench.defaults and bench.fidelity score against it). Its own module so that
bench.peers can import bench.learned (``--network``) and bench.learned this without a cycle."""
from __future__ import annotations

import torch


class Float32Mixture:
    """The mixture's exact denoiser E[x0 | (1 - sigma) x0 + sigma e = x] in float32,
    batched over components with bmm (the same formula as
    ``GaussianMixture.posterior_mean``, a few times faster)."""

    def __init__(self, prior):
        self.means = prior.means.float()
        self.evecs = prior.evecs.float()
        self.evals = prior.evals.float()
        self.log_weights = torch.log(prior.weights).float()

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        s = sigma.float().reshape(1, -1, 1)
        a = 1.0 - s
        diff = x.float().reshape(1, n, -1) - a * self.means[:, None, :]  # [K, N, d]
        v = torch.bmm(diff, self.evecs)  # coordinates in each component's eigenbasis
        var = a * a * self.evals[:, None, :] + s * s
        log_w = self.log_weights[:, None] - 0.5 * torch.log(var).sum(-1) - 0.5 * (v * v / var).sum(-1)
        resp = torch.softmax(log_w, dim=0)  # [K, N]
        shrink = (a * self.evals[:, None, :] / var) * v * resp[..., None]
        x0 = torch.bmm(shrink, self.evecs.transpose(1, 2)).sum(0) + resp.T @ self.means
        return x0.reshape(x.shape).to(x.dtype)
