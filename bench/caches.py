"""EasyCache and LazyCache (ComfyUI core nodes) with DInG and with ComfyUI's euler, through a real
ComfyUI, on bench.peers' prior whose exact inpainting posterior is known.

The caches skip work by reusing the last output-minus-input: LazyCache skips whole model calls
(a PREDICT_NOISE wrapper), EasyCache skips passes through the network inside a call (a
DIFFUSION_MODEL wrapper, which only some networks call: SD1.5/SDXL's UNet, Flux, Wan, ...; not
SD3's MMDiT). So the exact Gaussian-mixture denoiser of bench.peers is served here as a flow
network, v = (x - x0) / sigma, called through ComfyUI's DIFFUSION_MODEL wrappers, and both caches
act on it as on a real network. Each run samples N posterior draws as one batch and is scored by
SW1 to exact posterior samples (bench.peers). Printed per cache and threshold: model calls and
network passes per image, and SW1 for euler with a noise mask, DInG ding1/ddpm and DInG
ding/square; plus the samplers without a cache at fewer steps, for the same budget without it.

    COMFYUI_PATH=/path/to/ComfyUI /path/to/venv/bin/python -m bench.caches --log bench/results/caches_080.txt

(N = 1000, seeds 1-3, 12 steps: about 1.5 minutes on 2 cores.) docs/compatibility.md has the table.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import torch

from bench import peers
from ding_sampler.analytic import InpaintingProblem

CACHES = (("none", 0.0), ("LazyCache", 0.2), ("LazyCache", 1.0), ("EasyCache", 0.2), ("EasyCache", 1.0))
SAMPLERS = (("euler", "comfy", {"sampler_name": "euler"}),
            ("ding1/ddpm", "ding", {"variant": "ding1", "eta": "ddpm"}),
            ("ding/square", "ding", {"variant": "ding", "eta": "square"}))
START_PERCENT, END_PERCENT = 0.15, 0.95  # the nodes' defaults


class NetworkModel(peers.ExactModel):
    """bench.peers' exact model, its denoiser served as a flow network (v = (x - x0) / sigma)
    that runs through ComfyUI's DIFFUSION_MODEL wrappers; counts rows per call and per pass."""

    def __init__(self, base_patcher, prior):
        super().__init__(base_patcher, prior)
        self.passes = 0

    def network(self, x, sigma, transformer_options):
        self.passes += x.shape[0]
        x0 = self.denoise(x, sigma.reshape(-1).expand(x.shape[0]))
        return (x - x0) / sigma.reshape(-1, *([1] * (x.ndim - 1))).float()

    def wrapper(self, apply_model, args):
        import comfy.patcher_extension as pe
        x, sigma = args["input"], args["timestep"]
        options = args["c"].get("transformer_options", {})
        self.rows += x.shape[0]
        wrappers = pe.get_all_wrappers(pe.WrappersMP.DIFFUSION_MODEL, options)
        v = pe.WrapperExecutor.new_executor(self.network, wrappers).execute(x, sigma, options)
        return x - sigma.reshape(-1, *([1] * (x.ndim - 1))).float() * v


