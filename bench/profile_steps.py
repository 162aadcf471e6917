"""Where the time of a sampling run goes: network vs ComfyUI's wrapper vs the sampler's own work.

Two parts:

1. ``Instrument``: inclusive wall-clock timers patched onto ComfyUI's call chain
   and the pack's entry point (restored on exit), so one node call splits into

       network forward        diffusion_model.forward (the MMDiT itself)
       apply_model wrapper    BaseModel.apply_model minus the forward
                              (calculate_input, timestep, extra conds, calculate_denoised)
       calc_cond_batch        calc_cond_batch minus apply_model (per call: cond_cat of the text
                              context, get_area_and_mult, get_free_memory; cProfile on the small
                              model: about 0.65 + 0.45 + 0.15 ms of its 1.4 ms)
       CFG / guider           KSamplerX0Inpaint call minus calc_cond_batch
                              (cfg_function, predict_noise, latent-replacement blending)
       sampler own work       the sampler function minus its model calls
                              (DInG: ding_sample's elementwise work + noise; and the
                              sample_ding glue; gradient reference: backward pass + guidance)
       ComfyUI setup          node call minus the sampler function (prepare_sampling,
                              conds, noise, sigmas, load_models_gpu, latent out)

   ``bench.overhead`` runs every measured node call inside it; this module's
   ``main`` runs a short profile by itself.

2. ``micro_benchmark``: ``ding_sample``'s own per-step cost with a zero-cost
   denoiser (returns a preallocated tensor) on a [1, 16, 128, 128] latent, against
   k-diffusion's Euler arithmetic and ComfyUI's latent-replacement blending on the
   same latent. It needs no ComfyUI. Allocations and host syncs per run are
   counted with the torch profiler (bytes each op allocates, as latent-sized
   buffers) and by wrapping torch.Tensor's item/tolist/bool/float/int (host reads,
   which would be device syncs on a GPU).

Run from the repository root::

    python -m bench.profile_steps            # micro-benchmark + a short ComfyUI profile
    python -m bench.profile_steps --quick
"""
from __future__ import annotations

import os

# Before torch loads OpenMP: on a shared 2-core machine, spinning OpenMP workers make
# every small op 10-100x slower whenever the other core is busy (measured: a
# [1,16,128,128] multiply 7.5 ms with the default policy vs 0.06 ms with PASSIVE).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional  # noqa: E402

import torch  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
HARNESS_DIR = REPO / "tests" / "integration"


# --------------------------------------------------------------------------- machine

def setup_threads(threads: int) -> None:
    """Pin torch's intra-op threads (and tell the integration harness, which otherwise
    picks 1 thread on <= 2 CPUs)."""
    os.environ["DING_TORCH_THREADS"] = str(threads)
    torch.set_num_threads(threads)


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def machine_info() -> List[str]:
    lines = [
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"intra-op threads {torch.get_num_threads()}, interop threads {torch.get_num_interop_threads()}",
        f"CPU: {cpu_model()}, {os.cpu_count()} logical cores; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}",
        f"accelerator: none (CUDA available: {torch.cuda.is_available()}); all figures are CPU figures",
        f"load average (1/5/15 min) at start: {load_average()}",
    ]
    return lines


# --------------------------------------------------------------------------- instrument

class _Timers:
    def __init__(self):
        self.seconds: Dict[str, float] = defaultdict(float)
        self.counts: Dict[str, int] = defaultdict(int)

    def wrap(self, label: str, fn: Callable) -> Callable:
        timers = self

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timers.seconds[label] += time.perf_counter() - t0
                timers.counts[label] += 1

        timed.__wrapped__ = fn
        return timed


LAYERS = ("forward", "apply_model", "calc_cond_batch", "model_call", "ding_sample", "sampler_fn",
          "ksampler_sample")


