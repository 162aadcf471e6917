"""``python -m bench.learned --quick``: samplers driven by learned networks vs the exact denoiser.

For each prior (``mixture25``: the last quarter of the 64 coordinates regenerated, as in
bench.fidelity's particle tables; ``digits``: the bottom half of a held-out 8x8 digit), each
problem seed (truth and observation noise; obs_std 0.01) and each denoiser (the prior's exact
denoiser and every committed network trained on that prior), every sampler of SAMPLERS runs at
each budget of BUDGETS model calls per output, N posterior draws as one batch, and is scored
against N exact posterior samples: SW1 (sliced 1-Wasserstein, 256 projections) and the
component TV on the regenerated block (``ding_sampler.analytic``). A sampler, a budget and a
problem seed get the same initial noise and sampler seed under every denoiser (paired runs).

Off-manifold error: every call a sampler makes to a network is also evaluated by the exact
denoiser; the mean squared error per coordinate, (D_net - D_exact)^2, is summed per sigma bin,
against the same network's error on (a) forward-noised prior samples and (b) forward-noised
exact posterior samples (the states an exact sampler visits) at the same sigmas, row-weighted
like the chain's calls.
"""
from __future__ import annotations

import math
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

from ding_sampler.analytic import InpaintingProblem
from ding_sampler.baselines import replacement_sample
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import flow_sigmas

from . import NETWORKS, WEIGHTS, exact_denoiser, held_out_digits, line_printer, load, make_prior, metadata

BUDGETS = (8, 20, 40, 60)
SHIFT = 3.0
OBS_STD = 0.01
SAMPLER_SEED = 600
REF_ROWS = 500  # rows of the forward-noised references of the off-manifold table
OFFMAN_ROWS = 256  # rows of each chain call that the exact denoiser re-evaluates (the first ones)


def _ding_steps(budget: int) -> int:
    return (budget + 1) // 2  # 2 steps - 1 calls


