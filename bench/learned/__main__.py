"""``python -m bench.learned --train | --quick`` (see the package docstring)."""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

from . import NETWORKS, REAL, WEIGHTS, exact_denoiser, make_prior, save
from .net import train

CLASSIFIER = "realdigits-classifier"  # bench.learned.real.CLASSIFIER (that module imports scikit-learn lazily)


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m bench.learned", description=__doc__)
    p.add_argument("--train", action="store_true", help="train the networks of NETWORKS and write weights/")
    p.add_argument("--quick", action="store_true", help="the quick bench from the committed weights")
    p.add_argument("--real", action="store_true",
                   help="the real-digits bench (bench.learned.real) from the committed weights; "
                        "writes bench/results/learned_digits.txt (or --real-out)")
    p.add_argument("--real-out", type=Path, default=Path("bench/results/learned_digits.txt"),
                   help="--real: where to write the tables")
    p.add_argument("--only", nargs="+", default=None, help="with --train: only these network names")
    p.add_argument("--weights", type=Path, default=WEIGHTS, help="weights folder (default bench/learned/weights)")
    p.add_argument("--samples", type=int, default=1000, help="--quick: posterior samples per run (default 1000)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="--quick: problem seeds")
    p.add_argument("--priors", nargs="+", default=["mixture25", "digits", REAL],
                   help=f"--quick: priors to bench; {REAL!r} = the real-digits bench (as --real)")
    p.add_argument("--out", type=Path, default=Path("bench/results/learned_quick.txt"),
                   help="--quick: where to write the tables")
    p.add_argument("--probe", action="store_true",
                   help="--quick with the settings of quick.PROBES next to ding1/ddpm and ding/ddpm, at 20 and 60 calls "
                        "(default out bench/results/learned_probe.txt)")
    p.add_argument("--manifold", action="store_true",
                   help="DInG-1 kept-noise candidates against the off-manifold error (bench.learned.manifold, "
                        "issue 18 item 3); writes bench/results/learned_manifold.txt (or --manifold-out)")
    p.add_argument("--manifold-out", type=Path, default=Path("bench/results/learned_manifold.txt"),
                   help="--manifold: where to write the tables")
    p.add_argument("--manifold-priors", nargs="+", default=["mixture25"], choices=["mixture25", "digits"],
                   help="--manifold: closed-form priors to bench (default mixture25)")
    p.add_argument("--manifold-candidates", nargs="+", default=None,
                   help="--manifold: only these rows of bench.learned.manifold.CANDIDATES (ding1/ddpm is always run)")
    p.add_argument("--manifold-budgets", type=int, nargs="+", default=[8, 20, 40, 60],
                   help="--manifold: model calls per output (default 8 20 40 60)")
    p.add_argument("--manifold-floor", type=int, default=150,
                   help="--manifold: budget of the network-floor rows (0: none; default 150)")
    args = p.parse_args(argv)
    if args.probe:
        args.quick = True
        if args.out == Path("bench/results/learned_quick.txt"):
            args.out = Path("bench/results/learned_probe.txt")
    if not (args.train or args.quick or args.real or args.manifold):
        p.error("give --train, --quick, --real and/or --manifold")
    if args.samples < 2:
        p.error("--samples must be at least 2")
    return args


def run_training(names, folder: Path, argv) -> None:
    command = "python -m bench.learned " + " ".join(shlex.quote(a) for a in argv)
    for name in names:
        if name == CLASSIFIER:
            train_real_classifier(folder, command)
            continue
        prior_name, config = NETWORKS[name]
        print(f"training {name} on {prior_name}: {config}", flush=True)
        if prior_name == REAL:
            from .real import denoising_mse, real_split
            x_train, _, x_test, _ = real_split()
            model, info = train(None, config, log=lambda s: print(s, flush=True), data=x_train)
            model.eval()
            info["mse_train"] = denoising_mse(model, x_train, seed=999)
            info["mse_test"] = denoising_mse(model, x_test, seed=999)
            info["command"] = command
            info["prior"] = prior_name
            path = save(name, model, info, folder)
            print(f"  {info['params']} params, {info['wall_seconds']} s wall ({info['cpu_seconds']} s CPU), "
                  f"final loss {info['final_loss']:.4f}, denoising MSE train {info['mse_train']} "
                  f"test {info['mse_test']} -> {path}", flush=True)
            continue
        model, info = train(make_prior(prior_name), config, log=lambda s: print(s, flush=True),
                            exact=exact_denoiser(prior_name))
        info["command"] = command
        info["prior"] = prior_name
        path = save(name, model, info, folder)
        print(f"  {info['params']} params, {info['wall_seconds']} s wall ({info['cpu_seconds']} s CPU), "
              f"final loss {info['final_loss']:.4f}, MSE vs exact {info['mse_vs_exact']} -> {path}", flush=True)


def train_real_classifier(folder: Path, command: str) -> None:
    from .real import CLASSIFIER_CONFIG, accuracy, real_split, save_classifier, train_classifier
    x_train, l_train, x_test, l_test = real_split()
    print(f"training {CLASSIFIER} on the real train digits: {CLASSIFIER_CONFIG}", flush=True)
    model, info = train_classifier(CLASSIFIER_CONFIG, x_train, l_train, log=lambda s: print(s, flush=True))
    info.update(train_accuracy=accuracy(model, x_train, l_train), test_accuracy=accuracy(model, x_test, l_test),
                command=command)
    path = save_classifier(model, info, folder)
    print(f"  {info['params']} params, {info['wall_seconds']} s wall, train accuracy {info['train_accuracy']:.4f}, "
          f"test accuracy {info['test_accuracy']:.4f} -> {path}", flush=True)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    t0 = time.perf_counter()
    if args.train:
        names = args.only or list(NETWORKS) + [CLASSIFIER]
        unknown = [n for n in names if n not in NETWORKS and n != CLASSIFIER]
        if unknown:
            raise SystemExit(f"--only: unknown networks {unknown}; known: {list(NETWORKS) + [CLASSIFIER]}")
        run_training(names, args.weights, argv)
    closed_form = [p for p in args.priors if p != REAL]
    if args.quick and closed_form:
        from .quick import quick
        from .quick import BUDGETS, PROBES, SAMPLERS
        if args.probe:
            quick(closed_form, args.seeds, args.samples, args.weights, args.out,
                  samplers=("ding1/ddpm", "ding/ddpm") + tuple(PROBES), budgets=(20, 60))
        else:
            quick(closed_form, args.seeds, args.samples, args.weights, args.out, tuple(SAMPLERS), BUDGETS)
    if args.manifold:
        from .manifold import manifold_report
        from .manifold import BASE, CANDIDATES
        cands = list(CANDIDATES)
        if args.manifold_candidates:
            unknown = [c for c in args.manifold_candidates if c not in CANDIDATES]
            if unknown:
                raise SystemExit(f"--manifold-candidates: unknown {unknown}; known: {cands}")
            cands = [c for c in cands if c == BASE or c in args.manifold_candidates]
        manifold_report(args.manifold_priors, args.seeds, args.samples, args.weights, args.manifold_out,
                        cands, tuple(args.manifold_budgets), args.manifold_floor or None)
    if args.real or (args.quick and not args.probe and REAL in args.priors):
        from .real import real_report
        real_report(args.weights, args.real_out)
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
