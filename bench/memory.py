"""Peak memory of the pack's inpaint path next to ComfyUI's own, at large image sizes, in one run.

The two paths, on the same image, mask, seed, conditioning, model and VAE:

* pack:    DInG Inpaint/Outpaint Encode -> DInG Inpaint/Outpaint KSampler -> VAEDecode
           -> DInG Inpaint/Outpaint Composite
* ComfyUI: VAEEncode -> SetLatentNoiseMask -> KSampler (euler) -> VAEDecode -> ImageCompositeMasked

Every node is a ComfyUI node class called in-process (``comfy_testbed.comfy_harness``), on the
tiny SD3 checkpoint of ``comfy_testbed.tiny_models`` (2 steps, cfg 2: two model calls of batch 2 in
either sampler). For each path and repetition one fresh child process runs the whole graph node by
node at every size (ascending) and reports each node's peak and the whole graph's peak; the parent
alternates the paths (pack first in odd repetitions, ComfyUI first in even ones) and prints the
medians, the spread (min-max) and the ratios pack / ComfyUI side by side. Run from the repository root::

    COMFYUI_PATH=/work/comfy/c064 /work/comfy/venv-c064/bin/python -m bench.memory \
        --sizes 2048 4096 --log bench/results/memory_064.txt          # about 3 min on 2 cores

Stages compared: encode (DInG Encode vs VAEEncode + SetLatentNoiseMask), sampler (DInG KSampler
vs KSampler), decode (the same VAEDecode node, for reference), composite (DInG Composite vs
ImageCompositeMasked) and the whole graph.

Method: peak resident memory of the child, read from the kernel. Before each node the child
writes ``5`` to ``/proc/self/clear_refs``, which resets the process's peak RSS (``VmHWM``) to its
current RSS; after the node ``VmHWM`` is the exact high-water mark over the node, sampled by the
kernel at every page fault, so no short-lived peak is missed (a sampling thread could miss
one). A node's figure is that peak minus the RSS just before it (its temporaries and its outputs);
the graph's is the highest node peak minus the RSS before the first node. Why RSS and not a tensor
hook: ``tracemalloc`` does not see torch's allocations, and torch 2.13 has no CPU counterpart of
``torch.cuda.max_memory_allocated``; ``torch.profiler(profile_memory=True)`` attributes bytes
to ops, not to time, so its peaks are reconstructions. The child runs with
``MALLOC_MMAP_THRESHOLD_=65536``: glibc then serves every buffer over 64 KiB with its own mmap and
returns it to the kernel when torch frees it, so RSS follows the live tensors (with glibc's
default, freed buffers below its sliding threshold stay in the heap and a later node reuses them
without raising RSS, which hides that node's allocations). Before measuring, the child runs the
whole graph once at 256 px (warm-up: lazily loaded code and kernels are out of the figures), and
the inputs (image, mask, conditioning, loaded model and VAE) are made before the baseline.

The networks: the MMDiT and the TAESD are replaced by stand-ins of the same interface
(``--networks stub``, the default): the VAE encoder is an 8x8 average pool and a fixed 1x1
convolution to the 16 latent channels, the decoder the transposed pair (1x1 convolution, 8x
nearest upsampling), the diffusion network returns ``0.5 * x``. Everything around them is
ComfyUI's own code: the VAE wrapper (crop, scaling, dtype moves), the model wrapper
(``model_sampling``, CFG, ``KSamplerX0Inpaint``), the samplers and the nodes. Both paths call the
same networks on tensors of the same shapes, so the networks' activations are common to both and
would only add the same amount to both sides; measured as they are, they dominate: the real tiny
TAESD needs 66 full-size images to encode and 85 to decode (measured at 1024 and 2048 px; 12 and
16 GiB at 4096 px), the real MMDiT 13.7 s per call at 2048 px on 2 cores and about 16 times that
at 4096 px. ``--networks real`` runs the real ones (practical up to 2048 px: about 10 min for
1024 and 2048 px, one repetition) and shows the same differences between the paths.

The figures are in MiB and in units of the image (H x W x 3 float32) and of the latent
(16 x H/8 x W/8 float32); docs/reliability.md explains each stage's extra from what the code
allocates. ``--trace SIZE`` lists, for every node of both paths, the tensors alive at the node's
peak and the lines that made them (a ``TorchDispatchMode`` log, in-process): the accounting behind
that explanation::

    COMFYUI_PATH=... python -m bench.memory --trace 2048 --log bench/results/memory_trace_064.txt
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see bench/overhead.py

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Dict, List, Sequence  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SEED = 7
STEPS = 2          # 2 model calls in both samplers; DInG runs one posterior transition + the final estimate
CFG = 2.0          # cond and uncond in every model call (batch 2)
GROW = 6           # DInG Encode's default grow_mask_by
FEATHER = 8        # DInG Composite's default feather
LATENT_CHANNELS = 16
DOWNSCALE = 8
WARMUP_SIZE = 256
MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "65536"}
PATHS = ("pack", "comfy")

# stage -> the nodes of each path it covers (graph order)
STAGES = {
    "encode": (("DInGInpaintEncode",), ("VAEEncode", "SetLatentNoiseMask")),
    "sampler": (("DInGKSampler",), ("KSampler",)),
    "decode": (("VAEDecode",), ("VAEDecode",)),
    "composite": (("DInGComposite",), ("ImageCompositeMasked",)),
}
STAGE_UNIT = {"encode": "image", "sampler": "latent", "decode": "image", "composite": "image"}


# --------------------------------------------------------------------------- sizes

def image_bytes(size: int) -> int:
    return size * size * 3 * 4


def latent_bytes(size: int) -> int:
    return LATENT_CHANNELS * (size // DOWNSCALE) ** 2 * 4


def mask_for(size: int):
    """The repaint mask both paths get: a centred rectangle of half the side plus a thin diagonal
    stroke (1 = repaint)."""
    from comfy_testbed import tiny_models
    rect = tiny_models.make_test_mask(size, size, "rect", x=size // 4, y=size // 4, w=size // 2, h=size // 2)
    stroke = tiny_models.make_test_mask(size, size, "stroke", x=size // 16, y=size // 8, w=size // 8,
                                        h=size // 2, stroke_width=3)
    return rect.maximum(stroke)


# --------------------------------------------------------------------------- child: one path, one size

def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1)) / 1024


def rss_mib() -> float:
    return _status_mib("VmRSS")


def reset_peak() -> None:
    """VmHWM := current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_mib() -> float:
    return _status_mib("VmHWM")


