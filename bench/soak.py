"""Soak test: one real ComfyUI server (``main.py``), hundreds of mixed DInG prompts, cancels and a
restart, then every finished prompt rerun on a fresh server and compared bit for bit.

Run from the repository root with a Python that has aiohttp and psutil (ComfyUI's own venv)::

    nice /path/to/venv/bin/python -m bench.soak --comfyui /path/to/ComfyUI \\
        --prompts 300 --cancel 20 --seed 0 --log bench/results/soak_064.txt

What it does (all seeded by --seed, so a rerun queues the same prompts):

1. Writes the tiny models into a temporary folder (``comfy_testbed``: tiny SD3 with its TAESD,
   tiny Wan 2.1 with its VAE), a launcher that defines the ``torchvision::nms/qnms`` op schemas
   before ComfyUI imports torchvision (``comfy_harness.install_torchvision_shim``) and an
   ``--extra-model-paths-config`` yaml whose ``custom_nodes`` folder holds a symlink to this
   repository (the pack) and a throwaway package exposing ``comfy_testbed.server_nodes``.
2. Starts ``main.py --cpu --listen 127.0.0.1 --port N`` (niced), follows it over its websocket,
   and queues all prompts at once: DInG Inpaint/Outpaint Encode -> DInG KSampler -> VAEDecode
   -> DInG Inpaint/Outpaint Composite -> SaveImage, plus SaveLatent of the sampler's latent.
   Images 64-1024 px (most 64-256 px, 2-4 steps; a few 512-1024 px, 1-2 steps), batch 1-4,
   variants ding and ding1, hard and soft (feathered) masks, particles 2, and tiny Wan 2.1 clips
   (5 frames). A test-only output node in every prompt reads DInG's probe-cache size and the
   number of models ComfyUI holds (``comfy_testbed.server_nodes``).
3. ``--cancel`` prompts are long (30-40 steps): once the server reports a progress step of that
   prompt's DInG KSampler, ``POST /interrupt`` names the prompt; it counts as cancelled only if the
   server reports ``execution_interrupted`` inside the DInG KSampler node. ``GET /system_stats``
   must answer after every cancel.
4. When half the prompts are done the server is killed (SIGKILL), started again, and every prompt
   that had not finished is queued again; ``GET /system_stats`` must answer after the restart.
5. The queue must drain (``GET /queue`` empty), then a fresh server runs the finished prompts again
   (all of them, or ``--verify N`` of them) and their saved PNGs and latents are compared byte for
   byte (``--disable-metadata``, so the files hold the pixels / tensors only).

Memory: the server's resident set size (psutil) after every prompt; the growth is measured per
server life, from the sample after its warm-up prompts (each life starts with the heaviest prompt
of every kind) to its last sample. Two extra probe prompts per life (copies of the latest prompt,
not counted) read the live CPU tensor bytes after a garbage collection, after the warm-up and at
the end, and at the end also the RSS after glibc's ``malloc_trim(0)``: what of the RSS is free heap
that the allocator keeps rather than memory the process holds.
"""
from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import json
import os
import platform
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Optional

from comfy_testbed.comfy_server import comfy_commit, comfy_version, free_port, launcher_source

REPO = Path(__file__).resolve().parent.parent
CLIENT_ID = "ding-soak"
SD3_CKPT = "tiny_sd3.safetensors"
WAN_UNET = "tiny_wan21.safetensors"
WAN_VAE = "tiny_wan21_vae.safetensors"
WARMUP_PROMPTS = 10       # prompts per server life before the RSS reference sample
SAMPLER_NODE = "ding"


# --------------------------------------------------------------------------- prompts

@dataclasses.dataclass
class Spec:
    index: int
    kind: str                  # "sd3" or "wan"
    width: int
    height: int
    batch: int
    steps: int
    cfg: float
    variant: str
    eta: str
    particles: int
    seed: int
    mask_kind: str             # rect / stroke
    mask: tuple                # x, y, w, h, stroke_width
    soft: bool                 # feathered mask and mask_mode soft
    feather_mask: tuple        # FeatherMask left, top, right, bottom (grey values) or ()
    grow: int
    feather: int               # composite feather
    color_match: str
    denoise: float
    cancel: bool = False
    warm: bool = False         # run first in a server life (the heaviest prompt of its kind)
    cancel_at: int = 2         # progress step of the DInG KSampler at which the cancel is sent

    def label(self) -> str:
        extra = (" soft" if self.soft else "") + (" particles2" if self.particles > 1 else "")
        extra += " CANCEL" if self.cancel else ""
        return (f"{self.kind} {self.width}x{self.height} b{self.batch} {self.steps} steps cfg {self.cfg:g} "
                f"{self.variant}{extra}")


