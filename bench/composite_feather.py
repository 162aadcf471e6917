"""DInG Composite's cost against its feather width, side by side in one run.

    python -m bench.composite_feather [--size 2048] [--repeats 5]

Times ``ding_sampler.masks.composite`` on a size x size RGB image with a disc-and-stroke repaint
mask at feather 8, 64 and 256 (interleaved, median of the repeats) and prints each time with its
ratio to feather 8. The feather is a max filter with log-doubling shifts plus a box mean from
running sums, so the ratio should stay near 1.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from ding_sampler.masks import composite

FEATHERS = (8, 64, 256)


def test_images(size: int):
    g = torch.Generator().manual_seed(0)
    original = torch.rand(1, size, size, 3, generator=g)
    generated = torch.rand(1, size, size, 3, generator=g)
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    mask = (((yy - size / 2) ** 2 + (xx - size / 3) ** 2) < (size / 6) ** 2).float()
    mask[size // 5: size // 5 + 3, size // 10: size - size // 10] = 1.0  # a 3 px stroke
    return original, generated, mask[None]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    original, generated, mask = test_images(args.size)
    times = {f: [] for f in FEATHERS}
    composite(original, generated, mask, feather=8)  # warm-up
    for rep in range(args.repeats):
        order = FEATHERS[rep % len(FEATHERS):] + FEATHERS[:rep % len(FEATHERS)]  # rotate the order
        for f in order:
            t0 = time.perf_counter()
            composite(original, generated, mask, feather=f)
            times[f].append(time.perf_counter() - t0)
    base = statistics.median(times[8])
    print(f"DInG Composite, {args.size}x{args.size} RGB, median of {args.repeats}, "
          f"{torch.get_num_threads()} torch threads")
    print(f"{'feather':>8} {'seconds':>9} {'/ feather 8':>12}")
    for f in FEATHERS:
        med = statistics.median(times[f])
        print(f"{f:>8} {med:>9.3f} {med / base:>12.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
