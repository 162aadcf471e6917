"""``python -m bench.learned --real``: learned networks on REAL 8x8 digits (issue 18, item 1b).

No closed-form prior here: the denoiser ``realdigits-mlp256`` (``bench.learned.NETWORKS``) is
trained on the train split of scikit-learn's 8x8 digits themselves (1437 images, the split and
[-1, 1] scaling of ``ding_sampler.demo``: seed-0 permutation, first 80 % train), and a small
classifier (``realdigits-classifier``, an MLP 64-128-64-10) on the same split. Every held-out
test digit (360) is inpainted under four mask kinds (``MASKS``) by every sampler of
``bench.learned.quick.SAMPLERS`` at 8, 20, 40 and 60 model calls per output, three sampling
seeds, and scored by

1. classifier agreement: the fraction of inpaintings (clamped to [-1, 1]) whose predicted class
   is the true digit's class; references: the classifier's accuracy on the clean test digits
   (ceiling) and on the masked input with the regenerated pixels filled by 0 (mid grey in
   [-1, 1]) and by -1 (background) (floors);
2. a Frechet distance on the classifier's penultimate features (64-d): the test set is split in
   two seeded halves A and B, FD = mean of FD(inpaintings of A, real B) and FD(inpaintings of B,
   real A), so the inpaintings never share their kept pixels with the real set they are compared
   to and the floor FD(real A, real B) has the same sample sizes (180 vs 180);
3. kept-region consistency: mean and max |output - y| over kept pixels. DInG's outputs are not
   pasted (``paste_observation`` is off, its default), so for DInG this is the output itself;
   latent replacement pastes y into every clean estimate, so its output error is 0 by
   construction and the value reported is that of its last model call's clean estimate before the
   paste (what the network made of the kept region).

A memorisation check follows: the median distance from an inpainting to its nearest TRAINING
digit, against the same for the real test digits.
"""
from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch
from torch import nn

from ding_sampler.baselines import replacement_sample
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import flow_sigmas

from . import WEIGHTS, line_printer, load
from .quick import SAMPLERS, SHIFT, markdown

REAL_NETWORK = "realdigits-mlp256"
CLASSIFIER = "realdigits-classifier"
BUDGETS = (8, 20, 40, 60)
SEEDS = (1, 2, 3)
OBS_STD = 0.01  # the samplers' likelihood std; y is the clean test digit itself
SAMPLER_SEED = 700
HALVES_SEED = 5


