"""What DInG costs inside real ComfyUI, side by side with ComfyUI's own sampling, in one run.

For each model in ``MODELS`` it runs, in one process and through ComfyUI's node classes:

* ``ding S``        DInGKSampler, variant ding: S steps = 2S-1 model calls
* ``ding1 S``       DInGKSampler, variant ding1: S steps = S model calls
* ``euler N``       ComfyUI's KSampler, euler, N steps, on the latent without its mask
* ``euler+mask N``  the same on the latent with its noise mask (ComfyUI's latent replacement)
* ``gradient S``    ``bench.gradient_reference`` in SamplerCustom: a guided Euler sampler that
                    backpropagates through the network every step (DPS-style), S steps

and prints ratios at equal model calls (ding S / euler 2S-1, ding1 S / euler S, with and
without the mask) and against the gradient reference at equal steps. Models: two SD3 sizes
and a tiny Wan 2.1 video model on a 5-D latent. Run from the repository root::

    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead --quick   # under a minute
    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead           # about 45 min on 2 CPU cores
    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead --models sd3-small
    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead --models wan-video   # 5-D latent

Without ComfyUI it prints why and exits 0.

Measurement. Models have random weights and are built from ComfyUI's own classes
(``comfy_testbed.tiny_models``); cfg 2, so every model call carries cond and uncond (batch 2). Each
method runs once first (warm-up; its model calls are counted and checked), then all methods
run in a rotated order per repetition and the figures are medians. Wall time is
``time.perf_counter`` around the node call; network time is the sum of the model calls as
timed by the harness's call counter; the sampler's own work is wall minus network. The same
split in the calling thread's CPU time (``time.thread_time``; torch runs one thread here) gives
the own-work ratio that a busy machine disturbs least. Peak tensor
memory comes from separate, untimed runs under ``torch.profiler`` with ``profile_memory``: the
running total of the bytes each op allocates and frees, in time order, above the start.

Adding a model family: write a builder ``(harness, quick) -> Case`` and add a row to ``MODELS``.
"""
from __future__ import annotations

import os

# Before torch loads OpenMP: idle worker threads sleep instead of spinning, which on a
# shared 2-core machine otherwise slows every small op whenever the other core is busy.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Sequence, Tuple  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = 7
CFG = 2.0  # the paper's cfg on SD3.5
SCHEDULER = "simple"
ZETA = 1.0  # step size of the gradient reference


# --------------------------------------------------------------------------- models

@dataclass
class Case:
    """One model, ready to sample: what every method receives."""

    label: str
    description: str
    model: object
    positive: list
    negative: list
    latent: dict     # "samples" and "noise_mask" (1 = repaint), as DInG Inpaint Encode makes it
    batch: int = 2   # rows per model call: cond and uncond together at cfg > 1


