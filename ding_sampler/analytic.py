"""Closed-form references: a Gaussian-mixture prior, its exact denoiser, and
exact samples of the inpainting posterior p(x0 | y).

Shared by the tests, ``bench/fidelity.py`` and the demo. Vectors are rows of a
``[N, d]`` tensor; the arithmetic runs in float64.
"""
from __future__ import annotations

import math
from typing import Optional

import torch


class GaussianMixture:
    """p(x0) = sum_k pi_k N(mean_k, cov_k) in d dimensions."""

    def __init__(self, weights, means, covs):
        self.weights = torch.as_tensor(weights, dtype=torch.float64)
        self.means = torch.as_tensor(means, dtype=torch.float64)
        self.covs = torch.as_tensor(covs, dtype=torch.float64)
        if self.means.ndim != 2:
            raise ValueError(f"means must be [K, d], got shape {tuple(self.means.shape)}")
        k, d = self.means.shape
        if self.weights.shape != (k,) or self.covs.shape != (k, d, d):
            raise ValueError("weights must be [K] and covs [K, d, d], matching means [K, d]")
        if (self.weights < 0).any() or abs(float(self.weights.sum()) - 1.0) > 1e-6:
            raise ValueError("weights must be non-negative and sum to 1")
        self.covs = 0.5 * (self.covs + self.covs.transpose(1, 2))
        evals, evecs = torch.linalg.eigh(self.covs)
        if (evals <= 0).any():
            raise ValueError("every covariance must be positive definite")
        self.evals, self.evecs = evals, evecs  # cov_k = U diag(l) U^T
        self.chol = torch.linalg.cholesky(self.covs)

    @classmethod
    def gaussian(cls, mean, cov) -> "GaussianMixture":
        mean = torch.as_tensor(mean, dtype=torch.float64)
        cov = torch.as_tensor(cov, dtype=torch.float64)
        return cls(torch.ones(1), mean[None], cov[None])

    @classmethod
    def random(cls, dim: int, components: int, seed: int = 0, spread: float = 3.0,
               scale: float = 0.5) -> "GaussianMixture":
        """A reproducible mixture with well-separated means and random full covariances."""
        g = torch.Generator().manual_seed(seed)
        weights = torch.rand(components, generator=g, dtype=torch.float64) + 0.5
        weights = weights / weights.sum()
        means = spread * torch.randn(components, dim, generator=g, dtype=torch.float64) / math.sqrt(dim)
        a = torch.randn(components, dim, dim, generator=g, dtype=torch.float64) / math.sqrt(dim)
        covs = scale**2 * (a @ a.transpose(1, 2) + 0.1 * torch.eye(dim, dtype=torch.float64))
        return cls(weights, means, covs)

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        return self.means.shape[0]

    def sample(self, n: int, generator: Optional[torch.Generator] = None) -> torch.Tensor:
        comp = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        e = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return self.means[comp] + torch.einsum("nij,nj->ni", self.chol[comp], e)

    # -- exact denoiser -------------------------------------------------------
    def posterior_mean(self, x: torch.Tensor, a, s) -> torch.Tensor:
        """E[x0 | a x0 + s e = x] for per-row (or scalar) a, s."""
        xd = x.to(torch.float64)
        n = xd.shape[0]
        a = torch.as_tensor(a, dtype=torch.float64).reshape(-1, 1, 1).expand(n, 1, 1)
        s = torch.as_tensor(s, dtype=torch.float64).reshape(-1, 1, 1).expand(n, 1, 1)
        # project onto each component's eigenbasis: v = U^T (x - a mean)
        diff = xd[:, None, :] - a * self.means[None]  # [N, K, d]
        v = torch.einsum("kji,nkj->nki", self.evecs, diff)
        var = a * a * self.evals[None] + s * s  # [N, K, d]
        log_w = (
            torch.log(self.weights)[None]
            - 0.5 * torch.log(var).sum(-1)
            - 0.5 * (v * v / var).sum(-1)
        )
        resp = torch.softmax(log_w, dim=1)  # [N, K]
        shrink = a * self.evals[None] / var * v
        cond_means = self.means[None] + torch.einsum("kij,nkj->nki", self.evecs, shrink)
        return (resp[..., None] * cond_means).sum(1)

    def denoiser(self, parametrization: str = "flow", out_dtype: Optional[torch.dtype] = None):
        """An exact D(x, sigma) for ``ding_sample`` on ``[N, d]`` latents."""
        if parametrization not in ("flow", "ve"):
            raise ValueError(f"parametrization must be 'flow' or 've', got {parametrization!r}")

        def denoise(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
            sig = sigma.to(torch.float64)
            if parametrization == "flow":
                a, s = 1.0 - sig, sig
            else:
                a, s = torch.ones_like(sig), sig
            out = self.posterior_mean(x, a, s)
            return out.to(out_dtype or x.dtype)

        return denoise

    # -- exact inpainting posterior -------------------------------------------
    def posterior_given_observation(self, y: torch.Tensor, keep_weight: torch.Tensor,
                                    obs_std: float) -> "GaussianMixture":
        """p(x0 | y) for y_i ~ N(x0_i, obs_std^2 / w_i) on coordinates with w_i > 0.

        ``y`` and ``keep_weight`` are [d] vectors; returns the posterior mixture.
        """
        y = torch.as_tensor(y, dtype=torch.float64).reshape(-1)
        w = torch.as_tensor(keep_weight, dtype=torch.float64).reshape(-1).expand(self.dim)
        obs = torch.nonzero(w > 0).flatten()
        if obs.numel() == 0:
            return self
        noise_var = torch.zeros(obs.numel(), dtype=torch.float64)
        if obs_std > 0:
            noise_var = obs_std**2 / w[obs]
        s_oo = self.covs[:, obs][:, :, obs] + torch.diag(noise_var)[None]
        s_xo = self.covs[:, :, obs]  # [K, d, o]
        resid = y[obs][None] - self.means[:, obs]  # [K, o]
        chol = torch.linalg.cholesky(s_oo)
        sol = torch.cholesky_solve(resid[..., None], chol)[..., 0]  # [K, o]
        log_w = (
            torch.log(self.weights)
            - torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(-1)
            - 0.5 * (resid * sol).sum(-1)
        )
        weights = torch.softmax(log_w, dim=0)
        means = self.means + torch.einsum("kdo,ko->kd", s_xo, sol)
        gain = torch.cholesky_solve(s_xo.transpose(1, 2), chol)  # [K, o, d]
        covs = self.covs - s_xo @ gain
        # observed coordinates with obs_std = 0 have zero variance; keep them PD
        covs = 0.5 * (covs + covs.transpose(1, 2)) + 1e-12 * torch.eye(self.dim, dtype=torch.float64)
        return GaussianMixture(weights, means, covs)


def _sorted_projections(a: torch.Tensor, b: torch.Tensor, n_projections: int, seed: int):
    """Both sample sets [N, d] projected on the same random unit directions, each column sorted."""
    a = a.to(torch.float64).reshape(a.shape[0], -1)
    b = b.to(torch.float64).reshape(b.shape[0], -1)
    if a.shape != b.shape:
        raise ValueError(f"sample sets must have equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    g = torch.Generator().manual_seed(seed)
    dirs = torch.randn(a.shape[1], n_projections, generator=g, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    return torch.sort(a @ dirs, dim=0)[0], torch.sort(b @ dirs, dim=0)[0]


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, n_projections: int = 256,
                       seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance between two equal-size sample sets [N, d]."""
    pa, pb = _sorted_projections(a, b, n_projections, seed)
    return float(((pa - pb) ** 2).mean().sqrt())


def sliced_wasserstein_1(a: torch.Tensor, b: torch.Tensor, n_projections: int = 256,
                         seed: int = 0) -> float:
    """Sliced 1-Wasserstein distance (mean |sorted projection difference|) between
    two equal-size sample sets [N, d]."""
    pa, pb = _sorted_projections(a, b, n_projections, seed)
    return float((pa - pb).abs().mean())


def component_histogram(mixture: GaussianMixture, samples: torch.Tensor,
                        coords: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Fraction of samples assigned to each component (most likely component of
    the mixture's marginal on ``coords``, all coordinates when None)."""
    x = samples.to(torch.float64).reshape(samples.shape[0], -1)
    means, covs = mixture.means, mixture.covs
    if coords is not None:
        x = x[:, coords]
        means, covs = means[:, coords], covs[:, coords][:, :, coords]
    chol = torch.linalg.cholesky(covs)  # [K, c, c]
    diff = (x[:, None, :] - means[None]).permute(1, 2, 0)  # [K, c, N]
    sol = torch.linalg.solve_triangular(chol, diff, upper=False)  # [K, c, N]
    log_p = (torch.log(mixture.weights)[:, None]
             - torch.log(torch.diagonal(chol, dim1=1, dim2=2)).sum(-1)[:, None]
             - 0.5 * (sol * sol).sum(1))  # [K, N]
    counts = torch.bincount(log_p.argmax(0), minlength=mixture.n_components)
    return counts.to(torch.float64) / x.shape[0]


def component_tv(posterior: GaussianMixture, samples: torch.Tensor,
                 coords: Optional[torch.Tensor] = None) -> float:
    """Total variation between the samples' component histogram (on ``coords``)
    and the posterior's mixture weights."""
    hist = component_histogram(posterior, samples, coords)
    return 0.5 * float((hist - posterior.weights).abs().sum())


class InpaintingProblem:
    """A reproducible inpainting posterior on a random mixture prior.

    ``GaussianMixture.random(dim, components, seed)``; x_true ~ prior (seed + 4);
    y = x_true + obs_std e (seed + 5); the last ``round(regenerate * dim)``
    coordinates are regenerated (keep = 0), the others kept, unless ``keep``
    (a [dim] 0/1 vector, 1 = kept) is given.
    """

    def __init__(self, seed: int, dim: int = 64, components: int = 25, obs_std: float = 0.01,
                 regenerate: float = 0.5, keep: Optional[torch.Tensor] = None):
        if keep is None and not 0.0 < regenerate < 1.0:
            raise ValueError(f"regenerate must be a fraction in (0, 1), got {regenerate!r}")
        self.seed, self.dim, self.obs_std = seed, dim, obs_std
        self.prior = GaussianMixture.random(dim, components, seed=seed)
        x_true = self.prior.sample(1, torch.Generator().manual_seed(seed + 4))[0]
        self.y = x_true + obs_std * torch.randn(dim, generator=torch.Generator().manual_seed(seed + 5),
                                                dtype=torch.float64)
        if keep is None:
            n_free = int(round(regenerate * dim))
            self.keep = torch.ones(dim, dtype=torch.float64)
            self.keep[dim - n_free:] = 0.0
        else:
            self.keep = torch.as_tensor(keep, dtype=torch.float64).reshape(-1).clone()
            if self.keep.shape != (dim,) or not ((self.keep == 0) | (self.keep == 1)).all():
                raise ValueError(f"keep must be a 0/1 vector of length {dim}")
        self.hidden = torch.nonzero(self.keep == 0).flatten()
        self.posterior = self.prior.posterior_given_observation(self.y, self.keep, obs_std)

    def exact(self, n: int, seed: int = 0) -> torch.Tensor:
        return self.posterior.sample(n, torch.Generator().manual_seed(10_000 + seed))

    def score(self, samples: torch.Tensor, reference: torch.Tensor) -> tuple:
        """(SW1 to ``reference``, component TV on the regenerated block)."""
        return (sliced_wasserstein_1(samples, reference),
                component_tv(self.posterior, samples, self.hidden))
