"""Off-manifold error per sampler, through real ComfyUI: the learned network's error against the
exact denoiser on the states each sampler's chain hands the model, per noise level, for the DInG
settings, ComfyUI's samplers with a noise mask and LanPaint (issue 18 item 3).

bench.learned's quick bench measures this for the pack's own Python loop; here every sampler runs
as ComfyUI runs it (bench.peers' serving: a tiny SD3 ModelPatcher whose network is replaced by a
bench.learned network through ``model_function_wrapper``), so LanPaint's Langevin inner steps and
ComfyUI's latent replacement are measured on exactly the inputs they give the model. Every model
call is recorded by bench.learned.quick's ``Recorder``: the squared error per coordinate of the
network against the prior's exact denoiser on the call's rows, and, at the same sigma, the same
network's error on forward-noised samples of the prior (``References``). The ratio of the two is
how far off the network's training distribution the chain's states are (1 = on it).

    LANPAINT_PATH=/work/lanpaint COMFYUI_PATH=/work/comfy/c064 \\
        /work/comfy/venv-c064/bin/python -m bench.offmanifold \\
        --log bench/results/offmanifold_064.txt --plot bench/results/offmanifold.png
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from bench import learned
from bench.learned.quick import SIGMA_BINS, Recorder, References, bin_labels, markdown
from bench.mixture_denoiser import Float32Mixture
from bench.peers import (LATENT, ExactModel, FixedPriorProblem, ReportLog, comfy_setup, comfy_version_text,
                         keep_vector, run_entry)

NETWORKS = ("mixture25-mlp256", "mixture25-mlp128")
BUDGETS = (20, 40)
# (label, kind, options, {budget: steps}); LanPaint's call counts at its default 5 Langevin steps
# (counted by bench.peers on this latent): 4 steps = 18 calls, 8 steps = 38 calls
SAMPLERS = (
    ("ding1/ddpm (default)", "ding", dict(variant="ding1", eta="ddpm"), {20: 20, 40: 40}),
    ("ding1/square", "ding", dict(variant="ding1", eta="square"), {20: 20, 40: 40}),
    ("ding/ddpm", "ding", dict(variant="ding", eta="ddpm"), {20: 10, 40: 20}),
    ("ding1/ddpm K=4", "ding", dict(variant="ding1", eta="ddpm", particles=4), {20: 5, 40: 10}),
    ("comfy euler", "comfy", dict(sampler_name="euler"), {20: 20, 40: 40}),
    ("comfy euler_ancestral", "comfy", dict(sampler_name="euler_ancestral"), {20: 20, 40: 40}),
    ("comfy dpmpp_2m", "comfy", dict(sampler_name="dpmpp_2m"), {20: 20, 40: 40}),
    ("LanPaint", "lanpaint", {}, {20: 4, 40: 8}),
)


class Flat:
    """A [N, 64] denoiser seen as the model's [N, 16, 2, 2] one."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        return self.fn(x.reshape(x.shape[0], -1).float(), sigma.float()).reshape(x.shape)


def ratio_rows(acc: Dict[int, List[float]]) -> Dict[int, float]:
    """{sigma bin: chain MSE / forward-noised prior MSE at the same sigmas (row-weighted)}."""
    return {b: v[0] / v[1] for b, v in acc.items() if v[3] and v[1] > 0}


def overall_ratio(acc: Dict[int, List[float]]) -> Optional[float]:
    chain = sum(v[0] for v in acc.values())
    prior = sum(v[1] for v in acc.values())
    return chain / prior if prior > 0 else None


def merge(into: Dict[int, List[float]], acc: Dict[int, List[float]]) -> None:
    for b, v in acc.items():
        tgt = into.setdefault(b, [0.0, 0.0, 0.0, 0.0])
        for i in range(4):
            tgt[i] += v[i]