def _mask_params(rng: random.Random, width: int, height: int, kind: str) -> tuple:
    if kind == "rect":
        w = rng.randint(max(8, width // 6), max(9, width // 2))
        h = rng.randint(max(8, height // 6), max(9, height // 2))
        return (rng.randint(0, width - w), rng.randint(0, height - h), w, h, 3)
    x0, y0 = rng.randint(0, width - 1), rng.randint(0, height - 1)
    return (x0, y0, rng.randint(-x0, width - 1 - x0), rng.randint(-y0, height - 1 - y0), rng.randint(2, 9))


def _spec(rng: random.Random, index: int, kind: str, size: tuple, batch: int, steps: int, **over) -> Spec:
    width, height = size
    variant = over.pop("variant", rng.choice(["ding", "ding1"]))
    particles = over.pop("particles", 2 if variant == "ding1" and rng.random() < 0.12 else 1)
    mask_kind = rng.choice(["rect", "rect", "stroke"]) if kind == "sd3" else "rect"
    soft = over.pop("soft", rng.random() < 0.35)
    feather_mask = tuple(rng.randint(0, 12) for _ in range(4)) if soft or rng.random() < 0.15 else ()
    spec = Spec(
        index=index, kind=kind, width=width, height=height, batch=batch, steps=steps,
        cfg=rng.choice([1.0, 1.0, 2.0, 3.0]), variant=variant,
        eta=rng.choice(["ddpm", "square"]) if variant == "ding1" else "square",
        particles=particles, seed=rng.randint(0, 2**32 - 1), mask_kind=mask_kind,
        mask=_mask_params(rng, width, height, mask_kind), soft=soft, feather_mask=feather_mask,
        grow=rng.choice([0, 0, 2, 6]), feather=rng.choice([0, 4, 8]),
        color_match=rng.choice(["off", "off", "mean-std"]), denoise=rng.choice([1.0, 1.0, 1.0, 0.8]))
    for k, v in over.items():
        setattr(spec, k, v)
    return spec


def _small_size(rng, batch):
    top = 257 if batch <= 2 else 161
    if rng.random() < 0.25:  # not a multiple of 16
        return (rng.randrange(64, top, 8), rng.randrange(64, top, 8))
    side = rng.choice([s for s in (64, 64, 96, 128, 128, 160, 192, 256) if s < top])
    return (side, rng.choice([side, side, 64, 128]))


def warm_block(rng: random.Random, start: int) -> list:
    """The heaviest prompt of each kind, run first in each server life (RSS reference after them)."""
    return [
        _spec(rng, start + 0, "sd3", (1024, 1024), 1, 1, variant="ding1", particles=1, cfg=1.0),
        _spec(rng, start + 1, "sd3", (768, 512), 1, 1, variant="ding", cfg=1.0),
        _spec(rng, start + 2, "sd3", (256, 256), 2, 4, variant="ding"),
        _spec(rng, start + 3, "sd3", (160, 160), 4, 4, variant="ding1", particles=2),
        _spec(rng, start + 4, "wan", (64, 64), 1, 2, variant="ding"),
        _spec(rng, start + 5, "wan", (64, 64), 1, 2, variant="ding1", particles=2),
        _spec(rng, start + 6, "sd3", (512, 512), 1, 2, soft=True),
        _spec(rng, start + 7, "sd3", (128, 96), 3, 4, soft=True),
    ]


def make_specs(n: int, n_cancel: int, seed: int) -> list:
    """n prompt specs: a warm block at the start and one at the half-way restart point, the rest
    mostly small; n_cancel long ones spread over the run (never in a warm block)."""
    rng = random.Random(seed)
    specs: list = []
    half = n // 2
    while len(specs) < n:
        i = len(specs)
        if i == 0 or i == half:
            for s in warm_block(rng, i)[: n - i]:
                s.warm = True
                specs.append(s)
            continue
        r = rng.random()
        if r < 0.04:
            specs.append(_spec(rng, i, "wan", (64, 64), 1, 2))
        elif r < 0.065:
            side = rng.choice([512, 512, 640, 768, 1024])
            specs.append(_spec(rng, i, "sd3", (side, rng.choice([side, 512])), 1, 1, particles=1))
        else:
            b = rng.choice([1, 1, 1, 1, 2, 2, 3, 4])
            specs.append(_spec(rng, i, "sd3", _small_size(rng, b), b, rng.choice([2, 3, 4])))
    candidates = [s for s in specs if not s.warm and s.kind == "sd3" and s.width <= 256]
    for s in rng.sample(candidates, min(n_cancel, len(candidates))):
        s.cancel = True
        s.steps = rng.choice([30, 35, 40])
        s.width, s.height, s.batch = 128, 128, rng.choice([1, 2])
        s.mask = _mask_params(rng, 128, 128, s.mask_kind)
        s.particles = 1
        s.cfg = 2.0
        s.cancel_at = rng.randint(1, 5)
    return specs


def api_prompt(spec: Spec, prefix: str, collect: bool = False, trim: bool = False, path: str = "ding") -> dict:
    """The API-format prompt of one spec; outputs go to <prefix>_NNNNN_.png and latents/<prefix>...
    path "ding": the pack's nodes; "comfyui": ComfyUI's own inpaint nodes on the same inputs."""
    x, y, w, h, stroke = spec.mask
    if spec.kind == "sd3":
        p = {
            "model": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": SD3_CKPT}},
            "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1 + spec.seed % 7, "tokens": 154}},
            "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 100, "tokens": 154}},
            "src": {"class_type": "DInGTestImageMask", "inputs": {
                "width": spec.width, "height": spec.height, "seed": spec.seed % 1000, "mask_kind": spec.mask_kind,
                "x": x, "y": y, "w": abs(w), "h": abs(h), "stroke_width": stroke}},
        }
        if spec.mask_kind == "stroke":  # make_test_mask draws (x,y)->(x+w,y+h); keep w, h >= 0 here
            p["src"]["inputs"].update(x=min(x, x + w), y=min(y, y + h))
        vae, model, pixels = ["model", 2], ["model", 0], ["src", 0]
        if spec.batch > 1:
            p["batch"] = {"class_type": "RepeatImageBatch", "inputs": {"image": ["src", 0], "amount": spec.batch}}
            pixels = ["batch", 0]
    else:
        p = {
            "unet": {"class_type": "UNETLoader", "inputs": {"unet_name": WAN_UNET, "weight_dtype": "default"}},
            "vae": {"class_type": "VAELoader", "inputs": {"vae_name": WAN_VAE}},
            "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": 1 + spec.seed % 7, "tokens": 32,
                                                                     "family": "wan"}},
            "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": 100, "tokens": 32, "family": "wan"}},
            "src": {"class_type": "DInGTestClipMask", "inputs": {
                "frames": 5, "width": spec.width, "height": spec.height, "seed": spec.seed % 1000,
                "mask_kind": "rect", "mask_frames": "per_frame", "only_frame": -1,
                "x": x, "y": y, "w": w, "h": h, "stroke_width": 3}},
            "shift": {"class_type": "ModelSamplingSD3", "inputs": {"model": ["unet", 0], "shift": 3.0}},
        }
        vae, model, pixels = ["vae", 0], ["shift", 0], ["src", 0]
    mask = ["src", 1]
    if spec.feather_mask:
        left, top, right, bottom = spec.feather_mask
        p["fmask"] = {"class_type": "FeatherMask", "inputs": {"mask": mask, "left": left, "top": top,
                                                              "right": right, "bottom": bottom}}
        mask = ["fmask", 0]
    if path not in PATHS:
        raise ValueError(f"path must be one of {sorted(PATHS)}, got {path!r}")
    p.update(_stages(spec, prefix, pixels, mask, vae, model, path))
    p["stats"] = {"class_type": "DInGTestServerStats", "inputs": {"value": [SAMPLER_NODE, 0], "collect": collect,
                                                                "trim": trim}}
    return p


