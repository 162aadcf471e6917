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

The plot needs matplotlib; without it the tables are printed and the plot is skipped
with a message.

``--shift`` / ``--scheduler`` put the model on another grid (ComfyUI's ModelSamplingSD3 node
with that shift, then that ComfyUI scheduler for every sampler, LanPaint included).
``--few-step`` measures the distilled models' budgets (4, 6, 8 and 12 model calls per
image) on each distilled family's grid (``FEW_STEP_GRIDS``): every DInG variant and eta,
``final_sigma``, ``obs_std``, particles where they fit, ComfyUI's samplers with a noise
mask and LanPaint (at the steps that fit and at its own default of 30 steps)::

    LANPAINT_PATH=/path/to/LanPaint COMFYUI_PATH=/path/to/ComfyUI \\
        /path/to/venv/bin/python -m bench.peers --few-step --log bench/results/peers_064_fewstep.txt

(N = 2000 and seeds 1-3 by default: 12 minutes on 2 shared cores; ``--samples 1000`` halves it.)
The log ends with one table per grid, the same with the seed-to-seed standard deviation, and per
budget the best DInG setting with the number of seeds on which it beats each peer.

``--network NAME`` (issue 18) serves a learned denoiser of ``bench.learned`` (e.g.
``mixture25-mlp256``) through the same ModelPatcher wrapper, side by side with the exact
denoiser of the prior it was trained on. Every problem seed then uses that one fixed prior,
``GaussianMixture.random(64, 25, seed=1)`` (seed 1's prior; the seed draws the truth and the
observation noise, as in ``bench.learned``), and the plan is ``network_methods``: every sampler at
8 / 20 / 40 / 60 model calls per image, LanPaint at three Langevin step counts and at its own
default of 30 steps. Labels are ``<denoiser> | <sampler>``; the log ends with
``network_report``, whose last table (``paired_report``) gives per denoiser and budget the default
``ding1/ddpm`` minus the best DInG setting, the best LanPaint setting and each ComfyUI sampler as
mean +- sd of the per-seed differences (same problem seeds); ``--from-log`` rebuilds it::

    LANPAINT_PATH=/path/to/LanPaint COMFYUI_PATH=/path/to/ComfyUI /path/to/venv/bin/python \\
        -m bench.peers --network mixture25-mlp256 --samples 1000 --seeds 1 2 \\
        --log bench/results/peers_learned_064.txt

A problem seed fixes both the problem (truth and observation) and the sampling noise, so the sd
over seeds above mixes the two. ``--sample-seeds R`` runs each problem seed p again with sampling
seeds p + 1000, p + 2000, ... (same problem, new noise; run seed p itself repeats the R = 1 run
exactly) and the log ends with ``seed_noise_report``: per network and budget the default minus each
peer with its *seed noise* (how much the mean moves under new sampling seeds, problems fixed) next
to the spread between problems. ``--no-exact`` skips the exact denoiser; ``--network`` also takes
``digits-mlp256`` (the digits mixture prior; one prior a command)::

    LANPAINT_PATH=/path/to/LanPaint COMFYUI_PATH=/path/to/ComfyUI /path/to/venv/bin/python \\
        -m bench.peers --network mixture25-mlp256 --no-exact --samples 1000 --seeds 1 2 3 4 5 6 \\
        --sample-seeds 4 --only ding LanPaint --log bench/results/peers_seednoise_mlp256_064.txt

``--real-digits`` (issue 18, item 2 on item 1b; ``real_digits``)::

    LANPAINT_PATH=/path/to/LanPaint COMFYUI_PATH=/path/to/ComfyUI /path/to/venv/bin/python \\
        -m bench.peers --real-digits --log bench/results/peers_realdigits_064.txt

The network ``realdigits-mlp256`` (``bench.learned``, trained on the 1437 train digits of
scikit-learn's 8x8 digits, pixels in [-1, 1]) is served as the tiny SD3 model's network through
the ModelPatcher's ``model_function_wrapper`` (``bench.peers.ExactModel``), exactly as
``--network`` serves the mixture networks. A digit is channel 0 of a latent [16, 8, 8] in model
space (one latent cell per pixel, so the noise_mask is the pixel mask itself, unscaled); the other
15 channels, which the SD3 latent layout requires (the DInG node checks it), hold 0 and are
denoised exactly as a prior concentrated at 0 (``FirstChannel``: x0 = 0 there); the SD3 latent
format's scale and shift are undone at both ends. Every held-out test digit (360, or the
first ``--digits``) is inpainted as one batch under the four mask kinds of
``bench.learned.real.MASKS`` by

* the DInG nodes' sampler (DInGSampler + SamplerCustom's path): ding1/ddpm (the default),
  ding1/square, ding/ddpm, ding/square, ding1/ddpm with K = 4 particles;
* ComfyUI's euler, euler_ancestral and dpmpp_2m with the noise mask (KSampler's path);
* LanPaint (unmodified, from LANPAINT_PATH) at its default settings, at the step counts nearest
  8 / 20 / 40 / 60 calls and at its own default of 30 steps,