@lru_cache(maxsize=None)
def real_split():
    """(x_train [1437, 64], labels_train, x_test [360, 64], labels_test), pixels in [-1, 1]
    (/8 - 1), the split of ``ding_sampler.demo`` and ``bench.learned._digits``."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("the real digits need scikit-learn (pip install scikit-learn)") from None
    images, labels = load_digits(return_X_y=True)
    data = torch.as_tensor(images, dtype=torch.float32) / 8.0 - 1.0
    labels = torch.as_tensor(labels, dtype=torch.long)
    perm = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    n_train = int(0.8 * len(data))
    tr, te = perm[:n_train], perm[n_train:]
    return data[tr], labels[tr], data[te], labels[te]


def _mask(rows: Sequence[int] = (), cols: Sequence[int] = (), pixels=()) -> torch.Tensor:
    keep = torch.ones(8, 8)
    for r in rows:
        for c in cols:
            keep[r, c] = 0.0
    for r, c in pixels:
        keep[r, c] = 0.0
    return keep.reshape(-1)


def _ring() -> torch.Tensor:
    keep = torch.zeros(8, 8)
    keep[1:7, 1:7] = 1.0
    return keep.reshape(-1)


# kind -> keep mask [64] (1 = keep, 0 = regenerate), row-major 8x8
MASKS: Dict[str, torch.Tensor] = {
    "box 4x4": _mask(rows=range(2, 6), cols=range(2, 6)),  # the centre 4x4 block
    "half (bottom)": _mask(rows=range(4, 8), cols=range(8)),
    "stroke (diagonal)": _mask(pixels=[(i, i) for i in range(8)]),  # 1 px wide, top-left to bottom-right
    "outpaint (border)": _ring(),  # the outer ring (28 px) regenerated, the centre 6x6 kept
}
MASK_DESCRIPTIONS = {
    "box 4x4": "rows 2-5 x cols 2-5 regenerated (16 px)",
    "half (bottom)": "rows 4-7 regenerated (32 px)",
    "stroke (diagonal)": "the main diagonal (i, i) regenerated (8 px, 1 px wide)",
    "outpaint (border)": "the outer ring regenerated (28 px), centre 6x6 kept",
}


# ---------------------------------------------------------------------------------- classifier

@dataclass(frozen=True)
class ClassifierConfig:
    hidden: int = 128
    features: int = 64
    steps: int = 3000
    batch: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    seed: int = 0


class Classifier(nn.Module):
    """MLP 64 -> hidden -> features (penultimate, the FD's features) -> 10."""

    def __init__(self, hidden: int = 128, features: int = 64, dim: int = 64, classes: int = 10):
        super().__init__()
        self.hidden, self.n_features = hidden, features
        self.body = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, features), nn.SiLU())
        self.head = nn.Linear(features, classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x.to(torch.float32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


CLASSIFIER_CONFIG = ClassifierConfig()


def accuracy(model: Classifier, x: torch.Tensor, labels: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == labels).float().mean())


def train_classifier(config: ClassifierConfig, x: torch.Tensor, labels: torch.Tensor,
                     log: Callable[[str], None] = lambda _: None) -> tuple:
    """Seeded, one thread, deterministic algorithms (like ``net.train``); returns (model, info)."""
    threads, det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(config.seed)
        model = Classifier(config.hidden, config.features, x.shape[1])
        opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda k: 0.5 * (1.0 + math.cos(math.pi * k / max(1, config.steps))))
        g = torch.Generator().manual_seed(30_000 + config.seed)
        c0, t0 = time.process_time(), time.perf_counter()
        losses = []
        for step in range(config.steps):
            idx = torch.randint(0, x.shape[0], (config.batch,), generator=g)
            loss = nn.functional.cross_entropy(model(x[idx]), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(loss.item())
            if (step + 1) % max(1, config.steps // 5) == 0:
                log(f"  step {step + 1}/{config.steps} loss {sum(losses[-100:]) / len(losses[-100:]):.4f}")
        model.eval()
        for p in model.parameters():
            p.requires_grad_(False)
        tail = losses[-max(1, config.steps // 10):]
        info = {"config": asdict(config), "params": sum(p.numel() for p in model.parameters()),
                "wall_seconds": round(time.perf_counter() - t0, 1),
                "cpu_seconds": round(time.process_time() - c0, 1),
                "final_loss": sum(tail) / len(tail) if tail else float("nan"),
                "torch": torch.__version__, "train_rows": int(x.shape[0])}
        return model, info
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


def save_classifier(model: Classifier, info: dict, folder: Path = WEIGHTS, name: str = CLASSIFIER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / f"{name}.pt")
    meta = dict(info, name=name, data="realdigits", hidden=model.hidden, features=model.n_features)
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder / f"{name}.pt"


def load_classifier(folder: Path = WEIGHTS, name: str = CLASSIFIER) -> Classifier:
    pt = folder / f"{name}.pt"
    if not pt.is_file():
        raise FileNotFoundError(f"no weights for {name!r} at {pt}; run python -m bench.learned --train")
    meta = json.loads((folder / f"{name}.json").read_text())
    model = Classifier(meta["hidden"], meta["features"])
    model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


# ------------------------------------------------------------------------- Frechet distance

def _sqrtm_psd(m: torch.Tensor) -> torch.Tensor:
    evals, evecs = torch.linalg.eigh(0.5 * (m + m.T))
    return (evecs * evals.clamp(min=0.0).sqrt()) @ evecs.T


def frechet_from_stats(mu1, cov1, mu2, cov2) -> float:
    """|mu1 - mu2|^2 + tr(C1 + C2 - 2 (C1^1/2 C2 C1^1/2)^1/2), in float64 (symmetric form of the
    FID's trace term, so only symmetric PSD square roots are needed)."""
    mu1, mu2 = torch.as_tensor(mu1, dtype=torch.float64), torch.as_tensor(mu2, dtype=torch.float64)
    c1, c2 = torch.as_tensor(cov1, dtype=torch.float64), torch.as_tensor(cov2, dtype=torch.float64)
    r1 = _sqrtm_psd(c1)
    cross = torch.linalg.eigvalsh(0.5 * (r1 @ c2 @ r1 + (r1 @ c2 @ r1).T)).clamp(min=0.0).sqrt().sum()
    return float((mu1 - mu2).pow(2).sum() + torch.trace(c1) + torch.trace(c2) - 2.0 * cross)


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Frechet distance between the Gaussians fitted (mean, unbiased covariance) to rows a and b."""
    a, b = a.to(torch.float64), b.to(torch.float64)
    return frechet_from_stats(a.mean(0), torch.cov(a.T), b.mean(0), torch.cov(b.T))


def halves(n: int, seed: int = HALVES_SEED) -> tuple:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return perm[: n // 2], perm[n // 2: 2 * (n // 2)]


def split_fd(feat_gen: torch.Tensor, feat_real: torch.Tensor) -> float:
    """Mean of FD(gen[A], real[B]) and FD(gen[B], real[A]) (rows paired: gen[i] inpaints real[i])."""
    a, b = halves(feat_real.shape[0])
    return 0.5 * (frechet_distance(feat_gen[a], feat_real[b]) + frechet_distance(feat_gen[b], feat_real[a]))


# ---------------------------------------------------------------------------------- sampling

class LastCall:
    """Wraps a denoiser, counts rows and keeps the last call's output (replacement's pre-paste x0)."""

    def __init__(self, fn):
        self.fn, self.rows, self.last = fn, 0, None

    def __call__(self, x, sigma):
        out = self.fn(x, sigma)
        self.rows += x.shape[0]
        self.last = out
        return out


def inpaint(denoiser, label: str, y: torch.Tensor, keep: torch.Tensor, budget: int, seed: int) -> tuple:
    """(output [N, 64], kept-region values to score [N or K N, 64] with their y, calls per output)."""
    kind, opts, steps_of = SAMPLERS[label]
    n = y.shape[0]
    g = torch.Generator().manual_seed(SAMPLER_SEED + 1000 * seed + budget)
    noise = torch.randn(n, y.shape[1], generator=g)
    sigmas = flow_sigmas(steps_of(budget), SHIFT)
    rec = LastCall(denoiser)
    if kind == "replacement":
        x = replacement_sample(rec, noise, sigmas, y, keep[None], parametrization="flow")
        kept_src = rec.last  # the clean estimate before the paste (the output equals y there)
    else:
        x = ding_sample(rec, noise, sigmas, y, keep[None], parametrization="flow", generator=g,
                        **dict(dict(obs_std=OBS_STD), **opts))
        kept_src = x  # not pasted
    if not torch.isfinite(x).all():
        raise RuntimeError(f"{label} at {budget} calls produced non-finite samples")
    return x, kept_src, rec.rows / n


@torch.no_grad()
def denoising_mse(model, x0: torch.Tensor, seed: int, sigmas=(0.1, 0.4, 0.8)) -> Dict[str, float]:
    """sigma -> mean squared error per pixel of D(forward-noised x0) against x0 (fresh noise from
    ``seed``): on train rows against test rows it shows how much the network memorised."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in sigmas:
        x = (1.0 - s) * x0 + s * torch.randn(x0.shape, generator=g)
        out[f"{s:g}"] = float((model(x, torch.full((x0.shape[0],), s)) - x0).pow(2).mean())
    return out


def _nearest_train(x: torch.Tensor, train: torch.Tensor) -> torch.Tensor:
    return torch.cdist(x.to(torch.float64), train.to(torch.float64)).min(1).values


@dataclass
class TestSet:
    """The held-out digits a run inpaints and everything its scores compare against."""
    x_train: torch.Tensor
    x_test: torch.Tensor
    lab_test: torch.Tensor
    feat_real: torch.Tensor  # the classifier's features of x_test


@torch.no_grad()
def test_set(classifier: Classifier, n_test: int = 0) -> TestSet:
    """The 360 test digits (the first ``n_test`` when > 0) with their labels and features."""
    x_train, _, x_test, lab_test = real_split()
    if n_test:
        x_test, lab_test = x_test[:n_test], lab_test[:n_test]
    return TestSet(x_train, x_test, lab_test, classifier.features(x_test))


@torch.no_grad()
def references(classifier: Classifier, ts: TestSet, masks: Dict[str, torch.Tensor] = MASKS) -> tuple:
    """(refs, fills): the clean test digits' accuracy (ceiling), the FD floor (real half A vs real
    half B), the test digits' median distance to their nearest train digit; per (mask, fill value
    0 or -1) the (agreement, FD) of the masked input with the regenerated pixels filled (floors)."""
    a, b = halves(ts.x_test.shape[0])
    refs = {"clean_acc": accuracy(classifier, ts.x_test, ts.lab_test),
            "fd_floor": frechet_distance(ts.feat_real[a], ts.feat_real[b]),
            "nn_test": float(_nearest_train(ts.x_test, ts.x_train).median())}
    fills = {}
    for mname, keep in masks.items():
        for fill in (0.0, -1.0):
            xf = ts.x_test * keep + fill * (1.0 - keep)
            fills[(mname, fill)] = (accuracy(classifier, xf, ts.lab_test),
                                    split_fd(classifier.features(xf), ts.feat_real))
    return refs, fills


@torch.no_grad()
def score(classifier: Classifier, ts: TestSet, x: torch.Tensor, kept_src: torch.Tensor, keep: torch.Tensor,
          calls: float) -> tuple:
    """(agreement, FD, kept-region mean |x - y|, max, calls, median distance to the nearest train
    digit) of inpaintings ``x`` [N, 64] of ``ts.x_test``; ``kept_src`` [N or K N, 64] holds the
    values scored on the kept pixels (rows r and r + N both inpaint test digit r)."""
    xc = x.reshape(ts.x_test.shape).clamp(-1.0, 1.0)
    agree = float((classifier(xc).argmax(1) == ts.lab_test).float().mean())
    fd = split_fd(classifier.features(xc), ts.feat_real)
    kept = keep > 0
    kept_src = kept_src.reshape(-1, ts.x_test.shape[1])
    yk = ts.x_test.repeat(kept_src.shape[0] // ts.x_test.shape[0], 1)
    err = (kept_src[:, kept] - yk[:, kept]).abs()
    nn_med = float(_nearest_train(xc, ts.x_train).median())
    return agree, fd, float(err.mean()), float(err.max()), calls, nn_med


@torch.no_grad()
def bench_real(denoiser, classifier: Classifier, seeds: Sequence[int] = SEEDS,
               budgets: Sequence[int] = BUDGETS, samplers: Sequence[str] = tuple(SAMPLERS),
               masks: Dict[str, torch.Tensor] = MASKS, n_test: int = 0,
               log: Callable[[str], None] = print) -> dict:
    """Scores {(mask, sampler, budget): [(agree, fd, kept_mean, kept_max, calls, nn_median)] per seed}
    and the references. ``n_test`` > 0 uses only the first n_test test digits (the tests)."""
    ts = test_set(classifier, n_test)
    refs, fills = references(classifier, ts, masks)
    scores: Dict[tuple, list] = {}
    for mname, keep in masks.items():
        t0 = time.perf_counter()
        for label in samplers:
            for budget in budgets:
                for seed in seeds:
                    x, kept_src, calls = inpaint(denoiser, label, ts.x_test, keep, budget, seed)
                    scores.setdefault((mname, label, budget), []).append(
                        score(classifier, ts, x, kept_src, keep, calls))
        log(f"  {mname}: {time.perf_counter() - t0:.0f} s")
    return {"scores": scores, "refs": refs, "fills": fills, "n_test": int(ts.x_test.shape[0])}


def _ms(vals) -> tuple:
    t = torch.tensor(list(vals), dtype=torch.float64)
    return float(t.mean()), (float(t.std()) if len(vals) > 1 else 0.0)


def mask_table(results: Dict[str, dict], mask: str, budgets: Sequence[int] = BUDGETS) -> List[List[str]]:
    """Rows [sampler, denoiser, one 'agree % ±sd · FD ±sd · kept mean/max (calls)' cell per budget]
    (``results``: denoiser label -> ``bench_real`` result)."""
    rows = []
    labels = list(dict.fromkeys(k[1] for r in results.values() for k in r["scores"] if k[0] == mask))
    for label in labels:
        for den, result in results.items():
            cells = []
            for b in budgets:
                v = result["scores"].get((mask, label, b))
                if not v:
                    cells.append("-")
                    continue
                ag, fd = _ms([100 * r[0] for r in v]), _ms([r[1] for r in v])
                km, kx = _ms([r[2] for r in v])[0], max(r[3] for r in v)
                cells.append(f"{ag[0]:.1f} ±{ag[1]:.1f} · {fd[0]:.1f} ±{fd[1]:.1f} · {km:.3f}/{kx:.2f} ({v[0][4]:g})")
            rows.append([label, den] + cells)
    return rows


def memo_table(results: Dict[str, dict], budget: int) -> List[List[str]]:
    rows = []
    for den, result in results.items():
        masks = list(dict.fromkeys(k[0] for k in result["scores"]))
        labels = list(dict.fromkeys(k[1] for k in result["scores"]))
        for label in labels:
            cells = []
            for m in masks:
                v = result["scores"].get((m, label, budget))
                cells.append("-" if not v else f"{_ms([r[5] for r in v])[0]:.2f}")
            rows.append([label, den] + cells)
    return rows


# the networks --real drives: the one trained on the real train digits, and (when committed) the one
# trained on samples of the 12-component mixture fitted to the same train digits (bench.learned)
REAL_DENOISERS = (REAL_NETWORK, "digits-mlp256")


def real_report(folder: Path = WEIGHTS, out: Path = Path("bench/results/learned_digits.txt"),
                seeds: Sequence[int] = SEEDS, budgets: Sequence[int] = BUDGETS) -> dict:
    torch.set_num_threads(1)
    lines: List[str] = []
    emit = line_printer(lines)

    t0 = time.perf_counter()
    clf = load_classifier(folder)
    names = [n for n in REAL_DENOISERS if n == REAL_NETWORK or (folder / f"{n}.pt").is_file()]
    mnet = json.loads((folder / f"{REAL_NETWORK}.json").read_text())
    mclf = json.loads((folder / f"{CLASSIFIER}.json").read_text())
    emit(f"# python -m bench.learned {' '.join(sys.argv[1:])}: real 8x8 digits (scikit-learn, demo split: "
         f"1437 train / 360 test, [-1, 1]); samplers {list(SAMPLERS)}; flow_sigmas(steps, {SHIFT:g}), "
         f"obs_std {OBS_STD} (y = the clean test digit), sampling seeds {list(seeds)}; torch {torch.__version__}, "
         f"{torch.get_num_threads()} thread")
    emit(f"# {REAL_NETWORK}: {mnet['params']} params, {mnet['config']['steps']} steps x {mnet['config']['batch']} "
         f"rows on {mnet.get('train_rows')} train digits, {mnet['wall_seconds']} s wall, final loss "
         f"{mnet['final_loss']:.4f}; denoising MSE per pixel train / test: "
         + ", ".join(f"σ {s}: {mnet['mse_train'][s]:.4f} / {mnet['mse_test'][s]:.4f}" for s in mnet["mse_test"]))
    emit(f"# {CLASSIFIER}: {mclf['params']} params, {mclf['config']['steps']} steps, {mclf['wall_seconds']} s wall, "
         f"train accuracy {mclf['train_accuracy']:.4f}, test accuracy {mclf['test_accuracy']:.4f}")
    results = {}
    for name in names:
        if name != REAL_NETWORK:
            m = json.loads((folder / f"{name}.json").read_text())
            emit(f"# {name}: trained on {m['config']['train_samples']} samples of the 12-component mixture fitted to "
                 f"the same train digits (bench.learned 'digits'), {m['params']} params")
        emit(f"  {name}:")
        results[name] = bench_real(load(name, folder), clf, seeds, budgets, log=emit)
    r = results[REAL_NETWORK]
    refs = r["refs"]
    emit(f"\nReferences: classifier accuracy on the clean test digits (ceiling) {100 * refs['clean_acc']:.1f} %; "
         f"FD floor (real half A vs real half B, 180 vs 180, penultimate features) {refs['fd_floor']:.2f}")
    emit("Cells: classifier agreement % ±sd · FD ±sd (sd over the 3 sampling seeds) · kept-region |x - y| "
         "mean/max (DInG: the output, not pasted; replacement: its last call's clean estimate before the paste) "
         "(model calls per output)")
    for m in MASKS:
        (a0, f0), (a1, f1) = r["fills"][(m, 0.0)], r["fills"][(m, -1.0)]
        emit(f"\n## {m}: {MASK_DESCRIPTIONS[m]}\n")
        emit(f"floors: masked input filled with 0 (grey): agreement {100 * a0:.1f} %, FD {f0:.2f}; filled with -1 "
             f"(background): {100 * a1:.1f} %, FD {f1:.2f}\n")
        emit(markdown(["sampler", "denoiser"] + [f"≤ {b} calls" for b in budgets], mask_table(results, m, budgets)))
    b = max(budgets)
    emit(f"\n## memorisation check (≤ {b} calls): median distance (L2, 64 px in [-1, 1]) from an inpainting to its "
         f"nearest TRAIN digit; real test digits: {refs['nn_test']:.2f}\n")
    emit(markdown(["sampler", "denoiser"] + list(MASKS), memo_table(results, b)))
    emit(f"\ntotal {time.perf_counter() - t0:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return r
