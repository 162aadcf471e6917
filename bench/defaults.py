"""Which DInG setting to make the default: variants and bridge-noise schedules at
equal model calls, on the fidelity problems and on the digits demo's prior.

Run from the repository root (a few minutes on 2 cores)::

    python -m bench.defaults

Problems (all exact, scored by SW1 = sliced 1-Wasserstein, 256 projections, to
exact posterior samples):

* ``bench.fidelity``'s eight blocks: {gaussian, mixture25} x d {8, 64} x obs_std
  {0.01, 0.1}, the first half of the coordinates kept, N = 2000;
* the digits demo (``ding_sampler.demo``): a 12-component mixture fitted to
  sklearn's 8x8 digits, 6 held-out digits x 300 samples, masks bottom / center /
  right, obs_std 0.01; SW1 averaged over the digits.

Budgets: 20, 40 and 60 calls per image (``ding`` 10 / 20 / 30 steps = 19 / 39 /
59 calls, ``ding1`` 20 / 40 / 60 steps). The summary counts, per setting, the
(problem, budget) cells where it beats the paper's default ``ding``/``square``.
"""
from __future__ import annotations

import argparse
import time
from typing import Dict, List, Optional, Sequence

import torch

from ding_sampler.analytic import sliced_wasserstein_1
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import flow_sigmas

from .fidelity import DIMS, OBS_STDS, PRIORS, SAMPLER_SEED, INIT_NOISE_SEED, make_problem
from .peers import Float32Mixture

SETTINGS = (("ding", "square"), ("ding", "ddpm"), ("ding1", "square"), ("ding1", "ddpm"), ("ding1", "default"))
BUDGETS = (20, 40, 60)
REFERENCE = ("ding", "square")


def steps_for(variant: str, budget: int) -> int:
    return budget // 2 if variant == "ding" else budget


def sample(denoiser, y, keep, n, d, variant, eta, steps, obs_std, seed_offset=0):
    g = torch.Generator().manual_seed(SAMPLER_SEED + seed_offset)
    noise = torch.randn(n, d, generator=torch.Generator().manual_seed(INIT_NOISE_SEED + seed_offset))
    return ding_sample(denoiser, noise, flow_sigmas(steps), y, keep, variant=variant, eta=eta,
                       obs_std=obs_std, generator=g)


def fidelity_cells(n: int) -> Dict[str, Dict[tuple, float]]:
    cells: Dict[str, Dict[tuple, float]] = {}
    for prior_name in PRIORS:
        for dim in DIMS:
            for obs_std in OBS_STDS:
                p = make_problem(prior_name, dim, obs_std, n)
                den = Float32Mixture(p.prior)
                name = f"fidelity {prior_name} d={dim} obs_std={obs_std:g}"
                cells[name] = {}
                for variant, eta in SETTINGS:
                    for b in BUDGETS:
                        x = sample(den, p.y.float().expand(n, dim), p.keep.float(), n, dim, variant, eta,
                                   steps_for(variant, b), obs_std)
                        cells[name][(variant, eta, b)] = sliced_wasserstein_1(x, p.reference)
                print(f"{name}: " + ", ".join(f"{v}/{e}@{b} {s:.4f}" for (v, e, b), s in cells[name].items()),
                      flush=True)
    return cells


def digits_cells(samples: int = 300, n_digits: int = 6, seed: int = 0) -> Dict[str, Dict[tuple, float]]:
    from sklearn.datasets import load_digits
    from ding_sampler.demo import fit_prior, keep_mask, pick_digits

    gen = torch.Generator().manual_seed(seed)
    images, labels = load_digits(return_X_y=True)
    data = torch.as_tensor(images, dtype=torch.float64) / 8.0 - 1.0
    perm = torch.randperm(len(data), generator=gen).tolist()
    n_train = int(0.8 * len(data))
    train, held_out = perm[:n_train], perm[n_train:]
    prior, _ = fit_prior(data[train].numpy(), 12, 1e-2, seed)
    chosen = pick_digits(labels, held_out, n_digits, gen)
    obs_std = 0.01
    truths = data[chosen]
    y = truths + obs_std * torch.randn(truths.shape, generator=gen, dtype=torch.float64)
    den = Float32Mixture(prior)
    cells: Dict[str, Dict[tuple, float]] = {}
    for mask in ("bottom", "center", "right"):
        keep = keep_mask(mask)
        refs = [prior.posterior_given_observation(obs, keep, obs_std).sample(samples, gen) for obs in y]
        y_rows = y.repeat_interleave(samples, dim=0).float()
        name = f"digits mask={mask}"
        cells[name] = {}
        for variant, eta in SETTINGS:
            for b in BUDGETS:
                x = sample(den, y_rows, keep.float(), len(y_rows), 64, variant, eta, steps_for(variant, b),
                           obs_std)
                x = x.reshape(len(chosen), samples, 64)
                cells[name][(variant, eta, b)] = sum(
                    sliced_wasserstein_1(x[i], refs[i]) for i in range(len(chosen))) / len(chosen)
        print(f"{name}: " + ", ".join(f"{v}/{e}@{b} {s:.4f}" for (v, e, b), s in cells[name].items()), flush=True)
    return cells


def report(cells: Dict[str, Dict[tuple, float]]) -> str:
    head = "| problem | " + " | ".join(f"{v}/{e}" for v, e in SETTINGS) + " |"
    lines = []
    for b in BUDGETS:
        lines.append(f"\n### SW1 at {b} calls per image (ding {steps_for('ding', b)} steps = "
                     f"{2 * steps_for('ding', b) - 1} calls, ding1 {b} steps)\n")
        lines.append(head)
        lines.append("|---|" + "---:|" * len(SETTINGS))
        for name, c in cells.items():
            vals = [c[(v, e, b)] for v, e in SETTINGS]
            best = min(vals)
            lines.append(f"| {name} | " + " | ".join(
                (f"**{x:.4f}**" if x == best else f"{x:.4f}") for x in vals) + " |")
    lines.append("\n### Cells (problem x budget) where a setting beats ding/square (lower SW1)\n")
    total = len(cells) * len(BUDGETS)
    for v, e in SETTINGS:
        if (v, e) == REFERENCE:
            continue
        wins = sum(c[(v, e, b)] < c[REFERENCE + (b,)] for c in cells.values() for b in BUDGETS)
        ratios = [c[(v, e, b)] / c[REFERENCE + (b,)] for c in cells.values() for b in BUDGETS]
        geo = float(torch.tensor(ratios).log().mean().exp())
        lines.append(f"- {v}/{e}: {wins} of {total}; geometric-mean SW1 ratio to ding/square {geo:.3f}")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, default=2000, help="samples per fidelity problem")
    p.add_argument("--no-digits", action="store_true")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    print("# bench.defaults: DInG settings at equal calls (SW1 to exact posterior samples)\n")
    cells = fidelity_cells(args.samples)
    if not args.no_digits:
        cells.update(digits_cells())
    print(report(cells))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    return cells


if __name__ == "__main__":
    main()