# path -> which nodes run each stage (encode, sampler, composite): the pack's or ComfyUI's own;
# "comfyui" is the control run, the two mixed paths split the pack's memory behaviour by stage
PATHS = {
    "ding": ("ding", "ding", "ding"),
    "comfyui": ("comfyui", "comfyui", "comfyui"),
    "ding-sampler": ("comfyui", "ding", "comfyui"),
    "ding-io": ("ding", "comfyui", "ding"),
}


def _stages(spec: Spec, prefix: str, pixels, mask, vae, model, path: str) -> dict:
    """Encode -> sampler -> VAEDecode -> composite -> SaveImage + SaveLatent, each stage either the
    pack's node (DInG Inpaint/Outpaint Encode, DInG KSampler, DInG Inpaint/Outpaint Composite) or
    ComfyUI's own (VAEEncode + SetLatentNoiseMask; KSampler with euler for the prompts that run
    ding and euler_ancestral for ding1; ImageCompositeMasked, the generated image where the mask
    is 1), as PATHS[path] says."""
    encode, sampler, composite = PATHS[path]
    p: dict = {}
    if encode == "ding":
        p["enc"] = {"class_type": "DInGInpaintEncode", "inputs": {
            "pixels": pixels, "mask": mask, "vae": vae, "grow_mask_by": spec.grow,
            "mask_mode": "soft" if spec.soft else "hard"}}
        latent, repaint = ["enc", 0], ["enc", 1]
    else:
        p["enc"] = {"class_type": "VAEEncode", "inputs": {"pixels": pixels, "vae": vae}}
        p["noise_mask"] = {"class_type": "SetLatentNoiseMask", "inputs": {"samples": ["enc", 0], "mask": mask}}
        latent, repaint = ["noise_mask", 0], mask
    common = {"model": model, "seed": spec.seed, "steps": spec.steps, "cfg": spec.cfg, "scheduler": "simple",
              "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": latent, "denoise": spec.denoise}
    if sampler == "ding":
        p[SAMPLER_NODE] = {"class_type": "DInGKSampler", "inputs": {
            **common, "variant": spec.variant, "obs_std": 0.01, "eta": spec.eta, "particles": spec.particles}}
    else:
        p[SAMPLER_NODE] = {"class_type": "KSampler", "inputs": {
            **common, "sampler_name": "euler" if spec.variant == "ding" else "euler_ancestral"}}
    p["dec"] = {"class_type": "VAEDecode", "inputs": {"samples": [SAMPLER_NODE, 0], "vae": vae}}
    if composite == "ding":
        p["comp"] = {"class_type": "DInGComposite", "inputs": {
            "original": pixels, "generated": ["dec", 0], "mask": repaint, "feather": spec.feather,
            "color_match": spec.color_match}}
    else:
        p["comp"] = {"class_type": "ImageCompositeMasked", "inputs": {
            "destination": pixels, "source": ["dec", 0], "x": 0, "y": 0, "resize_source": False, "mask": mask}}
    p["save"] = {"class_type": "SaveImage", "inputs": {"images": ["comp", 0], "filename_prefix": prefix}}
    p["slat"] = {"class_type": "SaveLatent", "inputs": {"samples": [SAMPLER_NODE, 0], "filename_prefix": prefix}}
    return p