def sd3_case(h, label: str, depth: int, px: int) -> Case:
    """A random-weight SD3.5-layout MMDiT of ``depth`` at ``px`` x ``px``, centre half masked."""
    import torch
    from comfy_testbed import tiny_models
    files = tiny_models.write_tiny_sd3(h.models_dir, name=f"bench_d{depth}", depth=depth, seed=0,
                                       pos_embed_max_size=max(64, px // 16),
                                       unet=False, vae=False, taesd3_pair=False)
    # Loaded with inference mode off: the gradient reference must save the weights for backward.
    with torch.inference_mode(False), torch.no_grad():
        model, _clip, vae = h.node_class("CheckpointLoaderSimple")().load_checkpoint(files.ckpt_name)[:3]
    image = tiny_models.make_test_image(px, px, seed=3)
    mask = tiny_models.make_test_mask(px, px, "rect", x=px // 4, y=px // 4, w=px // 2, h=px // 2)
    latent = h.call_node("DInGInpaintEncode", pixels=image, mask=mask, vae=vae, grow_mask_by=6)[0]
    kept = float((1 - latent["noise_mask"]).mean())
    return Case(label, f"SD3 MMDiT depth {depth} ({files.unet_params / 1e6:.1f} M parameters), {px}x{px} px, "
                       f"latent {list(latent['samples'].shape)}, kept fraction {kept:.2f}",
                model, tiny_models.sd3_conditioning(1), tiny_models.sd3_conditioning(2), latent)


def wan_case(h, label: str, frames: int, px: int) -> Case:
    """A tiny random-weight Wan 2.1 t2v model (dim 128, 1 block) on a 5-D latent of ``frames``
    frames at ``px`` x ``px``, a box masked in every frame (the space-time mask rule)."""
    import torch
    from comfy_testbed import tiny_families, tiny_wan
    from ding_sampler.masks import video_latent_mask_from_pixels
    files = tiny_wan.write_tiny_wan(h.models_dir, name="bench_wan", dim=128, num_layers=1)
    files.vae_path.unlink()  # no VAE needed: the latent is made here
    with torch.inference_mode(False), torch.no_grad():  # the gradient reference saves the weights
        (model,) = h.node_class("UNETLoader")().load_unet(files.unet_name, "default")
    t_lat, side = 1 + (frames - 1) // 4, px // 8
    samples = torch.randn(1, 16, t_lat, side, side, generator=torch.Generator().manual_seed(0))
    masks = torch.zeros(frames, px, px)
    masks[:, px // 4:px // 2, px // 4:3 * px // 4] = 1
    noise_mask = video_latent_mask_from_pixels(masks, (t_lat, side, side), 4)
    kept = float((1 - noise_mask).mean())
    return Case(label, f"Wan 2.1 t2v dim 128, 1 block, {frames} frames {px}x{px} px, latent "
                       f"{list(samples.shape)}, kept fraction {kept:.2f}",
                model, tiny_families.family_conditioning("wan", 1), tiny_families.family_conditioning("wan", 2),
                {"samples": samples, "noise_mask": noise_mask})


@dataclass(frozen=True)
class ModelSpec:
    build: Callable[[object, bool], Case]  # (harness, quick) -> Case
    steps: int
    repeats: int
    quick_steps: int
    quick_repeats: int


# The large size is the largest that runs about a minute per measurement on 2 CPU cores
# (about 3.6 s a model call); --quick uses depth 3 at 192 px instead.
MODELS: Dict[str, ModelSpec] = {
    "sd3-small": ModelSpec(lambda h, quick: sd3_case(h, "sd3-small", 2, 128), 10, 7, 4, 3),
    "sd3-large": ModelSpec(lambda h, quick: sd3_case(h, "sd3-large", *((3, 192) if quick else (12, 512))),
                           8, 5, 3, 2),
    # 25 steps as the Wan workflow once shipped; a model call takes milliseconds, so this is the
    # worst case for the sampler's own share of a run
    "wan-video": ModelSpec(lambda h, quick: wan_case(h, "wan-video", 9, 128), 25, 15, 5, 3),
}


# --------------------------------------------------------------------------- methods

def plan(steps: int) -> List[Tuple[str, int]]:
    """(method, steps) pairs: DInG at ``steps``, euler at the same number of model calls."""
    pairs = [("ding", steps), ("ding1", steps), ("euler", 2 * steps - 1), ("euler+mask", 2 * steps - 1),
             ("euler", steps), ("euler+mask", steps), ("gradient", steps)]
    return list(dict.fromkeys(pairs))


def expected_calls(method: str, steps: int) -> int:
    return 2 * steps - 1 if method == "ding" else steps


def comparisons(steps: int) -> List[Tuple[str, str]]:
    """(A, B) keys of the ratio table."""
    d, d1 = key("ding", steps), key("ding1", steps)
    n = 2 * steps - 1
    return [(d, key("euler", n)), (d, key("euler+mask", n)), (d1, key("euler", steps)),
            (d1, key("euler+mask", steps)), (key("gradient", steps), d), (key("gradient", steps), d1)]


def key(method: str, steps: int) -> str:
    return f"{method} {steps}"


def run_method(h, case: Case, method: str, steps: int):
    common = dict(model=case.model, seed=SEED, steps=steps, cfg=CFG, scheduler=SCHEDULER,
                  positive=case.positive, negative=case.negative, denoise=1.0)
    if method in ("ding", "ding1"):
        return h.call_node("DInGKSampler", latent_image=case.latent, variant=method, obs_std=0.01,
                           eta="square", **common)
    if method in ("euler", "euler+mask"):
        latent = case.latent if method == "euler+mask" else {"samples": case.latent["samples"]}
        return h.call_node("KSampler", latent_image=latent, sampler_name="euler", **common)
    if method == "gradient":
        from bench import gradient_reference
        sigmas = h.call_node("BasicScheduler", model=case.model, scheduler=SCHEDULER, steps=steps, denoise=1.0)[0]
        return h.call_node("SamplerCustom", model=case.model, add_noise=True, noise_seed=SEED, cfg=CFG,
                           positive=case.positive, negative=case.negative, sigmas=sigmas,
                           sampler=gradient_reference.dps_ksampler_object(ZETA), latent_image=case.latent)
    raise ValueError(f"unknown method {method!r}")


# --------------------------------------------------------------------------- measuring

@dataclass
class Run:
    wall: float          # s, the node call
    network: float       # s, inside the model calls
    calls: int
    peak: float = float("nan")  # MiB of live tensors above the start (separate run)
    cpu: float = float("nan")       # s of the calling thread's CPU time, the node call
    net_cpu: float = float("nan")   # the same inside the model calls

    @property
    def own(self) -> float:
        """Seconds outside the network: the sampler's own work plus ComfyUI's setup."""
        return self.wall - self.network

    @property
    def own_cpu(self) -> float:
        return self.cpu - self.net_cpu


def timed(h, fn) -> Tuple[Run, List[int]]:
    """Run ``fn`` once; the Run and the batch size of every model call."""
    with h.count_model_calls() as counter:
        t0, c0 = time.perf_counter(), time.thread_time()
        fn()
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
    return (Run(wall, counter.total_seconds, counter.count, cpu=cpu, net_cpu=counter.total_cpu_seconds),
            counter.batch_sizes)


@contextlib.contextmanager
def _quiet_stderr():
    """Mute file descriptor 2 (the profiler prints native start/stop lines there)."""
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def tensor_peak_mib(fn) -> float:
    """Peak of live tensor bytes while ``fn`` runs, above the start, in MiB (torch.profiler).

    Each profiler event carries the bytes allocated minus freed inside it and not inside a
    child event; frees outside any op are events of their own. Summed in the order the
    events end, the running total peaks where the live tensors did. Memory freed inside
    the op that allocated it (an op's scratch space) is not seen.
    """
    import torch
    with _quiet_stderr(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                 profile_memory=True) as prof:
        fn()
    marks = sorted((e.time_range.end, e.self_cpu_memory_usage) for e in prof.events() if e.self_cpu_memory_usage)
    total = peak = 0
    for _, nbytes in marks:
        total += nbytes
        peak = max(peak, total)
    return peak / 2**20


def measure(h, case: Case, steps: int, repeats: int, log=print) -> Dict[str, List[Run]]:
    methods = plan(steps)
    for method, n in list(methods):  # warm-up, with the model calls checked
        try:
            run, batches = timed(h, lambda: run_method(h, case, method, n))
        except RuntimeError as e:  # e.g. an op without a backward formula in this ComfyUI
            if method != "gradient":
                raise
            log(f"  {case.label}: gradient reference left out, it cannot backpropagate here: "
                f"{str(e).splitlines()[0]}")
            methods.remove((method, n))
            continue
        if run.calls != expected_calls(method, n) or set(batches) != {case.batch}:
            raise RuntimeError(f"{key(method, n)}: {run.calls} model calls of batch {sorted(set(batches))}, "
                               f"expected {expected_calls(method, n)} of batch {case.batch}")
    runs: Dict[str, List[Run]] = {key(m, n): [] for m, n in methods}
    for rep in range(repeats):
        t0 = time.perf_counter()
        k = rep % len(methods)
        for method, n in methods[k:] + methods[:k]:
            runs[key(method, n)].append(timed(h, lambda: run_method(h, case, method, n))[0])
        log(f"  {case.label}: repetition {rep + 1}/{repeats} ({time.perf_counter() - t0:.1f} s)")
    for method, n in methods:
        runs[key(method, n)][0].peak = tensor_peak_mib(lambda: run_method(h, case, method, n))
    if any(p.is_inference() for p in case.model.model.diffusion_model.parameters()):
        raise RuntimeError("the model's weights turned into inference tensors during sampling")
    return runs


# --------------------------------------------------------------------------- report

def med(values) -> float:
    return statistics.median(list(values))


def ratios(a: Sequence[Run], b: Sequence[Run]) -> Tuple[float, float, float, float, float]:
    """(wall, paired wall, own-work, own-work in CPU time, tensor peak) ratios of A to B.

    wall: ratio of median wall times; paired: median of per-repetition ratios; own-work:
    1 + (A's time outside the network - B's) / B's wall, i.e. equal network work counted
    once, free of the network's own run-to-run scatter; the same in the calling thread's CPU
    time (what other processes on the machine disturb least); peak: ratio of tensor peaks.
    """
    wall_b = med(r.wall for r in b)
    return (med(r.wall for r in a) / wall_b,
            med(x.wall / y.wall for x, y in zip(a, b)),
            1.0 + (med(r.own for r in a) - med(r.own for r in b)) / wall_b,
            1.0 + (med(r.own_cpu for r in a) - med(r.own_cpu for r in b)) / med(r.cpu for r in b),
            a[0].peak / b[0].peak)


def gradient_step_cost(runs: Dict[str, List[Run]], steps: int) -> Tuple[float, float, float]:
    """A gradient step in plain forwards F: (F in s, recorded forward / F, backward and update / F).

    F is the median network time per call over every run without autograd (all methods but
    the gradient reference). The gradient reference's network time per call is a forward that
    records the graph; its time outside the network, per step, less ding1's, is the backward
    pass to the input plus the guided update.
    """
    g, d1 = runs[key("gradient", steps)], runs[key("ding1", steps)]
    f_plain = med(r.network / r.calls for name, rs in runs.items() if not name.startswith("gradient") for r in rs)
    f_grad = med(r.network / r.calls for r in g)
    back = (med(r.own for r in g) - med(r.own for r in d1)) / steps
    return f_plain, f_grad / f_plain, back / f_plain


def report(case: Case, steps: int, runs: Dict[str, List[Run]]) -> List[str]:
    reps = len(next(iter(runs.values())))
    lines = [f"== {case.label}: {case.description}; cfg {CFG:g}, {reps} repetitions ==",
             f"  {'method':<16}{'calls':>6}{'wall s':>10}{'ms/call':>10}{'outside net s':>15}{'tensor peak MiB':>17}"]
    for name, rs in runs.items():
        wall = med(r.wall for r in rs)
        lines.append(f"  {name:<16}{rs[0].calls:>6}{wall:>10.3f}{1e3 * wall / rs[0].calls:>10.1f}"
                     f"{med(r.own for r in rs):>15.3f}{rs[0].peak:>17.2f}")
    lines += ["", f"  {'A / B':<30}{'wall':>8}{'paired':>8}{'own work':>10}{'own (CPU)':>11}{'tensor peak':>13}"]
    for a, b in comparisons(steps):
        if a not in runs:  # the gradient reference, where it could not run
            continue
        if a.startswith("gradient") and b.startswith("ding "):
            lines.append("  gradient reference at equal steps:")
        w, p, o, oc, m = ratios(runs[a], runs[b])
        lines.append(f"  {a + ' / ' + b:<30}{w:>8.3f}{p:>8.3f}{o:>10.3f}{oc:>11.3f}{m:>13.3f}")
    if key("gradient", steps) not in runs:
        return lines
    f, fwd, back = gradient_step_cost(runs, steps)
    step = fwd + back
    lines.append(f"  a gradient step in plain forwards F ({1e3 * f:.0f} ms): forward recording the graph "
                 f"{fwd:.2f} F + backward to the input and update {back:.2f} F = {step:.2f} F, against 1 F "
                 f"(ding1) and 2 F (ding); predicted gradient / ding1 {step:.2f}, gradient / ding "
                 f"{step * steps / (2 * steps - 1):.2f}")
    return lines


LEGEND = ("wall: ratio of median wall times; paired: median of per-repetition ratios; own work: "
          "1 + (time outside the network of A - that of B) / wall time of B, the same network work "
          "counted once; own (CPU): the same in the calling thread's CPU time; tensor peak: ratio of "
          "peak live tensor memory (separate untimed runs).")


# --------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, few steps and repetitions (under a minute)")
    ap.add_argument("--models", default=",".join(MODELS),
                    help=f"comma-separated, from {', '.join(MODELS)} (default: all)")
    ap.add_argument("--steps", type=int, default=None, help="DInG steps S (default per model)")
    ap.add_argument("--repeats", type=int, default=None, help="timed repetitions (default per model)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown or not names:
        ap.error(f"--models takes names from {', '.join(MODELS)}; got {args.models!r}")
    if (args.steps is not None and args.steps < 2) or (args.repeats is not None and args.repeats < 1):
        ap.error("--steps must be at least 2 and --repeats at least 1")

    os.environ["DING_TORCH_THREADS"] = str(args.threads)  # the harness would pick 1 on <= 2 cores
    from comfy_testbed import comfy_harness
    if not os.environ.get("COMFYUI_PATH") and comfy_harness.is_comfyui_dir(REPO / ".comfyui"):
        os.environ["COMFYUI_PATH"] = str(REPO / ".comfyui")
    reason = comfy_harness.unavailable_reason()
    if reason is not None:
        print(f"bench.overhead: ComfyUI is not available, nothing measured: {reason}")
        return 0
    t_start = time.perf_counter()
    h = comfy_harness.bootstrap_temporary()
    import torch
    torch.set_num_threads(args.threads)
    try:
        import comfyui_version
        version = comfyui_version.__version__
    except ImportError:
        version = "(version unknown)"
    print(f"python {platform.python_version()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} CPUs ({platform.machine()}), CUDA {torch.cuda.is_available()}; "
          f"load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    print(f"ComfyUI {version} at {h.comfyui_path}, --cpu, in-process; seed {SEED}, scheduler {SCHEDULER}, "
          f"DInG obs_std 0.01 eta square, gradient step size {ZETA}")
    for name in names:
        spec = MODELS[name]
        t0 = time.perf_counter()
        case = spec.build(h, args.quick)
        steps = args.steps or (spec.quick_steps if args.quick else spec.steps)
        repeats = args.repeats or (spec.quick_repeats if args.quick else spec.repeats)
        print(f"  {name}: built and loaded in {time.perf_counter() - t0:.1f} s")
        runs = measure(h, case, steps, repeats)
        print("\n" + "\n".join(report(case, steps, runs)) + "\n")
        del case
    print(LEGEND)
    print(f"total {time.perf_counter() - t_start:.0f} s; load average "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
