"""DInG against ComfyUI's own masked samplers (and LanPaint) at equal model calls,
through a real ComfyUI, on a prior whose exact inpainting posterior is known.

The diffusion model is a tiny SD3 checkpoint loaded by ComfyUI's own UNETLoader;
its network is replaced, through the ModelPatcher (``model_function_wrapper``),
by the exact denoiser of a 25-component Gaussian mixture in d = 64 (latent
[16, 2, 2] in model space; the SD3 latent format's scale/shift are undone at both
ends). One latent position (16 of the 64 coordinates, a quarter) is regenerated,
the rest kept. Every run samples N posterior draws as one batch; each is scored
by the sliced 1-Wasserstein distance (SW1, 256 projections) to N exact posterior
samples. Calls = model evaluations per image (rows evaluated / N).

Run from the repository root with a ComfyUI (COMFYUI_PATH or the harness's
search) and, for LanPaint, a LanPaint checkout (loaded as a custom node from
LANPAINT_PATH, never copied)::

    LANPAINT_PATH=/path/to/LanPaint COMFYUI_PATH=/path/to/ComfyUI \\
        /path/to/venv/bin/python -m bench.peers --log bench/results/peers_064.txt

``--quick`` runs one seed and step counts up to 60; ``--full`` every sampler at
every step count up to 300 calls (about an hour on 2 cores). The committed figure
adds the 300-call points of the main samplers to the default run and redraws::

    python -m bench.peers --only ding1/ddpm ding1/square "comfy euler_ancestral" --no-lanpaint \\
        --steps 300 --log a.txt
    python -m bench.peers --only ding/square --no-lanpaint --steps 150 --log b.txt
    python -m bench.peers --only LanPaint --steps 60 --log c.txt
    python -m bench.peers --from-log bench/results/peers_064.txt bench/results/peers_064_300calls.txt \\
        --plot bench/results/peers.png

The plot needs matplotlib (ComfyUI's venv here has it).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from ding_sampler.analytic import InpaintingProblem

BUDGETS = (40, 60, 150, 300)
# step counts (default run); --full runs every sampler at FULL_ONE / FULL_DING / LANPAINT_FULL.
# Calls per image: 1-call samplers = steps, ding = 2 steps - 1 (5, 10, 20, 30, 75, 150 steps ->
# 9, 19, 39, 59, 149, 299 calls), LanPaint about 4.7 per step at its defaults (28 steps = 131 calls).
FULL_ONE = (10, 20, 40, 60, 150, 300)
FULL_DING = (5, 10, 20, 30, 75, 150)
LANPAINT_FULL = (5, 8, 12, 28, 60)
DEFAULT_STEPS = {
    "ding/square": (5, 10, 20, 30, 75),
    "ding/ddpm": (5, 10, 20, 30),
    "ding/default": (10, 30),
    "ding/ddim": (10, 30),
    "ding1/square": (10, 20, 40, 60, 150),
    "ding1/ddpm": (10, 20, 40, 60, 150),
    "ding1/default": (20, 60),
    "ding1/ddim": (20, 60),
    "comfy euler": (10, 20, 40, 60),
    "comfy euler_ancestral": (10, 20, 40, 60, 150),
    "comfy dpmpp_2m": (20, 60),
    "LanPaint": (5, 8, 12, 28),
}
ETAS = ("square", "default", "ddpm", "ddim")
COMFY_SAMPLERS = ("euler", "euler_ancestral", "dpmpp_2m")
LATENT = (16, 2, 2)
SCHEDULER = "simple"


def keep_vector() -> torch.Tensor:
    """1 = kept; the latent position (1, 1) of every channel is regenerated."""
    keep = torch.ones(LATENT, dtype=torch.float64)
    keep[:, 1, 1] = 0.0
    return keep.reshape(-1)


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


class ExactModel:
    """Serves the exact mixture denoiser as the model's network and counts rows."""

    def __init__(self, base_patcher, prior):
        self.prior = prior
        self.rows = 0
        self.denoise = Float32Mixture(prior)
        self.patcher = base_patcher.clone()
        self.patcher.set_model_unet_function_wrapper(self.wrapper)
        self.latent_format = base_patcher.model.latent_format

    def wrapper(self, apply_model, args):
        x, sigma = args["input"], args["timestep"]
        n = x.shape[0]
        self.rows += n
        return self.denoise(x, sigma.reshape(-1).expand(n))

    def to_latent(self, model_space: torch.Tensor) -> torch.Tensor:
        """Latent as ComfyUI's LATENT carries it (process_latent_in maps it back)."""
        return self.latent_format.process_out(model_space)

    def from_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_in(latent)


