r"""``python -m bench.learned --manifold``: can DInG-1 be kept where a learned network is accurate?

Issue 18, item 3. DInG-1 (``ding1``, one call per step) sets the kept values of the next state to
the pseudo-observation ``ỹ = a_s·y + s_s·x̂1(x_t)`` (docs/algorithm.md, sections 5-6, small
``obs_std``). The noise those values carry, ``e = (x − a·y)/s``, is therefore the network's own
noise estimate, ``e_s = x̂1(x_t) = e_t + (a_t/s_t)·(y − x̂0(x_t))``: each step moves the kept
values toward the state whose clean estimate reproduces ``y`` (a fixed point ``x̂0(x)_kept = y``;
for a 1-D Gaussian prior N(0, v) it is ``e* = s·y/(a·v)``, far outside the noise shell at high
noise; the contraction per step is s²/(a²·v + s²), so finer grids track this moving target more
closely: in that 1-D case with v = 0.25, y = 0.5, the mean implied noise reaches 1.5 at 20 steps and
2.4 at 60, from 0 at the start). This is how the kept values inform the regenerated ones through the
denoiser (a drift of the mean toward an inversion of the denoiser, not a random walk), and it is
where a learned network is least accurate (bench/results/learned_quick.txt: 7-18x its error on
forward-noised prior samples at sigma 0.5-0.85, implied kept noise std about 2).

This bench tries the candidate corrections of the kept-region noise estimate ``x̂1`` (kept
coordinates only; every candidate keeps the exact posterior transition of sections 4-7 and one
call per step), in a re-implementation of the DInG-1 loop for the flow parametrization and a
binary mask (``ding1_kept_noise``; with the identity it reproduces ``ding_sample(variant="ding1")``
to float32 rounding, tests/test_bench_manifold.py):

* ``cap c``: ``x̂1 ← x̂1·min(1, c/rms)``, rms over the kept values of each item (a forward state
  has rms 1 there); ``norm 1``: always rescaled to rms 1; ``cap 1 σ≥0.5``: the cap only on steps
  that start at sigma >= 0.5 (where the off-manifold error is largest);
* ``blend λ``: ``x̂1 ← (1 − λ)·x̂1 + λ·(x_t − a_t·y)/s_t`` (λ = 1 keeps the state's own implied
  noise, i.e. latent replacement with that noise; λ = 0 is DInG-1); ``blend λ=σ`` ties λ to the
  step's start level;
* ``fresh β``: ``x̂1 ← √(1 − β²)·x̂1/rms + β·ε`` (part fresh noise, rms 1).

References: DInG-1 (``ding1/ddpm``, the nodes' default), DInG-1 with ``final_sigma=0.05`` (an
existing option that moves the last level, not the kept noise) and DInG (``ding/ddpm``, two calls per
step, whose proxy call keeps the chain near the noise shell), through ``ding_sample``; and a
*network floor*: both at about 150 calls, where the two very different chains (one far off the
noise shell, one on it) can be compared with the network held fixed.

Scores per prior (``bench.learned.quick.Problem``), problem seed, denoiser (exact and every
committed network of that prior), sampler and budget, N samples against N exact posterior draws:
SW1 of the whole output (as bench.learned --quick), SW1 after pasting ``y`` on the kept values
(what the nodes output), SW1 of the regenerated block alone, component TV; the off-manifold ratio
(network vs exact denoiser MSE on the chain's states, divided by the network's MSE on
forward-noised prior samples at the same sigmas), for all coordinates and for the kept and the
regenerated ones separately; and the rms of the implied kept noise at sigma 0.35-0.85. Every
candidate gets the same initial noise and sampler seed as DInG-1 (paired runs); differences are
reported as mean ± sd over problem seeds of the per-seed difference to DInG-1, and a difference
counts as better / worse only beyond 2·sd/√n (n seeds).

Commands (committed tables in bench/results/; one torch thread, the shared 2-core machine)::

    python -m bench.learned --manifold          # learned_manifold.txt: 364 s idle, 490 s under load
    python -m bench.learned --manifold --seeds 1 2 3 4 5 6 --manifold-candidates "cap 1" "cap 1.3" \
        "cap 1 σ≥0.5" "blend 0.3" --manifold-budgets 20 40 --manifold-floor 0 \
        --manifold-out bench/results/learned_manifold_6seeds.txt
    python -m bench.learned --manifold --manifold-priors digits --manifold-candidates "cap 1" "cap 1.3" \
        "blend 0.3" "ding/ddpm" --manifold-out bench/results/learned_manifold_digits.txt
"""
from __future__ import annotations