# --------------------------------------------------------------------------- files and server

TEST_NODES_PACKAGE = '''"""Generated by bench/soak.py: the test-only nodes of comfy_testbed.server_nodes."""
import sys
if {repo!r} not in sys.path:
    sys.path.append({repo!r})
from comfy_testbed.server_nodes import node_class_mappings
NODE_CLASS_MAPPINGS = node_class_mappings()
NODE_DISPLAY_NAME_MAPPINGS = {{k: k + " (test only)" for k in NODE_CLASS_MAPPINGS}}
'''

WRITE_MODELS = '''
import json, sys
from pathlib import Path
sys.path.insert(0, {repo!r})
from comfy_testbed import comfy_harness, tiny_models, tiny_wan
comfy_harness.import_comfy(Path({comfy!r}))
s = tiny_models.write_tiny_sd3(Path({models!r}), name="tiny_sd3")
w = tiny_wan.write_tiny_wan(Path({models!r}))
print(json.dumps({{"sd3": s.ckpt_name, "wan_unet": w.unet_name, "wan_vae": w.vae_name}}))
'''


def prepare(base: Path, comfyui: Path, python: str, threads: int) -> dict:
    models = base / "models"
    for d in ("input", "output", "temp", "user", "custom_nodes/ding_soak_test_nodes"):
        (base / d).mkdir(parents=True, exist_ok=True)
    os.symlink(str(REPO), str(base / "custom_nodes" / "ding-inpaint"), target_is_directory=True)
    (base / "custom_nodes" / "ding_soak_test_nodes" / "__init__.py").write_text(
        TEST_NODES_PACKAGE.format(repo=str(REPO)))
    (base / "launch.py").write_text(launcher_source(REPO, comfyui, threads))
    (base / "extra_model_paths.yaml").write_text(
        "ding_soak:\n"
        f"  base_path: {base}\n"
        "  checkpoints: models/checkpoints\n"
        "  diffusion_models: models/diffusion_models\n"
        "  vae: models/vae\n"
        "  vae_approx: models/vae_approx\n"
        "  custom_nodes: custom_nodes\n")
    t0 = time.perf_counter()
    out = subprocess.run([python, "-c", WRITE_MODELS.format(repo=str(REPO), comfy=str(comfyui), models=str(models))],
                         cwd=str(REPO), capture_output=True, text=True, env=_env(threads))
    if out.returncode != 0:
        raise RuntimeError(f"writing the tiny models failed:\n{out.stdout}\n{out.stderr}")
    names = json.loads(out.stdout.strip().splitlines()[-1])
    names["seconds"] = time.perf_counter() - t0
    return names


SERVER_ENV: dict = {}  # --server-env KEY=VALUE: extra environment of the server process


def _env(threads: int) -> dict:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), OMP_WAIT_POLICY="PASSIVE", PYTHONUNBUFFERED="1")
    env.update(SERVER_ENV)
    env.pop("COMFYUI_PATH", None)
    return env