def conditioning():
    return [[torch.zeros(1, 1, 4096), {"pooled_output": torch.zeros(1, 2048)}]]


def run_ding(h, em: ExactModel, latent, mask, noise, seed, steps, variant, eta, obs_std=0.01):
    import comfy.sample
    (sampler,) = h.call_node("DInGSampler", variant=variant, obs_std=obs_std, eta=eta)
    (sigmas,) = h.call_node("BasicScheduler", model=em.patcher, scheduler=SCHEDULER, steps=steps, denoise=1.0)
    with torch.inference_mode():
        return comfy.sample.sample_custom(em.patcher, noise, 1.0, sampler, sigmas, conditioning(), conditioning(),
                                          latent, noise_mask=mask, seed=seed, disable_pbar=True)


def run_comfy(h, em: ExactModel, latent, mask, noise, seed, steps, sampler_name):
    import comfy.sample
    with torch.inference_mode():
        return comfy.sample.sample(em.patcher, noise, steps, 1.0, sampler_name, SCHEDULER, conditioning(),
                                   conditioning(), latent, denoise=1.0, noise_mask=mask, seed=seed,
                                   disable_pbar=True)


def run_lanpaint(h, em: ExactModel, latent, mask, noise, seed, steps):
    # LanPaint draws its own initial noise from the seed (like KSampler).
    (out,) = h.call_node("LanPaint_KSampler", model=em.patcher, seed=seed, steps=steps, cfg=1.0,
                         sampler_name="euler", scheduler=SCHEDULER, positive=conditioning(),
                         negative=conditioning(), latent_image={"samples": latent, "noise_mask": mask},
                         denoise=1.0)
    return out["samples"]


def methods(lanpaint: bool, quick: bool, full: bool, etas: Sequence[str]) -> List[tuple]:
    """(label, kind, options, step counts)."""
    def steps_for(label, full_steps):
        steps = full_steps if full else DEFAULT_STEPS[label]
        return tuple(v for v in steps if v <= 60) if quick else steps

    out = []
    for eta in etas:
        out.append((f"ding/{eta}", "ding", dict(variant="ding", eta=eta), steps_for(f"ding/{eta}", FULL_DING)))
        out.append((f"ding1/{eta}", "ding", dict(variant="ding1", eta=eta), steps_for(f"ding1/{eta}", FULL_ONE)))
    for name in COMFY_SAMPLERS:
        out.append((f"comfy {name}", "comfy", dict(sampler_name=name), steps_for(f"comfy {name}", FULL_ONE)))
    if lanpaint:
        out.append(("LanPaint", "lanpaint", {}, steps_for("LanPaint", LANPAINT_FULL)))
    return out


def lanpaint_source() -> Optional[Path]:
    """The LanPaint checkout named by $LANPAINT_PATH, or None."""
    path = os.environ.get("LANPAINT_PATH")
    if not path:
        return None
    src = Path(path).resolve()
    if not (src / "__init__.py").is_file():
        raise SystemExit(f"LANPAINT_PATH={path} is not a LanPaint checkout (no __init__.py)")
    return src


def link_custom_node(src: Path, base_dir: Path) -> None:
    """Link the pack ``src`` into ``base_dir/custom_nodes`` so that ComfyUI loads it, unmodified."""
    link = base_dir / "custom_nodes" / src.name
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        os.symlink(str(src), str(link), target_is_directory=True)


def best_within(points: List[tuple], budget: int):
    """Lowest mean SW1 among runs with calls <= budget; (sw, calls, steps) or None."""
    inside = [p for p in points if p[1] <= budget + 1e-9]
    return min(inside, key=lambda p: p[0]) if inside else None


