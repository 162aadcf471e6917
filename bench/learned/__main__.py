"""``python -m bench.learned --train | --quick`` (see the package docstring)."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from . import NETWORKS, WEIGHTS, exact_denoiser, make_prior, save
from .net import train


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.learned", description=__doc__)
    p.add_argument("--train", action="store_true", help="train the networks of NETWORKS and write weights/")
    p.add_argument("--quick", action="store_true", help="the quick bench from the committed weights")
    p.add_argument("--only", nargs="+", default=None, help="with --train: only these network names")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="weights folder (default bench/learned/weights)")
    p.add_argument("--samples", type=int, default=1000, help="--quick: posterior samples per run (default 1000)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="--quick: problem seeds")
    p.add_argument("--priors", nargs="+", default=["mixture25", "digits"], help="--quick: priors to bench")
    p.add_argument("--out", type=Path, default=Path("bench/results/learned_quick.txt"),
                   help="--quick: where to write the tables")
    p.add_argument("--probe", action="store_true",
                   help="--quick with the settings of quick.PROBES next to ding1/ddpm and ding/ddpm, at 20 and 60 calls "
                        "(default out bench/results/learned_probe.txt)")
    args = p.parse_args(argv)
    if args.probe:
        args.quick = True
        if args.out == Path("bench/results/learned_quick.txt"):
            args.out = Path("bench/results/learned_probe.txt")
    if not (args.train or args.quick):
        p.error("give --train and/or --quick")
    if args.samples < 2:
        p.error("--samples must be at least 2")
    return args


def run_training(names, folder: Path, argv) -> None:
    command = "python -m bench.learned " + " ".join(shlex.quote(a) for a in argv)
    for name in names:
        prior_name, config = NETWORKS[name]
        print(f"training {name} on {prior_name}: {config}", flush=True)
        model, info = train(make_prior(prior_name), config, log=lambda s: print(s, flush=True),
                            exact=exact_denoiser(prior_name))
        info["command"] = command
        info["prior"] = prior_name
        path = save(name, model, info, folder)
        print(f"  {info['params']} params, {info['wall_seconds']} s wall ({info['cpu_seconds']} s CPU), "
              f"final loss {info['final_loss']:.4f}, MSE vs exact {info['mse_vs_exact']} -> {path}", flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    t0 = time.perf_counter()
    if args.train:
        names = args.only or list(NETWORKS)
        unknown = [n for n in names if n not in NETWORKS]
        if unknown:
            raise SystemExit(f"--only: unknown networks {unknown}; known: {list(NETWORKS)}")
        run_training(names, args.weights, argv)
    if args.quick:
        from .quick import quick
        from .quick import BUDGETS, PROBES, SAMPLERS
        if args.probe:
            quick(args.priors, args.seeds, args.samples, args.weights, args.out,
                  samplers=("ding1/ddpm", "ding/ddpm") + tuple(PROBES), budgets=(20, 60))
        else:
            quick(args.priors, args.seeds, args.samples, args.weights, args.out, tuple(SAMPLERS), BUDGETS)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