def run(args, emit) -> Dict[tuple, Dict[int, List[float]]]:
    h, lanpaint, base = comfy_setup(args.no_lanpaint)
    import comfy.sample
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    (model,) = h.call_node("ModelSamplingSD3", model=base, shift=3.0)
    prior = learned.make_prior("mixture25")
    exact = Float32Mixture(prior)
    keep = keep_vector()
    mask = (1.0 - keep).reshape(1, *LATENT)[:, :1].float()
    plan = [s for s in SAMPLERS if lanpaint is not None or s[1] != "lanpaint"]
    emit(f"# bench.offmanifold: {comfy_version_text(h)}; LanPaint: {lanpaint or 'not run'}; networks "
         f"{', '.join(args.networks)} (bench.learned) served through the ModelPatcher; prior "
         f"GaussianMixture.random(64, 25, seed={learned.MIXTURE_SEED}); position (1, 1) regenerated; obs_std 0.01; "
         f"N = {args.samples}; problem seeds {args.seeds}; scheduler simple, shift 3, cfg 1; torch {torch.__version__}")
    acc: Dict[tuple, Dict[int, List[float]]] = {}
    calls: Dict[tuple, float] = {}
    t_start = time.perf_counter()
    for name in args.networks:
        net = learned.load(name)
        for seed in args.seeds:
            problem = FixedPriorProblem(prior, seed, keep, obs_std=0.01)
            refs = References(net, exact, problem)
            n = args.samples
            for label, kind, opts, steps_of in plan:
                for budget in args.budgets:
                    rec = Recorder(net, exact=exact, refs=refs)
                    em = ExactModel(model, prior, denoise=Flat(rec))
                    y = problem.y.float().reshape(1, *LATENT).expand(n, *LATENT).contiguous()
                    latent = em.to_latent(y)
                    noise = comfy.sample.prepare_noise(latent, seed)
                    t0 = time.perf_counter()
                    run_entry(h, em, kind, opts, latent, mask, noise, seed, steps_of[budget])
                    key = (name, label, budget)
                    merge(acc.setdefault(key, {}), rec.sums)
                    calls[key] = em.rows / n
                    emit(f"{name} seed {seed} {label:22s} <= {budget} calls: {em.rows / n:.0f} calls, chain/prior "
                         f"MSE x{overall_ratio(rec.sums):.2f} ({time.perf_counter() - t0:.1f} s)")
    emit(f"\ntotal {time.perf_counter() - t_start:.0f} s\n")
    for name in args.networks:
        emit(f"## {name}: chain MSE / forward-noised prior MSE at the same sigmas, per flow-sigma bin "
             f"(network vs exact denoiser on the states each chain hands the model; all problem seeds)\n")
        rows = []
        for label, *_ in plan:
            for budget in args.budgets:
                a = acc.get((name, label, budget))
                if not a:
                    continue
                r = ratio_rows(a)
                rows.append([label, f"{calls[(name, label, budget)]:.0f}", f"x{overall_ratio(a):.2f}"]
                            + [f"x{r[b]:.2f}" if b in r else "-" for b in range(len(SIGMA_BINS) - 1)])
        emit(markdown(["sampler", "calls", "all sigmas"] + bin_labels(), rows) + "\n")
    return acc


def plot(acc: Dict[tuple, Dict[int, List[float]]], networks: Sequence[str], budget: int, path: Path) -> str:
    try:
        import matplotlib
    except ImportError:
        return f"plot skipped: matplotlib is not installed in this Python ({sys.executable}); {path} not written"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    mids = [0.5 * (SIGMA_BINS[i] + SIGMA_BINS[i + 1]) for i in range(len(SIGMA_BINS) - 1)]
    fig, axes = plt.subplots(1, len(networks), figsize=(5.5 * len(networks), 4.2), dpi=110, squeeze=False)
    for ax, name in zip(axes[0], networks):
        for (net, label, b), a in acc.items():
            if net != name or b != budget:
                continue
            r = ratio_rows(a)
            xs = [mids[k] for k in sorted(r)]
            style = "-o" if label.startswith("ding") else "--s"
            ax.plot(xs, [r[k] for k in sorted(r)], style, ms=3, label=label)
        ax.axhline(1.0, color="k", lw=0.8, ls=":", label="on the training distribution")
        ax.set_yscale("log")
        ax.set_xlabel("noise level (flow sigma)")
        ax.set_ylabel("error on chain states / on noised prior")
        ax.set_title(f"{name}, about {budget} model calls (ComfyUI)", fontsize=9)
        ax.legend(fontsize=6)
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return f"plot written to {path}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--networks", nargs="+", default=list(NETWORKS), help="bench.learned mixture networks")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="problem seeds")
    p.add_argument("--samples", type=int, default=1000, help="rows per run (one batch)")
    p.add_argument("--budgets", type=int, nargs="+", default=list(BUDGETS), choices=BUDGETS)
    p.add_argument("--no-lanpaint", action="store_true", help="skip LanPaint even if LANPAINT_PATH is set")
    p.add_argument("--log", type=Path, default=None, help="also write the report to this file")
    p.add_argument("--plot", type=Path, default=None, help="write the per-sigma plot (PNG) here")
    args = p.parse_args(argv)
    emit = ReportLog(args.log)
    try:
        acc = run(args, emit)
        if args.plot is not None:
            emit(plot(acc, args.networks, max(args.budgets), args.plot))
    finally:
        emit.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
