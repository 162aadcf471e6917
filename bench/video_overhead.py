"""DInG's own overhead on a 5-D (video) latent against ComfyUI's KSampler euler at equal
model calls, measured side by side in one run, on a tiny random-weight Wan 2.1 t2v model
built from ComfyUI's classes (bench/tiny_wan.py). Run from the repository root::

    COMFYUI_PATH=/path/to/ComfyUI python -m bench.video_overhead             # ~2 min on 2 cores
    COMFYUI_PATH=/path/to/ComfyUI python -m bench.video_overhead --quick     # ~20 s

Methods (nodes called in-process with harness.call_node, model loaded and warm):

* ``ding S``        DInG KSampler, variant ding: S steps = 2S-1 model calls
* ``ding1 S``       DInG KSampler, variant ding1: S steps = S calls
* ``euler N``       ComfyUI KSampler, euler, N steps, the same latent without noise_mask
* ``euler+mask N``  the same with the noise_mask (ComfyUI's latent replacement each call)

The latent is a clip's Wan latent [1, 16, T', h, w] (random values; no VAE needed) with a
space-time mask from ding_sampler.masks.video_latent_mask_from_pixels. The methods run
interleaved in a rotated order each repetition; figures are medians. Ratios printed:
wall = ratio of median wall times; paired = median of per-repetition ratios; min = ratio
of the fastest runs; CPU = ratio of median CPU times of the calling thread
(time.thread_time; torch runs single-threaded here, so this is all the work, and time the
thread spends preempted by other jobs on a shared machine is not counted);
net-norm = 1 + (A - B outside the network) / B, in thread CPU time: the sampler's own time
with the same network work counted once (the network = time inside
comfy.model_base.BaseModel.apply_model). The verdict uses net-norm.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SEED = 7
CFG = 3.0
OBS_STD = 0.01


class NetworkCPU:
    """Thread CPU time spent inside comfy.model_base.BaseModel.apply_model (the network)."""

    def __enter__(self):
        import comfy.model_base as mb
        self.seconds = 0.0
        self._orig = orig = mb.BaseModel.apply_model
        outer = self

        def apply_model(model_self, *a, **kw):
            t0 = time.thread_time()
            try:
                return orig(model_self, *a, **kw)
            finally:
                outer.seconds += time.thread_time() - t0

        mb.BaseModel.apply_model = apply_model
        return self

    def __exit__(self, *exc):
        import comfy.model_base as mb
        mb.BaseModel.apply_model = self._orig
        return False


def _latent(frames: int, size: int, seed: int = 0):
    import torch

    from ding_sampler.masks import video_latent_mask_from_pixels
    t_lat, hw = 1 + (frames - 1) // 4, size // 8
    g = torch.Generator().manual_seed(seed)
    samples = torch.randn(1, 16, t_lat, hw, hw, generator=g)
    masks = torch.zeros(frames, size, size)
    masks[:, size // 4:size // 2, size // 4: 3 * size // 4] = 1  # a box in every frame
    noise_mask = video_latent_mask_from_pixels(masks, (t_lat, hw, hw), 4)
    return samples, noise_mask


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions and steps")
    ap.add_argument("--frames", type=int, default=9, help="pixel frames (1 + 4n); default 9")
    ap.add_argument("--size", type=int, default=128, help="frame side in pixels; default 128")
    ap.add_argument("--dim", type=int, default=128, help="Wan hidden size (multiple of 128)")
    ap.add_argument("--layers", type=int, default=1, help="Wan blocks")
    ap.add_argument("--steps", type=int, default=None, help="DInG steps S (default 25, as in the shipped Wan workflow; quick 5)")
    ap.add_argument("--reps", type=int, default=None, help="timed repetitions (default 21, quick 5)")
    ap.add_argument("--null-network", action="store_true",
                    help="diagnosis: BaseModel.apply_model returns zeros at once, so every figure is "
                         "the samplers' and ComfyUI's own time (the absolute overhead per run)")
    args = ap.parse_args(argv)
    steps = args.steps or (5 if args.quick else 25)
    reps = args.reps or (5 if args.quick else 21)

    from bench import comfy_harness, tiny_wan
    reason = comfy_harness.unavailable_reason()
    if reason is not None:
        print(f"bench.video_overhead: ComfyUI is not available, nothing measured: {reason}")
        return 0
    logging.getLogger().setLevel(logging.WARNING)
    h = comfy_harness.bootstrap()
    import torch
    import comfy.utils
    comfy.utils.PROGRESS_BAR_ENABLED = False
    files = tiny_wan.write_tiny_wan(h.models_dir, name=f"bench_wan_{args.dim}_{args.layers}",
                                    dim=args.dim, num_layers=args.layers)
    files.vae_path.unlink()  # the bench needs no VAE
    (model,) = h.call_node("UNETLoader", unet_name=files.unet_name, weight_dtype="default")
    samples, noise_mask = _latent(args.frames, args.size)
    pos, neg = tiny_wan.wan_conditioning(1), tiny_wan.wan_conditioning(2)
    plain = {"samples": samples}
    masked = {"samples": samples, "noise_mask": noise_mask}

    def ding(variant):
        return lambda: h.call_node(
            "DInGKSampler", model=model, seed=SEED, steps=steps, cfg=CFG, scheduler="simple",
            positive=pos, negative=neg, latent_image=masked, denoise=1.0, variant=variant,
            obs_std=OBS_STD, eta="square")

    def euler(n, latent):
        return lambda: h.call_node("KSampler", model=model, seed=SEED, steps=n, cfg=CFG,
                                   sampler_name="euler", scheduler="simple", positive=pos,
                                   negative=neg, latent_image=latent, denoise=1.0)

    n2 = 2 * steps - 1
    methods = {
        f"ding {steps}": (ding("ding"), n2),
        f"euler {n2}": (euler(n2, plain), n2),
        f"euler+mask {n2}": (euler(n2, masked), n2),
        f"ding1 {steps}": (ding("ding1"), steps),
        f"euler {steps}": (euler(steps, plain), steps),
        f"euler+mask {steps}": (euler(steps, masked), steps),
    }
    names = list(methods)
    if args.null_network:
        import comfy.model_base as mb
        mb.BaseModel.apply_model = lambda self, x, t, *a, **kw: torch.zeros_like(x)
    wall = {k: [] for k in names}
    net = {k: [] for k in names}
    cpu = {k: [] for k in names}
    net_cpu = {k: [] for k in names}
    print("== video overhead: DInG vs KSampler euler at equal model calls (one process, interleaved) ==")
    print(f"  torch {torch.__version__}, threads {torch.get_num_threads()}, ComfyUI {h.comfyui_path}")
    print(f"  tiny Wan 2.1 t2v dim {args.dim}, {args.layers} block(s), {files.unet_params / 1e6:.2f} M params; "
          f"clip {args.frames} frames {args.size}x{args.size} -> latent {list(samples.shape)}, "
          f"kept fraction {1 - float(noise_mask.mean()):.2f}; cfg {CFG} (batch 2 per call), "
          f"{steps} DInG steps, {reps} timed repetitions"
          + ("; NULL NETWORK (apply_model returns zeros): sampler + ComfyUI time only" if args.null_network else ""))
    for k, (fn, calls) in methods.items():  # warm-up + call-count check
        with h.count_model_calls() as c:
            fn()
        if c.count != calls:
            raise SystemExit(f"{k}: {c.count} model calls, expected {calls}")
    t_start = time.perf_counter()
    for r in range(reps):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            fn, _ = methods[k]
            with h.count_model_calls() as c, NetworkCPU() as nc:
                c0, t0 = time.thread_time(), time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
                cpu[k].append(time.thread_time() - c0)
            wall[k].append(dt)
            net[k].append(c.total_seconds)
            net_cpu[k].append(nc.seconds)
    print(f"  measured in {time.perf_counter() - t_start:.1f} s")
    med = {k: statistics.median(v) for k, v in wall.items()}
    outside = {k: statistics.median([w - n for w, n in zip(wall[k], net[k])]) for k in names}
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    cpu_outside = {k: statistics.median([c - n for c, n in zip(cpu[k], net_cpu[k])]) for k in names}
    print(f"\n  {'method':<18}{'calls':>6}{'wall ms':>10}{'min-max':>17}{'ms/call':>9}{'outside net':>12}"
          f"{'CPU ms':>9}{'CPU outside net':>17}")
    for k in names:
        calls = methods[k][1]
        print(f"  {k:<18}{calls:>6}{1000 * med[k]:>10.1f}{1000 * min(wall[k]):>8.1f}-{1000 * max(wall[k]):<8.1f}"
              f"{1000 * med[k] / calls:>9.2f}{1000 * outside[k]:>12.2f}{1000 * cpu_med[k]:>9.1f}"
              f"{1000 * cpu_outside[k]:>17.2f}")
    print("  (ms, medians; outside net = wall time outside BaseModel.apply_model; CPU = thread CPU time)")
    print(f"\n  equal model calls: {'ratio A / B':<30}{'wall':>7}{'paired':>8}{'min':>7}{'CPU':>7}{'net-norm':>9}")
    verdict = []
    for a, b in ((f"ding {steps}", f"euler {n2}"), (f"ding {steps}", f"euler+mask {n2}"),
                 (f"ding1 {steps}", f"euler {steps}"), (f"ding1 {steps}", f"euler+mask {steps}")):
        paired = statistics.median([x / y for x, y in zip(wall[a], wall[b])])
        netnorm = 1 + (cpu_outside[a] - cpu_outside[b]) / cpu_med[b]
        cpu_ratio = cpu_med[a] / cpu_med[b]
        print(f"  {'':<19}{a + ' / ' + b:<30}{med[a] / med[b]:>7.3f}{paired:>8.3f}"
              f"{min(wall[a]) / min(wall[b]):>7.3f}{cpu_ratio:>7.3f}{netnorm:>9.3f}")
        verdict.append((a, b, netnorm))
    worst = max(verdict, key=lambda v: v[2])
    print(f"\n  => worst net-normalized ratio {worst[2]:.3f} ({worst[0]} / {worst[1]}): "
          f"{'within' if worst[2] <= 1.02 else 'NOT within'} 2 % of euler at equal model calls")
    return 0


if __name__ == "__main__":
    sys.exit(main())