at 8 / 20 / 40 / 60 model calls per image (the nearest counts each sampler reaches; counted, in
the tables), scheduler 'simple', shift 3 (ModelSamplingSD3), cfg 1, ComfyUI seeds 1 2 3 (the
initial noise and the samplers' own randomness; the problem, the test digits, is fixed). Scores
are ``bench.learned.real.score``'s: classifier agreement, Frechet distance on the classifier's
features (split halves), kept-region |x - y| and the memorisation check. Every sampler here pastes
the kept pixels into its output (ComfyUI's masked sampling and the DInG node both do), so the
kept-region error is that of the last model call's clean estimate before the paste (what the
network made of the kept region), for every sampler alike.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from ding_sampler.analytic import InpaintingProblem

from .mixture_denoiser import Float32Mixture  # noqa: F401  (bench.peers.Float32Mixture, as before)

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
SHIFT = 3.0

# --few-step: model calls per image, and the distilled families' grids as (key, shift, scheduler,
# families). Shifts are SD3-style (ModelSamplingSD3: sigma = s t / (1 + (s - 1) t)).
FEW_BUDGETS = (4, 6, 8, 12)
FEW_STEP_GRIDS = (
    # SD3.5 Large Turbo: SD3 sampling, shift 3. Z-Image Turbo: ModelSamplingAuraFlow 3 (the same
    # formula, multiplier 1) with the 'simple' scheduler in ComfyUI's template. ('sgm_uniform', the
    # scheduler of ComfyUI's SD3.5 template, gives sigmas within 0.005 of 'simple' at shift 3 and
    # 4-12 steps in ComfyUI 0.3.64.)
    ("shift 3", 3.0, "simple", "SD3.5 Large Turbo, Z-Image Turbo"),
    # Flux.2 (Klein): ComfyUI's Flux2 sampling is ModelSamplingFlux whose 'shift' 2.02 is mu, i.e. an
    # SD3-style shift exp(2.02) = 7.54 under KSampler's schedulers; the Flux2Scheduler node of the
    # Flux.2 templates takes mu from the resolution and steps: exp(mu) = 9.9 / 9.8 / 9.7 / 9.4 at
    # 1024x1024 and 4 / 6 / 8 / 12 steps. One fixed shift 9.7 with 'simple' approximates it.
    ("shift 9.7", 9.7, "simple", "Flux.2 Klein (Flux2Scheduler, 1024x1024, approximated)"),
)
FEW_DING_STEPS = (2, 3, 4, 6)  # 3, 5, 7, 11 calls
FEW_ONE_STEPS = FEW_BUDGETS  # ding1 and ComfyUI's samplers: one call a step
FEW_FINAL_SIGMA = 0.05
LANPAINT_DEFAULT_STEPS = 30  # LanPaint_KSampler's default


def few_step_methods(lanpaint: bool) -> List[tuple]:
    """The --few-step plan: (label, kind, options, step counts); every run fits in 12 calls per
    image except LanPaint at its default."""
    out = []
    for eta in ETAS:
        out.append((f"ding1/{eta}", "ding", dict(variant="ding1", eta=eta), FEW_ONE_STEPS))
        out.append((f"ding/{eta}", "ding", dict(variant="ding", eta=eta), FEW_DING_STEPS))
    # final_sigma, obs_std and particles on the default ding1/ddpm and the paper's ding/square (a
    # first pass with seed 1 at shift 3 also ran final_sigma with ding1/square, ding1/default and
    # ding/ddpm, obs_std 0 and K = 4 particles: each within 0.005 of, or worse than, these rows)
    fs = FEW_FINAL_SIGMA
    out.append((f"ding1/ddpm final {fs:g}", "ding", dict(variant="ding1", eta="ddpm", final_sigma=fs),
                FEW_ONE_STEPS))
    out.append((f"ding/square final {fs:g}", "ding", dict(variant="ding", eta="square", final_sigma=fs),
                FEW_DING_STEPS))
    out.append(("ding1/ddpm obs_std 0.1", "ding", dict(variant="ding1", eta="ddpm", obs_std=0.1), FEW_ONE_STEPS))
    # particles: K latents a step, K x steps calls per output image
    out.append(("ding1/ddpm K=2", "ding", dict(variant="ding1", eta="ddpm", particles=2), (2, 3, 4, 6)))
    for name in COMFY_SAMPLERS + ("res_multistep",):
        out.append((f"comfy {name}", "comfy", dict(sampler_name=name), FEW_ONE_STEPS))
    if lanpaint:
        # LanPaint: 1 call for its first step, then about 6 a step at its 5 Langevin steps (1 / 2 /
        # 3 steps = 1 / 7 / 13 calls): 1-2 steps fit in 12 calls; with 1 Langevin step 2 calls a step.
        out.append(("LanPaint", "lanpaint", {}, (1, 2, LANPAINT_DEFAULT_STEPS)))
        out.append(("LanPaint 1 Langevin step", "lanpaint", dict(LanPaint_NumSteps=1), (2, 3, 4, 6)))
    return out


def with_final_sigma(sigmas: torch.Tensor, final_sigma: Optional[float]) -> torch.Tensor:
    """The grid with its last positive level lowered to ``final_sigma`` (what ``ding_sample``'s
    ``final_sigma`` does; same number of calls). Unchanged when None, when the grid does not end
    at 0, has fewer than 3 levels, or its last positive level is already <= final_sigma."""
    if final_sigma is None:
        return sigmas
    if final_sigma <= 0:
        raise ValueError(f"final_sigma must be > 0, got {final_sigma!r}")
    if len(sigmas) < 3 or float(sigmas[-1]) != 0.0 or float(sigmas[-2]) <= final_sigma:
        return sigmas
    out = sigmas.clone()
    out[-2] = final_sigma
    return out


def grid_of(label: str) -> tuple:
    """'shift 3 | ding1/ddpm' -> ('shift 3', 'ding1/ddpm'); a label without a grid -> ('', label)."""
    if " | " in label:
        grid, name = label.split(" | ", 1)
        return grid, name
    return "", label


def keep_vector() -> torch.Tensor:
    """1 = kept; the latent position (1, 1) of every channel is regenerated."""
    keep = torch.ones(LATENT, dtype=torch.float64)
    keep[:, 1, 1] = 0.0
    return keep.reshape(-1)


class ExactModel:
    """Serves a denoiser as the model's network, through the ModelPatcher's
    ``model_function_wrapper``, and counts rows.

    ``denoise(x [N, 16, 2, 2], sigma [N]) -> x0`` in the flow convention x = (1 - sigma) x0 +
    sigma e, in model space (after ``process_in``); the default is the prior's exact denoiser
    (``Float32Mixture``), a learned one is e.g. ``bench.learned.load(name)``. The wrapper is handed
    ComfyUI's own sigma for the step (``args["timestep"]`` is the sampler's sigma, not
    ``model_sampling.timestep(sigma)``), which under ModelSamplingSD3 is the flow sigma, and its
    return value is taken as the denoised x0 (``apply_model``'s output)."""

    def __init__(self, base_patcher, prior, denoise=None):
        self.prior = prior
        self.rows, self.last = 0, None
        self.denoise = Float32Mixture(prior) if denoise is None else denoise
        self.patcher = base_patcher.clone()
        self.patcher.set_model_unet_function_wrapper(self.wrapper)
        self.latent_format = base_patcher.model.latent_format

    def wrapper(self, apply_model, args):
        x, sigma = args["input"], args["timestep"]
        n = x.shape[0]
        self.rows += n
        self.last = self.denoise(x, sigma.reshape(-1).expand(n))  # the clean estimate before any paste
        return self.last

    def to_latent(self, model_space: torch.Tensor) -> torch.Tensor:
        """Latent as ComfyUI's LATENT carries it (process_latent_in maps it back)."""
        return self.latent_format.process_out(model_space)

    def from_latent(self, latent: torch.Tensor) -> torch.Tensor:
        return self.latent_format.process_in(latent)


class FixedPriorProblem(InpaintingProblem):
    """``InpaintingProblem``'s truth (seed + 4) and observation noise (seed + 5) drawn from a given
    ``prior`` instead of ``GaussianMixture.random(dim, components, seed)``: the problems of a
    learned network, all on the prior it was trained on. With the prior of seed 1 and seed 1 it is
    ``InpaintingProblem(1, keep=keep)``."""

    def __init__(self, prior, seed: int, keep: torch.Tensor, obs_std: float = 0.01):
        self.seed, self.dim, self.obs_std = seed, prior.dim, obs_std
        self.prior = prior
        x_true = prior.sample(1, torch.Generator().manual_seed(seed + 4))[0]
        self.y = x_true + obs_std * torch.randn(self.dim, generator=torch.Generator().manual_seed(seed + 5),
                                                dtype=torch.float64)
        self.keep = torch.as_tensor(keep, dtype=torch.float64).reshape(-1).clone()
        if self.keep.shape != (self.dim,):
            raise ValueError(f"keep must be a 0/1 vector of length {self.dim}")
        self.hidden = torch.nonzero(self.keep == 0).flatten()
        self.posterior = prior.posterior_given_observation(self.y, self.keep, obs_std)


class ReportLog:
    """``emit(text)``: print a report line and, with a ``path``, also write it to that file
    (flushed per line, so an interrupted run keeps what it printed). ``close()`` closes the file."""

    def __init__(self, path: Optional[Path] = None):
        self._file = path.open("w") if path is not None else None

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        if self._file is not None:
            self._file.write(text + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def conditioning():
    return [[torch.zeros(1, 1, 4096), {"pooled_output": torch.zeros(1, 2048)}]]


def run_ding(h, em: ExactModel, latent, mask, noise, seed, steps, variant, eta, obs_std=0.01,
             final_sigma=None, particles=1, scheduler=SCHEDULER):
    import comfy.sample
    (sampler,) = h.call_node("DInGSampler", variant=variant, obs_std=obs_std, eta=eta, particles=particles)
    (sigmas,) = h.call_node("BasicScheduler", model=em.patcher, scheduler=scheduler, steps=steps, denoise=1.0)
    sigmas = with_final_sigma(sigmas, final_sigma)
    with torch.inference_mode():
        return comfy.sample.sample_custom(em.patcher, noise, 1.0, sampler, sigmas, conditioning(), conditioning(),
                                          latent, noise_mask=mask, seed=seed, disable_pbar=True)


def run_comfy(h, em: ExactModel, latent, mask, noise, seed, steps, sampler_name, scheduler=SCHEDULER):
    import comfy.sample
    with torch.inference_mode():
        return comfy.sample.sample(em.patcher, noise, steps, 1.0, sampler_name, scheduler, conditioning(),
                                   conditioning(), latent, denoise=1.0, noise_mask=mask, seed=seed,
                                   disable_pbar=True)


def run_lanpaint(h, em: ExactModel, latent, mask, noise, seed, steps, scheduler=SCHEDULER, **options):
    # LanPaint draws its own initial noise from the seed (like KSampler); options are its own
    # inputs (e.g. LanPaint_NumSteps), left at its defaults when absent.
    (out,) = h.call_node("LanPaint_KSampler", model=em.patcher, seed=seed, steps=steps, cfg=1.0,
                         sampler_name="euler", scheduler=scheduler, positive=conditioning(),
                         negative=conditioning(), latent_image={"samples": latent, "noise_mask": mask},
                         denoise=1.0, **options)
    return out["samples"]


def run_entry(h, em: ExactModel, kind: str, opts: dict, latent, mask, noise, seed, steps, scheduler=SCHEDULER):
    """One run of a plan entry (kind 'ding', 'comfy' or 'lanpaint' with its options)."""
    run = {"ding": run_ding, "comfy": run_comfy, "lanpaint": run_lanpaint}[kind]
    return run(h, em, latent, mask, noise, seed, steps, scheduler=scheduler, **opts)


def comfy_setup(no_lanpaint: bool, prefix: str = "ding_peers_") -> tuple:
    """(harness, LanPaint path or None, the tiny SD3 model as UNETLoader loads it): a temporary
    ComfyUI with this pack and, unless ``no_lanpaint`` or LANPAINT_PATH is unset, LanPaint."""
    from comfy_testbed import comfy_harness, tiny_models
    lanpaint = None if no_lanpaint else lanpaint_source()
    h = comfy_harness.bootstrap_temporary(
        prefix, prepare=None if lanpaint is None else lambda base: link_custom_node(lanpaint, base))
    if lanpaint is not None and "LanPaint_KSampler" not in h.nodes.NODE_CLASS_MAPPINGS:
        raise SystemExit(f"LanPaint at {lanpaint} did not load as a custom node")
    import comfyui_version  # noqa: F401  (present in every ComfyUI checkout LanPaint supports)
    files = tiny_models.write_tiny_sd3(h.models_dir, checkpoint=False, vae=False, taesd3_pair=False)
    (base,) = h.call_node("UNETLoader", unet_name=files.unet_name, weight_dtype="default")
    return h, lanpaint, base


def comfy_version_text(h) -> str:
    return f"ComfyUI {getattr(sys.modules['comfyui_version'], '__version__', '?')} at {h.comfyui_path}"


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


# --network: model calls per image, and the plan (one call a step unless noted)
NETWORK_BUDGETS = (8, 20, 40, 60)


def network_methods(lanpaint: bool) -> List[tuple]:
    """The --network plan: every run within 8 / 20 / 40 / 60 calls per image (ding: 2 steps - 1 calls,
    particles K: K calls a step), LanPaint also at its own default of 30 steps (about 141 calls)."""
    one = NETWORK_BUDGETS
    two = tuple((b + 1) // 2 for b in NETWORK_BUDGETS)  # ding: 4 / 10 / 20 / 30 steps = 7 / 19 / 39 / 59 calls
    out = []
    for eta in ("square", "ddpm"):
        out.append((f"ding/{eta}", "ding", dict(variant="ding", eta=eta), two))
        out.append((f"ding1/{eta}", "ding", dict(variant="ding1", eta=eta), one))
    out.append(("ding1/ddpm K=2", "ding", dict(variant="ding1", eta="ddpm", particles=2), two))
    out.append(("ding1/ddpm K=4", "ding", dict(variant="ding1", eta="ddpm", particles=4),
                tuple(b // 4 for b in NETWORK_BUDGETS)))
    for name in COMFY_SAMPLERS:
        out.append((f"comfy {name}", "comfy", dict(sampler_name=name), one))
    if lanpaint:
        # LanPaint_NumSteps n: fewer calls a step than n + 1 (it skips Langevin steps at some levels);
        # counted, not assumed: at its default n = 5, 2 / 4 / 8 / 12 / 30 steps = 7 / 18 / 38 / 56 / 141
        # calls; n = 1: 4 / 11 / 21 / 31 steps = 7 / 20 / 37 / 55; n = 2: 3 / 6 / 12 / 20 steps = 7 / 15 /
        # 31 / 50 (ComfyUI 0.3.64, LanPaint 32cf848e).
        # Several step counts a budget, so that its best setting within each budget is in the plan.
        out.append(("LanPaint", "lanpaint", {}, (2, 3, 4, 6, 8, 10, 12, 13, LANPAINT_DEFAULT_STEPS)))
        out.append(("LanPaint 1 Langevin step", "lanpaint", dict(LanPaint_NumSteps=1),
                    (4, 5, 8, 11, 16, 21, 26, 31)))
        out.append(("LanPaint 2 Langevin steps", "lanpaint", dict(LanPaint_NumSteps=2),
                    (3, 4, 6, 8, 12, 16, 20, 24)))
    return out


def network_report(raw: Dict[str, Dict[int, list]], floors: Sequence[float], denoisers: Sequence[str],
                   budgets=NETWORK_BUDGETS) -> str:
    """--network: per denoiser and sampler the best mean SW1 within each budget +- its standard
    deviation over seeds; per network the difference to the exact denoiser (each at its own best run
    within the budget, mean +- sd of the per-seed differences); and the best DInG, ComfyUI and
    LanPaint setting per budget and denoiser."""
    results, spread = summarize(raw), seed_spread(raw)
    samplers = list(dict.fromkeys(grid_of(label)[1] for label in results))

    def best(den, name, b):
        pts = results.get(f"{den} | {name}")
        return None if pts is None else best_within(pts, b)

    lines = ["| sampler | denoiser | " + " | ".join(f"<= {b} calls" for b in budgets) + " |",
             "|---|---|" + "---:|" * len(budgets)]
    for name in samplers:
        for den in denoisers:
            cells = []
            for b in budgets:
                p = best(den, name, b)
                cells.append("-" if p is None else
                             f"{p[0]:.4f} +-{spread[f'{den} | {name}'][p[2]]:.4f} ({p[1]:.0f})")
            lines.append(f"| {name} | {den} | " + " | ".join(cells) + " |")
        for den in (denoisers[1:] if denoisers[0] == "exact" else ()):
            cells = []
            for b in budgets:
                pe, pn = best(denoisers[0], name, b), best(den, name, b)
                if pe is None or pn is None:
                    cells.append("-")
                    continue
                d = paired_difference(raw, (f"{den} | {name}", pn[2]), (f"{denoisers[0]} | {name}", pe[2]))
                cells.append("-" if d is None else f"{d[0]:+.4f} +-{d[1]:.4f}")
            lines.append(f"| {name} | {den} - {denoisers[0]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("best setting per family and budget (mean SW1 over seeds, calls, steps):\n")
    lines += ["| family | denoiser | " + " | ".join(f"<= {b} calls" for b in budgets) + " |",
              "|---|---|" + "---:|" * len(budgets)]
    families = (("DInG", "ding"), ("ComfyUI masked", "comfy "), ("LanPaint", "LanPaint"))
    for fam, prefix in families:
        for den in denoisers:
            cells = []
            for b in budgets:
                cand = [(best(den, n, b), n) for n in samplers if n.startswith(prefix)]
                cand = [(p, n) for p, n in cand if p is not None]
                if not cand:
                    cells.append("-")
                    continue
                p, n = min(cand, key=lambda c: c[0][0])
                cells.append(f"{p[0]:.4f} {n} ({p[1]:.0f}, {p[2]} steps)")
            lines.append(f"| {fam} | {den} | " + " | ".join(cells) + " |")
    lp = [(den, results[f"{den} | LanPaint"]) for den in denoisers if f"{den} | LanPaint" in results]
    for den, pts in lp:
        for sw, calls, steps, _ in pts:
            if steps == LANPAINT_DEFAULT_STEPS:
                lines.append(f"\nLanPaint at its defaults ({steps} steps, 5 Langevin steps), {den}: SW1 {sw:.4f} "
                             f"+-{spread[f'{den} | LanPaint'][steps]:.4f} ({calls:.0f} calls)")
    f = torch.tensor(list(floors), dtype=torch.float64)
    lines.append(f"\nexact vs exact floor SW1 {float(f.mean()):.4f} +-{float(f.std()) if len(f) > 1 else 0.0:.4f} "
                 f"(per seed " + ", ".join(f"{v:.4f}" for v in floors) + ")")
    lines.append("\n" + paired_report(raw, denoisers, budgets))
    return "\n".join(lines)


DEFAULT_SETTING = "ding1/ddpm"  # the nodes' default (DInG-1, eta 'ddpm')
SAMPLE_SEED_STRIDE = 1000  # --sample-seeds: run seed p + 1000 r is problem p with sampling seed r


def peer_runs(results: Dict[str, List[tuple]], samplers: Sequence[str], den: str, mine: str, pick,
              budgets) -> List[Optional[tuple]]:
    """Per budget: (label's best run, the best run of the samplers ``pick`` accepts, that sampler)
    within the budget (best = lowest mean SW1 over seeds; runs are (sw, calls, steps, tv)), or None
    when a side has no run within it. Labels are ``<den> | <sampler>``."""
    out = []
    for b in budgets:
        me = best_within(results[f"{den} | {mine}"], b)
        cand = [(best_within(results[f"{den} | {n}"], b), n) for n in samplers if pick(n) and f"{den} | {n}" in results]
        cand = [(p, n) for p, n in cand if p is not None]
        out.append(None if me is None or not cand else (me, *min(cand, key=lambda c: c[0][0])))
    return out


def default_minus_rows(results: Dict[str, List[tuple]], denoisers: Sequence[str], default: str, budgets,
                       cell, with_default: bool = True) -> List[str]:
    """The 'default minus' table rows of ``paired_report`` and ``seed_noise_report``: per denoiser,
    the best DInG setting (``with_default``: the default itself counts, else only the others), the
    best LanPaint setting and each ComfyUI sampler, one cell a budget from ``cell(den, me, p, n,
    which)`` (the default's and the peer's best runs, the peer, '' or ' (peer, calls)'), '-' where
    a side has no run within the budget."""
    samplers = list(dict.fromkeys(grid_of(label)[1] for label in results))
    peers_of = (("best DInG setting", lambda n: n.startswith("ding") and (with_default or n != default)),
                ("best LanPaint setting", lambda n: n.startswith("LanPaint")))
    peers_of += tuple((n, (lambda m, n=n: m == n)) for n in samplers if n.startswith("comfy "))
    lines = []
    for den in denoisers:
        if f"{den} | {default}" not in results:
            continue
        for title, pick in peers_of:
            cells = []
            for run in peer_runs(results, samplers, den, default, pick, budgets):
                if run is None:
                    cells.append("-")
                    continue
                me, p, n = run
                cells.append(cell(den, me, p, n, "" if n == title else f" ({n}, {p[1]:.0f})"))
            lines.append(f"| {den} | {title} | " + " | ".join(cells) + " |")
    return lines


def seed_noise(diffs: Dict[int, float]) -> Optional[dict]:
    """Split per-run values {run seed: value} (run seed = problem + SAMPLE_SEED_STRIDE * r) into the
    benchmark's score and its noises: ``mean`` over every run (each problem has the same number R of
    sampling seeds, so it is also the mean of the per-problem means); ``run_sd``, the pooled
    within-problem standard deviation (how much one run moves when only the sampling seed changes);
    ``noise`` = run_sd / sqrt(runs), the seed noise of ``mean`` (its standard deviation under new
    sampling seeds with the problems fixed); ``between``, the standard deviation of the per-problem
    means; ``problems`` {problem: mean}. None without two sampling seeds of every problem, or with
    problems of unequal seed counts."""
    by_problem: Dict[int, list] = {}
    for run, value in diffs.items():
        by_problem.setdefault(run % SAMPLE_SEED_STRIDE, []).append(value)
    counts = {len(v) for v in by_problem.values()}
    if not by_problem or len(counts) != 1 or counts.pop() < 2:
        return None
    vals = {p: torch.tensor(v, dtype=torch.float64) for p, v in sorted(by_problem.items())}
    runs = sum(len(v) for v in vals.values())
    run_sd = float(torch.stack([v.var() for v in vals.values()]).mean().sqrt())
    means = {p: float(v.mean()) for p, v in vals.items()}
    m = torch.tensor(list(means.values()), dtype=torch.float64)
    return dict(mean=float(m.mean()), run_sd=run_sd, noise=run_sd / runs ** 0.5,
                between=float(m.std()) if len(m) > 1 else 0.0, problems=means, runs=runs)


def seed_noise_report(raw: Dict[str, Dict[int, list]], run_seeds: Sequence[int], denoisers: Sequence[str],
                      budgets=NETWORK_BUDGETS, default: str = DEFAULT_SETTING) -> str:
    """--network --sample-seeds: per denoiser and budget, the default minus the best DInG setting,
    the best LanPaint setting and each ComfyUI sampler (each side at its best run within the budget,
    by the mean over every run, as in ``paired_report``), paired run by run, split by ``seed_noise``
    into mean, seed noise of the mean and spread between problems; then how the mean compares with
    twice the seed noise, and on how many problems the default's own mean is closer by more than
    twice that problem's seed noise (run_sd / sqrt(R)). ``run_seeds`` are the run seeds in the order
    of raw's per-label lists (ascending, as the runs and parse_logs make them)."""
    results = summarize(raw)
    samplers = list(dict.fromkeys(grid_of(label)[1] for label in results))
    r = len(run_seeds) // max(1, len({s % SAMPLE_SEED_STRIDE for s in run_seeds}))
    lines = [f"seed noise: {len(run_seeds)} runs = {len(run_seeds) // max(r, 1)} problems x {r} sampling seeds. "
             f"Cells: {default} (the default) minus the peer, mean over every run ± its seed noise (sd of the "
             f"mean under new sampling seeds, problems fixed) [sd between problems] x = |mean| / seed noise; "
             f"'k/P' = problems on which the default is closer by more than twice that problem's seed noise. "
             f"Negative = the default is closer.\n",
             "| denoiser | default minus | " + " | ".join(f"<= {b} calls" for b in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]

    def cell(a_label, a_steps, b_label, b_steps, which=""):
        va, vb = raw[a_label][a_steps], raw[b_label][b_steps]
        st = (seed_noise({s: x[0] - y[0] for s, x, y in zip(run_seeds, va, vb)})
              if len(va) == len(vb) == len(run_seeds) else None)
        if st is None:
            return "-"
        per = st["run_sd"] / (st["runs"] / len(st["problems"])) ** 0.5
        closer = sum(v < -2 * per for v in st["problems"].values())
        ratio = abs(st["mean"]) / st["noise"] if st["noise"] > 0 else float("inf")
        return (f"{st['mean']:+.4f} ±{st['noise']:.4f} [{st['between']:.4f}] x{ratio:.1f} "
                f"{closer}/{len(st['problems'])}{which}")

    lines += default_minus_rows(
        results, denoisers, default, budgets, with_default=False,
        cell=lambda den, me, p, n, which: cell(f"{den} | {default}", me[2], f"{den} | {n}", p[2], which))
    for den in denoisers:
        lp = f"{den} | LanPaint"
        if LANPAINT_DEFAULT_STEPS in raw.get(lp, {}) and f"{den} | {default}" in results:
            # the further target: the best DInG setting within the budget vs LanPaint's own default
            runs = peer_runs(results, samplers, den, default, lambda n: n.startswith("ding"), budgets)
            cells = ["-" if run is None else
                     cell(f"{den} | {run[2]}", run[1][2], lp, LANPAINT_DEFAULT_STEPS, f" ({run[2]}, {run[1][1]:.0f})")
                     for run in runs]
            lines.append(f"| {den} | best DInG setting minus LanPaint at its defaults "
                         f"({LANPAINT_DEFAULT_STEPS} steps) | " + " | ".join(cells) + " |")
    lines.append("\nmean SW1 over every run ± its seed noise (sampling seeds only) [sd between problems]:\n")
    lines += ["| denoiser | sampler | " + " | ".join(f"<= {b} calls" for b in budgets) + " |",
              "|---|---|" + "---|" * len(budgets)]
    for den in denoisers:
        for name in samplers:
            pts = results.get(f"{den} | {name}")
            if pts is None:
                continue
            cells = []
            for b in budgets:
                p = best_within(pts, b)
                vals = None if p is None else raw[f"{den} | {name}"][p[2]]
                st = (None if vals is None or len(vals) != len(run_seeds) else
                      seed_noise({s: v[0] for s, v in zip(run_seeds, vals)}))
                cells.append("-" if st is None else
                             f"{st['mean']:.4f} ±{st['noise']:.4f} [{st['between']:.4f}] ({p[1]:.0f})")
            lines.append(f"| {den} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paired_difference(raw: Dict[str, Dict[int, list]], a: tuple, b: tuple) -> Optional[tuple]:
    """(mean, sd, n) of the per-seed SW1 differences a - b, each side (label, steps); the runs are
    paired by their position in the seed order (every label of a log runs the same problem seeds in
    the same order, so position i is the same problem seed on both sides). None when a side is
    missing or the two sides ran a different number of seeds."""
    va = [v[0] for v in raw.get(a[0], {}).get(a[1], [])]
    vb = [v[0] for v in raw.get(b[0], {}).get(b[1], [])]
    if not va or len(va) != len(vb):
        return None
    d = torch.tensor(va, dtype=torch.float64) - torch.tensor(vb, dtype=torch.float64)
    return float(d.mean()), (float(d.std()) if len(d) > 1 else 0.0), len(d)


def paired_report(raw: Dict[str, Dict[int, list]], denoisers: Sequence[str], budgets=NETWORK_BUDGETS,
                  default: str = DEFAULT_SETTING) -> str:
    """--network: per denoiser and budget, the default's SW1 minus the best DInG setting's, minus the
    best LanPaint setting's and minus each ComfyUI sampler's, as mean +- sd of the per-seed
    differences (same problem seeds). Every side runs at its best step count within the budget (lowest
    mean SW1 over seeds, as in the tables above). Negative = the default is closer to the posterior."""
    results = summarize(raw)
    lines = [f"paired SW1 differences, {default} (the default) minus each peer, mean +- sd over seeds of the "
             f"per-seed differences (same problem seeds; each side at its best run within the budget; "
             f"negative = the default is closer):\n",
             "| denoiser | default minus | " + " | ".join(f"<= {b} calls" for b in budgets) + " |",
             "|---|---|" + "---:|" * len(budgets)]

    def cell(den, me, p, n, which):
        d = paired_difference(raw, (f"{den} | {default}", me[2]), (f"{den} | {n}", p[2]))
        return "-" if d is None else f"{d[0]:+.4f} +-{d[1]:.4f}{which}"

    lines += default_minus_rows(results, denoisers, default, budgets, cell)
    return "\n".join(lines)


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


def seed_spread(raw: Dict[str, Dict[int, list]]) -> Dict[str, Dict[int, float]]:
    """label -> steps -> standard deviation of SW1 over seeds (0 with one seed)."""
    out: Dict[str, Dict[int, float]] = {}
    for label, by_steps in raw.items():
        for steps, vals in by_steps.items():
            sw = torch.tensor([v[0] for v in vals], dtype=torch.float64)
            out.setdefault(label, {})[steps] = float(sw.std()) if len(vals) > 1 else 0.0
    return out


def few_step_report(raw: Dict[str, Dict[int, list]], floor: float, budgets=FEW_BUDGETS) -> str:
    """Per grid: the budget table (mean SW1 over seeds), the same with the seed spread, the best
    DInG setting at each budget and how many seeds it beats each peer on."""
    results, spread = summarize(raw), seed_spread(raw)
    grids: Dict[str, Dict[str, List[tuple]]] = {}
    for label, pts in results.items():
        grid, name = grid_of(label)
        grids.setdefault(grid, {})[name] = pts
    lines = []
    for grid, res in grids.items():
        info = [g for g in FEW_STEP_GRIDS if g[0] == grid]
        lines.append(f"\n### {grid}" + (f" ({info[0][3]}; scheduler {info[0][2]})" if info else "") + "\n")
        lines.append(format_table(res, budgets))
        lines.append("\nmean SW1 +- standard deviation over seeds (calls):\n")
        head = "| sampler | " + " | ".join(f"<= {b} calls" for b in budgets) + " |"
        lines += [head, "|---|" + "---:|" * len(budgets)]
        for name, pts in res.items():
            cells = []
            for b in budgets:
                best = best_within(pts, b)
                cells.append("-" if best is None else
                             f"{best[0]:.3f} +-{spread[f'{grid} | {name}' if grid else name][best[2]]:.3f} "
                             f"({best[1]:.0f})")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
        for b in budgets:
            ding = {n: best_within(p, b) for n, p in res.items() if n.startswith("ding")}
            ding = {n: v for n, v in ding.items() if v is not None}
            if not ding:
                continue
            win = min(ding, key=lambda n: ding[n][0])
            wl = f"{grid} | {win}" if grid else win
            mine = {seed_sw[3]: seed_sw[0] for seed_sw in raw_by_seed(raw, wl, ding[win][2])}
            peers_txt = []
            for n, p in res.items():
                if n.startswith("ding"):
                    continue
                pb = best_within(p, b)
                if pb is None:
                    peers_txt.append(f"{n}: no run within {b} calls")
                    continue
                theirs = {v[3]: v[0] for v in raw_by_seed(raw, f"{grid} | {n}" if grid else n, pb[2])}
                wins = sum(mine[k] < theirs[k] for k in mine if k in theirs)
                peers_txt.append(f"{n} {pb[0]:.3f} (beaten on {wins} of {len(mine)} seeds)")
            lines.append(f"- <= {b} calls: best DInG setting {win} ({ding[win][2]} steps, {ding[win][1]:.0f} "
                         f"calls) SW1 {ding[win][0]:.3f}; " + "; ".join(peers_txt))
    lines.append(f"\nexact vs exact floor SW1 {floor:.4f}")
    return "\n".join(lines)


def raw_by_seed(raw: Dict[str, Dict[int, list]], label: str, steps: int) -> list:
    """[(sw, tv, calls, i)] of one label and step count, i = position in the seed order (every
    label runs the same seeds in the same order)."""
    return [(*v, i) for i, v in enumerate(raw.get(label, {}).get(steps, []))]


def plot(results: Dict[str, List[tuple]], floor: float, path: Path) -> Optional[str]:
    """Write the SW1-vs-calls plot; without matplotlib write nothing and return why."""
    try:
        import matplotlib
    except ImportError:
        return f"plot skipped: matplotlib is not installed in this Python ({sys.executable}); {path} not written"
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
    return None


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
    p.add_argument("--shift", type=float, default=SHIFT,
                   help="SD3-style grid shift (ComfyUI's ModelSamplingSD3 on the model; default 3)")
    p.add_argument("--scheduler", default=SCHEDULER, help="ComfyUI scheduler for every sampler (default simple)")
    p.add_argument("--budgets", type=int, nargs="+", default=None,
                   help="call budgets of the best-within table (default 40 60 150 300; --few-step 4 6 8 12)")
    p.add_argument("--network", nargs="+", default=None, metavar="NAME",
                   help="serve these bench.learned networks (e.g. mixture25-mlp256) side by side with the "
                        "exact denoiser of the prior they were trained on (every problem seed on that prior), "
                        "every sampler at 8 / 20 / 40 / 60 calls (network_methods)")
    p.add_argument("--real-digits", action="store_true",
                   help="real 8x8 digits (bench.learned.real) through ComfyUI: realdigits-mlp256 served like --network, "
                        "the four mask kinds, DInG settings, ComfyUI's samplers and LanPaint at 8 / 20 / 40 / 60 calls, "
                        "scored by real.py's classifier agreement, FD and kept-region error (real_digits)")
    p.add_argument("--sample-seeds", type=int, default=1, metavar="R",
                   help="--network: run every problem seed p with R sampling seeds p, p + "
                        f"{SAMPLE_SEED_STRIDE}, p + {2 * SAMPLE_SEED_STRIDE}, ... (same problem, new noise), "
                        "so that seed_noise_report can tell the seed noise from the spread between problems "
                        "(default 1: the sampling seed is the problem seed)")
    p.add_argument("--no-exact", action="store_true",
                   help="--network: skip the exact denoiser's runs (the networks only)")
    p.add_argument("--digits", type=int, default=0,
                   help="--real-digits: only the first N of the 360 test digits (default all)")
    p.add_argument("--few-step", action="store_true",
                   help="the distilled models' budgets: 4 / 6 / 8 / 12 calls per image on every grid of "
                        "FEW_STEP_GRIDS (--shift / --scheduler ignored), every DInG setting that fits, "
                        "ComfyUI's samplers and LanPaint")
    args = p.parse_args(argv)
    if args.shift <= 0:
        raise SystemExit(f"--shift must be > 0, got {args.shift}")
    if args.samples < 2:
        raise SystemExit(f"--samples must be at least 2, got {args.samples}")
    if args.budgets is not None and min(args.budgets) < 1:
        raise SystemExit(f"--budgets must be at least 1, got {args.budgets}")
    if args.network is not None:
        from bench.learned import NETWORKS, PRIORS
        for name in args.network:
            if NETWORKS.get(name, ("",))[0] not in PRIORS:
                known = sorted(k for k, v in NETWORKS.items() if v[0] in PRIORS)
                raise SystemExit(f"--network must name a bench.learned network trained on a closed-form "
                                 f"prior (one of {known}), got {name!r}")
        priors = sorted({NETWORKS[name][0] for name in args.network})
        if len(priors) > 1:
            raise SystemExit(f"--network networks must share one prior (every problem is drawn from it), "
                             f"got priors {priors}; run one command per prior")
        if args.few_step:
            raise SystemExit("--network runs its own plan (8 / 20 / 40 / 60 calls); drop --few-step")
    if args.sample_seeds < 1:
        raise SystemExit(f"--sample-seeds must be at least 1, got {args.sample_seeds}")
    if (args.sample_seeds > 1 or args.no_exact) and not args.network:
        raise SystemExit("--sample-seeds and --no-exact go with --network")
    if args.seeds is not None and not all(0 <= v < SAMPLE_SEED_STRIDE for v in args.seeds):
        raise SystemExit(f"--seeds must be in [0, {SAMPLE_SEED_STRIDE}), got {args.seeds}")
    if args.real_digits and (args.network or args.few_step or args.from_log):
        raise SystemExit("--real-digits runs its own plan; drop --network / --few-step / --from-log")
    if args.digits < 0:
        raise SystemExit(f"--digits must be >= 0, got {args.digits}")
    return args


RUN_LINE = re.compile(r"^seed (\d+) (.+?)\s+steps\s+(\d+) calls\s+([\d.]+) SW1 ([\d.]+) TV ([\d.]+)")


def parse_log(path: Path) -> Dict[str, Dict[int, list]]:
    """{label: {steps: [(SW1, TV, calls) per problem seed, in seed order]}} of one log."""
    return parse_logs([path])[0]


SEEDS_IN_HEADER = re.compile(r"seeds \[([\d, ]+)\]")


def parse_logs(paths: Sequence[Path]) -> Tuple[Dict[str, Dict[int, list]], List[float]]:
    """Several logs as one: (raw, per-seed floors). Runs are keyed by (label, steps, problem seed):
    a run that two logs both hold (e.g. the exact denoiser's seeds 1-3 in two --network logs) counts
    once, and every label's per-seed values are ordered by seed, so runs pair by position only when
    both sides hold the same seeds (``paired_difference`` refuses different counts). The floors
    are taken per seed from each log's 'per seed' floor line and its header's seed list."""
    runs: Dict[str, Dict[int, Dict[int, tuple]]] = {}
    floors: Dict[int, float] = {}
    for path in paths:
        text = path.read_text()
        for line in text.splitlines():
            m = RUN_LINE.match(line)
            if m:
                seed, label, steps, calls, sw, tv = m.groups()
                runs.setdefault(label.strip(), {}).setdefault(int(steps), {}).setdefault(
                    int(seed), (float(sw), float(tv), float(calls)))
        header = SEEDS_IN_HEADER.search(text)
        per_seed = log_floors(path)
        if per_seed:  # the header's seed list, else the seeds of the log's own run lines
            seeds = ([int(v) for v in header.group(1).split(",")] if header else
                     sorted({int(m.group(1)) for m in map(RUN_LINE.match, text.splitlines()) if m}))
            if len(seeds) == len(per_seed):
                for seed, value in zip(seeds, per_seed):
                    floors.setdefault(seed, value)
    raw = {label: {steps: [by_seed[k] for k in sorted(by_seed)] for steps, by_seed in by_steps.items()}
           for label, by_steps in runs.items()}
    return raw, [floors[k] for k in sorted(floors)]


def logged_run_seeds(paths: Sequence[Path]) -> List[int]:
    """The run seeds of the logs' run lines, ascending (the order of parse_logs' per-label lists)."""
    return sorted({int(m.group(1)) for path in paths for m in map(RUN_LINE.match, path.read_text().splitlines())
                   if m})


FLOOR_PER_SEED = re.compile(r"^exact vs exact floor SW1 .*\(per seed ([\d., ]+)\)")


def log_floors(path: Path) -> List[float]:
    """The per-seed floors of a --network log (its 'exact vs exact floor SW1 ... (per seed a, b, c)'
    line), or [] when it has none."""
    for line in path.read_text().splitlines():
        m = FLOOR_PER_SEED.match(line)
        if m:
            return [float(v) for v in m.group(1).split(",")]
    return []


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
        floor = 0.0
        for path in args.from_log:
            floor_line = [ln for ln in path.read_text().splitlines() if ln.startswith("exact vs exact floor SW1")]
            floor = float(floor_line[0].split()[5]) if floor_line else floor
        raw, floors = parse_logs(args.from_log)
        results = summarize(raw)
        dens = list(dict.fromkeys(grid_of(label)[0] for label in results))
        run_seeds = logged_run_seeds(args.from_log)
        replicated = any(s >= SAMPLE_SEED_STRIDE for s in run_seeds)  # --sample-seeds
        if "exact" in dens or replicated:  # a --network log (with --no-exact, a replicated one)
            nets = [d for d in dens if d != "exact"]
            budgets = tuple(args.budgets or NETWORK_BUDGETS)
            print(network_report(raw, floors or [floor], (["exact"] if "exact" in dens else []) + nets, budgets))
            if replicated:
                print("\n" + seed_noise_report(raw, run_seeds, nets, budgets))
        elif any(grid_of(label)[0] for label in results):
            print(few_step_report(raw, floor, tuple(args.budgets or FEW_BUDGETS)))
        else:
            print(format_table(results, tuple(args.budgets or BUDGETS)))
        if args.plot is not None:
            print(plot(results, floor, args.plot) or f"plot written to {args.plot}")
        return results
    emit = ReportLog(args.log)
    if args.real_digits:
        return real_digits(args, emit)

    h, lanpaint, base = comfy_setup(args.no_lanpaint)
    import comfy.sample

    seeds = sorted(args.seeds or ([1] if args.quick else [1, 2, 3]))
    n = args.samples
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    # denoisers: (label prefix, callable or None = the problem's exact one)
    denoisers = [("", None)]
    if args.network:
        from bench import learned
        prior_name = learned.NETWORKS[args.network[0]][0]
        fixed_prior = learned.make_prior(prior_name)
        denoisers = ([] if args.no_exact else [("exact", None)]) + [(name, learned.load(name))
                                                                    for name in args.network]
    if args.few_step:
        grids = [(key, shift, sched) for key, shift, sched, _ in FEW_STEP_GRIDS]
        plan = few_step_methods(lanpaint is not None)
        grid_text = "; ".join(f"'{key}': shift {shift:g}, scheduler '{sched}' ({fam})"
                              for key, shift, sched, fam in FEW_STEP_GRIDS)
    elif args.network:
        grids = [("", args.shift, args.scheduler)]
        plan = network_methods(lanpaint is not None)
        if args.quick:
            plan = [(label, kind, opts, tuple(s for s in steps if s <= 20)) for label, kind, opts, steps in plan]
        grid_text = f"scheduler '{args.scheduler}' (shift {args.shift:g})"
    else:
        grids = [("", args.shift, args.scheduler)]
        plan = methods(lanpaint is not None, args.quick, args.full, args.etas)
        grid_text = f"scheduler '{args.scheduler}' (shift {args.shift:g})"
    if args.only:
        plan = [m for m in plan if any(o in m[0] for o in args.only)]
    if args.steps:
        plan = [(label, kind, opts, tuple(args.steps)) for label, kind, opts, _ in plan]
    emit(f"# bench.peers: {comfy_version_text(h)}; LanPaint: {lanpaint or 'not run'}")
    if args.network:
        prior_text = (f"GaussianMixture.random(64, 25, seed={learned.MIXTURE_SEED})" if prior_name == "mixture25"
                      else f"bench.learned.make_prior({prior_name!r}) ({fixed_prior.n_components} components)")
        emit(f"# denoisers: {'' if args.no_exact else 'exact (Float32Mixture) and '}{', '.join(args.network)} "
             f"(bench.learned, served through the ModelPatcher's model_function_wrapper); every problem seed on "
             f"the networks' prior {prior_text}")
        if args.sample_seeds > 1:
            emit(f"# sampling seeds: problem seed p runs with seeds p + {SAMPLE_SEED_STRIDE} r, r < "
                 f"{args.sample_seeds} (a run line's seed; its problem is seed % {SAMPLE_SEED_STRIDE})")
    emit(f"# prior: {'d = 64' if args.network else '25-component mixture, d = 64'} (latent {LATENT}), "
         f"position (1, 1) regenerated "
          f"(16 coordinates); obs_std 0.01; N = {n} per run (one batch); seeds {seeds}; {grid_text}; "
          f"cfg 1; SW1 with 256 projections\n")
    models = {}
    for key, shift, _ in grids:
        (models[key],) = h.call_node("ModelSamplingSD3", model=base, shift=shift)
    keep = keep_vector()
    mask = (1.0 - keep).reshape(1, *LATENT)[:, :1].float()  # noise_mask [1, 1, 2, 2], 1 = regenerate

    def full_label(key, label):
        return f"{key} | {label}" if key else label

    keys = [(key, den) for key, *_ in grids for den, _ in denoisers]
    raw: Dict[str, Dict[int, list]] = {full_label(key or den, label): {} for key, den in keys for label, *_ in plan}
    floors = []
    t_start = time.perf_counter()
    # sampling seed outer, problem seed inner: the run lines come in ascending seed order
    run_seeds = [p + SAMPLE_SEED_STRIDE * r for r in range(args.sample_seeds) for p in seeds]
    problems = {}  # problem seed -> (problem, exact reference samples), built on its first run
    for seed in run_seeds:
        problem_seed = seed % SAMPLE_SEED_STRIDE
        if problem_seed not in problems:
            if args.network:
                problem = FixedPriorProblem(fixed_prior, problem_seed, keep, obs_std=0.01)
            else:
                problem = InpaintingProblem(seed, dim=64, components=25, obs_std=0.01, keep=keep)
            ref, ref2 = problem.exact(n, 0), problem.exact(n, 1)
            floors.append(problem.score(ref2, ref)[0])
            problems[problem_seed] = problem, ref
        problem, ref = problems[problem_seed]
        for (key, shift, sched), (den, denoise) in ((g, d) for g in grids for d in denoisers):
            em = ExactModel(models[key], problem.prior, denoise=denoise)
            y = problem.y.float().reshape(1, *LATENT).expand(n, *LATENT).contiguous()
            latent = em.to_latent(y)
            noise = comfy.sample.prepare_noise(latent, seed)
            for label, kind, opts, steps_list in plan:
                for steps in steps_list:
                    em.rows = 0
                    t0 = time.perf_counter()
                    out = run_entry(h, em, kind, opts, latent, mask, noise, seed, steps, sched)
                    x = em.from_latent(out.float()).reshape(n, -1)
                    calls = em.rows / n
                    sw, tv = problem.score(x, ref)
                    name = full_label(key or den, label)
                    raw[name].setdefault(steps, []).append((sw, tv, calls))
                    emit(f"seed {seed} {name:22s} steps {steps:4d} calls {calls:6.1f} SW1 {sw:.4f} "
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
    if args.few_step:
        emit(few_step_report(raw, floor, tuple(args.budgets or FEW_BUDGETS)))
    elif args.network:
        budgets = tuple(args.budgets or NETWORK_BUDGETS)
        emit(network_report(raw, floors, [den for den, _ in denoisers], budgets))
        if args.sample_seeds > 1:
            emit("\n" + seed_noise_report(raw, run_seeds, [den for den, _ in denoisers if den != "exact"], budgets))
    else:
        emit(format_table(results, tuple(args.budgets or BUDGETS)))
    emit(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    if args.plot is not None:
        emit(plot(results, floor, args.plot) or f"plot written to {args.plot}")
    return results


REAL_LATENT = (16, 8, 8)  # the digit in channel 0
REAL_LABELS = ("ding1/ddpm", "ding1/square", "ding/ddpm", "ding/square", "ding1/ddpm K=4",
               "comfy euler", "comfy euler_ancestral", "comfy dpmpp_2m")
LANPAINT_STEPS = (2, 4, 8, 12)  # 7 / 18 / 38 / 56 calls on the mixture latent; counted here too
DEFAULT_KEY = "LanPaint default"  # the budget key of LanPaint at its own 30 steps


class FirstChannel:
    """``(x [N, 16, 8, 8], sigma) -> x0``: the 64-pixel network on channel 0, 0 on the other
    channels (the exact denoiser of a prior concentrated at 0)."""

    def __init__(self, net):
        self.net = net

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        out = torch.zeros_like(x)
        out[:, :1] = self.net(x[:, :1], sigma)
        return out


def real_digits_methods(lanpaint: bool) -> List[tuple]:
    """(label, kind, options, [(steps, budget key)]): the --network plan's entries of REAL_LABELS
    (each step count the one of the budget 8 / 20 / 40 / 60 at the same position), LanPaint at its
    defaults at LANPAINT_STEPS and at its own 30 steps."""
    plan = []
    for label, kind, opts, steps in network_methods(lanpaint=False):
        if label in REAL_LABELS:
            plan.append((label, kind, opts, list(zip(steps, NETWORK_BUDGETS))))
    if lanpaint:
        plan.append(("LanPaint", "lanpaint", {}, list(zip(LANPAINT_STEPS, NETWORK_BUDGETS))
                     + [(LANPAINT_DEFAULT_STEPS, DEFAULT_KEY)]))
    return plan


def real_digits(args, emit) -> Dict[str, dict]:
    """Run the plan on every mask kind and seed; emit one line per run and the tables; returns
    ``{network: bench_real-style result}`` (scores keyed (mask, label, budget key))."""
    from bench.learned import WEIGHTS, load, metadata
    from bench.learned import real
    from bench.learned.quick import markdown

    h, lanpaint, base = comfy_setup(args.no_lanpaint, "ding_peers_real_")
    import comfy.sample

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    seeds = args.seeds or ([1] if args.quick else [1, 2, 3])
    budgets = tuple(b for b in NETWORK_BUDGETS if not args.quick or b <= 20)
    plan = [(label, kind, opts, [(s, b) for s, b in steps if b in budgets or (b == DEFAULT_KEY and not args.quick)])
            for label, kind, opts, steps in real_digits_methods(lanpaint is not None)]
    if args.only:
        plan = [m for m in plan if any(o in m[0] for o in args.only)]
    clf = real.load_classifier()
    ts = real.test_set(clf, args.digits)
    refs, fills = real.references(clf, ts)
    n = ts.x_test.shape[0]
    (model,) = h.call_node("ModelSamplingSD3", model=base, shift=args.shift)
    em = ExactModel(model, None, denoise=FirstChannel(load(real.REAL_NETWORK)))
    y = torch.zeros(n, *REAL_LATENT)
    y[:, 0] = ts.x_test.reshape(n, *REAL_LATENT[1:])
    latent = em.to_latent(y)
    mnet, mclf = metadata(real.REAL_NETWORK), metadata(real.CLASSIFIER)
    emit(f"# bench.peers --real-digits: {comfy_version_text(h)}; LanPaint: {lanpaint or 'not run'}; "
         f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    emit(f"# {real.REAL_NETWORK} (bench.learned, {mnet['params']} params, weights {WEIGHTS.name}/) served through the "
         f"ModelPatcher's model_function_wrapper; latent {REAL_LATENT} in model space, the digit in channel 0 (one cell "
         f"per pixel, [-1, 1]), 0 in the others; "
         f"classifier {real.CLASSIFIER} (test accuracy {mclf['test_accuracy']:.4f})")
    emit(f"# {n} test digits (one batch), ComfyUI seeds {seeds}; scheduler '{args.scheduler}' (shift {args.shift:g}); "
         f"cfg 1; DInG obs_std 0.01\n")
    scores: Dict[tuple, list] = {}
    t_start = time.perf_counter()
    for mname, keep in real.MASKS.items():
        mask = (1.0 - keep).reshape(1, 1, *REAL_LATENT[1:]).float()  # noise_mask [1, 1, 8, 8], 1 = regenerate
        for seed in seeds:
            noise = comfy.sample.prepare_noise(latent, seed)
            for label, kind, opts, steps_list in plan:
                for steps, key in steps_list:
                    em.rows, em.last = 0, None
                    t0 = time.perf_counter()
                    out = run_entry(h, em, kind, opts, latent, mask, noise, seed, steps, args.scheduler)
                    x = em.from_latent(out.float())[:, 0].reshape(n, -1)
                    if em.last.shape[0] % n:
                        raise RuntimeError(f"{label}: the last model call had {em.last.shape[0]} rows, not a "
                                           f"multiple of {n}")
                    kept_src = em.last[:, 0].float().reshape(-1, x.shape[1])
                    r = real.score(clf, ts, x, kept_src, keep, em.rows / n)
                    scores.setdefault((mname, label, key), []).append(r)
                    emit(f"seed {seed} {mname:18s} | {label:22s} steps {steps:4d} calls {r[4]:6.1f} agree "
                         f"{100 * r[0]:5.1f} FD {r[1]:7.2f} kept {r[2]:.3f}/{r[3]:.2f} ({time.perf_counter() - t0:.1f} s)")
    result = {real.REAL_NETWORK: {"scores": scores, "refs": refs, "fills": fills, "n_test": n}}
    keys = budgets + ((DEFAULT_KEY,) if any(k[2] == DEFAULT_KEY for k in scores) else ())
    heads = [f"≤ {b} calls" if b != DEFAULT_KEY else "LanPaint at its default 30 steps" for b in keys]
    emit(f"\nReferences: classifier accuracy on the clean test digits (ceiling) {100 * refs['clean_acc']:.1f} %; "
         f"FD floor (real half A vs real half B, penultimate features) {refs['fd_floor']:.2f}")
    emit(f"Cells: classifier agreement % ±sd · FD ±sd (sd over the {len(seeds)} seeds) · kept-region |x - y| "
         "mean/max of the last model call's clean estimate before the paste (model calls per image)")
    for m in real.MASKS:
        (a0, f0), (a1, f1) = fills[(m, 0.0)], fills[(m, -1.0)]
        emit(f"\n## {m}: {real.MASK_DESCRIPTIONS[m]}\n")
        emit(f"floors: masked input filled with 0 (grey): agreement {100 * a0:.1f} %, FD {f0:.2f}; filled with -1 "
             f"(background): {100 * a1:.1f} %, FD {f1:.2f}\n")
        emit(markdown(["sampler", "network"] + heads, real.mask_table(result, m, keys)))
    emit(f"\n## mean over the four masks: agreement % ±sd · FD ±sd (sd over seeds of the per-seed mask means)\n")
    emit(markdown(["sampler"] + heads, mean_over_masks(scores, [m[0] for m in plan], keys)))
    b = max(budgets)
    emit(f"\n## memorisation check (≤ {b} calls): median distance (L2, 64 px in [-1, 1]) from an inpainting to its "
         f"nearest TRAIN digit; real test digits: {refs['nn_test']:.2f}\n")
    emit(markdown(["sampler", "network"] + list(real.MASKS), real.memo_table(result, b)))
    emit(f"\ntotal {time.perf_counter() - t_start:.0f} s")
    return result


def mean_over_masks(scores: Dict[tuple, list], labels, keys) -> List[List[str]]:
    """Rows [label, 'agree ±sd · FD ±sd (calls)' per key]: per seed the mean over the masks present,
    then mean and sd over seeds ('-' where a mask lacks the run)."""
    masks = list(dict.fromkeys(k[0] for k in scores))
    rows = []
    for label in labels:
        cells = []
        for key in keys:
            runs = [scores.get((m, label, key)) for m in masks]
            if not runs or any(not r for r in runs):
                cells.append("-")
                continue
            per_seed = torch.tensor([[r[s][:2] for r in runs] for s in range(len(runs[0]))],
                                    dtype=torch.float64).mean(1)  # [seeds, 2]
            sd = per_seed.std(0) if per_seed.shape[0] > 1 else torch.zeros(2, dtype=torch.float64)
            m = per_seed.mean(0)
            calls = sum(r[0][4] for r in runs) / len(runs)
            cells.append(f"{100 * m[0]:.1f} ±{100 * sd[0]:.1f} · {m[1]:.1f} ±{sd[1]:.1f} ({calls:g})")
        rows.append([label] + cells)
    return rows


if __name__ == "__main__":
    main()