def stub_networks(model, vae) -> None:
    """Replace the tiny MMDiT's and the TAESD's networks by allocation-light stand-ins with the same
    inputs and outputs (see the module docstring); ComfyUI's wrappers around them stay."""
    import torch
    import torch.nn.functional as F

    g = torch.Generator().manual_seed(SEED)
    enc_w = torch.randn(LATENT_CHANNELS, 3, 1, 1, generator=g) * 0.3
    dec_w = torch.randn(3, LATENT_CHANNELS, 1, 1, generator=g) * 0.1

    class Encoder(torch.nn.Module):
        def forward(self, x):
            return F.conv2d(F.avg_pool2d(x, DOWNSCALE), enc_w.to(x.dtype))

    class Decoder(torch.nn.Module):
        def forward(self, z):
            return F.interpolate(F.conv2d(z, dec_w.to(z.dtype)), scale_factor=DOWNSCALE, mode="nearest")

    first_stage = vae.first_stage_model
    if not hasattr(first_stage, "taesd_encoder"):
        raise RuntimeError(f"expected the tiny SD3's TAESD, got {type(first_stage).__name__}")
    first_stage.taesd_encoder = Encoder()
    first_stage.taesd_decoder = Decoder()

    def network(x, timesteps, *args, **kwargs):
        return x * 0.5

    model.model.diffusion_model.forward = network


