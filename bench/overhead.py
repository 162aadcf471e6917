"""DInG's cost inside real ComfyUI: wall time and peak memory against KSampler (euler), at
equal network calls and at equal steps, and against a gradient-based (DPS) reference.

Everything runs in one process through ComfyUI's own code (headless harness of
tests/integration), on random-weight SD3-architecture MMDiTs built from ComfyUI's
classes, at two sizes. Run from the repository root::

    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead           # about 45 min on 2 CPU cores
    COMFYUI_PATH=/path/to/ComfyUI python -m bench.overhead --quick   # under 1 min smoke run

Without COMFYUI_PATH, a ComfyUI checkout in ``.comfyui/`` of the repository (or the
pack sitting in ``ComfyUI/custom_nodes/``) is used. Without ComfyUI it prints why
and exits 0.

Methods (all nodes called with ``harness.call_node`` under ``torch.inference_mode``,
model loaded once and kept loaded, one warm-up run of each first):

* ``ding S``       DInGKSampler variant ding, S steps = 2S-1 model calls
* ``ding1 S``      DInGKSampler variant ding1, S steps = S calls
* ``euler N``      ComfyUI KSampler, euler, N steps, latent WITHOUT noise_mask
* ``euler+mask N`` KSampler euler on the same latent WITH its noise_mask (ComfyUI's
                   latent replacement on every call)
* ``gradient S``   bench.gradient_reference (DPS: backprop through the network every
                   step) as a SAMPLER in ComfyUI's SamplerCustom, S steps

Equal calls: ding S vs euler 2S-1; ding1 S vs euler S. Equal steps: ding S vs euler S,
and gradient S vs ding S.

Measurement: the methods run interleaved, in a rotated order each repetition; figures
are medians over repetitions. Wall = time.perf_counter around the node call; CPU =
process CPU time. Every call runs inside bench.profile_steps.Instrument (a few
perf_counter reads per model call) so the same runs also give the time breakdown.
Peak memory: see ``PeakMemory``.
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (see profile_steps)

import argparse  # noqa: E402
import atexit  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import logging  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Dict, List, Optional, Tuple  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HARNESS_DIR = REPO / "tests" / "integration"

SEED = 7
CFG = 2.0  # the paper's CFG on SD3.5 (cond and uncond batched: every model call has batch 2)
SCHEDULER = "simple"
ZETA = 1.0

# (MMDiT depth, image px, DInG steps S, timed repetitions, tensor-peak repetitions)
# large: depth 12 (303 M params) at 512 px is ~3.6 s per model call on 2 cores: ding 8 steps
# (15 calls) ~55 s, a round of the 7 methods ~6 min, the whole default run ~45 min
DEFAULT = dict(small=(2, 128, 10, 7, 2), large=(12, 512, 8, 5, 1))
QUICK = dict(small=(2, 128, 4, 5, 1), large=(4, 256, 4, 3, 1))


# --------------------------------------------------------------------------- peak memory

_STATUS_RE = {k: re.compile(rf"^{k}:\s+(\d+) kB", re.M) for k in ("VmRSS", "VmHWM")}


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as f:
        m = _STATUS_RE[key].search(f.read())
    return int(m.group(1)) if m else 0


class PeakMemory:
    """Peak resident memory of this process during one run, above the level right before it.

    Before each run: ``gc.collect()`` and glibc ``malloc_trim(0)`` (freed heap memory
    goes back to the OS, so a run cannot reuse pages an earlier run left behind),
    then the baseline RSS is read and the kernel's peak-RSS counter (VmHWM) is reset
    by writing 5 to /proc/self/clear_refs. After the run VmHWM is the exact peak
    RSS the kernel saw (every page fault counted, no sampling gap). Reported: peak
    minus baseline (the run's working memory; the loaded model, ComfyUI and torch
    are in the baseline) and the absolute process peak.

    If clear_refs is not writable, a thread samples /proc/self/statm every 0.5 ms
    instead (torch releases the GIL in its kernels), which can miss short spikes.
    """

    def __init__(self, force_sampling: bool = False):
        self._libc = None
        try:
            self._libc = ctypes.CDLL("libc.so.6")
            self._libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            self._libc = None
        self.kernel = False if force_sampling else self._can_reset()
        self._page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
        self._thread = None
        self._stop = threading.Event()
        self._max_kib = 0
        self.base_kib = 0

    @staticmethod
    def _can_reset() -> bool:
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            return True
        except OSError:
            return False

    def describe(self) -> str:
        trim = "gc.collect + malloc_trim(0)" if self._libc is not None else "gc.collect (no malloc_trim)"
        if self.kernel:
            how = "kernel peak RSS (VmHWM) reset by writing 5 to /proc/self/clear_refs right before the run"
        else:
            how = "a thread sampling RSS from /proc/self/statm every 0.5 ms (clear_refs not writable)"
        return (f"peak RSS above the RSS right before the run; before each run {trim}, then {how}; "
                f"read after the run")

    def _rss_kib(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self._page_kib

    def _sample(self):
        while not self._stop.is_set():
            v = self._rss_kib()
            if v > self._max_kib:
                self._max_kib = v
            time.sleep(0.0005)

    def start(self):
        gc.collect()
        if self._libc is not None:
            self._libc.malloc_trim(0)
        self.base_kib = _status_kib("VmRSS")
        if self.kernel:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
        else:
            self._max_kib = self.base_kib
            self._stop.clear()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def stop(self) -> Tuple[float, float]:
        """(peak above baseline, absolute peak), MiB."""
        if self.kernel:
            peak = _status_kib("VmHWM")
        else:
            self._stop.set()
            self._thread.join()
            peak = max(self._max_kib, self._rss_kib())
        return (peak - self.base_kib) / 1024.0, peak / 1024.0


class TensorPeak:
    """Peak of live tensor bytes (torch's CPU allocator) during one run, above the start.

    Runs the call under ``torch.profiler.profile(profile_memory=True)``: every CPU
    allocation and free is reported with the allocator's running total of bytes
    allocated since profiling started; the peak of that total is the run's peak
    tensor memory. Exact and deterministic, but the profiler slows the run, so it
    is measured in separate runs, not in the timed ones. It does not see memory
    outside torch tensors (Python objects, allocator slack, fragmentation): the
    RSS measurement (``PeakMemory``) covers that.
    """

    @staticmethod
    def describe() -> str:
        return ("peak of live tensor bytes from torch's CPU allocator (torch.profiler with profile_memory: "
                "running total at every allocation/free, above the total at the run's start), in separate "
                "untimed runs")

    @staticmethod
    def measure(fn) -> float:
        import torch
        from torch._C._profiler import _EventType
        from .profile_steps import _quiet_stderr
        gc.collect()
        with _quiet_stderr(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                     profile_memory=True) as prof:
            out = fn()
            del out
        peak = 0
        stack = list(prof.profiler.kineto_results.experimental_event_tree())
        while stack:
            e = stack.pop()
            if e.tag == _EventType.Allocation:
                peak = max(peak, e.extra_fields.total_allocated)
            stack.extend(e.children)
        return peak / 2**20


# --------------------------------------------------------------------------- setup

@dataclass
class Setup:
    label: str
    depth: int
    px: int
    steps: int
    repeats: int
    params: int
    model: object
    positive: list
    negative: list
    latent: dict          # with noise_mask (DInG, euler+mask, gradient)
    latent_plain: dict    # same samples, no noise_mask (euler)
    keep_fraction: float
    sigmas: Dict[int, object] = field(default_factory=dict)


@dataclass
class Run:
    method: str
    steps: int
    wall: float
    cpu: float
    peak_delta: float
    peak_abs: float
    layers: Dict[str, float]
    tensor_peak: float = float("nan")

    @property
    def calls(self) -> int:
        return int(self.layers["calls"])

    @property
    def network(self) -> float:
        return self.layers["apply_model"]


class Bench:
    def __init__(self, h, memory: PeakMemory, zeta: float = ZETA, cfg: float = CFG):
        import comfy.samplers  # noqa: F401
        from . import gradient_reference, profile_steps
        self.h = h
        self.memory = memory
        self.zeta = zeta
        self.cfg = cfg
        self.gr = gradient_reference
        self.ps = profile_steps
        pack_cls = h.node_class("DInGKSampler")
        self.pack_module = sys.modules[pack_cls.__module__]
        self.instrument = None

    # ----- models
    def prepare(self, label, depth, px, steps, repeats) -> Setup:
        import torch
        from bench import tiny_models
        name = f"bench_d{depth}"
        files = tiny_models.write_tiny_sd3(self.h.models_dir, name=name, depth=depth, seed=0,
                                           pos_embed_max_size=max(64, px // 16),
                                           unet=False, vae=False, taesd3_pair=False)
        loader = self.h.node_class("CheckpointLoaderSimple")()
        # Loaded with inference mode OFF (no_grad only): the gradient reference must be able
        # to save the weights for backward, and every method uses this same model object.
        with torch.inference_mode(False), torch.no_grad():
            model, _clip, vae = loader.load_checkpoint(files.ckpt_name)[:3]
        net = model.model.diffusion_model
        if any(p.is_inference() for p in net.parameters()):
            raise RuntimeError("checkpoint weights came out as inference tensors")
        if self.instrument is not None:
            self.instrument.patch_network(type(net))
        image = tiny_models.make_test_image(px, px, seed=3)
        mask = tiny_models.make_test_mask(px, px, "rect", x=px // 4, y=px // 4, w=px // 2, h=px // 2)
        latent = self.h.call_node("DInGInpaintEncode", pixels=image, mask=mask, vae=vae, grow_mask_by=6)[0]
        keep_fraction = float((1 - latent["noise_mask"]).mean())
        plain = {"samples": latent["samples"]}
        return Setup(label, depth, px, steps, repeats, files.unet_params, model,
                     tiny_models.sd3_conditioning(1), tiny_models.sd3_conditioning(2),
                     latent, plain, keep_fraction)

    # ----- one node call
    def call(self, s: Setup, method: str, steps: int):
        h = self.h
        common = dict(model=s.model, seed=SEED, steps=steps, cfg=self.cfg, scheduler=SCHEDULER,
                      positive=s.positive, negative=s.negative, denoise=1.0)
        if method in ("ding", "ding1"):
            return h.call_node("DInGKSampler", latent_image=s.latent, variant=method, obs_std=0.01,
                               eta="square", **common)
        if method == "euler":
            return h.call_node("KSampler", latent_image=s.latent_plain, sampler_name="euler", **common)
        if method == "euler+mask":
            return h.call_node("KSampler", latent_image=s.latent, sampler_name="euler", **common)
        if method == "gradient":
            if steps not in s.sigmas:
                s.sigmas[steps] = h.call_node("BasicScheduler", model=s.model, scheduler=SCHEDULER,
                                              steps=steps, denoise=1.0)[0]
            return h.call_node("SamplerCustom", model=s.model, add_noise=True, noise_seed=SEED, cfg=self.cfg,
                               positive=s.positive, negative=s.negative,
                               sampler=self.gr.dps_ksampler_object(self.zeta), sigmas=s.sigmas[steps],
                               latent_image=s.latent)
        raise ValueError(method)

    def measure(self, s: Setup, method: str, steps: int) -> Run:
        ps = self.ps
        with ps.InstrumentRun(self.instrument) as rec:
            self.memory.start()
            c0, t0 = time.process_time(), time.perf_counter()
            out = self.call(s, method, steps)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            delta, peak = self.memory.stop()
        del out
        return Run(method, steps, wall, cpu, delta, peak, rec.result(wall))


def plan_methods(S: int) -> List[Tuple[str, int]]:
    out = [("ding", S), ("ding1", S), ("euler", 2 * S - 1), ("euler+mask", 2 * S - 1),
           ("euler", S), ("euler+mask", S), ("gradient", S)]
    return list(dict.fromkeys(out))  # S = 1 collapses duplicates


def expected_calls(method: str, steps: int) -> int:
    return 2 * steps - 1 if method == "ding" else steps


# --------------------------------------------------------------------------- reporting

def _med(xs):
    return statistics.median(xs)


def _key(m, n):
    return f"{m} {n}"


def _tpeak(rs: List[Run]) -> float:
    vals = [r.tensor_peak for r in rs if r.tensor_peak == r.tensor_peak]
    return _med(vals) if vals else float("nan")


def summarise(s: Setup, runs: Dict[str, List[Run]]) -> List[str]:
    S = s.steps
    lines = [f"-- {s.label}: MMDiT depth {s.depth} (hidden {64 * s.depth}, {s.params / 1e6:.1f} M params), "
             f"{s.px}x{s.px} px -> latent 16x{s.px // 8}x{s.px // 8}, cfg {CFG} (batch 2 per call), "
             f"{s.repeats} timed repetitions, kept fraction of the latent {s.keep_fraction:.2f} --",
             f"  {'method':<15}{'calls':>6}{'wall s':>9}{'min-max':>15}{'ms/call':>9}{'CPU s':>8}{'net s':>8}"
             f"{'tensor pk':>11}{'RSS pk d':>10}{'min-max':>14}{'proc pk':>9}"]
    for key, rs in runs.items():
        w = [r.wall for r in rs]
        p = [r.peak_delta for r in rs]
        calls = rs[0].calls
        lines.append(f"  {key:<15}{calls:>6}{_med(w):>9.3f}{min(w):>7.2f}-{max(w):<7.2f}"
                     f"{1e3 * _med(w) / max(1, calls):>9.1f}{_med([r.cpu for r in rs]):>8.2f}"
                     f"{_med([r.network for r in rs]):>8.2f}{_tpeak(rs):>11.2f}{_med(p):>10.1f}"
                     f"{min(p):>6.0f}-{max(p):<7.0f}{_med([r.peak_abs for r in rs]):>9.0f}")
    lines.append("  (wall/CPU/net s: medians; net s = time inside BaseModel.apply_model; memory in MiB: "
                 "tensor pk = peak live tensor bytes above the start, RSS pk d = peak RSS above the RSS "
                 "before the run, proc pk = absolute process peak RSS)")

    def ratio_rows(a_key, b_key, what):
        A, B = runs[a_key], runs[b_key]
        wall = _med([r.wall for r in A]) / _med([r.wall for r in B])
        paired = _med([a.wall / b.wall for a, b in zip(A, B)])
        nonnet = _med([r.wall - r.network for r in A]) - _med([r.wall - r.network for r in B])
        netnorm = 1.0 + nonnet / _med([r.wall for r in B])
        cpu = _med([r.cpu for r in A]) / _med([r.cpu for r in B])
        tpk = _tpeak(A) / _tpeak(B)
        mem = _med([r.peak_delta for r in A]) / max(1e-9, _med([r.peak_delta for r in B]))
        mem_abs = _med([r.peak_abs for r in A]) / _med([r.peak_abs for r in B])
        return (f"  {what:<36}{wall:>7.3f}{paired:>8.3f}{netnorm:>9.3f}{cpu:>7.3f}{tpk:>11.3f}"
                f"{mem:>10.3f}{mem_abs:>9.3f}")

    head = (f"  {'ratio A / B':<36}{'wall':>7}{'paired':>8}{'net-norm':>9}{'CPU':>7}{'tensor pk':>11}"
            f"{'RSS pk d':>10}{'proc pk':>9}")
    lines += ["", "  equal network calls (overhead = DInG / euler at the same number of calls):", head]
    d, d1 = _key("ding", S), _key("ding1", S)
    eN, emN = _key("euler", 2 * S - 1), _key("euler+mask", 2 * S - 1)
    eS, emS = _key("euler", S), _key("euler+mask", S)
    lines.append(ratio_rows(d, eN, f"{d} / {eN}"))
    lines.append(ratio_rows(d, emN, f"{d} / {emN}"))
    lines.append(ratio_rows(d1, eS, f"{d1} / {eS}"))
    lines.append(ratio_rows(d1, emS, f"{d1} / {emS}"))
    lines += ["", "  equal steps:", head]
    lines.append(ratio_rows(d, eS, f"{d} / {eS}"))
    lines.append(ratio_rows(d, emS, f"{d} / {emS}"))
    g = _key("gradient", S)
    lines += ["", "  gradient reference (DPS, backprop every step) vs DInG at equal steps:", head]
    lines.append(ratio_rows(g, d, f"{g} / {d}"))
    lines.append(ratio_rows(g, d1, f"{g} / {d1}"))
    G = runs[g]
    g_wall, g_tpeak = _med([r.wall for r in G]), _tpeak(G)
    g_delta, g_abs = _med([r.peak_delta for r in G]), _med([r.peak_abs for r in G])
    for v in (d, d1):
        D = runs[v]
        speed = g_wall / _med([r.wall for r in D])
        less_t = 1.0 - _tpeak(D) / g_tpeak
        less = 1.0 - _med([r.peak_delta for r in D]) / g_delta
        less_abs = 1.0 - _med([r.peak_abs for r in D]) / g_abs
        lines.append(f"  => {v} is {speed:.2f}x faster than {g} (issue target >= 3.2x) and needs {100 * less_t:.0f}% "
                     f"less peak tensor memory ({100 * less:.0f}% less peak RSS above baseline; target >= 68%), "
                     f"{100 * less_abs:.0f}% less absolute process peak (weights, torch and ComfyUI included)")
    lines += cost_model_lines(runs, S)
    lines.append("  (wall = ratio of medians; paired = median of per-repetition ratios; net-norm = 1 + (non-network "
                 "time A - non-network time B) / wall B, i.e. the same network work counted once, which removes "
                 "run-to-run noise of the network itself; CPU = ratio of median process CPU time)")
    return lines


def cost_model_lines(runs: Dict[str, List[Run]], S: int) -> List[str]:
    """Why the gradient / DInG time ratio is what it is, in units of one plain forward.

    A plain forward F is the network time per call of ``ding1 S`` (no autograd). The
    gradient reference's step is a forward that records the graph (its network time
    per call) plus the backward pass to the input and the guided update (its sampler
    own work per step). At equal steps DInG-1 makes S plain forwards and DInG 2S-1,
    so gradient / ding1 ~ (F_g + B) / F and gradient / ding ~ S (F_g + B) / ((2S-1) F).
    """
    from . import profile_steps as ps
    g, d1 = runs[_key("gradient", S)], runs[_key("ding1", S)]
    f_plain = _med([r.network / max(1, r.calls) for r in d1])
    f_grad = _med([r.network / max(1, r.calls) for r in g])
    back = _med([ps.breakdown(r.layers)["sampler own work"] / max(1, r.calls) for r in g])
    step = (f_grad + back) / f_plain
    return [f"  cost model, in plain forwards F = {1e3 * f_plain:.0f} ms (no-grad network call, batch 2): gradient step = "
            f"forward recording the graph {f_grad / f_plain:.2f} F + backward to the input and update "
            f"{back / f_plain:.2f} F = {step:.2f} F; DInG-1 step = 1 F, DInG step = 2 F (2S-1 calls) -> expected "
            f"gradient / ding1 ~ {step:.2f}, gradient / ding ~ {step * S / (2 * S - 1):.2f} at S = {S}"]


def breakdown_lines(s: Setup, runs: Dict[str, List[Run]]) -> List[str]:
    S = s.steps
    from . import profile_steps as ps
    keys = [_key("ding", S), _key("ding1", S), _key("euler", 2 * S - 1), _key("euler+mask", 2 * S - 1),
            _key("gradient", S)]
    sel = {k: [r.layers for r in runs[k]] for k in keys if k in runs}
    own = {_key("gradient", S): "backward pass through the network + guided Euler update"}
    lines = ps.format_breakdown_table(
        f"-- where the time goes, {s.label} (median over the same runs; ms per node call, per model call, "
        f"% of the node call) --", sel, own_labels=own)
    for v in ("ding", "ding1"):
        own[_key(v, S)] = "ding_sample's posterior updates: noise draws + elementwise passes"
    causes = ps.named_causes(sel, own_labels=own)
    lines.append("  above 2% of a node call, besides the network forward:" if causes else
                 "  nothing but the network forward takes more than 2% of a node call")
    lines += [f"    {c}" for c in causes]
    return lines


# --------------------------------------------------------------------------- main

def _find_comfy(explicit: Optional[str]):
    if str(HARNESS_DIR) not in sys.path:
        sys.path.insert(0, str(HARNESS_DIR))
    from bench import comfy_harness
    if explicit:
        os.environ["COMFYUI_PATH"] = explicit
    elif not os.environ.get("COMFYUI_PATH"):
        local = REPO / ".comfyui"
        if comfy_harness.is_comfyui_dir(local):
            os.environ["COMFYUI_PATH"] = str(local)
    return comfy_harness, comfy_harness.unavailable_reason()


def _quiet_logging() -> None:
    """Only errors from ComfyUI's logging on the console (its import chatter: missing audio
    dependencies, 'no CLIP/text encoder weights in checkpoint', ...)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
    for handler in root.handlers:
        handler.addFilter(lambda record: record.levelno >= logging.ERROR)


