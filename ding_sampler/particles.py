"""Experimental: K DInG-1 particles per batch item, reweighted by a twisted
importance weight and resampled within each item.

Backprop-free DInG steps get the weights of well-separated modes of the hidden
block wrong (each step only sees the observation through a Gaussian
pseudo-observation). Sequential importance resampling with a cheap twisting
function corrects part of that at the price of K model evaluations per output.

All formulas run in the variance-preserving state x = a x0 + s e the sampler
uses (flow: the caller's state; ve: the caller's state divided by
sqrt(1 + sigma^2)). For one transition t -> s with x0_hat = D(x_t, sigma_t),
bridge std eta, DInG-1 pseudo-observation y_tilde and likelihood weight w:

* proposal (DInG-1): per coordinate gain g = w rho / (1 + w rho), rho = eta^2 / tau^2,
  tau = a_s obs_std (g = [w > 0] when obs_std = 0);
  x_s = mu + g (y_tilde - mu) + eta sqrt(1 - g) xi, mu = c_t x_t + c_0 x0_hat.
  The noise xi on coordinates with w > 0 is shared by the K particles of one
  item; elsewhere it is independent.
* prior transition: N(x_s; mu, eta^2).
* log weight increment
  sum_{w > 0} [log N(x_s; mu, eta^2) - log N(x_s; M, eta^2 (1 - g))] + log h_s(x_s) - log h_t(x_t).
  With xi shared, log N(x_s; M, eta^2 (1 - g)) = -log(...) - xi^2 / 2 is the
  same for every particle of an item, so it drops out of the normalised
  weights; what is left is -sum_{w > 0} (x_s - mu)^2 / (2 eta^2).
* twisting function (the likelihood y_i ~ N(x0_i, obs_std^2 / w_i) integrated
  against a Gaussian x0 | x_t with mean x0_hat(x_t) and the unit-prior variance
  v_t = s_t^2 / (a_t^2 + s_t^2), which depends only on the signal-to-noise ratio
  and so is the same for flow and ve):
  log h_t(x) = -sum_i w_i (y_i - x0_hat_i)^2 / (2 (obs_std^2 + w_i v_t)) + const(t),
  the constant being shared by an item's particles. It needs no extra model
  call: D(x_s, sigma_s) is the next step's call.

Systematic resampling within an item when its effective sample size falls
below K / 2 (only while sigma_t >= ``sigma_min``); at the end one particle per
item is drawn in proportion to its weight.

Row layout: the ``K * B`` model rows are particle-major, row r is particle
r // B of item r % B (the layout of ``x.repeat(K, 1, ...)``). That is how
ComfyUI repeats a conditioning of batch B to a larger batch (it tiles:
``comfy.utils.repeat_to_batch_size``), so per-item conditioning (a batched
prompt, per-item control inputs) reaches the right particles.
"""
from __future__ import annotations

import math
from typing import Callable, List, Optional

import torch

from .schedule import Transition