# label -> (kind, options, steps for a call budget); calls per output: ding 2 steps - 1,
# ding1 and replacement = steps, particles K x steps
SAMPLERS: Dict[str, tuple] = {
    "ding/square": ("ding", dict(variant="ding", eta="square"), _ding_steps),
    "ding/ddpm": ("ding", dict(variant="ding", eta="ddpm"), _ding_steps),
    "ding1/square": ("ding", dict(variant="ding1", eta="square"), lambda b: b),
    "ding1/ddpm": ("ding", dict(variant="ding1", eta="ddpm"), lambda b: b),
    "ding1/ddpm K=4": ("ding", dict(variant="ding1", eta="ddpm", particles=4), lambda b: max(2, b // 4)),
    "replacement": ("replacement", {}, lambda b: b),
}
# --probe: settings that might keep DInG-1's chain where the network is accurate (issue 18, part 3)
PROBES: Dict[str, tuple] = {
    "ding1/ddpm obs_std 0.05": ("ding", dict(variant="ding1", eta="ddpm", obs_std=0.05), lambda b: b),
    "ding1/ddpm obs_std 0.1": ("ding", dict(variant="ding1", eta="ddpm", obs_std=0.1), lambda b: b),
    "ding1/ddpm obs_std 0.2": ("ding", dict(variant="ding1", eta="ddpm", obs_std=0.2), lambda b: b),
    "ding1/ddpm final 0.05": ("ding", dict(variant="ding1", eta="ddpm", final_sigma=0.05), lambda b: b),
    "ding/ddpm obs_std 0.1": ("ding", dict(variant="ding", eta="ddpm", obs_std=0.1), _ding_steps),
}
SIGMA_BINS = (0.0, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 1.0)


class Problem(InpaintingProblem):
    """An inpainting posterior on one of the fixed priors (``bench.learned.make_prior``);
    ``exact`` and ``score`` are ``InpaintingProblem``'s."""

    def __init__(self, prior_name: str, seed: int, obs_std: float = OBS_STD):
        self.prior_name, self.seed, self.obs_std = prior_name, seed, obs_std
        self.prior = make_prior(prior_name)
        d = self.dim = self.prior.dim
        if prior_name == "mixture25":
            # InpaintingProblem's truth and noise seeds; the last quarter regenerated
            x_true = self.prior.sample(1, torch.Generator().manual_seed(seed + 4))[0]
            self.keep = torch.ones(d, dtype=torch.float64)
            self.keep[d - d // 4:] = 0.0
        else:
            digits = held_out_digits()
            idx = int(torch.randint(len(digits), (1,), generator=torch.Generator().manual_seed(seed)))
            x_true = digits[idx]
            self.keep = torch.ones(8, 8, dtype=torch.float64)
            self.keep[4:] = 0.0  # bottom half regenerated (ding_sampler.demo's default mask)
            self.keep = self.keep.reshape(-1)
        noise = torch.randn(d, generator=torch.Generator().manual_seed(seed + 5), dtype=torch.float64)
        self.y = x_true + obs_std * noise
        self.hidden = torch.nonzero(self.keep == 0).flatten()
        self.posterior = self.prior.posterior_given_observation(self.y, self.keep, obs_std)


def sigma_bin(s: float, bins: Sequence[float] = SIGMA_BINS) -> int:
    for i in range(len(bins) - 1):
        if s <= bins[i + 1] + 1e-12:
            return i
    return len(bins) - 2


class Recorder:
    """Wraps a denoiser ``fn``: counts rows, and accumulates per sigma bin the squared error of a
    network against the exact denoiser on the states of the chain (sum over the first
    OFFMAN_ROWS rows of each call of the per-row mean over coordinates) and those rows' count,
    with the (prior, posterior) reference MSEs at the call's sigma, ``refs(s)``, summed
    row-weighted alongside.

    With ``exact`` (``fn`` is a network): ``sums`` = fn's error against ``exact``. With ``watch``
    ({name: (network, refs)}, ``fn`` is the exact denoiser): ``watch_sums[name]`` = that network's
    error against fn's output on the exact chain's states (what a network would be asked there).
    """

    def __init__(self, fn: Callable, exact: Optional[Callable] = None, refs: Optional[Callable] = None,
                 watch: Optional[Dict[str, tuple]] = None):
        self.fn, self.exact, self.refs, self.watch = fn, exact, refs, watch or {}
        self.rows = 0
        self.sums: Dict[int, List[float]] = defaultdict(lambda: [0.0, 0.0, 0.0, 0.0])  # chain, prior, post, rows
        self.watch_sums = {name: defaultdict(lambda: [0.0, 0.0, 0.0, 0.0]) for name in self.watch}

    @staticmethod
    def _add(acc, a, b, s, refs, k):
        err = float((a.float() - b.float()).pow(2).mean(1).sum())
        prior_ref, post_ref = refs(s)
        acc = acc[sigma_bin(s)]
        acc[0] += err
        acc[1] += prior_ref * k
        acc[2] += post_ref * k
        acc[3] += k

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        out = self.fn(x, sigma)
        self.rows += x.shape[0]
        k = min(x.shape[0], OFFMAN_ROWS)
        s = float(sigma.reshape(-1)[0])
        if self.exact is not None:
            self._add(self.sums, out[:k], self.exact(x[:k], sigma[:k]), s, self.refs, k)
        for name, (net, refs) in self.watch.items():
            self._add(self.watch_sums[name], net(x[:k], sigma[:k]), out[:k], s, refs, k)
        return out


class References:
    """Cached reference MSEs of one network at a sigma: on forward-noised prior samples and on
    forward-noised exact posterior samples of one problem (REF_ROWS rows each, seeded)."""

    def __init__(self, net, exact, problem: Problem):
        self.net, self.exact, self.problem = net, exact, problem
        g = torch.Generator().manual_seed(777)
        self.prior_x0 = problem.prior.sample(REF_ROWS, g).float()
        self.post_x0 = problem.exact(REF_ROWS, seed=7).float()
        self.e = torch.randn(REF_ROWS, problem.prior.dim, generator=g)
        self.cache: Dict[float, tuple] = {}

    def _mse(self, x0, s):
        x = (1.0 - s) * x0 + s * self.e
        sig = torch.full((x.shape[0],), s)
        return float((self.net(x, sig) - self.exact(x, sig)).pow(2).mean())

    def __call__(self, s: float) -> tuple:
        key = round(s, 9)
        if key not in self.cache:
            self.cache[key] = (self._mse(self.prior_x0, s), self._mse(self.post_x0, s))
        return self.cache[key]


def run_sampler(denoiser: Callable, problem: Problem, label: str, budget: int, n: int) -> tuple:
    """(samples [n, d], model calls per output) of one sampler at one budget."""
    kind, opts, steps_of = SAMPLERS[label] if label in SAMPLERS else PROBES[label]
    steps = steps_of(budget)
    g = torch.Generator().manual_seed(SAMPLER_SEED + 1000 * problem.seed + budget)
    noise = torch.randn(n, problem.prior.dim, generator=g)
    sigmas = flow_sigmas(steps, SHIFT)
    y, keep = problem.y[None].float(), problem.keep[None].float()
    rows0 = getattr(denoiser, "rows", 0)
    if kind == "replacement":
        x = replacement_sample(denoiser, noise, sigmas, y.expand(n, -1), keep, parametrization="flow")
    else:
        # the problem's obs_std unless the sampler sets its own (a mis-specified likelihood)
        kw = dict(dict(obs_std=problem.obs_std), **opts)
        x = ding_sample(denoiser, noise, sigmas, y, keep, parametrization="flow", generator=g, **kw)
    calls = (getattr(denoiser, "rows", 0) - rows0) / n
    if not torch.isfinite(x).all():
        raise RuntimeError(f"{label} at {budget} calls produced non-finite samples")
    return x, calls


@torch.no_grad()
def kept_noise_profile(prior_name: str, seed: int, n: int, budget: int,
                       samplers: Sequence[str] = tuple(SAMPLERS), bins: Sequence[float] = SIGMA_BINS) -> dict:
    """sampler -> {bin: mean std} of the noise implied on the kept coordinates by the states the
    exact denoiser is called on, (x - (1 - s) y) / s; the forward process has std 1 there."""
    exact = exact_denoiser(prior_name)
    problem = Problem(prior_name, seed)
    kept = problem.keep > 0
    out = {}
    for label in samplers:
        acc: Dict[int, List[float]] = defaultdict(lambda: [0.0, 0.0])

        def watch(x, sigma):
            s = float(sigma.reshape(-1)[0])
            if 0.0 < s < 1.0:
                e = (x[:, kept].double() - (1.0 - s) * problem.y[kept]) / s
                a = acc[sigma_bin(s, bins)]
                a[0] += float(e.std())
                a[1] += 1
            return exact(x, sigma)

        run_sampler(watch, problem, label, budget, n)
        out[label] = {b: v[0] / v[1] for b, v in acc.items()}
    return out


def denoisers_for(prior_name: str, folder: Path) -> Dict[str, Optional[str]]:
    """'exact' and the committed networks trained on ``prior_name`` (label -> network name)."""
    out: Dict[str, Optional[str]] = {"exact": None}
    for name, (prior, _) in NETWORKS.items():
        if prior == prior_name and (folder / f"{name}.pt").is_file():
            out[name] = name
    return out


@torch.no_grad()
def bench_prior(prior_name: str, seeds: Sequence[int], n: int, folder: Path = WEIGHTS,
                samplers: Sequence[str] = tuple(SAMPLERS), budgets: Sequence[int] = BUDGETS,
                log: Callable[[str], None] = print, networks: Optional[Dict[str, Callable]] = None) -> dict:
    """Run one prior. Returns {"scores": {(denoiser, sampler, budget): [(sw, tv, calls)] per seed},
    "floor": [(sw, tv)] per seed, "offman": {(network, sampler): {bin: [chain, prior, post, rows]}}
    (network = a network on its own chains, or '<network> on exact chains': on the states of the
    same sampler driven by the exact denoiser),
    "offman_budget": {(network, sampler, budget): [chain, prior, post, rows] over all sigmas}}.

    ``networks`` (label -> denoiser) replaces the committed networks (the tests use it)."""
    exact = exact_denoiser(prior_name)
    if networks is None:
        networks = {label: load(name, folder) for label, name in denoisers_for(prior_name, folder).items()
                    if name is not None}
    scores: Dict[tuple, list] = defaultdict(list)
    floor = []
    offman: Dict[tuple, Dict[int, List[float]]] = {}
    by_budget: Dict[tuple, List[float]] = {}
    for seed in seeds:
        problem = Problem(prior_name, seed)
        ref = problem.exact(n, 0)
        floor.append(problem.score(problem.exact(n, 1), ref))
        dens = {"exact": (exact, None)}
        for label, net in networks.items():
            dens[label] = (net, References(net, exact, problem))
        for dlabel, (fn, refs) in dens.items():
            t0 = time.perf_counter()
            for slabel in samplers:
                for budget in budgets:
                    if refs is not None:
                        rec = Recorder(fn, exact, refs)
                    else:  # the exact chain, watched by every network
                        rec = Recorder(fn, watch={k: v for k, v in dens.items() if v[1] is not None})
                    x, calls = run_sampler(rec, problem, slabel, budget, n)
                    sw, tv = problem.score(x, ref)
                    scores[(dlabel, slabel, budget)].append((sw, tv, calls))
                    sums = {dlabel: rec.sums} if refs is not None else {
                        f"{name} on exact chains": v for name, v in rec.watch_sums.items()}
                    for name, per_bin in sums.items():
                        acc = offman.setdefault((name, slabel), defaultdict(lambda: [0.0, 0.0, 0.0, 0.0]))
                        tot = by_budget.setdefault((name, slabel, budget), [0.0, 0.0, 0.0, 0.0])
                        for b, v in per_bin.items():
                            acc[b] = [a + c for a, c in zip(acc[b], v)]
                            tot[:] = [a + c for a, c in zip(tot, v)]
            log(f"  {prior_name} seed {seed} {dlabel}: {time.perf_counter() - t0:.0f} s")
    return {"scores": dict(scores), "floor": floor, "offman": offman, "offman_budget": by_budget}


def _mean_sd(vals: Sequence[float]) -> tuple:
    t = torch.tensor(list(vals), dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if len(vals) > 1 else 0.0)


def score_table(result: dict, budgets: Sequence[int] = BUDGETS) -> List[List[str]]:
    """Rows [sampler, denoiser, one 'SW1 +-sd / TV' cell per budget] (mean and standard
    deviation over problem seeds), then a 'learned - exact' row per network (mean paired SW1
    difference +- its sd over seeds)."""
    scores = result["scores"]
    samplers = list(dict.fromkeys(k[1] for k in scores))
    dens = list(dict.fromkeys(k[0] for k in scores))
    rows = []
    for s in samplers:
        for d in dens:
            cells = []
            for b in budgets:
                vals = scores.get((d, s, b))
                if not vals:
                    cells.append("-")
                    continue
                m, sd = _mean_sd([v[0] for v in vals])
                tv = _mean_sd([v[1] for v in vals])[0]
                calls = vals[0][2]
                cells.append(f"{m:.4f} ±{sd:.4f} / {tv:.3f} ({calls:g})")
            rows.append([s, d] + cells)
        for d in dens:
            if d == "exact":
                continue
            cells = []
            for b in budgets:
                a, e = scores.get((d, s, b)), scores.get(("exact", s, b))
                if not a or not e:
                    cells.append("-")
                    continue
                m, sd = _mean_sd([x[0] - y[0] for x, y in zip(a, e)])
                cells.append(f"{m:+.4f} ±{sd:.4f}")
            rows.append([s, f"{d} − exact"] + cells)
    return rows


def offman_table(result: dict, bins: Sequence[float] = SIGMA_BINS) -> List[List[str]]:
    """Rows [network, sampler, one cell per sigma bin]: chain MSE per coordinate of the network
    against the exact denoiser, then (x prior, x ideal chain) = its ratio to the network's MSE on
    forward-noised prior samples and on forward-noised exact posterior samples at the same
    sigmas; a 'prior (forward-noised)' row per network gives that absolute reference."""
    rows = []
    nets = list(dict.fromkeys(k[0] for k in result["offman"]))
    nb = len(bins) - 1
    for net in nets:
        prior_sum = [[0.0, 0.0] for _ in range(nb)]
        for (n_, s), acc in result["offman"].items():
            if n_ != net:
                continue
            cells = []
            for b in range(nb):
                if b not in acc or acc[b][3] == 0:
                    cells.append("-")
                    continue
                chain, pri, post, r = acc[b]
                prior_sum[b][0] += pri
                prior_sum[b][1] += r
                cells.append(f"{chain / r:.2e} (×{chain / pri:.1f}, ×{chain / post:.1f})")
            rows.append([net, s] + cells)
        rows.append([net, "prior (forward-noised)"] +
                    [f"{p / r:.2e}" if r else "-" for p, r in prior_sum])
    return rows


def offman_budget_table(result: dict, budgets: Sequence[int] = BUDGETS) -> List[List[str]]:
    """Rows [network, sampler, one cell per budget]: the chain's MSE against the exact denoiser
    over all its calls, as (×a, ×b) ratios to the row-weighted forward-noised prior and exact
    posterior references at the same sigmas."""
    rows = []
    keys = list(dict.fromkeys(k[:2] for k in result["offman_budget"]))
    for net, s in keys:
        cells = []
        for b in budgets:
            v = result["offman_budget"].get((net, s, b))
            cells.append("-" if not v or not v[3] else f"×{v[0] / v[1]:.1f}, ×{v[0] / v[2]:.1f}")
        rows.append([net, s] + cells)
    return rows


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def bin_labels(bins: Sequence[float] = SIGMA_BINS) -> List[str]:
    return [f"σ {bins[i]:g}–{bins[i + 1]:g}" for i in range(len(bins) - 1)]


def plot_offman(results: Dict[str, dict], path: Path) -> str:
    try:
        import matplotlib
    except ImportError:
        return f"plot skipped: matplotlib is not installed in this Python ({sys.executable}); {path} not written"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [(p, net) for p, r in results.items() for net in dict.fromkeys(k[0] for k in r["offman"])]
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), dpi=110, squeeze=False)
    mids = [0.5 * (SIGMA_BINS[i] + SIGMA_BINS[i + 1]) for i in range(len(SIGMA_BINS) - 1)]
    for ax, (p, net) in zip(axes[0], panels):
        prior_curve = {}
        for (n_, s), acc in results[p]["offman"].items():
            if n_ != net:
                continue
            pts = [(mids[b], acc[b][0] / acc[b][3]) for b in sorted(acc) if acc[b][3]]
            ax.plot([a for a, _ in pts], [v for _, v in pts], "-o", ms=3, label=s)
            for b in acc:
                if acc[b][3]:
                    prior_curve.setdefault(b, [0.0, 0.0])
                    prior_curve[b][0] += acc[b][1]
                    prior_curve[b][1] += acc[b][3]
        pts = sorted((mids[b], v[0] / v[1]) for b, v in prior_curve.items())
        ax.plot([a for a, _ in pts], [v for _, v in pts], "k--", label="forward-noised prior")
        ax.set_yscale("log")
        ax.set_xlabel("flow sigma (bin centre)")
        ax.set_ylabel("MSE vs exact denoiser")
        ax.set_title(f"{p}: {net}", fontsize=9)
        ax.legend(fontsize=6)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return f"plot written to {path}"


def quick(priors: Sequence[str], seeds: Sequence[int], n: int, folder: Path, out: Path,
          samplers: Sequence[str] = tuple(SAMPLERS), budgets: Sequence[int] = BUDGETS) -> Dict[str, dict]:
    # one thread: on a shared 2-core machine two OpenMP threads ran 10-40x slower (spinning)
    torch.set_num_threads(1)
    lines: List[str] = []
    emit = line_printer(lines)

    t0 = time.perf_counter()
    emit(f"# python -m bench.learned {' '.join(sys.argv[1:])}: samplers {list(samplers)}; learned "
         f"networks vs the exact denoiser; flow_sigmas(steps, {SHIFT:g}), obs_std {OBS_STD}, N = {n}, "
         f"problem seeds {list(seeds)}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, (prior, _) in NETWORKS.items():
        if (folder / f"{name}.json").is_file():
            m = metadata(name, folder)
            emit(f"# {name}: {prior}, {m['params']} params, {m['config']['steps']} steps, "
                 f"{m['wall_seconds']} s wall, final loss {m['final_loss']:.4f}")
    results = {}
    for prior in priors:
        results[prior] = bench_prior(prior, seeds, n, folder, samplers=samplers, budgets=budgets, log=emit)
    for prior, r in results.items():
        what = ("the last 16 of 64 coordinates regenerated" if prior == "mixture25"
                else "bottom half of a held-out digit regenerated")
        emit(f"\n## {prior} ({what}): SW1 ±sd over problem seeds / component TV (calls per output)\n")
        emit(markdown(["sampler", "denoiser"] + [f"≤ {b} calls" for b in budgets], score_table(r, budgets)))
        fsw = _mean_sd([f[0] for f in r["floor"]])
        ftv = _mean_sd([f[1] for f in r["floor"]])[0]
        emit(f"\nfloor (two independent exact draws): SW1 {fsw[0]:.4f} ±{fsw[1]:.4f}, TV {ftv:.3f}; per seed "
             + ", ".join(f"{f[0]:.4f}" for f in r["floor"]))
        emit(f"\n## {prior}: off-manifold error, MSE per coordinate of the network vs the exact denoiser "
             f"on the states each sampler's chain visits (all budgets and seeds), per flow-sigma bin; "
             f"(×a, ×b) = ratio to the same network's MSE on forward-noised prior samples and on "
             f"forward-noised exact posterior samples at the same sigmas\n")
        emit(markdown(["network", "sampler"] + bin_labels(), offman_table(r)))
        emit(f"\n## {prior}: off-manifold error per budget (all sigmas of the chain): chain MSE / forward-noised "
             f"prior MSE, chain MSE / forward-noised exact posterior MSE, row-weighted at the chain's sigmas\n")
        emit(markdown(["network", "sampler"] + [f"≤ {b} calls" for b in budgets], offman_budget_table(r, budgets)))
    prof_budget = max(budgets)
    for prior in priors:
        prof = kept_noise_profile(prior, seeds[0], n, prof_budget, samplers)
        emit(f"\n## {prior}: std of the noise implied on the kept coordinates, (x - (1 - s) y) / s, by the "
             f"states each sampler calls the exact denoiser on (seed {seeds[0]}, ≤ {prof_budget} calls; the "
             f"forward process has 1)\n")
        emit(markdown(["sampler"] + bin_labels(), [[label] + [f"{v[b]:.2f}" if b in v else "-"
                                                              for b in range(len(SIGMA_BINS) - 1)]
                                                   for label, v in prof.items()]))
    emit("\n" + plot_offman(results, out.parent / "learned_offmanifold.png"))
    emit(f"\ntotal {time.perf_counter() - t0:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return results
