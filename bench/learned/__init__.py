"""Learned denoisers on priors whose inpainting posterior is known exactly (issue 18, part 1a).

Small EDM-preconditioned MLPs (``bench.learned.net``) are trained by this package on two
closed-form priors, so a sampler driven by a *learned* network can still be scored against
exact posterior samples, and the network's error against the exact denoiser measured on the
states a sampler's chain visits:

* ``mixture25``: the 25-component Gaussian mixture in d = 64 of bench.peers and
  bench.fidelity's particle tables, ``GaussianMixture.random(64, 25, seed=1)`` (the prior of
  their problem seed 1; here every problem seed uses this one prior, only the truth and the
  observation noise change);
* ``digits``: the 12-component full-covariance mixture that ``ding_sampler.demo`` fits to
  scikit-learn's 8x8 digits (same split, seed 0, reg_covar 1e-2; needs scikit-learn).

Commands (repository root)::

    python -m bench.learned --train     # train every network of NETWORKS, write weights/
    python -m bench.learned --quick     # the bench from the committed weights
    python -m bench.learned --probe     # DInG settings against the off-manifold error (20, 60 calls)
    python -m bench.learned --train --quick   # the whole run, training included
    python -m bench.learned --real      # real 8x8 digits: classifier agreement, FD, kept error
                                        # (bench.learned.real; item 1b)
    python -m bench.learned --manifold  # DInG-1 kept-noise corrections vs the off-manifold error
                                        # (bench.learned.manifold; item 3)

Measured on the shared 2-core machine (torch 2.13.0+cpu, one torch thread, other jobs running):
``--train`` 623 s wall (244 s CPU: 94 + 223 + 242 s wall for the three networks, each 8000 Adam
steps of 512 rows drawn from 200k prior samples); ``--quick`` (N = 1000, seeds 1-3, both priors)
257-413 s wall (``--probe`` 206-236 s); the committed tables are bench/results/learned_quick.txt
and bench/results/learned_probe.txt. ``realdigits-mlp256`` (4000 steps on the 1437 real train digits)
trained in 73 s wall and the classifier ``realdigits-classifier`` in 3.5 s (``--train --only
realdigits-mlp256 realdigits-classifier``); ``--real`` (360 test digits x 4 masks x 6 samplers x
4 budgets x 3 seeds, two networks) takes 73 s wall and writes bench/results/learned_digits.txt;
``--quick`` runs it too (``--priors mixture25 digits`` leaves it out): 307 s wall in all (238 s
closed-form priors + 66 s real digits), same tables as the committed ones. Retraining
(``--weights /tmp/w``) reproduced both real-digits weight files bit for bit. Retraining gives bit-identical weights on the same torch build and CPU kind (one thread, deterministic
algorithms, seeded generators); other builds may round differently.

``load(name)`` returns a network as a denoiser callable in ding_sampler's convention,
``(x [N, d], sigma [N]) -> x0 estimate`` for the flow parametrization.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Callable, Dict, List

import torch

from ding_sampler.analytic import GaussianMixture

from .net import MLPDenoiser, TrainConfig

WEIGHTS = Path(__file__).resolve().parent / "weights"
MIXTURE_SEED = 1

# name -> (prior, training config)
NETWORKS: Dict[str, tuple] = {
    "mixture25-mlp128": ("mixture25", TrainConfig(hidden=128, blocks=2, steps=8000, seed=0)),
    "mixture25-mlp256": ("mixture25", TrainConfig(hidden=256, blocks=2, steps=8000, seed=0)),
    "digits-mlp256": ("digits", TrainConfig(hidden=256, blocks=2, steps=8000, seed=0)),
    # trained on the real train digits themselves (no closed-form prior; bench.learned.real)
    "realdigits-mlp256": ("realdigits", TrainConfig(hidden=256, blocks=2, steps=4000, seed=0)),
}
PRIORS = ("mixture25", "digits")
REAL = "realdigits"  # the "prior" name of networks trained on data, not on a closed-form prior


@lru_cache(maxsize=None)
def _digits():
    """(prior, held-out digits [M, 64] in [-1, 1]) exactly as ``ding_sampler.demo`` makes them."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise SystemExit("the digits prior needs scikit-learn (pip install scikit-learn)") from None
    from ding_sampler.demo import fit_prior
    gen = torch.Generator().manual_seed(0)
    images, _ = load_digits(return_X_y=True)
    data = torch.as_tensor(images, dtype=torch.float64) / 8.0 - 1.0
    perm = torch.randperm(len(data), generator=gen).tolist()
    n_train = int(0.8 * len(data))
    prior, _ = fit_prior(data[perm[:n_train]].numpy(), 12, 1e-2, 0)
    return prior, data[perm[n_train:]]


@lru_cache(maxsize=None)
def make_prior(name: str) -> GaussianMixture:
    """The fixed prior ``mixture25`` or ``digits``."""
    if name == "mixture25":
        return GaussianMixture.random(64, 25, seed=MIXTURE_SEED)
    if name == "digits":
        return _digits()[0]
    raise ValueError(f"prior must be one of {PRIORS}, got {name!r}")


def held_out_digits() -> torch.Tensor:
    return _digits()[1]


def exact_denoiser(prior_name: str):
    """The prior's exact flow denoiser in float32 (bench.peers' batched formula)."""
    from bench.mixture_denoiser import Float32Mixture
    return Float32Mixture(make_prior(prior_name))


def save(name: str, model: MLPDenoiser, info: dict, folder: Path = WEIGHTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), folder / f"{name}.pt")
    meta = dict(info, name=name, prior=NETWORKS[name][0] if name in NETWORKS else info.get("prior"),
                dim=model.dim, hidden=model.hidden, blocks=model.n_blocks)
    (folder / f"{name}.json").write_text(json.dumps(meta, indent=2) + "\n")
    return folder / f"{name}.pt"


def load(name: str, folder: Path = WEIGHTS) -> MLPDenoiser:
    """The trained network ``name`` (eval mode, no gradients): ``net(x, sigma) -> x0``."""
    meta_path, pt = folder / f"{name}.json", folder / f"{name}.pt"
    if not pt.is_file():
        raise FileNotFoundError(f"no weights for {name!r} at {pt}; run python -m bench.learned --train")
    meta = json.loads(meta_path.read_text())
    model = MLPDenoiser(meta["dim"], meta["hidden"], meta["blocks"], meta["sigma_data"])
    model.load_state_dict(torch.load(pt, map_location="cpu", weights_only=True))
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def metadata(name: str, folder: Path = WEIGHTS) -> dict:
    return json.loads((folder / f"{name}.json").read_text())


def line_printer(lines: List[str]) -> Callable[..., None]:
    """``emit(text)`` for a report: print the line (flushed) and keep it in ``lines``, which the
    bench writes to its results file at the end."""
    def emit(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)
    return emit