class Instrument:
    """Inclusive timers on ComfyUI's sampling call chain (needs ComfyUI imported).

    ``with Instrument(pack_module, [MMDiT class]) as ins:``, then per run
    ``with InstrumentRun(ins) as r: ...`` and ``r.result(wall)`` (timers are cumulative).
    """

    def __init__(self, pack_sampling_module=None, network_classes=()):
        self.pack = pack_sampling_module
        self.network_classes = list(dict.fromkeys(network_classes))
        self.t = _Timers()
        self._undo: List[Callable[[], None]] = []
        self._active = False
        self._patched_networks: set = set()

    def patch_network(self, cls: type):
        """Time ``cls.forward`` as the network forward (now if active, else on enter)."""
        if cls not in self.network_classes:
            self.network_classes.append(cls)
        if self._active and cls not in self._patched_networks:
            self._patch(cls, "forward", self.t.wrap("forward", cls.forward))
            self._patched_networks.add(cls)

    def _patch(self, owner, name: str, new):
        if isinstance(owner, type) and name not in owner.__dict__:  # inherited: undo = delete
            setattr(owner, name, new)
            self._undo.append(lambda: delattr(owner, name))
            return
        old = owner.__dict__[name] if isinstance(owner, type) else getattr(owner, name)
        setattr(owner, name, new)
        self._undo.append(lambda: setattr(owner, name, old))

    def __enter__(self):
        import comfy.model_base
        import comfy.samplers
        t = self.t
        self._active = True
        for cls in self.network_classes:
            self.patch_network(cls)
        self._patch(comfy.model_base.BaseModel, "apply_model",
                    t.wrap("apply_model", comfy.model_base.BaseModel.apply_model))
        self._patch(comfy.samplers, "calc_cond_batch", t.wrap("calc_cond_batch", comfy.samplers.calc_cond_batch))
        self._patch(comfy.samplers.KSamplerX0Inpaint, "__call__",
                    t.wrap("model_call", comfy.samplers.KSamplerX0Inpaint.__call__))
        orig_sample = comfy.samplers.KSAMPLER.sample

        def sample(ks, *args, **kwargs):
            fn = ks.sampler_function
            ks.sampler_function = t.wrap("sampler_fn", fn)
            try:
                return orig_sample(ks, *args, **kwargs)
            finally:
                ks.sampler_function = fn

        self._patch(comfy.samplers.KSAMPLER, "sample", t.wrap("ksampler_sample", sample))
        if self.pack is not None and hasattr(self.pack, "ding_sample"):
            self._patch(self.pack, "ding_sample", t.wrap("ding_sample", self.pack.ding_sample))
        return self

    def __exit__(self, *exc):
        while self._undo:
            self._undo.pop()()
        self._active = False
        self._patched_networks.clear()
        return False

    def snapshot(self) -> Dict[str, float]:
        return dict(self.t.seconds)

    def calls(self) -> int:
        return self.t.counts.get("apply_model", 0)


class InstrumentRun:
    """Per-run view: timers are cumulative, so a run is the difference of two snapshots."""

    def __init__(self, ins: Instrument):
        self.ins = ins
        self.before: Dict[str, float] = {}
        self.before_calls = 0

    def __enter__(self):
        self.before = self.ins.snapshot()
        self.before_calls = self.ins.t.counts.get("apply_model", 0)
        return self

    def __exit__(self, *exc):
        return False

    def result(self, wall: float) -> Dict[str, float]:
        now = self.ins.snapshot()
        d = {k: now.get(k, 0.0) - self.before.get(k, 0.0) for k in LAYERS}
        d["calls"] = self.ins.t.counts.get("apply_model", 0) - self.before_calls
        d["wall"] = wall
        return d


ROWS = (
    ("network forward", "the MMDiT forward (diffusion_model.forward)"),
    ("apply_model wrapper", "BaseModel.apply_model minus forward"),
    ("calc_cond_batch", "ComfyUI's per-call cond handling around apply_model: cond_cat of the "
                        "[154, 4096] text context, get_area_and_mult, free-memory check; same for every sampler"),
    ("CFG / guider", "KSamplerX0Inpaint call minus calc_cond_batch"),
    ("sampler own work", "sampler function minus its model calls"),
    ("  of which ding_sample", "DInG elementwise updates + noise draws"),
    ("  of which glue", "sample_ding outside ding_sample"),
    ("ComfyUI setup", "node call minus the sampler function"),
)