class Server:
    def __init__(self, base: Path, python: str, threads: int, name: str, nice: int):
        self.base, self.python, self.threads, self.name, self.nice = base, python, threads, name, nice
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / f"server_{name}.log"
        self.proc: Optional[subprocess.Popen] = None

    def start(self):
        args = [self.python, str(self.base / "launch.py"), "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                "--extra-model-paths-config", str(self.base / "extra_model_paths.yaml"),
                "--output-directory", str(self.base / "output"), "--input-directory", str(self.base / "input"),
                "--temp-directory", str(self.base / "temp"), "--user-directory", str(self.base / "user"),
                "--disable-metadata", "--disable-auto-launch", "--preview-method", "none"]
        log = open(self.log_path, "w")
        nice = self.nice
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=_env(self.threads),
                                     preexec_fn=(lambda: os.nice(nice)) if nice else None)
        log.close()  # the child holds its own copy

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def rss(self) -> int:
        import psutil
        return psutil.Process(self.proc.pid).memory_info().rss

    def log_tail(self, n=40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


# --------------------------------------------------------------------------- run

@dataclasses.dataclass
class Life:
    """One server life: its RSS samples and probe-cache reads, one per prompt."""
    name: str
    rss: list = dataclasses.field(default_factory=list)        # (done prompts in this life, rss bytes)
    stats: list = dataclasses.field(default_factory=list)      # ui dicts of DInGTestServerStats
    probes: dict = dataclasses.field(default_factory=dict)     # "warm" / "end" -> its stats ui (trimmed)
    start_s: float = 0.0                                       # server up (system_stats answers), s
    wall_s: float = 0.0


class Soak:
    def __init__(self, args, specs: list, base: Path):
        self.args, self.specs, self.base = args, specs, base
        self.files: dict = {}          # (run, index) -> {node: [relative paths]}
        self.status: dict = {}         # index -> finished / cancelled / failed / cancel-missed
        self.cancel_node: dict = {}    # index -> node id the interrupt landed in
        self.errors: dict = {}         # index -> error text
        self.health: list = []         # (what, ok)
        self.lives: list = []
        self.log_lines: list = []

    def say(self, line: str):
        print(line, flush=True)
        self.log_lines.append(line)

    async def _up(self, session, server: Server, timeout: float = 240.0) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if server.proc.poll() is not None:
                raise RuntimeError(f"server {server.name} exited ({server.proc.returncode}):\n{server.log_tail()}")
            try:
                async with session.get(server.url + "/system_stats") as r:
                    if r.status == 200:
                        await r.json()
                        return time.perf_counter() - t0
            except Exception:  # noqa: BLE001  (not listening yet)
                pass
            await asyncio.sleep(0.5)
        raise RuntimeError(f"server {server.name} did not answer within {timeout} s:\n{server.log_tail()}")

    async def _answers(self, session, server: Server) -> bool:
        try:
            async with session.get(server.url + "/system_stats", timeout=_timeout(30)) as r:
                return r.status == 200 and "system" in await r.json()
        except Exception:  # noqa: BLE001
            return False

    async def _queue(self, session, server: Server, prompt: dict) -> str:
        async with session.post(server.url + "/prompt", json={"prompt": prompt, "client_id": CLIENT_ID}) as r:
            body = await r.json()
            if r.status != 200:
                raise RuntimeError(f"POST /prompt refused: {json.dumps(body)[:2000]}")
            return body["prompt_id"]

    async def run_life(self, session, name: str, order: list, run: str, *, stop_after: Optional[int] = None,
                       cancels: bool = True) -> list:
        """Start a server, queue ``order`` (spec indices), follow it until
        all are done or ``stop_after`` prompts are done (then SIGKILL). Returns the indices not done."""
        server = Server(self.base, self.args.python, self.args.threads, name, self.args.nice)
        life = Life(name)
        self.lives.append(life)
        t0 = time.perf_counter()
        server.start()
        try:
            life.start_s = await self._up(session, server)
            self.health.append((f"{name}: /system_stats answers after start", True))
            self.say(f"[{name}] server up on port {server.port} in {life.start_s:.1f} s (pid {server.proc.pid})")
            ws = await session.ws_connect(f"{server.url}/ws?clientId={CLIENT_ID}", heartbeat=30, max_msg_size=0)
            pid_to_index: dict = {}
            probe_ids: dict = {}  # pid -> "warm" / "end": gc + malloc_trim, live tensors, RSS
            queued = []
            last = stop_after if stop_after is not None else len(order)
            probes_at = {WARMUP_PROMPTS: "warm", last: "end"} if run == "soak" else {}
            for k, i in enumerate(order):
                prompt = api_prompt(self.specs[i], f"{run}/p{i:04d}", path=self.args.path)
                pid = await self._queue(session, server, prompt)
                pid_to_index[pid] = i
                queued.append(i)
                if k + 1 in probes_at:  # a copy of the latest prompt that runs to the end
                    j = next(j for j in reversed(order[:k + 1]) if not self.specs[j].cancel)
                    label = probes_at[k + 1]
                    probe = api_prompt(self.specs[j], f"{run}/probe_{label}", collect=True, trim=label == "end",
                                       path=self.args.path)
                    probe_ids[await self._queue(session, server, probe)] = label
            remaining = set(pid_to_index) | set(probe_ids)
            interrupted: set = set()
            done_here = 0
            outputs: dict = {}
            while remaining:
                msg = await ws.receive(timeout=self.args.prompt_timeout)
                if msg.type.name != "TEXT":
                    if msg.type.name in ("CLOSED", "CLOSE", "ERROR"):
                        raise RuntimeError(f"websocket closed:\n{server.log_tail()}")
                    continue
                m = json.loads(msg.data)
                typ, data = m.get("type"), m.get("data") or {}
                pid = data.get("prompt_id")
                if typ == "executed" and pid in probe_ids and data.get("node") == "stats":
                    life.probes[probe_ids[pid]] = {**(data.get("output") or {}), "after": done_here}
                elif typ == "executed" and pid in pid_to_index and data.get("node") == "stats":
                    life.stats.append({**(data.get("output") or {}), "after": done_here, "index": pid_to_index[pid]})
                elif typ == "executed" and pid in pid_to_index:
                    out = data.get("output") or {}
                    paths = [str(Path(f.get("subfolder", "")) / f["filename"])
                             for f in out.get("images", []) + out.get("latents", [])]
                    outputs.setdefault(pid, {})[data["node"]] = paths
                elif (typ == "progress" and cancels and pid in pid_to_index and pid not in interrupted
                      and self.specs[pid_to_index[pid]].cancel and data.get("node") == SAMPLER_NODE
                      and data.get("value", 0) >= self.specs[pid_to_index[pid]].cancel_at):
                    interrupted.add(pid)
                    async with session.post(server.url + "/interrupt", json={"prompt_id": pid}) as r:
                        assert r.status == 200, r.status
                elif typ in ("execution_success", "execution_interrupted", "execution_error"):
                    if pid in probe_ids and pid in remaining:
                        remaining.discard(pid)
                        if typ != "execution_success":
                            raise RuntimeError(f"memory probe prompt failed: {json.dumps(data)[:3000]}")
                        if stop_after is not None and probe_ids[pid] == "end":
                            break
                        continue
                    if pid not in pid_to_index or pid not in remaining:
                        continue
                    remaining.discard(pid)
                    i = pid_to_index[pid]
                    spec = self.specs[i]
                    done_here += 1
                    if typ == "execution_success":
                        self.status[i] = "cancel-missed" if spec.cancel else "finished"
                        self.files[(run, i)] = outputs.get(pid, {})
                    elif typ == "execution_interrupted":
                        self.status[i] = "cancelled" if spec.cancel else "interrupted-unasked"
                        self.cancel_node[i] = data.get("node_id")
                        ok = await self._answers(session, server)
                        self.health.append((f"{name}: /system_stats answers after the cancel of p{i:04d}", ok))
                    else:
                        self.status[i] = "failed"
                        self.errors[i] = (f"{data.get('node_type')}: {data.get('exception_type')}: "
                                          f"{data.get('exception_message')}")
                    rss = server.rss()
                    life.rss.append((done_here, rss))
                    if done_here % 25 == 0 or typ != "execution_success":
                        self.say(f"[{name}] {done_here}/{len(queued)} p{i:04d} {typ[10:]:<11} "
                                 f"{spec.label()}  rss {rss / 2**20:.0f} MiB")
            if stop_after is not None and remaining:
                self.say(f"[{name}] killing the server (SIGKILL) with {len(remaining)} prompts not done")
                await ws.close()
                server.kill()
                life.wall_s = time.perf_counter() - t0
                return [pid_to_index[p] for p in remaining if p in pid_to_index]
            drained = False
            for _ in range(60):  # the server reports success just before it takes the prompt off the queue
                async with session.get(server.url + "/queue") as r:
                    q = await r.json()
                drained = not q.get("queue_running") and not q.get("queue_pending")
                if drained:
                    break
                await asyncio.sleep(0.5)
            self.health.append((f"{name}: queue drained (GET /queue empty)", drained))
            await ws.close()
            return []
        finally:
            if life.wall_s == 0.0:
                life.wall_s = time.perf_counter() - t0
            server.stop()

    async def main(self) -> None:
        import aiohttp
        n = len(self.specs)
        async with aiohttp.ClientSession() as session:
            t0 = time.perf_counter()
            order = list(range(n))
            rest = await self.run_life(session, "soak-1", order, "soak", stop_after=n // 2)
            rest.sort(key=lambda i: (not self.specs[i].warm, i))
            rest2 = await self.run_life(session, "soak-2 (restarted)", rest, "soak")
            self.soak_wall = time.perf_counter() - t0
            assert not rest2
            finished = sorted(i for i, s in self.status.items() if s in ("finished", "cancel-missed"))
            sample = finished
            if self.args.verify and self.args.verify < len(finished):
                sample = sorted(random.Random(self.args.seed + 1).sample(finished, self.args.verify))
            self.verified = sample
            t1 = time.perf_counter()
            saved_status = dict(self.status)
            await self.run_life(session, "fresh", sample, "verify", cancels=False)
            self.verify_status = {i: self.status[i] for i in sample}
            self.status = saved_status
            self.verify_wall = time.perf_counter() - t1

    def compare(self) -> tuple:
        out = self.base / "output"
        differing, unverifiable = [], []
        for i in self.verified:
            a, b = self.files.get(("soak", i), {}), self.files.get(("verify", i), {})
            if self.verify_status.get(i) not in ("finished", "cancel-missed") or not a or set(a) != set(b):
                unverifiable.append(i)
                continue
            for node in sorted(a):
                ha = [_sha(out / p) for p in a[node]]
                hb = [_sha(out / p) for p in b[node]]
                if not ha or ha != hb:
                    differing.append((i, node))
        return differing, unverifiable


def _timeout(seconds):
    import aiohttp
    return aiohttp.ClientTimeout(total=seconds)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()






def summary(soak: Soak, args, names: dict, wall: float) -> list:
    specs = soak.specs
    sampler_name = "DInG KSampler" if PATHS[getattr(args, "path", "ding")][1] == "ding" else "KSampler"
    st = soak.status
    expected = [s.index for s in specs if not s.cancel]
    finished = [i for i in expected if st.get(i) == "finished"]
    cancelled = [s.index for s in specs if s.cancel and st.get(s.index) == "cancelled"]
    cancel_in_sampler = [i for i in cancelled if soak.cancel_node.get(i) == SAMPLER_NODE]
    missed = [i for i, s in st.items() if s == "cancel-missed"]
    lost = [i for i in expected if st.get(i) != "finished"]
    failed = sorted(i for i, s in st.items() if s == "failed")
    differing, unverifiable = soak.compare()
    lines = []
    lines.append(f"queued {len(specs)} prompts ({len(expected)} to finish, {sum(s.cancel for s in specs)} to cancel; "
                 f"sd3 {sum(s.kind == 'sd3' for s in specs)}, wan clips {sum(s.kind == 'wan' for s in specs)}; "
                 f"ding {sum(s.variant == 'ding' for s in specs)}, ding1 {sum(s.variant == 'ding1' for s in specs)}; "
                 f"soft masks {sum(s.soft for s in specs)}, "
                 f"feathered masks {sum(bool(s.feather_mask) for s in specs)}, "
                 f"particles 2: {sum(s.particles > 1 for s in specs)}; batch 1/2/3/4: "
                 f"{'/'.join(str(sum(s.batch == b for s in specs)) for b in (1, 2, 3, 4))}; "
                 f"images >= 512 px: {sum(s.kind == 'sd3' and max(s.width, s.height) >= 512 for s in specs)}, "
                 f"1024 px: {sum(max(s.width, s.height) == 1024 for s in specs)})")
    rows = [
        ("prompts queued", len(specs)),
        ("finished", len(finished)),
        (f"cancelled (interrupt landed in {sampler_name})", f"{len(cancelled)} ({len(cancel_in_sampler)})"),
        ("cancel missed (prompt finished first)", len(missed)),
        ("failed (execution_error)", len(failed)),
        ("lost (expected to finish, no output)", len(lost)),
        ("rerun on a fresh server", f"{len(soak.verified)} of {len(finished) + len(missed)} finished"
                                    + (" (all)" if len(soak.verified) == len(finished) + len(missed) else "")),
        ("differing (PNG or latent bytes)", len(differing)),
        ("not verifiable (rerun failed)", len(unverifiable)),
    ]
    for life in soak.lives[:2]:
        rss = [r for _, r in life.rss]
        if not rss:
            continue
        ref_k = min(WARMUP_PROMPTS, len(rss)) - 1
        ref, end = rss[ref_k], rss[-1]
        rows.append((f"RSS {life.name}: first / after {ref_k + 1} prompts (warm-up) / end / max, MiB",
                     f"{rss[0] / 2**20:.0f} / {ref / 2**20:.0f} / {end / 2**20:.0f} / {max(rss) / 2**20:.0f}"))
        rows.append((f"RSS growth {life.name} after warm-up ({len(rss) - ref_k - 1} prompts)",
                     f"{100.0 * (end - ref) / ref:+.2f} % (max {100.0 * (max(rss[ref_k:]) - ref) / ref:+.2f} %)"))
    rss_ok = True
    for life in soak.lives[:2]:
        rss = [r for _, r in life.rss]
        if rss:
            ref = rss[min(WARMUP_PROMPTS, len(rss)) - 1]
            rss_ok = rss_ok and (rss[-1] - ref) / ref < 0.05
        warm, end = life.probes.get("warm"), life.probes.get("end")
        if warm and end:
            ta, tb = warm["tensor_bytes"][0], end["tensor_bytes"][0]
            rows.append((f"live CPU tensors {life.name} (gc-visible storages): after warm-up / end, MiB",
                         f"{ta / 2**20:.1f} / {tb / 2**20:.1f}"))
            rows.append((f"RSS {life.name} at the end: as sampled / after gc + glibc malloc_trim, MiB",
                         f"{end['rss'][0] / 2**20:.0f} / {end['rss_after_trim'][0] / 2**20:.0f}"))
            oa, ob = warm["objects"][0], end["objects"][0]
            grown = sorted(((ob.get(k, 0) - oa.get(k, 0), k) for k in set(oa) | set(ob) if k != "_total"),
                           reverse=True)[:5]
            rows.append((f"gc-tracked Python objects {life.name}: after warm-up / end (most grown types)",
                         f"{oa['_total']} / {ob['_total']} (" + ", ".join(f"{k} {d:+d}" for d, k in grown) + ")"))
    for life in soak.lives[:2]:
        probed = [s["probed"][0] for s in life.stats]
        loaded = [s["loaded_models"][0] for s in life.stats]
        copies = {s["pack_copies"][0] for s in life.stats}
        if probed:
            rows.append((f"probe cache {life.name}, read in {len(probed)} prompts: len(_PROBED) first / max / "
                         "last; models loaded max", f"{probed[0]} / {max(probed)} / {probed[-1]}; {max(loaded)}"
                         + ("" if copies == {1} else f" (pack copies found: {sorted(copies)})")))
    rows.append(("server answered GET /system_stats (after start, restart, each cancel)",
                 f"{sum(1 for w, ok in soak.health if ok and 'system_stats' in w)} of "
                 f"{sum(1 for w, _ in soak.health if 'system_stats' in w)}"))
    rows.append(("queue drained after each full run", all(ok for w, ok in soak.health if "drained" in w)))
    rows.append(("server start, s (first / restart / fresh)",
                 " / ".join(f"{life.start_s:.1f}" for life in soak.lives)))
    rows.append(("wall time, s: soak (both lives) / fresh rerun / total",
                 f"{soak.soak_wall:.0f} / {soak.verify_wall:.0f} / {wall:.0f}"))
    width = max(len(k) for k, _ in rows)
    lines += ["", f"{'':<{width}}  value"] + [f"{k:<{width}}  {v}" for k, v in rows]
    if lost:
        lines.append("lost: " + ", ".join(f"p{i:04d} ({st.get(i, 'never reported')})" for i in lost))
    for i in failed:
        lines.append(f"failed p{i:04d} {specs[i].label()}: {soak.errors.get(i)}")
    if differing:
        lines.append("differing: " + ", ".join(f"p{i:04d}/{node}" for i, node in differing))
    if unverifiable:
        lines.append("not verifiable: " + ", ".join(f"p{i:04d}" for i in unverifiable))
    if missed:
        lines.append("cancel missed: " + ", ".join(f"p{i:04d}" for i in missed))
    odd = [i for i in cancelled if soak.cancel_node.get(i) != SAMPLER_NODE]
    if odd:
        lines.append(f"interrupt landed outside {sampler_name}: " +
                     ", ".join(f"p{i:04d} in {soak.cancel_node.get(i)}" for i in odd))
    bad = [w for w, ok in soak.health if not ok]
    if bad:
        lines.append("health checks failed: " + "; ".join(bad))
    checks = {"no lost prompt": not lost, "no differing output": not differing and not unverifiable,
              "no failed prompt": not failed, "server answered, queue drained": not bad,
              f"every cancel landed in {sampler_name}": len(cancel_in_sampler) == len(cancelled) == sum(
                  s.cancel for s in specs),
              "RSS growth after warm-up < 5 % in each server life": rss_ok}
    lines.append("")
    for k, v in checks.items():
        lines.append(f"check: {k}: {'yes' if v else 'NO'}")
    lines.append("RESULT: " + ("PASS" if all(checks.values()) else "FAIL"))
    return lines


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--comfyui", required=True, type=Path, help="ComfyUI checkout (holds main.py)")
    ap.add_argument("--python", default=sys.executable, help="Python of ComfyUI's environment (runs the server)")
    ap.add_argument("--prompts", type=int, default=300)
    ap.add_argument("--cancel", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verify", type=int, default=0, help="rerun this many finished prompts (0: all)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads in the server")
    ap.add_argument("--nice", type=int, default=10, help="niceness of the server")
    ap.add_argument("--prompt-timeout", type=float, default=900.0, help="max seconds without a server message")
    ap.add_argument("--log", type=Path, help="write the summary (and progress lines) here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the server, e.g. MALLOC_MMAP_THRESHOLD_=65536 (repeatable)")
    ap.add_argument("--path", choices=sorted(PATHS), default="ding",
                    help="ding: the pack's nodes; comfyui: the control run, ComfyUI's own VAEEncode + "
                         "SetLatentNoiseMask + KSampler + ImageCompositeMasked on the same prompts; "
                         "ding-sampler / ding-io: only the pack's sampler / only its Encode and Composite")
    ap.add_argument("--commit", default="", help="ComfyUI commit for the report (default: git rev-parse)")
    args = ap.parse_args(argv)
    if args.prompts < 2 * len(warm_block(random.Random(0), 0)) + args.cancel:
        ap.error("--prompts must leave room for two warm-up blocks and the cancels")
    comfyui = args.comfyui.resolve()
    for item in args.server_env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            ap.error(f"--server-env takes KEY=VALUE, got {item!r}")
        SERVER_ENV[key] = value
    t0 = time.perf_counter()
    base = Path(tempfile.mkdtemp(prefix="ding_soak_"))
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    try:
        names = prepare(base, comfyui, args.python, args.threads)
        specs = make_specs(args.prompts, args.cancel, args.seed)
        soak = Soak(args, specs, base)
        soak.say(f"tiny models written in {names['seconds']:.1f} s under {base}")
        asyncio.run(soak.main())
        wall = time.perf_counter() - t0
        head = [
            f"bench/soak.py, started {started}; python {platform.python_version()}, {os.cpu_count()} CPUs, "
            f"server torch threads {args.threads}, nice {args.nice}"
            + (f", server environment {' '.join(args.server_env)}" if args.server_env else "")
            + ("" if args.path == "ding" else
               f"; path {args.path}: encode / sampler / composite by {' / '.join(PATHS[args.path])} (comfyui = "
               "ComfyUI's own VAEEncode + SetLatentNoiseMask / KSampler euler or euler_ancestral / "
               "ImageCompositeMasked)"),
            f"ComfyUI {comfy_version(comfyui)} (commit {comfy_commit(comfyui, args.commit)}) at {comfyui}, "
            f"main.py --cpu, --disable-metadata; models: {names['sd3']} (tiny SD3 + TAESD), {names['wan_unet']} + "
            f"{names['wan_vae']} (tiny Wan 2.1)",
            "command: python -m bench.soak " + shlex.join(sys.argv[1:] if argv is None else argv),
            "",
        ]
        lines = head + summary(soak, args, names, wall)
        text = "\n".join(lines)
        print("\n" + text)
        if args.log:
            args.log.parent.mkdir(parents=True, exist_ok=True)
            detail = ["", "progress:"] + soak.log_lines + ["", "per prompt, in completion order:"]
            for life in soak.lives[:2]:
                detail.append(f"  {life.name} len(_PROBED) per prompt: " +
                              " ".join(str(s["probed"][0]) for s in life.stats))
                detail.append(f"  {life.name} models loaded per prompt: " +
                              " ".join(str(s["loaded_models"][0]) for s in life.stats))
                for label, probe in life.probes.items():
                    detail.append(f"  {life.name} memory probe '{label}' (after {probe['after']} prompts): " +
                                  json.dumps({k: v for k, v in probe.items() if k != "after"}))
                detail.append(f"  {life.name} RSS MiB per prompt: " +
                              " ".join(f"{r / 2**20:.0f}" for _, r in life.rss))
            args.log.write_text(text + "\n" + "\n".join(detail) + "\n")
        return 0 if text.rstrip().endswith("PASS") else 1
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