def run(h, base, seeds, samples: int, steps: int, fewer_steps, emit) -> Dict[tuple, list]:
    """{(cache, threshold, steps, sampler): [(SW1, calls, passes) per seed]}, and "floor"."""
    import comfy.sample
    keep = peers.keep_vector()
    mask = (1.0 - keep).reshape(1, *peers.LATENT)[:, :1].float()
    out: Dict[tuple, list] = {}
    plan = [(cache, thr, steps) for cache, thr in CACHES] + [("none", 0.0, s) for s in fewer_steps]
    for seed in seeds:
        problem = InpaintingProblem(seed, dim=64, components=25, obs_std=0.01, keep=keep)
        ref, ref2 = problem.exact(samples, 0), problem.exact(samples, 1)
        out.setdefault("floor", []).append(problem.score(ref2, ref)[0])
        for cache, thr, n_steps in plan:
            model = base if cache == "none" else h.call_node(
                cache, model=base, reuse_threshold=thr, start_percent=START_PERCENT, end_percent=END_PERCENT,
                verbose=False)[0]
            em = NetworkModel(model, problem.prior)
            y = problem.y.float().reshape(1, *peers.LATENT).expand(samples, *peers.LATENT).contiguous()
            latent = em.to_latent(y)
            noise = comfy.sample.prepare_noise(latent, seed)
            for label, kind, opts in SAMPLERS:
                em.rows = em.passes = 0
                t0 = time.perf_counter()
                runner = peers.run_ding if kind == "ding" else peers.run_comfy
                result = runner(h, em, latent, mask, noise, seed, n_steps, **opts)
                sw, _ = problem.score(em.from_latent(result.float()).reshape(samples, -1), ref)
                row = (sw, em.rows / samples, em.passes / samples)
                out.setdefault((cache, thr, n_steps, label), []).append(row)
                emit(f"seed {seed} {cache:9s} {thr:3.1f} steps {n_steps:3d} {label:12s} calls {row[1]:5.1f} "
                     f"passes {row[2]:5.1f} SW1 {sw:.4f} ({time.perf_counter() - t0:.1f} s)")
    return out


def table(results: Dict[tuple, list]) -> str:
    lines = ["| cache, threshold, steps | " + " | ".join(label for label, *_ in SAMPLERS) + " |",
             "|---|" + "---|" * len(SAMPLERS)]
    rows = list(dict.fromkeys(k[:3] for k in results if k != "floor"))  # in the order run
    for cache, thr, steps in rows:
        cells = []
        for label, *_ in SAMPLERS:
            vals = results.get((cache, thr, steps, label), [])
            if not vals:
                cells.append("-")
                continue
            sw = sum(v[0] for v in vals) / len(vals)
            calls = sum(v[1] for v in vals) / len(vals)
            passes = sum(v[2] for v in vals) / len(vals)
            cells.append(f"{sw:.3f} ({calls:.0f} calls, {passes:.0f} passes)")
        name = "no cache" if cache == "none" else f"{cache} {thr:g}"
        lines.append(f"| {name}, {steps} steps | " + " | ".join(cells) + " |")
    floor = results.get("floor", [])
    if floor:
        lines.append(f"\nSW1 of exact vs exact samples (the floor): {sum(floor) / len(floor):.4f}")
    return "\n".join(lines)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=1000, help="posterior draws per run (one batch)")
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--fewer-steps", type=int, nargs="*", default=[6, 9],
                   help="also run the samplers without a cache at these step counts")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--log", type=Path, default=None)
    return p.parse_args(argv)


def main(argv=None) -> Dict[tuple, list]:
    args = parse_args(argv)
    emit = peers.ReportLog(args.log)

    from comfy_testbed import comfy_harness, tiny_models
    h = comfy_harness.bootstrap_temporary("ding_caches_")
    for node in ("EasyCache", "LazyCache"):
        if node not in h.nodes.NODE_CLASS_MAPPINGS:
            raise SystemExit(f"this ComfyUI ({h.comfyui_path}) has no {node} node")
    import comfyui_version  # noqa: F401
    files = tiny_models.write_tiny_sd3(h.models_dir, checkpoint=False, vae=False, taesd3_pair=False)
    (base,) = h.call_node("UNETLoader", unet_name=files.unet_name, weight_dtype="default")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    emit(f"# bench.caches: ComfyUI {getattr(sys.modules['comfyui_version'], '__version__', '?')} at "
         f"{h.comfyui_path}; N = {args.samples}; seeds {args.seeds}; {args.steps} steps, scheduler "
         f"'{peers.SCHEDULER}'; caches start {START_PERCENT} end {END_PERCENT}; cfg 1; SW1 with 256 projections\n")
    results = run(h, base, args.seeds, args.samples, args.steps, args.fewer_steps, emit)
    emit("\n" + table(results))
    emit.close()
    return results


if __name__ == "__main__":
    main()
