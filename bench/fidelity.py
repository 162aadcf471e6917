"""Sample fidelity of DInG against exact inpainting posteriors (closed-form priors).

For a Gaussian or Gaussian-mixture prior the denoiser and the inpainting
posterior p(x0 | y) are both known exactly (``ding_sampler.analytic``), so a
sampler can be scored by the sliced-Wasserstein distance between its samples
and exact posterior samples. Run from the repository root::

    python -m bench.fidelity            # full table (a few minutes on 2 cores)
    python -m bench.fidelity --quick    # smaller run
    python -m bench.fidelity --particles    # particles at equal calls per output (SW1, component TV)
    python -m bench.fidelity --final-sigma  # where taking the clean estimate at sigma 0.05 helps
    python -m bench.fidelity --shift 9.7    # any of these on another grid (default SD3's shift 3)

Setup per (prior, d, obs_std), all seeds fixed:

* prior: ``gaussian`` = one Gaussian with a random full (correlated) covariance,
  ``mixture25`` = 25 well-separated Gaussians with random full covariances;
* one ground truth x_true ~ prior, y = x_true + obs_std * noise;
* keep mask: the first half of the coordinates is observed (1), the rest is
  regenerated (0);
* N posterior samples per method, batched as [N, d] rows with the same y.

Columns: SW = sliced-Wasserstein distance to N exact posterior samples;
obs RMSE = RMSE between the samples and y on the kept coordinates; calls =
denoiser calls counted by a wrapper (one call = one batched evaluation); CPU
time = process CPU seconds of the sampler (summed over torch threads), wall =
wall-clock seconds. The ``exact (noise floor)`` row compares the exact
reference samples with an independent exact draw (the SW a perfect sampler
would get at this N) and gives the exact posterior's own observed RMSE.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ding_sampler.analytic import GaussianMixture, sliced_wasserstein
from ding_sampler.baselines import CountingDenoiser, euler_sample, replacement_sample
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import flow_sigmas

PRIORS = ("gaussian", "mixture25")
DIMS = (8, 64)
OBS_STDS = (0.01, 0.1)
STEPS = (10, 20, 50)
METHODS = ("ding", "ding1", "replacement", "unconditional")
FLOOR = "exact (noise floor)"
SW_PROJECTIONS = 256
SW_SEED = 0

# fixed seeds (offset by d so the two dimensions are unrelated draws)
PRIOR_SEEDS = {"gaussian": 1, "mixture25": 2}
TRUTH_SEED = 100
OBS_NOISE_SEED = 200
REFERENCE_SEED = 300
FLOOR_SEED = 400
INIT_NOISE_SEED = 500
SAMPLER_SEED = 600


@dataclass
class Problem:
    """One inpainting posterior: prior, observation, mask and exact samples."""

    prior_name: str
    dim: int
    obs_std: float
    n: int
    prior: GaussianMixture
    y: torch.Tensor  # [d]
    keep: torch.Tensor  # [d], 1 = observed
    reference: torch.Tensor  # [N, d] exact posterior samples
    floor: torch.Tensor  # [N, d] independent exact posterior samples
    floor_seconds: Tuple[float, float]  # (cpu, wall) of the exact posterior and its samples


@dataclass
class Row:
    prior: str
    dim: int
    obs_std: float
    steps: Optional[int]
    method: str
    sw: float
    obs_rmse: float
    calls: int
    cpu_seconds: float
    wall_seconds: float


def make_prior(name: str, dim: int) -> GaussianMixture:
    """The fixed prior of the benchmark (``gaussian`` or ``mixture25``)."""
    seed = PRIOR_SEEDS[name] * 1000 + dim
    components = 1 if name == "gaussian" else 25
    return GaussianMixture.random(dim, components, seed=seed)


def make_problem(prior_name: str, dim: int, obs_std: float, n: int) -> Problem:
    """Draw x_true and y, and exact posterior samples (reference and floor sets)."""
    prior = make_prior(prior_name, dim)
    x_true = prior.sample(1, torch.Generator().manual_seed(TRUTH_SEED + dim))[0]
    e = torch.randn(dim, generator=torch.Generator().manual_seed(OBS_NOISE_SEED + dim),
                    dtype=torch.float64)
    y = x_true + obs_std * e
    keep = torch.zeros(dim, dtype=torch.float64)
    keep[: dim // 2] = 1.0
    c0, t0 = time.process_time(), time.perf_counter()
    posterior = prior.posterior_given_observation(y, keep, obs_std)
    reference = posterior.sample(n, torch.Generator().manual_seed(REFERENCE_SEED))
    floor = posterior.sample(n, torch.Generator().manual_seed(FLOOR_SEED))
    floor_seconds = (time.process_time() - c0, time.perf_counter() - t0)
    return Problem(prior_name, dim, obs_std, n, prior, y, keep, reference, floor, floor_seconds)


def observed_rmse(samples: torch.Tensor, y: torch.Tensor, keep: torch.Tensor) -> float:
    """RMSE between samples and the observation over the kept coordinates."""
    kept = keep > 0
    diff = samples.to(torch.float64)[:, kept] - y[kept]
    return float(diff.pow(2).mean().sqrt())


def run_method(method: str, problem: Problem, steps: int,
               dtype: torch.dtype = torch.float32,
               rows: Optional[int] = None, shift: float = 3.0) -> Tuple[torch.Tensor, int, float, float]:
    """Sample with one method; returns (samples, denoiser calls, CPU s, wall s).

    ``rows`` overrides N (used for warm-up runs).
    """
    n, d = (problem.n if rows is None else rows), problem.dim
    denoiser = CountingDenoiser(problem.prior.denoiser("flow"))
    sigmas = flow_sigmas(steps, shift)
    noise = torch.randn(n, d, generator=torch.Generator().manual_seed(INIT_NOISE_SEED + steps),
                        dtype=dtype)
    y = problem.y.to(dtype).expand(n, d)
    keep = problem.keep.to(dtype)
    c0, t0 = time.process_time(), time.perf_counter()
    if method in ("ding", "ding1"):
        gen = torch.Generator().manual_seed(SAMPLER_SEED + steps)
        x = ding_sample(denoiser, noise, sigmas, y, keep, parametrization="flow",
                        variant=method, obs_std=problem.obs_std, generator=gen)
    elif method == "replacement":
        x = replacement_sample(denoiser, noise, sigmas, y, keep, parametrization="flow")
    elif method == "unconditional":
        x = euler_sample(denoiser, noise, sigmas, parametrization="flow")
    else:
        raise ValueError(f"unknown method {method!r}")
    return x, denoiser.calls, time.process_time() - c0, time.perf_counter() - t0


def evaluate(problem: Problem, steps_list: Sequence[int], methods: Sequence[str],
             dtype: torch.dtype, cache: Dict[tuple, tuple], shift: float = 3.0) -> List[Row]:
    """All rows of one (prior, d, obs_std) block, floor row first.

    ``cache`` holds unconditional runs, which do not depend on y or obs_std (their
    calls and times are reported again from the first run). Each method is run
    once on a few rows first so one-off start-up costs stay out of the timings.
    """
    for method in methods:
        run_method(method, problem, 2, dtype, rows=16, shift=shift)

    def score(samples):
        sw = sliced_wasserstein(samples, problem.reference, SW_PROJECTIONS, SW_SEED)
        return sw, observed_rmse(samples, problem.y, problem.keep)

    head = (problem.prior_name, problem.dim, problem.obs_std)
    floor_sw = sliced_wasserstein(problem.floor, problem.reference, SW_PROJECTIONS, SW_SEED)
    floor_rmse = observed_rmse(problem.reference, problem.y, problem.keep)
    rows = [Row(*head, None, FLOOR, floor_sw, floor_rmse, 0, *problem.floor_seconds)]
    for steps in steps_list:
        for method in methods:
            key = (problem.prior_name, problem.dim, problem.n, steps)
            if method == "unconditional" and key in cache:
                x, calls, cpu, wall = cache[key]
            else:
                x, calls, cpu, wall = run_method(method, problem, steps, dtype, shift=shift)
                if method == "unconditional":
                    cache[key] = (x, calls, cpu, wall)
            if not torch.isfinite(x).all():
                raise RuntimeError(f"{method} produced non-finite samples for {head} at {steps} steps")
            sw, rmse = score(x)
            rows.append(Row(*head, steps, method, sw, rmse, calls, cpu, wall))
    return rows


def format_table(rows: Sequence[Row]) -> str:
    """Markdown table of all rows."""
    lines = [
        "| prior | d | obs_std | steps | method | SW to exact | observed RMSE | calls | CPU time (s) | wall (s) |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        steps = "-" if r.steps is None else str(r.steps)
        lines.append(
            f"| {r.prior} | {r.dim} | {r.obs_std:g} | {steps} | {r.method} | {r.sw:.4f} | "
            f"{r.obs_rmse:.4f} | {r.calls} | {r.cpu_seconds:.2f} | {r.wall_seconds:.2f} |"
        )
    return "\n".join(lines)


def summary_line(rows: Sequence[Row], steps: int) -> str:
    """'Does ding beat replacement' for one block at ``steps``."""
    by_method = {r.method: r for r in rows if r.steps == steps or r.steps is None}
    ding, repl, floor = by_method["ding"], by_method["replacement"], by_method[FLOOR]
    verdict = "ding beats replacement" if ding.sw < repl.sw else "ding does NOT beat replacement"
    return (
        f"- {ding.prior} d={ding.dim} obs_std={ding.obs_std:g} @ {steps} steps: {verdict} "
        f"(SW {ding.sw:.4f} vs {repl.sw:.4f}, ding1 {by_method['ding1'].sw:.4f}, "
        f"floor {floor.sw:.4f}; observed RMSE ding {ding.obs_rmse:.4f}, "
        f"replacement {repl.obs_rmse:.4f})"
    )


# -- particles and final_sigma (SW1 = sliced 1-Wasserstein, component TV on the hidden block) --

PARTICLE_SEEDS = (1, 2, 3)
PARTICLE_CONFIGS = (
    # label, ding_sample options, steps, grid shift; calls per output = K x steps (ding: 2 steps - 1)
    ("ding/square K=1 (paper default)", dict(variant="ding", eta="square"), 30, 3.0),
    ("ding1/ddpm K=1", dict(variant="ding1", eta="ddpm"), 60, 3.0),
    ("ding1/ddpm K=1, shift 1", dict(variant="ding1", eta="ddpm"), 60, 1.0),
    ("ding1/ddpm K=2, shift 1, final 0.05", dict(variant="ding1", eta="ddpm", particles=2, final_sigma=0.05), 30, 1.0),
    ("ding1/ddpm K=4, shift 3, final 0.05", dict(variant="ding1", eta="ddpm", particles=4, final_sigma=0.05), 15, 3.0),
    ("ding1/ddpm K=4, shift 1", dict(variant="ding1", eta="ddpm", particles=4), 15, 1.0),
    ("ding1/ddpm K=4, shift 1, final 0.05", dict(variant="ding1", eta="ddpm", particles=4, final_sigma=0.05), 15, 1.0),
    ("ding1/ddpm K=4, shift 1, final 0.05, weights frozen < 0.3",
     dict(variant="ding1", eta="ddpm", particles=4, final_sigma=0.05, particle_sigma_min=0.3), 15, 1.0),
)


def _fast_flow_denoiser(prior):
    from .peers import Float32Mixture
    return Float32Mixture(prior)


def particles_report(n: int, seeds: Sequence[int] = PARTICLE_SEEDS, regenerate: float = 0.5,
                     shift: Optional[float] = None) -> list:
    """Particles against single-chain samplers at <= 60 calls per output image; ``shift``
    replaces every row's own grid shift when given."""
    from ding_sampler.analytic import InpaintingProblem
    print(f"## Particles at equal calls per output image: 25-component mixture, d = 64, "
          f"{regenerate:g} of the coordinates regenerated, obs_std 0.01, N = {n}, problem seeds "
          f"{list(seeds)} (ding_sampler.analytic.InpaintingProblem), SW1 (256 projections) and "
          f"component TV on the regenerated block\n")
    print("| sampler | steps | calls / output | " + " | ".join(f"seed {s} SW1 / TV" for s in seeds)
          + " | mean SW1 | mean TV |")
    print("|---|---:|---:|" + "---:|" * (len(seeds) + 2))
    rows = []
    problems = [InpaintingProblem(s, dim=64, components=25, regenerate=regenerate) for s in seeds]
    refs = [p.exact(n) for p in problems]
    floor = [p.score(p.exact(n, 1), r) for p, r in zip(problems, refs)]
    for label, opts, steps, row_shift in PARTICLE_CONFIGS:
        if shift is not None:
            label, row_shift = f"{label} (run at shift {shift:g})", shift
        k = opts.get("particles", 1)
        calls = k * (2 * steps - 1 if opts["variant"] == "ding" else steps)
        scores = []
        for p, ref in zip(problems, refs):
            g = torch.Generator().manual_seed(SAMPLER_SEED)
            noise = torch.randn(n, 64, generator=g)
            out = ding_sample(_fast_flow_denoiser(p.prior), noise, flow_sigmas(steps, row_shift),
                              p.y[None].float(), p.keep[None].float(), generator=g, **opts)
            scores.append(p.score(out, ref))
        m_sw = sum(v[0] for v in scores) / len(scores)
        m_tv = sum(v[1] for v in scores) / len(scores)
        rows.append((label, steps, calls, scores, m_sw, m_tv))
        print(f"| {label} | {steps} | {calls} | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in scores)
              + f" | {m_sw:.4f} | {m_tv:.3f} |", flush=True)
    print(f"| exact vs exact (floor) | - | - | " + " | ".join(f"{a:.3f} / {b:.3f}" for a, b in floor)
          + f" | {sum(v[0] for v in floor) / len(floor):.4f} | {sum(v[1] for v in floor) / len(floor):.3f} |")
    return rows