def breakdown(d: Dict[str, float]) -> Dict[str, float]:
    """Exclusive seconds per row from one run's inclusive timers."""
    out = {
        "network forward": d["forward"],
        "apply_model wrapper": d["apply_model"] - d["forward"],
        "calc_cond_batch": d["calc_cond_batch"] - d["apply_model"],
        "CFG / guider": d["model_call"] - d["calc_cond_batch"],
        "sampler own work": d["sampler_fn"] - d["model_call"],
        "ComfyUI setup": d["wall"] - d["sampler_fn"],
    }
    if d.get("ding_sample", 0.0) > 0:
        out["  of which ding_sample"] = d["ding_sample"] - d["model_call"]
        out["  of which glue"] = d["sampler_fn"] - d["ding_sample"]
    return out


def format_breakdown_table(title: str, runs: Dict[str, List[Dict[str, float]]],
                           own_labels: Optional[Dict[str, str]] = None) -> List[str]:
    """Median per row over runs, per method: ms per run, ms per model call, % of the node call."""
    own_labels = own_labels or {}
    methods = list(runs)
    lines = [title]
    head = f"  {'row':<24}" + "".join(f"{m:>27}" for m in methods)
    lines.append(head)
    sub = f"  {'':<24}" + "".join(f"{'ms/run  ms/call   %':>27}" for _ in methods)
    lines.append(sub)
    meds = {}
    for m in methods:
        rows = [breakdown(r) for r in runs[m]]
        keys = set().union(*rows)
        meds[m] = {k: statistics.median(r.get(k, 0.0) for r in rows) for k in keys}
        meds[m]["__wall"] = statistics.median(r["wall"] for r in runs[m])
        meds[m]["__calls"] = statistics.median(r["calls"] for r in runs[m])
    for row, _ in ROWS:
        if not any(row in meds[m] for m in methods):
            continue
        cells = []
        for m in methods:
            if row not in meds[m]:
                cells.append(f"{'-':>27}")
                continue
            v, wall, calls = meds[m][row], meds[m]["__wall"], max(1.0, meds[m]["__calls"])
            cells.append(f"{v * 1e3:>10.1f} {v * 1e3 / calls:>8.2f} {100 * v / wall:>6.2f}%")
        lines.append(f"  {row:<24}" + "".join(cells))
    cells = []
    for m in methods:
        wall, calls = meds[m]["__wall"], meds[m]["__calls"]
        cells.append(f"{wall * 1e3:>10.1f} {wall * 1e3 / max(1.0, calls):>8.2f} {100.0:>6.2f}%")
    lines.append(f"  {'node call (total)':<24}" + "".join(cells))
    lines.append(f"  {'model calls':<24}" + "".join(f"{int(meds[m]['__calls']):>27d}" for m in methods))
    for m, label in own_labels.items():
        lines.append(f"  ({m}: 'sampler own work' = {label})")
    return lines


def named_causes(runs: Dict[str, List[Dict[str, float]]], threshold: float = 0.02,
                 own_labels: Optional[Dict[str, str]] = None) -> List[str]:
    """Rows other than the network forward that take more than ``threshold`` of a node call."""
    own_labels = own_labels or {}
    out = []
    for m, rs in runs.items():
        rows = [breakdown(r) for r in rs]
        wall = statistics.median(r["wall"] for r in rs)
        for row, what in ROWS:
            if row == "network forward" or not any(row in r for r in rows):
                continue
            v = statistics.median(r.get(row, 0.0) for r in rows)
            if v > threshold * wall:
                if row == "sampler own work" and m in own_labels:
                    what = own_labels[m]
                out.append(f"{m}: {row.strip()} = {100 * v / wall:.1f}% of the node call ({what})")
    return out


# --------------------------------------------------------------------------- micro-benchmark