_BASE_DIR: Optional[str] = None


def _cleanup_base_dir() -> None:
    """Remove the temporary ComfyUI folder (checkpoints of up to ~400 MB; the pack symlink in it
    is unlinked, not followed)."""
    if _BASE_DIR is not None:
        shutil.rmtree(_BASE_DIR, ignore_errors=True)


def _bootstrap(comfy_harness):
    global _BASE_DIR
    _quiet_logging()
    if comfy_harness._HARNESS is None and _BASE_DIR is None:
        _BASE_DIR = tempfile.mkdtemp(prefix="ding_bench_")
        atexit.register(_cleanup_base_dir)
    h = comfy_harness.bootstrap(base_dir=_BASE_DIR)
    if h.pack is None or not h.pack.loaded:
        raise RuntimeError(f"ComfyUI did not load the ding-inpaint pack: {h.pack.error if h.pack else '?'}")
    import comfy.utils
    comfy.utils.set_progress_bar_enabled(False)  # no tqdm bars (same for every method)
    return h


def run_size(bench: Bench, label: str, cfg, log=print) -> Tuple[Setup, Dict[str, List[Run]]]:
    depth, px, S, repeats, mem_repeats = cfg
    t0 = time.perf_counter()
    s = bench.prepare(label, depth, px, S, repeats)
    methods = plan_methods(S)
    # warm-up (excluded): every method once, with its call count checked
    with bench.h.count_model_calls() as counter:
        for m, n in methods:
            counter.reset()
            bench.call(s, m, n)
            if counter.count != expected_calls(m, n) or set(counter.batch_sizes) != {2}:
                raise RuntimeError(f"{m} {n}: {counter.count} model calls (batches {set(counter.batch_sizes)}), "
                                   f"expected {expected_calls(m, n)} of batch 2")
    log(f"   {label}: model written, loaded and warm ({time.perf_counter() - t0:.1f} s); model calls checked: "
        + ", ".join(f"{m} {n} = {expected_calls(m, n)}" for m, n in methods))
    runs: Dict[str, List[Run]] = {_key(m, n): [] for m, n in methods}
    for rep in range(repeats):
        t1 = time.perf_counter()
        k = rep % len(methods)
        for m, n in methods[k:] + methods[:k]:
            runs[_key(m, n)].append(bench.measure(s, m, n))
        log(f"   {label}: timed repetition {rep + 1}/{repeats} ({time.perf_counter() - t1:.1f} s)")
    t1 = time.perf_counter()
    for rep in range(mem_repeats):
        for i, (m, n) in enumerate(methods):
            peak = TensorPeak.measure(lambda: bench.call(s, m, n))
            runs[_key(m, n)][rep % repeats].tensor_peak = peak  # one value per memory repetition
            if rep > 0:
                first = runs[_key(m, n)][0].tensor_peak
                if abs(peak - first) > 0.01 * max(first, 1e-9):
                    log(f"   note: {m} {n} tensor peak varies: {first:.2f} vs {peak:.2f} MiB")
    log(f"   {label}: tensor-peak runs ({mem_repeats} per method, {time.perf_counter() - t1:.1f} s)")
    if any(p.is_inference() for p in s.model.model.diffusion_model.parameters()):
        raise RuntimeError("the model's weights turned into inference tensors during sampling")
    return s, runs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="DInG overhead and memory vs KSampler euler and a gradient method")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: depth 2 at 128 px and depth 4 at 256 px, 4 steps, fewer repetitions (< 1 min)")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--comfyui", default=None, help="ComfyUI checkout (default: $COMFYUI_PATH, else ./.comfyui)")
    ap.add_argument("--large", default=None,
                    help="larger model as DEPTH,PX,STEPS,REPEATS[,MEMORY_REPEATS] (default %s); 'none' to skip"
                    % ",".join(map(str, DEFAULT["large"])))
    ap.add_argument("--small", default=None, help="small model as DEPTH,PX,STEPS,REPEATS[,MEMORY_REPEATS] (default %s)"
                    % ",".join(map(str, DEFAULT["small"])))
    ap.add_argument("--zeta", type=float, default=ZETA, help="DPS step size of the gradient reference")
    ap.add_argument("--memory-sampling", action="store_true",
                    help="measure peak RSS with a sampling thread instead of the kernel counter")
    ap.add_argument("--no-micro", action="store_true", help="skip the zero-cost-denoiser micro-benchmark")
    args = ap.parse_args(argv)

    from . import profile_steps as ps
    ps.setup_threads(args.threads)
    comfy_harness, reason = _find_comfy(args.comfyui)
    if reason is not None:
        print(f"bench.overhead: ComfyUI is not available, nothing measured: {reason}")
        return 0

    plan = dict(QUICK if args.quick else DEFAULT)
    for name in ("small", "large"):
        spec = getattr(args, name)
        if spec:
            if spec == "none":
                plan[name] = None
            else:
                vals = [int(v) for v in spec.split(",")]
                plan[name] = tuple(vals + [1] * (5 - len(vals))) if len(vals) >= 4 else None
                if plan[name] is None:
                    ap.error(f"--{name} needs DEPTH,PX,STEPS,REPEATS[,MEMORY_REPEATS]")
    t_start = time.perf_counter()
    print("== machine ==")
    for line in ps.machine_info():
        print("  " + line)
    h = _bootstrap(comfy_harness)
    import torch
    import comfyui_version  # noqa: F401  (ComfyUI's own version file)
    from comfy.cli_args import args as comfy_args
    print(f"  ComfyUI {comfyui_version.__version__} at {h.comfyui_path} (--cpu, in-process harness, "
          f"import+init {h.import_seconds + h.init_seconds:.1f} s); preview method {comfy_args.preview_method.value}, "
          f"progress bars off; torch threads now {torch.get_num_threads()}")
    memory = PeakMemory(force_sampling=args.memory_sampling)
    print(f"  peak memory (1): {TensorPeak.describe()}")
    print(f"  peak memory (2): {memory.describe()}")
    print(f"  timing: methods interleaved in a rotated order per repetition, medians; one warm-up call of "
          f"each method first (model loading excluded); nodes via harness.call_node under inference_mode; "
          f"seed {SEED}, cfg {CFG}, scheduler {SCHEDULER}, DInG obs_std 0.01 eta square, DPS zeta {args.zeta}")
    print()
    bench = Bench(h, memory, zeta=args.zeta)
    bench.instrument = ps.Instrument(bench.pack_module)
    out: List[Tuple[Setup, Dict[str, List[Run]]]] = []
    print("== measuring ==")
    with bench.instrument:
        for name in ("small", "large"):
            if plan.get(name) is not None:
                out.append(run_size(bench, f"{name} model", plan[name]))
    print()
    print("== results ==")
    for s, runs in out:
        for line in summarise(s, runs):
            print(line)
        print()
    print("== profile: per-step breakdown (same runs) ==")
    for s, runs in out:
        for line in breakdown_lines(s, runs):
            print(line)
        print()
    if not args.no_micro:
        print("== ding_sample's own work vs euler's arithmetic (no network) ==")
        import comfy.k_diffusion.sampling as kds
        for line in ps.micro_benchmark(repeats=3 if args.quick else 7, real_euler=kds.sample_euler):
            print(line)
        print()
    print(f"load average at end: {ps.load_average()}; total {time.perf_counter() - t_start:.0f} s")
    return 0


def run_profile_only(quick: bool, threads: int) -> List[str]:
    """For ``python -m bench.profile_steps``: the breakdown on the small model only."""
    from . import profile_steps as ps
    ps.setup_threads(threads)
    comfy_harness, reason = _find_comfy(None)
    if reason is not None:
        return [f"ComfyUI part skipped: {reason}"]
    h = _bootstrap(comfy_harness)
    bench = Bench(h, PeakMemory())
    bench.instrument = ps.Instrument(bench.pack_module)
    cfg = (2, 128, 4 if quick else 10, 3 if quick else 5, 1)
    with bench.instrument:
        s, runs = run_size(bench, "small model", cfg, log=lambda *_: None)
    return ["== profile: per-step breakdown =="] + breakdown_lines(s, runs)


if __name__ == "__main__":
    sys.exit(main())