FINAL_SIGMAS = (None, 0.1, 0.05, 0.02)


def final_sigma_report(n: int, seeds: Sequence[int] = PARTICLE_SEEDS, shift: float = 3.0,
                       steps_list: Sequence[int] = (6, 10, 15, 20)) -> list:
    """SW1 with the clean estimate at the grid's last positive sigma or at 0.1 / 0.05 / 0.02."""
    from ding_sampler.analytic import InpaintingProblem
    print(f"## final_sigma: SW1 (mean over problem seeds {list(seeds)}, N = {n}), 25-component mixture, "
          f"d = 64, flow_sigmas(steps, {shift:g}) (shift {shift:g})\n")
    print("| regenerated | sampler | steps | calls | grid's last sigma | " +
          " | ".join(f"final {fs}" for fs in FINAL_SIGMAS[1:]) + " |")
    print("|---:|---|---:|---:|---:|" + "---:|" * (len(FINAL_SIGMAS) - 1))
    rows = []
    for regen in (0.25, 0.5):
        problems = [InpaintingProblem(s, dim=64, components=25, regenerate=regen) for s in seeds]
        refs = [p.exact(n) for p in problems]
        for variant, eta in (("ding1", "ddpm"), ("ding", "square")):
            for steps in steps_list:
                means = []
                for fs in FINAL_SIGMAS:
                    vals = []
                    for p, ref in zip(problems, refs):
                        g = torch.Generator().manual_seed(SAMPLER_SEED)
                        out = ding_sample(_fast_flow_denoiser(p.prior), torch.randn(n, 64, generator=g),
                                          flow_sigmas(steps, shift), p.y[None].float(), p.keep[None].float(),
                                          variant=variant, eta=eta, final_sigma=fs, generator=g)
                        vals.append(p.score(out, ref)[0])
                    means.append(sum(vals) / len(vals))
                calls = steps if variant == "ding1" else 2 * steps - 1
                rows.append((regen, variant, eta, steps, means))
                print(f"| {regen:g} | {variant}/{eta} | {steps} | {calls} | " +
                      " | ".join(f"{v:.4f}" for v in means) + " |", flush=True)
    return rows


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smaller run: 500 samples, steps 10 and 20")
    p.add_argument("--samples", type=int, default=None,
                   help="samples per posterior (default 2000, --quick 500)")
    p.add_argument("--samples-d64", type=int, default=None,
                   help="samples per posterior for d=64 (default: same as --samples)")
    p.add_argument("--particles", action="store_true",
                   help="only the particles-at-equal-calls table (d = 64 mixture, seeds 1 2 3)")
    p.add_argument("--final-sigma", action="store_true",
                   help="only the final_sigma table (d = 64 mixture, seeds 1 2 3)")
    p.add_argument("--shift", type=float, default=None,
                   help="grid shift of flow_sigmas (SD3-style; default 3 = SD3 / SD3.5 / Z-Image, about "
                        "9.7 = Flux.2 at 1024x1024); with --particles it replaces every row's own shift")
    p.add_argument("--steps", type=int, nargs="+", default=None,
                   help="step counts of the main table and of --final-sigma (default 10 20 50, --quick "
                        "10 20, --final-sigma 6 10 15 20); e.g. 2 3 4 6 for few-step budgets")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="sampler state dtype (the exact denoiser computes in float64)")
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> List[Row]:
    args = parse_args(argv)
    n = args.samples if args.samples is not None else (500 if args.quick else 2000)
    if n < 2:
        raise SystemExit("--samples must be at least 2")
    if args.shift is not None and args.shift <= 0:
        raise SystemExit(f"--shift must be > 0, got {args.shift}")
    shift = 3.0 if args.shift is None else args.shift
    if args.steps is not None and min(args.steps) < 1:
        raise SystemExit(f"--steps must be at least 1, got {args.steps}")
    if args.particles or args.final_sigma:
        t0 = time.perf_counter()
        out = []
        if args.particles:
            out += particles_report(n, shift=args.shift)
        if args.final_sigma:
            out += final_sigma_report(n, shift=shift,
                                      steps_list=tuple(args.steps) if args.steps else (6, 10, 15, 20))
        print(f"\ntotal time {time.perf_counter() - t0:.1f} s")
        return out
    n_by_dim = {d: n for d in DIMS}
    if args.samples_d64 is not None:
        n_by_dim[64] = args.samples_d64
    steps_list = tuple(args.steps) if args.steps else ((10, 20) if args.quick else STEPS)
    dtype = getattr(torch, args.dtype)
    summary_steps = min(steps_list, key=lambda s: (abs(s - 20), s))

    print(f"# DInG fidelity vs exact posteriors (flow_sigmas(steps, {shift:g}), shift {shift:g}; eta 'square'; "
          f"keep = first half of coordinates; {args.dtype} state; torch threads "
          f"{torch.get_num_threads()})")
    print("samples per posterior N: " + ", ".join(f"d={d}: {n_by_dim[d]}" for d in DIMS))
    print(f"SW: {SW_PROJECTIONS} projections, seed {SW_SEED}\n")

    t_start = time.perf_counter()
    rows: List[Row] = []
    summaries: List[str] = []
    cache: Dict[tuple, tuple] = {}
    for prior_name in PRIORS:
        for dim in DIMS:
            for obs_std in OBS_STDS:
                problem = make_problem(prior_name, dim, obs_std, n_by_dim[dim])
                block = evaluate(problem, steps_list, METHODS, dtype, cache, shift=shift)
                rows.extend(block)
                summaries.append(summary_line(block, summary_steps))
    print(format_table(rows))
    print(f"\nSummary at {summary_steps} steps (SW distance, lower is better):")
    print("\n".join(summaries))
    print(f"\ntotal time {time.perf_counter() - t_start:.1f} s")
    return rows


if __name__ == "__main__":
    main()
