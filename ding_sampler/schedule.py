"""Noise schedules and the per-step coefficients of a DInG transition.

Everything here is scalar arithmetic done once per run in float64 (Python
floats), so the sampling loop never syncs with the device to get a number.

Two conventions for the noisy state are supported:

* ``"flow"`` (rectified flow, ComfyUI's ``CONST``): x = (1 - sigma) x0 + sigma e,
  so a = 1 - sigma and s = sigma.
* ``"ve"`` (variance exploding, ComfyUI's eps / v models): x = x0 + sigma e.
  Dividing by sqrt(1 + sigma^2) gives a variance-preserving process with
  a = 1 / sqrt(1 + sigma^2) and s = sigma / sqrt(1 + sigma^2).

The sampler works on the variance-preserving state x_vp = a x0 + s e; for
"flow" that is the caller's state itself. Formulas: docs/algorithm.md,
sections 1-4.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Sequence, Tuple, Union

PARAMETRIZATIONS = ("flow", "ve")
BRIDGE_SCHEDULES = ("square", "default", "ddpm", "ddim")
VARIANTS = ("ding", "ding1")

EtaSpec = Union[str, float, int]


def signal_and_noise(sigma: float, parametrization: str) -> Tuple[float, float]:
    """(a, s) of the variance-preserving form at noise level ``sigma``."""
    if parametrization == "flow":
        return 1.0 - sigma, sigma
    if parametrization == "ve":
        norm = math.sqrt(1.0 + sigma * sigma)
        return 1.0 / norm, sigma / norm
    raise ValueError(
        f"parametrization must be one of {PARAMETRIZATIONS}, got {parametrization!r}"
    )


def vp_scale(sigma: float, parametrization: str) -> float:
    """Factor k with x_vp = k * x_caller (1 for flow, 1/sqrt(1+sigma^2) for ve)."""
    if parametrization == "flow":
        return 1.0
    return 1.0 / math.sqrt(1.0 + sigma * sigma)


def bridge_std(eta: EtaSpec, a_t: float, s_t: float, a_s: float, s_s: float) -> float:
    """Std eta_s of the bridge (prior transition) noise for the step t -> s.

    Named schedules follow docs/algorithm.md, section 3; a number is a
    multiple of the DDPM bridge std d_s = s_s sqrt(1 - r^2),
    r = (a_t s_s) / (a_s s_t).
    """
    if isinstance(eta, str):
        if eta == "square":
            return s_s * (1.0 - a_s)
        if eta == "default":
            return s_s * math.sqrt(max(1.0 - a_s, 0.0))
        factor = {"ddpm": 1.0, "ddim": 0.01}.get(eta)
        if factor is None:
            raise ValueError(
                f"eta must be one of {BRIDGE_SCHEDULES} or a non-negative number, got {eta!r}"
            )
    else:
        factor = float(eta)
    r = (a_t * s_s) / (a_s * s_t)
    return factor * s_s * math.sqrt(max(1.0 - r * r, 0.0))


@dataclass(frozen=True)
class Transition:
    """Float64 coefficients of one posterior transition t -> s."""

    sigma_t: float
    sigma_s: float
    a_t: float
    s_t: float
    a_s: float
    s_s: float
    eta: float  # bridge std eta_s
    c_t: float  # prior mean mu = c_t x_t + c_0 x0_hat
    c_0: float
    tau: float  # std of the pseudo-observation noise, a_s * obs_std
    scale_t: float  # x_vp = scale * x_caller at sigma_t
    scale_s: float  # same at sigma_s

    @property
    def gain_ratio(self) -> float:
        """eta^2 / tau^2 (infinite when obs_std is 0)."""
        if self.tau == 0.0:
            return math.inf
        return (self.eta * self.eta) / (self.tau * self.tau)


def validate_sigmas(sigmas: Sequence[float], parametrization: str) -> List[float]:
    values = [float(v) for v in sigmas]
    if len(values) < 2:
        raise ValueError(f"sigmas must hold at least 2 values, got {len(values)}")
    if any(not math.isfinite(v) for v in values):
        raise ValueError("sigmas must be finite")
    if any(v < 0 for v in values):
        raise ValueError("sigmas must be non-negative")
    if any(b >= a for a, b in zip(values, values[1:])):
        raise ValueError("sigmas must be strictly decreasing (noisiest first)")
    if parametrization == "flow" and values[0] > 1.0 + 1e-6:
        raise ValueError(
            f"sigmas[0] = {values[0]:.4g} exceeds 1, the largest noise level of a flow model"
        )
    return values


def plan_transitions(
    sigmas: Sequence[float], parametrization: str, eta: EtaSpec, obs_std: float
) -> Tuple[List[Transition], bool]:
    """Coefficients of every transition, and whether a final clean estimate follows.

    Every consecutive pair whose target sigma is positive is a posterior
    transition. A trailing sigma of 0 is not stepped to: the loop ends with one
    clean estimate x0_hat = D(x, sigma_last_positive) instead (docs/algorithm.md,
    section 8), so it returns a clean latent. Sigmas that end above 0 return the
    state at that level, in the caller's convention, for chaining.
    """
    values = validate_sigmas(sigmas, parametrization)
    final_estimate = values[-1] == 0.0
    steps: List[Transition] = []
    pairs = list(zip(values, values[1:]))
    if final_estimate:
        pairs = pairs[:-1]
    for sigma_t, sigma_s in pairs:
        a_t, s_t = signal_and_noise(sigma_t, parametrization)
        a_s, s_s = signal_and_noise(sigma_s, parametrization)
        eta_s = bridge_std(eta, a_t, s_t, a_s, s_s)
        if not (0.0 <= eta_s <= s_s * (1.0 + 1e-12)):
            raise ValueError(
                f"eta={eta!r} gives a bridge std {eta_s:.4g} above the noise std {s_s:.4g} "
                f"at sigma {sigma_s:.4g}; use a smaller multiple"
            )
        eta_s = min(eta_s, s_s)
        c_t = math.sqrt(max(s_s * s_s - eta_s * eta_s, 0.0)) / s_t
        c_0 = a_s - a_t * c_t
        steps.append(
            Transition(
                sigma_t=sigma_t,
                sigma_s=sigma_s,
                a_t=a_t,
                s_t=s_t,
                a_s=a_s,
                s_s=s_s,
                eta=eta_s,
                c_t=c_t,
                c_0=c_0,
                tau=a_s * obs_std,
                scale_t=vp_scale(sigma_t, parametrization),
                scale_s=vp_scale(sigma_s, parametrization),
            )
        )
    return steps, final_estimate


def flow_sigmas(steps: int, shift: float = 3.0) -> List[float]:
    """A rectified-flow grid like SD3's: steps + 1 points from 1 down to 0.

    sigma(t) = shift t / (1 + (shift - 1) t) on t = linspace(1, 0, steps + 1).
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    out = []
    for i in range(steps + 1):
        t = 1.0 - i / steps
        out.append(shift * t / (1.0 + (shift - 1.0) * t))
    out[-1] = 0.0
    return out


def karras_sigmas(
    steps: int, sigma_min: float = 0.03, sigma_max: float = 14.6, rho: float = 7.0
) -> List[float]:
    """Karras et al. grid for variance-exploding models, with a trailing 0."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    lo, hi = sigma_min ** (1.0 / rho), sigma_max ** (1.0 / rho)
    if steps == 1:
        return [sigma_max, 0.0]
    out = [(hi + i / (steps - 1) * (lo - hi)) ** rho for i in range(steps)]
    return out + [0.0]