def _sum_rest(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(t.shape[0], -1).sum(1)


class ParticleState:
    """Log weights and resampling of ``batch * k`` particles laid out particle-major
    (row r is particle r // batch of item r % batch; item b owns rows b, b + batch, ...).

    ``logw`` is [batch, k]; per-row values ([batch * k]) go in through ``add``."""

    def __init__(self, batch: int, k: int, device, generator: Optional[torch.Generator]):
        self.batch, self.k = batch, k
        self.device = device
        self.generator = generator
        self.logw = torch.zeros(batch, k, dtype=torch.float64, device=device)
        self.resamples = 0

    def per_item(self, rows: torch.Tensor) -> torch.Tensor:
        """[batch * k] per-row values as [batch, k] (item, particle)."""
        return rows.view(self.k, self.batch).t()

    def add(self, rows: torch.Tensor) -> None:
        """Add per-row log-weight increments ([batch * k], particle-major)."""
        self.logw += self.per_item(rows)

    def rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Flat particle-major row indices for [batch, ...] within-item particle indices."""
        items = torch.arange(self.batch, device=self.device).view((self.batch,) + (1,) * (idx.ndim - 1))
        return idx * self.batch + items

    def ess(self) -> torch.Tensor:
        w = torch.softmax(self.logw, dim=1)
        return 1.0 / (w * w).sum(1)

    def _uniform(self, n: int) -> torch.Tensor:
        dev = self.generator.device if self.generator is not None else self.device
        u = torch.rand(n, generator=self.generator, device=dev, dtype=torch.float64)
        return u.to(self.device)

    def systematic_indices(self) -> torch.Tensor:
        """[batch, k] ancestor indices (within the item) by systematic resampling."""
        w = torch.softmax(self.logw, dim=1)
        cdf = torch.cumsum(w, dim=1)
        cdf[:, -1] = 1.0
        u = (self._uniform(self.batch)[:, None] + torch.arange(self.k, device=self.device,
                                                                 dtype=torch.float64)[None]) / self.k
        return torch.searchsorted(cdf, u).clamp_(max=self.k - 1)

    def maybe_resample(self, tensors: List[torch.Tensor]) -> List[torch.Tensor]:
        """Resample the items whose ESS is below k / 2; returns the gathered tensors."""
        low = self.ess() < 0.5 * self.k
        if not bool(low.any()):
            return tensors
        idx = self.systematic_indices()
        keep_idx = torch.arange(self.k, device=self.device)[None].expand(self.batch, -1)
        idx = torch.where(low[:, None], idx, keep_idx)
        flat = self.rows(idx).t().reshape(-1)  # row j * batch + b takes its item's particle idx[b, j]
        self.logw = torch.where(low[:, None], torch.zeros_like(self.logw), self.logw)
        self.resamples += int(low.sum())
        return [t.index_select(0, flat) for t in tensors]

    def pick(self) -> torch.Tensor:
        """Flat row index of one particle per item (item order), drawn in proportion to its weight."""
        w = torch.softmax(self.logw, dim=1)
        cdf = torch.cumsum(w, dim=1)
        cdf[:, -1] = 1.0
        u = self._uniform(self.batch)[:, None]
        idx = torch.searchsorted(cdf, u).clamp_(max=self.k - 1)[:, 0]
        return self.rows(idx)


def log_twist(x0: torch.Tensor, y: torch.Tensor, w: torch.Tensor, step_a: float, step_s: float,
              obs_std: float) -> torch.Tensor:
    """log h_t per row (float64), up to a constant shared by all rows at this level."""
    v = (step_s * step_s) / (step_a * step_a + step_s * step_s)
    wd = w.to(torch.float64)
    diff = (y.to(torch.float64) - x0.to(torch.float64))
    denom = obs_std * obs_std + wd * v
    term = torch.where(wd > 0, wd * diff * diff / torch.where(wd > 0, denom, 1.0), 0.0)
    return -0.5 * _sum_rest(term.expand_as(diff))


def particle_step(x: torch.Tensor, x0: torch.Tensor, y: torch.Tensor, w: torch.Tensor,
                  step: Transition, xi: torch.Tensor) -> tuple:
    """DInG-1 transition for all particles; returns (x_s, log proposal ratio per row).

    ``xi`` is the standard normal noise, already shared across the particles of
    an item on the weighted coordinates.
    """
    mu = torch.mul(x, step.c_t).add_(x0, alpha=step.c_0)
    ratio = step.s_s / step.s_t
    y_tilde = torch.mul(x, ratio).add_(x0, alpha=-ratio * step.a_t).add_(y, alpha=step.a_s)
    if step.tau == 0.0:
        gain = (w > 0).to(x.dtype)
    else:
        rho = (step.eta * step.eta) / (step.tau * step.tau)
        gain = torch.mul(w, rho)
        gain = gain / (1.0 + gain)
    gain = gain.expand_as(x)
    x_s = mu + gain * (y_tilde - mu) + step.eta * torch.sqrt((1.0 - gain).clamp_min(0.0)) * xi
    if step.eta > 0:
        diff = (x_s - mu).to(torch.float64)
        term = torch.where((w > 0).expand_as(diff), diff * diff, 0.0)
        log_ratio = -0.5 * _sum_rest(term) / (step.eta * step.eta)
    else:
        log_ratio = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
    return x_s, log_ratio


def run_particles(call: Callable, plan: List[Transition], final_estimate: bool, x: torch.Tensor,
                  y: torch.Tensor, w: torch.Tensor, obs_std: float, k: int,
                  draw_noise: Callable[[tuple], torch.Tensor], generator, callback,
                  sigma_min: float, last_scale: float, last_index: int,
                  last_a: float, last_s: float):
    """The particle loop. ``x``, ``y`` are [batch*k, ...] (particle-major: row r is particle
    r // batch of item r % batch; ``w`` is one keep mask for all rows or one per row); ``call(x_vp,
    index, scale)`` returns (x_caller, x0_hat). Returns [batch*k, ...] results and
    the flat indices of the chosen particle per item, plus the ParticleState."""
    n = x.shape[0]
    batch = n // k
    state = ParticleState(batch, k, x.device, generator)
    shared_coords = (w > 0).expand_as(x)  # w: one keep mask for all rows, or one per row (particle-major)
    active = True

    for i, step in enumerate(plan):
        x_in, x0 = call(x, i, step.scale_t)
        if callback is not None:
            callback(i, x_in[:batch], x0[:batch])  # particle 0 of every item
        active = step.sigma_t >= sigma_min
        logh_t = None
        if active:
            logh_t = log_twist(x0, y, w, step.a_t, step.s_t, obs_std)
            state.add(logh_t)
            x, x0, logh_t = state.maybe_resample([x, x0, logh_t])
        shape_b = (batch,) + tuple(x.shape[1:])
        shared = draw_noise(shape_b).repeat((k,) + (1,) * (x.ndim - 1))  # one draw per item
        free = draw_noise(tuple(x.shape))
        xi = torch.where(shared_coords, shared, free)
        x, log_ratio = particle_step(x, x0, y, w, step, xi)
        if active and step.sigma_s >= sigma_min:
            state.add(log_ratio - logh_t)
        # else: weighting stops here and the weights keep targeting the
        # twisted marginal at sigma_t

    if final_estimate:
        x_in, x0 = call(x, last_index, last_scale)
        if callback is not None:
            callback(last_index, x_in[:batch], x0[:batch])
        if not plan or plan[-1].sigma_s >= sigma_min:
            state.add(log_twist(x0, y, w, last_a, last_s, obs_std))
        out = x0
    else:
        out = x if last_scale == 1.0 else x / last_scale
    return out, state.pick(), state