def _kdiff_euler(model, x, sigmas, extra_args=None, callback=None):
    """k-diffusion's sample_euler arithmetic (s_churn = 0), as in ComfyUI a125cd84
    comfy/k_diffusion/sampling.py:184-206, without the progress bar."""
    extra_args = {} if extra_args is None else extra_args
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        sigma_hat = sigmas[i]
        denoised = model(x, sigma_hat * s_in, **extra_args)
        d = (x - denoised) / sigma_hat.reshape([-1] + [1] * (x.ndim - 1))  # to_d + append_dims
        if callback is not None:
            callback({"x": x, "i": i, "sigma": sigmas[i], "sigma_hat": sigma_hat, "denoised": denoised})
        dt = sigmas[i + 1] - sigma_hat
        x = x + d * dt
    return x


def _replacement_model(den, latent, noise, denoise_mask):
    """KSamplerX0Inpaint's blending around a model call (samplers.py:398-411), flow scaling."""
    latent_mask = 1.0 - denoise_mask

    def model(x, sigma, **_):
        s = sigma.reshape(-1, 1, 1, 1)
        x = x * denoise_mask + (s * noise + (1.0 - s) * latent) * latent_mask  # scale_latent_inpaint (CONST)
        out = den(x, sigma)
        return out * denoise_mask + latent * latent_mask

    return model