def build_graph(h, path: str, size: int, model, vae, pos, neg):
    """([(node id, callable(outputs) -> output tuple)] of one path in execution order, the image)."""
    from comfy_testbed import tiny_models
    image = tiny_models.make_test_image(size, size, seed=SEED)
    mask = mask_for(size)
    sampler = dict(model=model, seed=SEED, steps=STEPS, cfg=CFG, scheduler="simple", positive=pos,
                   negative=neg, denoise=1.0)
    if path == "pack":
        nodes = [
            ("DInGInpaintEncode", lambda o: h.call_node("DInGInpaintEncode", pixels=image, mask=mask, vae=vae,
                                                         grow_mask_by=GROW, mask_mode="hard")),
            ("DInGKSampler", lambda o: h.call_node("DInGKSampler", latent_image=o["DInGInpaintEncode"][0],
                                                    variant="ding1", obs_std=0.01, eta="ddpm", **sampler)),
            ("VAEDecode", lambda o: h.call_node("VAEDecode", samples=o["DInGKSampler"][0], vae=vae)),
            ("DInGComposite", lambda o: h.call_node("DInGComposite", original=image, generated=o["VAEDecode"][0],
                                                     mask=o["DInGInpaintEncode"][1], feather=FEATHER)),
        ]
    elif path == "comfy":
        nodes = [
            ("VAEEncode", lambda o: h.call_node("VAEEncode", pixels=image, vae=vae)),
            ("SetLatentNoiseMask", lambda o: h.call_node("SetLatentNoiseMask", samples=o["VAEEncode"][0],
                                                          mask=mask)),
            ("KSampler", lambda o: h.call_node("KSampler", latent_image=o["SetLatentNoiseMask"][0],
                                                sampler_name="euler", **sampler)),
            ("VAEDecode", lambda o: h.call_node("VAEDecode", samples=o["KSampler"][0], vae=vae)),
            ("ImageCompositeMasked", lambda o: h.call_node("ImageCompositeMasked", destination=image,
                                                            source=o["VAEDecode"][0], x=0, y=0,
                                                            resize_source=False, mask=mask)),
        ]
    else:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    return nodes, image


def run_graph(nodes, image, measure: bool) -> Dict:
    """Run the nodes in order, keeping every output (as ComfyUI's executor does during a prompt)."""
    outputs = {}
    record = {"nodes": {}}
    gc.collect()
    base = rss_mib()
    graph_peak = base
    for node_id, fn in nodes:
        gc.collect()
        before = rss_mib()
        reset_peak()
        t0 = time.perf_counter()
        outputs[node_id] = fn(outputs)
        seconds = time.perf_counter() - t0
        peak = peak_mib()
        graph_peak = max(graph_peak, peak)
        record["nodes"][node_id] = {"before": before, "peak": peak, "extra": peak - before, "seconds": seconds}
    record.update(base=base, graph_peak=graph_peak, graph_extra=graph_peak - base)
    if measure:
        check_output(outputs[nodes[-1][0]][0], image)
    return record