import math
import shlex
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch

from ding_sampler.analytic import sliced_wasserstein_1
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import Transition, flow_sigmas, plan_transitions

from . import WEIGHTS, exact_denoiser, line_printer, load
from .quick import SAMPLER_SEED, SHIFT, Problem, denoisers_for, markdown

BUDGETS = (8, 20, 40, 60)
FLOOR_BUDGET = 150
OFFMAN_ROWS = 256  # rows of each call the exact denoiser re-evaluates
REF_ROWS = 500
NOISE_BAND = (0.35, 0.85)  # sigma band of the implied kept-noise rms

Transform = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, Transition, torch.Tensor, torch.Generator],
                     torch.Tensor]


def _rms(x1: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    return x1[:, kept].pow(2).mean(1, keepdim=True).sqrt()


def identity(x1, x, y, st, kept, g):
    return x1


def cap(c: float, sigma_min: float = 0.0) -> Transform:
    def f(x1, x, y, st, kept, g):
        if st.sigma_t < sigma_min:
            return x1
        return x1 * torch.clamp(c / _rms(x1, kept), max=1.0)
    return f


def norm(c: float = 1.0) -> Transform:
    def f(x1, x, y, st, kept, g):
        return x1 * (c / _rms(x1, kept))
    return f


def blend(lam: Optional[float]) -> Transform:
    """λ fixed, or λ = the step's start sigma when ``lam`` is None."""
    def f(x1, x, y, st, kept, g):
        lm = st.sigma_t if lam is None else lam
        own = (x - st.a_t * y) / st.s_t
        return (1.0 - lm) * x1 + lm * own
    return f


def fresh(beta: float) -> Transform:
    def f(x1, x, y, st, kept, g):
        eps = torch.randn(x1.shape, generator=g, dtype=x1.dtype)
        return math.sqrt(1.0 - beta * beta) * x1 / _rms(x1, kept) + beta * eps
    return f


# label -> transform of the kept-region noise estimate (None: a ding_sample reference)
CANDIDATES: Dict[str, Optional[Transform]] = {
    "ding1/ddpm": identity,
    "cap 1": cap(1.0),
    "cap 1.3": cap(1.3),
    "cap 1 σ≥0.5": cap(1.0, 0.5),
    "norm 1": norm(1.0),
    "blend 0.3": blend(0.3),
    "blend 0.6": blend(0.6),
    "blend λ=σ": blend(None),
    "fresh 0.3": fresh(0.3),
    "ding1/ddpm final 0.05": None,
    "ding/ddpm": None,
}
BASE = "ding1/ddpm"
# the rows run through ding_sample itself: label -> (options, steps for a call budget)
REFERENCES: Dict[str, tuple] = {
    "ding1/ddpm final 0.05": (dict(variant="ding1", eta="ddpm", final_sigma=0.05), lambda b: b),
    "ding/ddpm": (dict(variant="ding", eta="ddpm"), lambda b: (b + 1) // 2),  # 2 steps - 1 calls
}


def ding1_kept_noise(denoiser: Callable, noise: torch.Tensor, sigmas: Sequence[float], y: torch.Tensor,
                     keep: torch.Tensor, obs_std: float, generator: torch.Generator,
                     transform: Transform = identity, eta="ddpm") -> torch.Tensor:
    """DInG-1 (flow, binary ``keep`` of shape [1, d], ``sigmas`` from 1 down to 0) with the noise
    estimate of the pseudo-observation replaced by ``transform(x̂1, x_t, y, step, kept, generator)``
    (only its kept coordinates matter). docs/algorithm.md sections 4-8 otherwise, with the same
    noise draws as ``ding_sample(variant="ding1")`` when ``transform`` draws none."""
    plan, final = plan_transitions(sigmas, "flow", eta, obs_std)
    if not final or sigmas[0] != 1.0:
        raise ValueError("ding1_kept_noise: sigmas must run from 1 down to 0")
    n = noise.shape[0]
    kept = keep[0] > 0
    x = noise.clone()
    for st in plan:
        x0 = denoiser(x, torch.full((n,), st.sigma_t, dtype=x.dtype))
        mu = x * st.c_t + x0 * st.c_0
        x1 = transform((x - st.a_t * x0) / st.s_t, x, y, st, kept, generator)
        innovation = st.a_s * y + st.s_s * x1 - mu
        eps2 = torch.randn(x.shape, generator=generator, dtype=x.dtype)
        rho = st.gain_ratio
        k = rho / (1.0 + rho)
        c = 1.0 - 1.0 / math.sqrt(1.0 + rho)
        x = mu + st.eta * eps2 + keep * (k * innovation - st.eta * c * eps2)
    return denoiser(x, torch.full((n,), sigmas[-2], dtype=x.dtype))


class _References:
    """The network's squared error against the exact denoiser per coordinate on forward-noised
    prior samples at one sigma (REF_ROWS rows, seeded), cached."""

    def __init__(self, net, exact, problem: Problem):
        g = torch.Generator().manual_seed(777)
        self.net, self.exact = net, exact
        self.x0 = problem.prior.sample(REF_ROWS, g).float()
        self.e = torch.randn(REF_ROWS, problem.prior.dim, generator=g)
        self.cache: Dict[float, torch.Tensor] = {}

    def __call__(self, s: float) -> torch.Tensor:
        key = round(s, 9)
        if key not in self.cache:
            x = (1.0 - s) * self.x0 + s * self.e
            sig = torch.full((x.shape[0],), s)
            self.cache[key] = (self.net(x, sig) - self.exact(x, sig)).pow(2).mean(0)
        return self.cache[key]


class _Recorder:
    """Wraps a denoiser: counts rows; with ``refs``, sums the network's squared error against the
    exact denoiser on the chain's states (first OFFMAN_ROWS rows of each call) over all, kept and
    regenerated coordinates, and the reference error at the same sigmas; and the rms of the
    implied kept noise on calls with sigma in NOISE_BAND."""

    def __init__(self, fn, exact, refs, problem: Problem):
        self.fn, self.exact, self.refs = fn, exact, refs
        self.kept = problem.keep > 0
        self.y = problem.y.float()
        self.rows = 0
        self.sums = torch.zeros(6, dtype=torch.float64)  # chain all/kept/hidden, ref all/kept/hidden
        self.noise = [0.0, 0]

    def __call__(self, x, sigma):
        out = self.fn(x, sigma)
        self.rows += x.shape[0]
        s = float(sigma.reshape(-1)[0])
        kept = self.kept
        if NOISE_BAND[0] <= s <= NOISE_BAND[1]:
            e = (x[:, kept] - (1.0 - s) * self.y[kept]) / s
            self.noise[0] += float(e.pow(2).mean().sqrt())
            self.noise[1] += 1
        if self.refs is not None:
            k = min(x.shape[0], OFFMAN_ROWS)
            err = (out[:k].float() - self.exact(x[:k], sigma[:k]).float()).pow(2).mean(0).double()
            ref = self.refs(s).double()
            self.sums += torch.stack([err.mean(), err[kept].mean(), err[~kept].mean(),
                                      ref.mean(), ref[kept].mean(), ref[~kept].mean()])
        return out


def run_one(den: Callable, problem: Problem, label: str, budget: int, n: int) -> torch.Tensor:
    """Samples [n, d] of sampler ``label`` at ``budget`` calls (ding/ddpm: 2 steps − 1 calls; the
    REFERENCES rows through ``ding_sample``, the others through ``ding1_kept_noise``);
    the same noise and generator seed for every candidate (paired)."""
    g = torch.Generator().manual_seed(SAMPLER_SEED + 1000 * problem.seed + budget)
    noise = torch.randn(n, problem.prior.dim, generator=g)
    y, keep = problem.y[None].float(), problem.keep[None].float()
    transform = CANDIDATES[label]
    if transform is None:
        opts, steps_of = REFERENCES[label]
        return ding_sample(den, noise, flow_sigmas(steps_of(budget), SHIFT), y, keep, parametrization="flow",
                           obs_std=problem.obs_std, generator=g, **opts)
    return ding1_kept_noise(den, noise, flow_sigmas(budget, SHIFT), y, keep, problem.obs_std, g, transform)


@torch.no_grad()
def bench_manifold(prior_name: str, seeds: Sequence[int], n: int, folder: Path = WEIGHTS,
                   candidates: Sequence[str] = tuple(CANDIDATES), budgets: Sequence[int] = BUDGETS,
                   floor_budget: Optional[int] = FLOOR_BUDGET, log: Callable[[str], None] = print,
                   networks: Optional[Dict[str, Callable]] = None) -> dict:
    """{(denoiser, sampler, budget): [record per seed]}; a record is a dict with sw, sw_paste,
    sw_hidden, tv, calls, offman (all, kept, hidden ratios; None for exact) and noise (kept rms)."""
    exact = exact_denoiser(prior_name)
    if networks is None:
        networks = {label: load(name, folder) for label, name in denoisers_for(prior_name, folder).items()
                    if name is not None}
    out: Dict[tuple, list] = defaultdict(list)
    runs = [(c, b) for c in candidates for b in budgets]
    if floor_budget:
        runs += [(c, floor_budget) for c in (BASE, "ding/ddpm") if c in candidates]
    for seed in seeds:
        problem = Problem(prior_name, seed)
        ref = problem.exact(n, 0)
        hidden = problem.hidden
        kept = (problem.keep > 0)[None]
        dens = {"exact": (exact, None)}
        dens.update({label: (net, _References(net, exact, problem)) for label, net in networks.items()})
        for dlabel, (fn, refs) in dens.items():
            t0 = time.perf_counter()
            for label, budget in runs:
                rec = _Recorder(fn, exact, refs if budget != floor_budget else None, problem)
                x = run_one(rec, problem, label, budget, n)
                if not torch.isfinite(x).all():
                    raise RuntimeError(f"{label} at {budget} calls produced non-finite samples")
                sw, tv = problem.score(x, ref)
                pasted = torch.where(kept, problem.y[None].float(), x)
                s = rec.sums
                out[(dlabel, label, budget)].append(dict(
                    sw=sw, tv=tv, calls=rec.rows / n,
                    sw_paste=problem.score(pasted, ref)[0],
                    sw_hidden=sliced_wasserstein_1(x[:, hidden].double(), ref[:, hidden].double()),
                    offman=None if refs is None or budget == floor_budget else
                    tuple(float(s[i] / s[i + 3]) for i in range(3)),
                    noise=rec.noise[0] / rec.noise[1] if rec.noise[1] else float("nan")))
            log(f"  {prior_name} seed {seed} {dlabel}: {time.perf_counter() - t0:.0f} s")
    return dict(out)


def _stats(vals: Sequence[float]) -> tuple:
    t = torch.tensor(list(vals), dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if len(vals) > 1 else 0.0)


def paired(result: dict, den: str, label: str, budget: int, key: str = "sw") -> Optional[tuple]:
    """(mean, sd) over seeds of the per-seed difference ``label − ding1/ddpm``."""
    a, b = result.get((den, label, budget)), result.get((den, BASE, budget))
    if not a or not b:
        return None
    return _stats([x[key] - z[key] for x, z in zip(a, b)])


def verdict(mean: float, sd: float, n: int) -> int:
    """-1 better, +1 worse, 0 within the paired seed noise (|mean| ≤ 2 sd / √n)."""
    if n < 2 or abs(mean) <= 2.0 * sd / math.sqrt(n):
        return 0
    return -1 if mean < 0 else 1


def score_rows(result: dict, den: str, candidates: Sequence[str], budgets: Sequence[int],
               key: str = "sw") -> List[List[str]]:
    rows = []
    for label in candidates:
        cells = []
        for b in budgets:
            vals = result.get((den, label, b))
            if not vals:
                cells.append("-")
                continue
            m = _stats([v[key] for v in vals])[0]
            cell = f"{m:.4f}"
            if key == "sw":
                cell += f" / {_stats([v['tv'] for v in vals])[0]:.3f}"
            d = paired(result, den, label, b, key)
            if label != BASE and d is not None:
                mark = {-1: " ✓", 1: " ✗", 0: ""}[verdict(*d, len(vals))]
                cell += f" ({d[0]:+.4f} ±{d[1]:.4f}{mark})"
            cells.append(cell)
        rows.append([label] + cells)
    return rows


def offman_rows(result: dict, den: str, candidates: Sequence[str], budgets: Sequence[int]) -> List[List[str]]:
    rows = []
    for label in candidates:
        cells = []
        for b in budgets:
            vals = result.get((den, label, b))
            if not vals or vals[0]["offman"] is None:
                cells.append("-")
                continue
            r = [_stats([v["offman"][i] for v in vals])[0] for i in range(3)]
            e = _stats([v["noise"] for v in vals])[0]
            cells.append(f"×{r[0]:.1f} (kept ×{r[1]:.1f}, regen. ×{r[2]:.1f}); rms {e:.2f}")
        rows.append([label] + cells)
    return rows


def summary(result: dict, dens: Sequence[str], candidates: Sequence[str], budgets: Sequence[int],
            key: str = "sw") -> List[str]:
    """One line per candidate: where it is better / worse than DInG-1 beyond the paired noise on
    the score ``key``, and whether that meets the adoption target."""
    lines = []
    nets = [d for d in dens if d != "exact"]
    for label in candidates:
        if label == BASE:
            continue
        wins, losses = [], []
        for d in dens:
            for b in budgets:
                p = paired(result, d, label, b, key)
                if p is None:
                    continue
                v = verdict(*p, len(result[(d, label, b)]))
                (wins if v < 0 else losses if v > 0 else []).append(f"{d}@{b}")
        target = [f"{d}@{b}" for d in nets for b in (20, 40) if b in budgets]
        adopt = target and all(t in wins for t in target) and not any(l.startswith("exact@") for l in losses)
        lines.append(f"- {label}: better at {', '.join(wins) or 'none'}; worse at {', '.join(losses) or 'none'}"
                     f" -> {'WINS' if adopt else 'does not win'} (target: better at 20 and 40 calls on every "
                     f"network, not worse on exact)")
    return lines


def manifold_report(priors: Sequence[str], seeds: Sequence[int], n: int, folder: Path, out: Path,
                    candidates: Sequence[str] = tuple(CANDIDATES), budgets: Sequence[int] = BUDGETS,
                    floor_budget: Optional[int] = FLOOR_BUDGET) -> Dict[str, dict]:
    torch.set_num_threads(1)  # as bench.learned.quick: one thread on the shared 2-core machine
    lines: List[str] = []
    emit = line_printer(lines)

    t0 = time.perf_counter()
    emit(f"# python -m bench.learned {shlex.join(sys.argv[1:])}: DInG-1 kept-noise candidates {list(candidates)}; "
         f"flow_sigmas(steps, {SHIFT:g}), eta ddpm, obs_std 0.01, N = {n}, problem seeds {list(seeds)}; "
         f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    results = {}
    for prior in priors:
        results[prior] = r = bench_manifold(prior, seeds, n, folder, candidates, budgets, floor_budget, emit)
        dens = list(dict.fromkeys(k[0] for k in r))
        head = ["sampler"] + [f"≤ {b} calls" for b in budgets]
        for den in dens:
            emit(f"\n## {prior}, {den}: SW1 / component TV, mean over seeds (paired difference to {BASE}: mean "
                 f"±sd over seeds; ✓ better, ✗ worse beyond 2 sd/√n)\n")
            emit(markdown(head, score_rows(r, den, candidates, budgets)))
        for den in dens:
            emit(f"\n## {prior}, {den}: SW1 with y pasted on the kept values (what the nodes output) and SW1 of "
                 f"the regenerated block alone (paired difference to {BASE})\n")
            emit(markdown(head, score_rows(r, den, candidates, budgets, "sw_paste")))
            emit("")
            emit(markdown(head, score_rows(r, den, candidates, budgets, "sw_hidden")))
        for den in dens:
            if den == "exact":
                continue
            emit(f"\n## {prior}, {den}: off-manifold ratio (chain MSE vs the exact denoiser / the network's MSE on "
                 f"forward-noised prior samples at the same sigmas) over all, kept and regenerated coordinates; "
                 f"rms of the implied kept noise (x − a·y)/s at sigma {NOISE_BAND[0]}-{NOISE_BAND[1]} (forward "
                 f"process: 1)\n")
            emit(markdown(head, offman_rows(r, den, candidates, budgets)))
        emit(f"\n## {prior}, exact chains: rms of the implied kept noise at sigma {NOISE_BAND[0]}-{NOISE_BAND[1]}\n")
        emit(markdown(head, [[c] + [f"{_stats([v['noise'] for v in r[('exact', c, b)]])[0]:.2f}"
                                    if r.get(('exact', c, b)) else "-" for b in budgets] for c in candidates]))
        if floor_budget:
            emit(f"\n## {prior}: network floor, SW1 per seed at about {floor_budget} calls (ding/ddpm: "
                 f"{2 * ((floor_budget + 1) // 2) - 1}), next to {BASE} at {max(budgets)} calls\n")
            rows = []
            for den in dens:
                for label in (BASE, "ding/ddpm"):
                    for b in (max(budgets), floor_budget):
                        vals = r.get((den, label, b))
                        if vals:
                            m = _stats([v["sw"] for v in vals])[0]
                            rows.append([den, label, f"{vals[0]['calls']:g}", f"{m:.4f}",
                                         ", ".join(f"{v['sw']:.4f}" for v in vals)])
                a, b_ = r.get((den, BASE, floor_budget)), r.get((den, "ding/ddpm", floor_budget))
                if a and b_:
                    m, sd = _stats([x["sw"] - z["sw"] for x, z in zip(a, b_)])
                    rows.append([den, f"{BASE} − ding/ddpm at the floor budget", "", f"{m:+.4f} ±{sd:.4f}", ""])
            emit(markdown(["denoiser", "sampler", "calls", "SW1", "per seed"], rows))
        for key, what in (("sw", "SW1"), ("sw_paste", "SW1 with y pasted on the kept values")):
            emit(f"\n## {prior}: verdict per candidate, {what} (paired difference to {BASE} beyond 2 sd/√n)\n")
            for line in summary(r, dens, candidates, budgets, key):
                emit(line)
    emit(f"\ntotal {time.perf_counter() - t0:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return results