def format_table(results: Dict[str, List[tuple]], budgets=BUDGETS) -> str:
    head = "| sampler | " + " | ".join(f"best SW1 <= {b} calls" for b in budgets) + " |"
    lines = [head, "|---|" + "---:|" * len(budgets)]
    for label, pts in results.items():
        cells = []
        for b in budgets:
            best = best_within(pts, b)
            cells.append("-" if best is None else f"{best[0]:.3f} ({best[1]:.0f} calls)")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: Dict[str, List[tuple]], floor: float, path: Path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = plt.cm.tab20.colors
    for i, (label, pts) in enumerate(results.items()):
        pts = sorted(pts, key=lambda p: p[1])
        style = "-o" if label.startswith("ding") else "--s"
        ax.plot([p[1] for p in pts], [p[0] for p in pts], style, label=label, markersize=4,
                color=colours[(2 * i) % 20 if i < 10 else (2 * i + 1) % 20])
    ax.axhline(floor, color="grey", lw=0.8, ls=":", label="exact vs exact (floor)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("model calls per image")
    ax.set_ylabel("SW1 to exact posterior (mean over seeds)")
    ax.set_title("25-component mixture, d = 64, a quarter regenerated (ComfyUI, exact denoiser)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="one seed, step counts up to 60")
    p.add_argument("--full", action="store_true",
                   help="every sampler at every step count up to 300 calls (default: DEFAULT_STEPS, "
                        "a subset sized for 2 shared CPU cores)")
    p.add_argument("--samples", type=int, default=2000, help="posterior samples per run (one batch)")
    p.add_argument("--log", type=Path, default=None, help="also write the report lines to this file")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="problem seeds (default 1 2 3)")
    p.add_argument("--etas", nargs="+", default=list(ETAS), choices=ETAS, help="DInG bridge schedules")
    p.add_argument("--plot", type=Path, default=None, help="write the SW1-vs-calls plot (PNG) here")
    p.add_argument("--only", nargs="+", default=None,
                   help="run only samplers whose label contains one of these strings")
    p.add_argument("--from-log", type=Path, nargs="+", default=None,
                   help="rebuild the tables and the plot from the per-run lines of earlier --log files")
    p.add_argument("--steps", type=int, nargs="+", default=None,
                   help="run these step counts instead of the plan's (e.g. with --only, to add points)")
    p.add_argument("--no-lanpaint", action="store_true", help="skip LanPaint even if LANPAINT_PATH is set")
    return p.parse_args(argv)


RUN_LINE = re.compile(r"^seed (\d+) (.+?)\s+steps\s+(\d+) calls\s+([\d.]+) SW1 ([\d.]+) TV ([\d.]+)")


def parse_log(path: Path) -> Dict[str, Dict[int, list]]:
    raw: Dict[str, Dict[int, list]] = {}
    for line in path.read_text().splitlines():
        m = RUN_LINE.match(line)
        if m:
            seed, label, steps, calls, sw, tv = m.groups()
            raw.setdefault(label.strip(), {}).setdefault(int(steps), []).append(
                (float(sw), float(tv), float(calls)))
    return raw


def summarize(raw: Dict[str, Dict[int, list]]) -> Dict[str, List[tuple]]:
    """label -> [(mean SW1, mean calls, steps, mean TV)] over seeds."""
    results = {}
    for label, by_steps in raw.items():
        pts = []
        for steps, vals in sorted(by_steps.items()):
            pts.append((sum(v[0] for v in vals) / len(vals), sum(v[2] for v in vals) / len(vals), steps,
                        sum(v[1] for v in vals) / len(vals)))
        results[label] = pts
    return results


def main(argv=None):
    args = parse_args(argv)
    if args.from_log is not None:
        raw: Dict[str, Dict[int, list]] = {}
        floor = 0.0
        for path in args.from_log:
            floor_line = [ln for ln in path.read_text().splitlines() if ln.startswith("exact vs exact floor SW1")]
            floor = float(floor_line[0].split()[-1]) if floor_line else floor
            for label, by_steps in parse_log(path).items():
                for steps, vals in by_steps.items():
                    raw.setdefault(label, {}).setdefault(steps, []).extend(vals)
        results = summarize(raw)
        print(format_table(results))
        if args.plot is not None:
            plot(results, floor, args.plot)
            print(f"plot written to {args.plot}")
        return results
    log = args.log.open("w") if args.log is not None else None

    def emit(text=""):
        print(text, flush=True)
        if log is not None:
            log.write(text + "\n")
            log.flush()

    from comfy_testbed import comfy_harness, tiny_models
    lanpaint = None if args.no_lanpaint else lanpaint_source()
    h = comfy_harness.bootstrap_temporary(
        "ding_peers_", prepare=None if lanpaint is None else lambda base: link_custom_node(lanpaint, base))
    if lanpaint is not None and "LanPaint_KSampler" not in h.nodes.NODE_CLASS_MAPPINGS:
        raise SystemExit(f"LanPaint at {lanpaint} did not load as a custom node")
    import comfy.sample
    import comfyui_version  # noqa: F401  (present in every ComfyUI checkout LanPaint supports)
    files = tiny_models.write_tiny_sd3(h.models_dir, checkpoint=False, vae=False, taesd3_pair=False)
    (base,) = h.call_node("UNETLoader", unet_name=files.unet_name, weight_dtype="default")

    seeds = args.seeds or ([1] if args.quick else [1, 2, 3])
    n = args.samples
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    emit(f"# bench.peers: ComfyUI {getattr(sys.modules['comfyui_version'], '__version__', '?')} at "
          f"{h.comfyui_path}; LanPaint: {lanpaint or 'not run'}")
    emit(f"# prior: 25-component mixture, d = 64 (latent {LATENT}), position (1, 1) regenerated "
          f"(16 coordinates); obs_std 0.01; N = {n} per run (one batch); seeds {seeds}; scheduler "
          f"'{SCHEDULER}' (shift 3); cfg 1; SW1 with 256 projections\n")
    keep = keep_vector()
    mask = (1.0 - keep).reshape(1, *LATENT)[:, :1].float()  # noise_mask [1, 1, 2, 2], 1 = regenerate
    plan = methods(lanpaint is not None, args.quick, args.full, args.etas)
    if args.only:
        plan = [m for m in plan if any(o in m[0] for o in args.only)]
    if args.steps:
        plan = [(label, kind, opts, tuple(args.steps)) for label, kind, opts, _ in plan]
    raw: Dict[str, Dict[int, list]] = {label: {} for label, *_ in plan}
    floors = []
    t_start = time.perf_counter()
    for seed in seeds:
        problem = InpaintingProblem(seed, dim=64, components=25, obs_std=0.01, keep=keep)
        ref, ref2 = problem.exact(n, 0), problem.exact(n, 1)
        floors.append(problem.score(ref2, ref)[0])
        em = ExactModel(base, problem.prior)
        y = problem.y.float().reshape(1, *LATENT).expand(n, *LATENT).contiguous()
        latent = em.to_latent(y)
        noise = comfy.sample.prepare_noise(latent, seed)
        for label, kind, opts, steps_list in plan:
            for steps in steps_list:
                em.rows = 0
                t0 = time.perf_counter()
                if kind == "ding":
                    out = run_ding(h, em, latent, mask, noise, seed, steps, **opts)
                elif kind == "comfy":
                    out = run_comfy(h, em, latent, mask, noise, seed, steps, **opts)
                else:
                    out = run_lanpaint(h, em, latent, mask, noise, seed, steps)
                x = em.from_latent(out.float()).reshape(n, -1)
                calls = em.rows / n
                sw, tv = problem.score(x, ref)
                raw[label].setdefault(steps, []).append((sw, tv, calls))
                emit(f"seed {seed} {label:22s} steps {steps:4d} calls {calls:6.1f} SW1 {sw:.4f} "
                      f"TV {tv:.3f} ({time.perf_counter() - t0:.1f} s)")
    results = summarize(raw)
    floor = sum(floors) / len(floors)
    emit(f"\n## mean over seeds {seeds}: SW1 (calls per image, steps)")
    emit("| sampler | steps | calls | SW1 | component TV (hidden block) |\n|---|---:|---:|---:|---:|")
    for label, pts in results.items():
        for sw, calls, steps, tv in pts:
            emit(f"| {label} | {steps} | {calls:.0f} | {sw:.4f} | {tv:.3f} |")
    emit(f"\nexact vs exact floor SW1 {floor:.4f}\n")
    emit("## best SW1 within a call budget (mean over seeds)\n")
    emit(format_table(results))
    emit(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    if args.plot is not None:
        plot(results, floor, args.plot)
        emit(f"plot written to {args.plot}")
    return results


if __name__ == "__main__":
    main()