@contextlib.contextmanager
def _quiet_stderr():
    """Silence the profiler's native 'USDT: profiler_start/stop' lines (written to fd 2)."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


_HOST_READS = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")


@contextlib.contextmanager
def _count_host_reads(counter: Dict[str, int]):
    """Count tensor -> Python reads (what would be a device sync on a GPU): item, tolist,
    bool/float/int/index conversions, by wrapping those torch.Tensor methods."""
    saved = {}
    for name in _HOST_READS:
        orig = getattr(torch.Tensor, name)
        saved[name] = torch.Tensor.__dict__.get(name, None)

        def make(orig=orig):
            def wrapper(self, *a, **k):
                counter["syncs"] = counter.get("syncs", 0) + 1
                return orig(self, *a, **k)
            return wrapper

        setattr(torch.Tensor, name, make())
    try:
        yield counter
    finally:
        for name, old in saved.items():
            if old is None:
                delattr(torch.Tensor, name)
            else:
                setattr(torch.Tensor, name, old)


def _count_events(fn) -> Dict[str, int]:
    """Bytes allocated by ops (sum of positive per-op self memory, torch profiler) and
    host reads of tensor values (``_count_host_reads``) in one call."""
    with _quiet_stderr(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                 profile_memory=True) as prof:
        fn()
    alloc_bytes = 0
    for e in prof.events():
        b = getattr(e, "self_cpu_memory_usage", 0) or 0
        if b > 0:
            alloc_bytes += b
    reads: Dict[str, int] = {}
    with _count_host_reads(reads):
        fn()
    return {"alloc_bytes": alloc_bytes, "syncs": reads.get("syncs", 0)}


def micro_benchmark(shape=(1, 16, 128, 128), steps: int = 28, repeats: int = 7,
                    real_euler: Optional[Callable] = None) -> List[str]:
    """Per-step cost of the samplers' own work with a zero-cost denoiser."""
    from ding_sampler.sampler import ding_sample
    from ding_sampler.schedule import flow_sigmas

    el = 1
    for n in shape:
        el *= n
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(shape, generator=g)
    y = torch.randn(shape, generator=g)
    keep = torch.zeros(shape)
    h, w = shape[-2], shape[-1]
    keep[..., : h // 2, :] = 1.0  # ComfyUI hands the mask with channels repeated: full latent shape
    fixed = torch.randn(shape, generator=g)

    def zero_cost(x, sigma, **_):
        return fixed

    def _cases(n_steps):
        sigmas = torch.tensor(flow_sigmas(n_steps), dtype=torch.float32)
        transitions = n_steps - 1  # ding_sample: a transition per positive target, then one estimate

        def run_ding(variant):
            return lambda: ding_sample(zero_cost, noise, sigmas, y, keep, variant=variant,
                                       generator=torch.Generator().manual_seed(1), paste_observation=True)

        out = [
            ("ding (2 calls/step)", run_ding("ding"), 2 * transitions + 1, transitions),
            ("ding1 (1 call/step)", run_ding("ding1"), transitions + 1, transitions),
            ("k-diffusion euler", lambda: _kdiff_euler(zero_cost, noise, sigmas), n_steps, n_steps),
            ("euler + latent replacement",
             lambda: _kdiff_euler(_replacement_model(zero_cost, y, noise, 1.0 - keep), noise, sigmas),
             n_steps, n_steps),
        ]
        if real_euler is not None:
            out.append(("ComfyUI sample_euler (real)",
                        lambda: real_euler(zero_cost, noise.clone(), sigmas, disable=True), n_steps, n_steps))
        return out

    cases = _cases(steps)
    for _, fn, _, _ in cases:  # warm-up
        fn()
    times: Dict[str, List[float]] = defaultdict(list)
    for _ in range(repeats):
        for name, fn, _, _ in cases:  # interleaved
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    lines = [f"sampler's own work per step, zero-cost denoiser (returns a preallocated tensor), latent "
             f"{list(shape)} float32 ({el * 4 / 2**20:.0f} MiB), {steps}-step flow grid, median of {repeats}:",
             f"  {'sampler':<30}{'calls':>6}{'ms/run':>9}{'ms/step':>9}{'ms/call':>9}"
             f"{'buffers/step':>21}{'reads/run':>12}{'per step':>9}"]
    half = steps // 2
    half_cases = _cases(half)
    for (name, fn, calls, nsteps), (_, fn_half, _, nsteps_half) in zip(cases, half_cases):
        med = statistics.median(times[name])
        ev = _count_events(fn)
        reads_half = _count_events(fn_half)["syncs"]
        per_step_reads = (ev["syncs"] - reads_half) / (nsteps - nsteps_half)
        per_step = med / nsteps
        lines.append(f"  {name:<30}{calls:>6}{med * 1e3:>9.2f}{per_step * 1e3:>9.3f}{med / calls * 1e3:>9.3f}"
                     f"{ev['alloc_bytes'] / nsteps / (el * 4):>21.1f}"
                     f"{ev['syncs'] - per_step_reads * nsteps:>12.0f}{per_step_reads:>9.1f}")
    # the noise draws DInG needs, for scale
    t_noise = []
    gen = torch.Generator().manual_seed(2)
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.randn(shape, generator=gen)
        t_noise.append(time.perf_counter() - t0)
    t_mul = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.mul(noise, 1.5)
        t_mul.append(time.perf_counter() - t0)
    lines.append("  (steps: DInG counts its transitions, its final clean estimate is the extra call; buffers/step = "
                 "bytes allocated by ops per step in latent-sized buffers (torch profiler); reads = tensor values "
                 f"read into Python (item/tolist/bool/float/int; device syncs on a GPU), per run and per step "
                 f"(from runs of {steps} and {steps // 2} steps))")
    lines.append(f"  for scale: one torch.randn of the latent {statistics.median(t_noise) * 1e3:.3f} ms "
                 f"(ding draws 2 per step, ding1 1), one allocating multiply {statistics.median(t_mul) * 1e3:.3f} ms")
    return lines


# --------------------------------------------------------------------------- standalone

def _comfy_profile(quick: bool, threads: int) -> List[str]:
    """A short instrumented run of DInGKSampler / KSampler on the small tiny SD3 (depth 2, 128 px)."""
    if str(HARNESS_DIR) not in sys.path:
        sys.path.insert(0, str(HARNESS_DIR))
    from bench import comfy_harness  # noqa: E402
    reason = comfy_harness.unavailable_reason()
    if reason is not None:
        return [f"ComfyUI part skipped: {reason}"]
    from . import overhead
    return overhead.run_profile_only(quick=quick, threads=threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--no-comfy", action="store_true", help="only the micro-benchmark (no ComfyUI)")
    args = ap.parse_args(argv)
    setup_threads(args.threads)
    print("== machine ==")
    for line in machine_info():
        print("  " + line)
    print()
    print("== ding_sample's own work (no ComfyUI) ==")
    real = None
    for line in micro_benchmark(repeats=3 if args.quick else 7, real_euler=real):
        print(line)
    if not args.no_comfy:
        print()
        for line in _comfy_profile(args.quick, args.threads):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