def check_output(final, image) -> None:
    """The run did its work: the composite has the image's shape, differs from it somewhere, and
    keeps the top-left corner (far from the mask) bit for bit."""
    size = image.shape[1]
    if tuple(final.shape) != tuple(image.shape):
        raise RuntimeError(f"composite is {tuple(final.shape)}, expected {tuple(image.shape)}")
    changed = (final != image).any(-1)
    corner = changed[:, : size // 16, : size // 16]
    if not bool(changed.any()) or bool(corner.any()):
        raise RuntimeError(f"composite changed {int(changed.sum())} pixels, {int(corner.sum())} in the kept corner")


def child(spec: dict) -> List[dict]:
    """One path at every size (ascending), after a warm-up graph: one record per size."""
    import torch
    from comfy_testbed import comfy_harness, tiny_models
    h = comfy_harness.bootstrap_temporary(prefix="ding_memory_")
    # the real MMDiT needs a position table of (side / 16)^2 patches; the default holds 1024 px
    pos_embed = 64 if spec["networks"] == "stub" else max(64, max(spec["sizes"]) // (DOWNSCALE * 2))
    files = tiny_models.write_tiny_sd3(h.models_dir, seed=SEED, pos_embed_max_size=pos_embed)
    model, _, vae = h.call_node("CheckpointLoaderSimple", ckpt_name=files.ckpt_name)[:3]
    if spec["networks"] == "stub":
        stub_networks(model, vae)
    pos = tiny_models.sd3_conditioning(seed=1)
    neg = tiny_models.sd3_conditioning(seed=2)
    run_graph(*build_graph(h, spec["path"], WARMUP_SIZE, model, vae, pos, neg), measure=False)
    records = []
    for size in spec["sizes"]:
        record = run_graph(*build_graph(h, spec["path"], size, model, vae, pos, neg), measure=True)
        record.update(path=spec["path"], size=size, networks=spec["networks"], threads=torch.get_num_threads())
        records.append(record)
    return records


# --------------------------------------------------------------------------- trace (--trace SIZE)

class LiveTensors:
    """Context manager: every tensor storage of at least ``min_bytes`` that an op creates, with the
    code that created it, while it is alive; ``at_peak`` is the set alive when their total was
    highest. An accounting aid for the RSS figures: a storage counts from the op that allocates it
    until the last tensor on it that an op returned (the tensor itself or a view of it) is
    collected."""

    def __init__(self, min_bytes: int):
        self.min_bytes = min_bytes
        self.live: Dict[int, list] = {}   # storage pointer -> [bytes, what, where, tensors alive]
        self.total = self.peak = 0
        self.at_peak: List[tuple] = []

    def __enter__(self):
        import torch
        from torch.utils._python_dispatch import TorchDispatchMode
        tracker = self

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                tracker._record(func, args, out, torch)
                return out

        self._mode = Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._mode.__exit__(*exc)

    def _record(self, func, args, out, torch):
        import traceback
        import weakref
        inputs = {a.untyped_storage().data_ptr() for a in args if isinstance(a, torch.Tensor)}
        for t in out if isinstance(out, (tuple, list)) else (out,):
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ptr, nbytes = storage.data_ptr(), storage.nbytes()
            entry = self.live.get(ptr)
            if entry is not None:  # a view (or the same storage again): one more tensor keeps it alive
                entry[3] += 1
                weakref.finalize(t, self._release, ptr)
                continue
            if nbytes < self.min_bytes or ptr in inputs or t._base is not None:
                continue
            frames = [f for f in traceback.extract_stack()[:-4]
                      if "/torch/" not in f.filename and "site-packages" not in f.filename
                      and not f.filename.endswith(("memory.py", "comfy_harness.py"))]
            where = " < ".join(f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in frames[-3:][::-1])
            self.live[ptr] = [nbytes, f"{func.__name__} {tuple(t.shape)} {str(t.dtype)[6:]}", where, 1]
            self.total += nbytes
            weakref.finalize(t, self._release, ptr)
            if self.total > self.peak:
                self.peak, self.at_peak = self.total, [tuple(e[:3]) for e in self.live.values()]

    def _release(self, ptr):
        entry = self.live.get(ptr)
        if entry is None:
            return
        entry[3] -= 1
        if entry[3] == 0:
            del self.live[ptr]
            self.total -= entry[0]


def trace(size: int, networks: str) -> List[str]:
    """Per node of both paths: the tensors alive at the node's peak, in latent units."""
    from comfy_testbed import comfy_harness, tiny_models
    h = comfy_harness.bootstrap_temporary(prefix="ding_memory_")
    files = tiny_models.write_tiny_sd3(h.models_dir, seed=SEED)
    model, _, vae = h.call_node("CheckpointLoaderSimple", ckpt_name=files.ckpt_name)[:3]
    if networks == "stub":
        stub_networks(model, vae)
    pos, neg = tiny_models.sd3_conditioning(seed=1), tiny_models.sd3_conditioning(seed=2)
    unit = latent_bytes(size)
    lines = [f"live tensors at each node's peak, {size} px, in latents ({unit / 2**20:.2f} MiB; "
             f"an image is {image_bytes(size) / unit:.0f} latents, a mask {size * size * 4 / unit:.0f}); "
             f"storages under 1/8 latent left out"]
    for path in PATHS:
        nodes, _ = build_graph(h, path, size, model, vae, pos, neg)
        outputs = {}
        for node_id, fn in nodes:
            gc.collect()
            with LiveTensors(unit // 8) as live:
                outputs[node_id] = fn(outputs)
            lines.append(f"{path} {node_id}: peak {live.peak / unit:.2f}")
            for nbytes, what, where in live.at_peak:
                lines.append(f"  {nbytes / unit:6.2f}  {what:<34} {where}")
    return lines


# --------------------------------------------------------------------------- parent

def run_child(path: str, sizes: Sequence[int], networks: str) -> List[dict]:
    env = dict(os.environ, **MALLOC_ENV)
    spec = json.dumps({"path": path, "sizes": sorted(sizes), "networks": networks})
    proc = subprocess.run([sys.executable, "-m", "bench.memory", "--child", spec], cwd=str(REPO), env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {path} {sizes} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1])["records"]


def stage_extra(record: dict, nodes: Sequence[str]) -> float:
    """Peak over ``nodes`` (consecutive in the graph) minus the RSS before the first of them."""
    rows = [record["nodes"][n] for n in nodes]
    return max(r["peak"] for r in rows) - rows[0]["before"]


def stage_seconds(record: dict, nodes: Sequence[str]) -> float:
    return sum(record["nodes"][n]["seconds"] for n in nodes)


def summarize(records: List[dict], size: int) -> List[dict]:
    """One row per stage and the graph: median extra (MiB) of each path, min-max, ratio of medians,
    and the median of the per-repetition ratios (pack run next to its ComfyUI run)."""
    by_path = {p: [r for r in records if r["size"] == size and r["path"] == p] for p in PATHS}
    if not all(by_path.values()):
        return []
    rows = []
    units = {"image": image_bytes(size) / 2**20, "latent": latent_bytes(size) / 2**20}
    for stage, (pack_nodes, comfy_nodes) in list(STAGES.items()) + [("graph", (None, None))]:
        if stage == "graph":
            pack = [r["graph_extra"] for r in by_path["pack"]]
            comfy = [r["graph_extra"] for r in by_path["comfy"]]
            pack_s = [sum(n["seconds"] for n in r["nodes"].values()) for r in by_path["pack"]]
            comfy_s = [sum(n["seconds"] for n in r["nodes"].values()) for r in by_path["comfy"]]
            unit = "image"
        else:
            pack = [stage_extra(r, pack_nodes) for r in by_path["pack"]]
            comfy = [stage_extra(r, comfy_nodes) for r in by_path["comfy"]]
            pack_s = [stage_seconds(r, pack_nodes) for r in by_path["pack"]]
            comfy_s = [stage_seconds(r, comfy_nodes) for r in by_path["comfy"]]
            unit = STAGE_UNIT[stage]
        pm, cm = statistics.median(pack), statistics.median(comfy)
        paired = [p / c for p, c in zip(pack, comfy) if c > 0]
        rows.append({
            "stage": stage, "pack": pm, "pack_min": min(pack), "pack_max": max(pack),
            "comfy": cm, "comfy_min": min(comfy), "comfy_max": max(comfy),
            "ratio": pm / cm if cm > 0 else float("inf"),
            "paired_min": min(paired) if paired else float("nan"),
            "paired_max": max(paired) if paired else float("nan"),
            "unit": unit, "pack_units": pm / units[unit], "comfy_units": cm / units[unit],
            "diff_units": (pm - cm) / units[unit],
            "pack_s": statistics.median(pack_s), "comfy_s": statistics.median(comfy_s),
        })
    return rows


def format_rows(rows: List[dict], size: int) -> List[str]:
    out = [f"{size}x{size}: image {image_bytes(size) / 2**20:.1f} MiB, latent {latent_bytes(size) / 2**20:.2f} MiB, "
           f"mask {size * size * 4 / 2**20:.1f} MiB",
           f"  {'stage':<10} {'pack MiB (min-max)':>24} {'ComfyUI MiB (min-max)':>24} {'ratio':>6} "
           f"{'paired':>11} {'pack':>9} {'ComfyUI':>9} {'pack-CUI':>9} {'pack s':>7} {'CUI s':>6}"]
    for r in rows:
        u = "img" if r["unit"] == "image" else "lat"
        out.append(
            f"  {r['stage']:<10} {r['pack']:>9.1f} ({r['pack_min']:>6.1f}-{r['pack_max']:>6.1f}) "
            f"{r['comfy']:>9.1f} ({r['comfy_min']:>6.1f}-{r['comfy_max']:>6.1f}) {r['ratio']:>6.2f} "
            f"{r['paired_min']:>5.2f}-{r['paired_max']:<5.2f} {r['pack_units']:>5.2f}{u} {r['comfy_units']:>5.2f}{u} "
            f"{r['diff_units']:>+5.2f}{u} {r['pack_s']:>7.2f} {r['comfy_s']:>6.2f}")
    return out


# The commits of the ComfyUI releases this was measured on, for checkouts without .git
# (docs/reliability.md): 0.3.64 = Comfy-Org/ComfyUI a125cd84, 0.8.0 = upstream 3cd7b32f.
KNOWN_COMMITS = {"0.3.64": "a125cd84", "0.8.0": "3cd7b32f"}


def comfy_commit(path: Path, version: str) -> str:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        known = KNOWN_COMMITS.get(version)
        return f"{known}, by its version (no .git)" if known else "commit unknown"


def pack_revision() -> str:
    """This checkout's commit, with "+ local changes" when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head}" + (" + local changes" if dirty else "")


def comfy_version(path: Path) -> str:
    try:
        text = (path / "comfyui_version.py").read_text()
        return re.search(r"__version__\s*=\s*['\"]([^'\"]+)", text).group(1)
    except (OSError, AttributeError):
        return "unknown"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2048, 4096])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--networks", choices=("stub", "real"), default="stub")
    ap.add_argument("--log", type=Path, default=None, help="also write the report to this file")
    ap.add_argument("--trace", type=int, default=None, metavar="SIZE",
                    help="instead: list the tensors alive at each node's peak at this size (in-process)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.sizes = sorted(set(args.sizes))
    if args.child is not None:
        print(json.dumps({"records": child(json.loads(args.child))}), flush=True)
        return 0

    from comfy_testbed import comfy_harness
    where, how = comfy_harness.find_comfyui()
    if where is None:
        print(f"bench.memory: {how}; nothing measured")
        return 0
    if args.trace is not None:
        report = trace(args.trace, args.networks)
        print("\n".join(report))
        if args.log is not None:
            args.log.write_text("\n".join(report) + "\n")
        return 0
    for size in args.sizes:
        if size % DOWNSCALE or size < WARMUP_SIZE:
            ap.error(f"sizes must be multiples of {DOWNSCALE} and at least {WARMUP_SIZE}, got {size}")
    lines: List[str] = []

    def say(line=""):
        print(line, flush=True)
        lines.append(line)

    import torch
    load = os.getloadavg()
    say(f"bench.memory: peak RSS per node, fresh child process per path and repetition "
        f"(/proc/self/clear_refs + VmHWM, {' '.join(f'{k}={v}' for k, v in MALLOC_ENV.items())})")
    say(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    version = comfy_version(Path(where))
    say(f"ComfyUI {version} ({comfy_commit(Path(where), version)}) at {where}, --cpu, in-process")
    say(f"tiny SD3 (comfy_testbed.tiny_models), networks: {args.networks}; seed {SEED}, {STEPS} steps, cfg {CFG}, "
        f"scheduler simple; DInG ding1 ddpm obs_std 0.01, grow_mask_by {GROW}, feather {FEATHER}; "
        f"ComfyUI euler; warm-up graph at {WARMUP_SIZE} px in each child")
    say(f"ding-inpaint {pack_revision()}")
    say(f"command: {' '.join([Path(sys.executable).name, '-m', 'bench.memory'] + (argv or sys.argv[1:]))}")
    t_start = time.perf_counter()
    records: List[dict] = []
    for rep in range(args.repeats):
        order = PATHS if rep % 2 == 0 else PATHS[::-1]
        for path in order:
            t0 = time.perf_counter()
            recs = run_child(path, args.sizes, args.networks)
            records += recs
            for rec in recs:
                nodes = ", ".join(f"{k} {v['extra']:.0f}" for k, v in rec["nodes"].items())
                say(f"  rep {rep + 1} {path:<5} {rec['size']}: graph {rec['graph_extra']:.1f} MiB over base "
                    f"{rec['base']:.0f} MiB; nodes (MiB) {nodes}")
            say(f"  rep {rep + 1} {path:<5}: child {time.perf_counter() - t0:.0f} s")
    say()
    say("Extra memory over the RSS before the stage (MiB): median of the repetitions (min-max); ratio = "
        "pack / ComfyUI of the medians; paired = range of the per-repetition ratios; the same medians in "
        "units of the image (img) or latent (lat); pack-CUI = the pack's extra over ComfyUI's in those "
        "units; seconds (median).")
    for size in args.sizes:
        say()
        for line in format_rows(summarize(records, size), size):
            say(line)
    say()
    say(f"total {time.perf_counter() - t_start:.0f} s")
    if args.log is not None:
        args.log.parent.mkdir(parents=True, exist_ok=True)
        args.log.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
