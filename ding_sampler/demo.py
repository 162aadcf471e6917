"""Inpainting demo on 8x8 digits with an exactly solvable prior (no download).

Run it from any directory, with the repository on ``PYTHONPATH`` (or from the
repository root)::

    python -m ding_sampler.demo [--out ding_demo.png] [--steps 20] [--seed 0]

A full-covariance Gaussian mixture is fitted (scikit-learn) to scikit-learn's
bundled 8x8 digits, scaled to [-1, 1]. For that prior both the denoiser and
the inpainting posterior p(x0 | y) are exact (``ding_sampler.analytic``), so
samplers are scored against exact posterior samples. For a few held-out
digits with a masked region, the demo samples with DInG (2 calls per step),
DInG-1 (1 call per step) and ComfyUI-style latent replacement
(``ding_sampler.baselines``), prints the sliced-Wasserstein (SW) distance to
exact posterior samples and the RMSE to the observation on the kept pixels,
and writes a PNG with a title, one labelled column per panel, the SW
distances under the column labels and a legend:

    original | masked input | exact posterior x2 | DInG | DInG-1 | replacement

Everything is seeded by ``--seed`` (split, fit, choice of digits, sampling).
Needs scikit-learn and Pillow, imported only when the demo runs; the shipped
package itself needs only torch.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch

from .analytic import GaussianMixture, sliced_wasserstein
from .baselines import CountingDenoiser, replacement_sample
from .sampler import ding_sample
from .schedule import flow_sigmas

SIDE = 8  # digits are 8x8
SCALE = 8  # each digit pixel is drawn as SCALE x SCALE screen pixels
CELL = SIDE * SCALE
GAP = 6
LINE = 14  # height of one line of text
TITLE_LINES = 2
HEADER = TITLE_LINES * LINE + 2 * LINE + GAP  # title, then column label and SW per column
LEGEND = (
    "regenerated region (shown in the masked input)",
    "SW: sliced-Wasserstein distance to exact posterior samples,",
    "mean over the digits shown; lower is better. 'floor': two",
    "independent exact draws, the best any sampler can score.",
)
FOOTER = GAP + len(LEGEND) * LINE + GAP
COLUMNS = ("original", "masked input", "exact #1", "exact #2", "DInG", "DInG-1", "replacement")
COLUMN_KEYS = (None, None, "exact", None, "ding", "ding1", "replacement")  # whose SW to show
METHODS = ("ding", "ding1", "replacement")
MASKS = ("bottom", "center", "right")
MASK_COLOUR = (110, 170, 230)  # regenerated region in the "masked input" column
BACKGROUND = (255, 255, 255)
SW_PROJECTIONS = 256


def grid_size(n_rows: int) -> tuple:
    """(width, height) of the PNG grid for ``n_rows`` digits."""
    n_cols = len(COLUMNS)
    return (n_cols * CELL + (n_cols + 1) * GAP, HEADER + n_rows * CELL + (n_rows + 1) * GAP + FOOTER)


def keep_mask(kind: str) -> torch.Tensor:
    """[64] float mask, 1 = observed pixel, 0 = regenerated."""
    m = torch.ones(SIDE, SIDE, dtype=torch.float64)
    if kind == "bottom":
        m[SIDE // 2:, :] = 0.0
    elif kind == "center":
        m[2:6, 2:6] = 0.0
    elif kind == "right":
        m[:, SIDE // 2:] = 0.0
    else:
        raise ValueError(f"mask must be one of {MASKS}, got {kind!r}")
    return m.reshape(-1)


def fit_prior(train, n_components: int, reg_covar: float, seed: int):
    """Fit a full-covariance mixture with scikit-learn and convert it.

    Returns (prior, info) with the covariance eigenvalue range. ``reg_covar``
    bounds every eigenvalue from below (three border pixels of the digits are
    constant, so without it those covariances would be singular); the
    conversion re-symmetrises and re-checks that bound.
    """
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    sk = SkGaussianMixture(n_components=n_components, covariance_type="full",
                           reg_covar=reg_covar, max_iter=200, random_state=seed)
    sk.fit(train)
    covs = torch.as_tensor(sk.covariances_, dtype=torch.float64)
    covs = 0.5 * (covs + covs.transpose(1, 2))
    evals = torch.linalg.eigvalsh(covs)
    shortfall = float((0.5 * reg_covar - evals.min()).clamp(min=0.0))
    if shortfall > 0:  # numerical loss of the regulariser: put it back
        covs = covs + shortfall * torch.eye(covs.shape[-1], dtype=torch.float64)
        evals = evals + shortfall
    weights = torch.as_tensor(sk.weights_, dtype=torch.float64)
    prior = GaussianMixture(weights / weights.sum(), torch.as_tensor(sk.means_), covs)
    info = {
        "converged": bool(sk.converged_),
        "eig_min": float(evals.min()),
        "eig_max": float(evals.max()),
        "cond_max": float((evals[:, -1] / evals[:, 0]).max()),
    }
    return prior, info


def pick_digits(labels, candidates: Sequence[int], count: int, gen: torch.Generator) -> List[int]:
    """``count`` indices from ``candidates`` in random order, distinct labels first."""
    order = [candidates[i] for i in torch.randperm(len(candidates), generator=gen).tolist()]
    chosen, seen = [], set()
    for idx in order:
        if int(labels[idx]) not in seen:
            chosen.append(idx)
            seen.add(int(labels[idx]))
        if len(chosen) == count:
            return chosen
    rest = [i for i in order if i not in chosen]
    return chosen + rest[: count - len(chosen)]


def _to_rgb(values: torch.Tensor):
    """[64] pixels in [-1, 1] (ink = +1) -> list of 8x8 RGB rows, dark ink on white."""
    grey = ((1.0 - values.clamp(-1.0, 1.0)) * 127.5).round().to(torch.uint8).reshape(SIDE, SIDE)
    return [[(int(v),) * 3 for v in row] for row in grey.tolist()]


def _tile(pixels, regenerated: Optional[torch.Tensor] = None):
    """An upscaled PIL tile; pixels with ``regenerated`` == 1 get MASK_COLOUR."""
    from PIL import Image

    img = Image.new("RGB", (SIDE, SIDE))
    rgb = _to_rgb(pixels)
    if regenerated is not None:
        flags = regenerated.reshape(SIDE, SIDE).tolist()
        rgb = [[MASK_COLOUR if f else c for c, f in zip(r, fr)] for r, fr in zip(rgb, flags)]
    img.putdata([c for row in rgb for c in row])
    return img.resize((CELL, CELL), Image.NEAREST)


def draw_grid(rows: List[List[torch.Tensor]], keep: torch.Tensor, path: Path,
              title: Sequence[str] = (), sw: Optional[Dict[str, float]] = None) -> tuple:
    """Write the PNG and return its size.

    One row per digit, columns as ``COLUMNS``; above them ``title`` (up to
    ``TITLE_LINES`` lines), each column's label and, where ``sw`` has it, its
    SW distance (``COLUMN_KEYS``); below them the legend.
    """
    from PIL import Image, ImageDraw, ImageFont

    size = grid_size(len(rows))
    canvas = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    ink, grey = (0, 0, 0), (90, 90, 90)
    for i, line in enumerate(list(title)[:TITLE_LINES]):
        draw.text((GAP, 2 + i * LINE), line, fill=ink, font=font)
    top = TITLE_LINES * LINE + GAP
    sw = sw or {}
    for c, label in enumerate(COLUMNS):
        x = GAP + c * (CELL + GAP)
        key = COLUMN_KEYS[c]
        texts = [(label, ink)]
        if key in sw:
            texts.append((f"{'floor' if key == 'exact' else 'SW'} {sw[key]:.3f}", grey))
        for j, (text, colour) in enumerate(texts):
            width = draw.textlength(text, font=font)
            draw.text((x + (CELL - width) / 2, top + j * LINE), text, fill=colour, font=font)
    regenerated = keep <= 0
    for r, tiles in enumerate(rows):
        y = HEADER + GAP + r * (CELL + GAP)
        for c, pixels in enumerate(tiles):
            tile = _tile(pixels, regenerated if c == 1 else None)
            canvas.paste(tile, (GAP + c * (CELL + GAP), y))
    y = size[1] - FOOTER + GAP
    draw.rectangle((GAP, y + 2, GAP + LINE - 4, y + LINE - 2), fill=MASK_COLOUR)
    for i, line in enumerate(LEGEND):
        draw.text((GAP + (LINE if i == 0 else 0), y + i * LINE), line, fill=ink, font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return size


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="DInG inpainting demo on 8x8 digits (exact prior).")
    p.add_argument("--out", default="ding_demo.png", help="PNG grid to write (default ding_demo.png)")
    p.add_argument("--steps", type=int, default=20, help="flow_sigmas(steps) grid (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, fit, digits and sampling")
    p.add_argument("--digits", type=int, default=6, help="held-out digits to inpaint (default 6)")
    p.add_argument("--samples", type=int, default=300,
                   help="posterior samples per digit and method for the metrics (default 300)")
    p.add_argument("--mask", choices=MASKS, default="bottom",
                   help="region to regenerate (default: bottom half)")
    p.add_argument("--obs-std", type=float, default=0.01,
                   help="observation noise std in pixel units of [-1, 1] (default 0.01)")
    p.add_argument("--components", type=int, default=12, help="mixture components (default 12)")
    p.add_argument("--reg-covar", type=float, default=1e-2,
                   help="covariance floor of the fit (default 1e-2)")
    args = p.parse_args(argv)
    if args.steps < 2 or args.digits < 1 or args.samples < 2 or args.components < 1:
        p.error("need --steps >= 2, --digits >= 1, --samples >= 2, --components >= 1")
    return args


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, object]:
    """Run the demo; returns the printed metrics.

    Keys: ``sw`` and ``obs_rmse`` (method -> value, ``exact`` = noise floor),
    ``calls`` (method -> denoiser calls), ``seconds`` (stage -> wall seconds),
    ``png`` (path), ``grid_size`` ((width, height)), ``gmm`` (fit info).
    """
    args = parse_args(argv)
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("the demo needs scikit-learn (pip install scikit-learn): "
                         "it fits the prior to sklearn's bundled digits") from None

    t_start = time.perf_counter()
    seconds: Dict[str, float] = {}
    gen = torch.Generator().manual_seed(args.seed)

    # data: 8x8 digits, 0..16 -> [-1, 1], fixed train / held-out split
    images, labels = load_digits(return_X_y=True)
    data = torch.as_tensor(images, dtype=torch.float64) / 8.0 - 1.0
    perm = torch.randperm(len(data), generator=gen).tolist()
    n_train = int(0.8 * len(data))
    train, held_out = perm[:n_train], perm[n_train:]

    t0 = time.perf_counter()
    prior, gmm_info = fit_prior(data[train].numpy(), args.components, args.reg_covar, args.seed)
    seconds["fit"] = time.perf_counter() - t0
    print(f"prior: {args.components}-component full-covariance mixture on {len(train)} digits "
          f"(reg_covar {args.reg_covar:g}, converged {gmm_info['converged']}); covariance "
          f"eigenvalues {gmm_info['eig_min']:.3g}..{gmm_info['eig_max']:.3g}, "
          f"max condition number {gmm_info['cond_max']:.0f}; fit {seconds['fit']:.1f} s")

    chosen = pick_digits(labels, held_out, args.digits, gen)
    keep = keep_mask(args.mask)
    n, d = args.samples, SIDE * SIDE
    truths = data[chosen]  # [D, 64]
    y = truths + args.obs_std * torch.randn(truths.shape, generator=gen, dtype=torch.float64)

    # exact posterior: a reference set for the metrics and an independent one for the floor
    t0 = time.perf_counter()
    reference, floor = [], []
    for obs in y:
        posterior = prior.posterior_given_observation(obs, keep, args.obs_std)
        reference.append(posterior.sample(n, gen))
        floor.append(posterior.sample(n, gen))
    seconds["exact"] = time.perf_counter() - t0

    # all digits in one batch: rows [i*n:(i+1)*n] belong to digit i
    y_rows = y.repeat_interleave(n, dim=0).float()
    keep_f = keep.float()
    sigmas = flow_sigmas(args.steps)
    base_denoiser = prior.denoiser("flow")
    samples: Dict[str, torch.Tensor] = {}
    calls: Dict[str, int] = {}
    for method in METHODS:
        denoiser = CountingDenoiser(base_denoiser)
        noise = torch.randn(len(y_rows), d, generator=gen)
        t0 = time.perf_counter()
        if method == "replacement":
            out = replacement_sample(denoiser, noise, sigmas, y_rows, keep_f, parametrization="flow")
        else:
            out = ding_sample(denoiser, noise, sigmas, y_rows, keep_f, parametrization="flow",
                              variant=method, obs_std=args.obs_std, generator=gen)
        seconds[method] = time.perf_counter() - t0
        samples[method] = out.double().reshape(len(chosen), n, d)
        calls[method] = denoiser.calls

    # metrics, averaged over digits
    kept = keep > 0

    def metrics(sets) -> tuple:
        sw = sum(sliced_wasserstein(s, r, SW_PROJECTIONS, seed=0) for s, r in zip(sets, reference))
        err = torch.stack([(s[:, kept] - obs[kept]).pow(2).mean() for s, obs in zip(sets, y)])
        return sw / len(chosen), float(err.mean().sqrt())

    sw, rmse = {}, {}
    sw["exact"], rmse["exact"] = metrics(floor)
    for method in METHODS:
        sw[method], rmse[method] = metrics(samples[method])

    rows = [
        [truths[i], y[i], reference[i][0], reference[i][1],
         samples["ding"][i, 0], samples["ding1"][i, 0], samples["replacement"][i, 0]]
        for i in range(len(chosen))
    ]
    out_path = Path(args.out)
    title = (f"DInG inpainting of 8x8 digits, exact {args.components}-component mixture prior",
             f"mask '{args.mask}', flow_sigmas({args.steps}), obs_std {args.obs_std:g}, "
             f"{n} samples per digit, seed {args.seed}")
    size = draw_grid(rows, keep, out_path, title, sw)
    seconds["total"] = time.perf_counter() - t_start

    names = {"exact": "exact (noise floor)", "ding": "DInG", "ding1": "DInG-1",
             "replacement": "replacement"}
    print(f"{len(chosen)} held-out digits (labels {[int(labels[i]) for i in chosen]}), mask "
          f"'{args.mask}' ({int((~kept).sum())} of {d} pixels regenerated), obs_std "
          f"{args.obs_std:g}, flow_sigmas({args.steps}), {n} samples per digit")
    print(f"{'method':<20} {'SW to exact':>11} {'observed RMSE':>13} {'calls':>5} {'time (s)':>8}")
    for key in ("exact",) + METHODS:
        c = calls.get(key, 0)
        print(f"{names[key]:<20} {sw[key]:>11.4f} {rmse[key]:>13.4f} {c:>5} {seconds[key]:>8.2f}")
    print(f"wrote {out_path.resolve()} ({size[0]}x{size[1]}); total {seconds['total']:.1f} s")
    return {"sw": sw, "obs_rmse": rmse, "calls": calls, "seconds": seconds,
            "png": str(out_path), "grid_size": size, "gmm": gmm_info,
            "labels": [int(labels[i]) for i in chosen]}


if __name__ == "__main__":
    main()
