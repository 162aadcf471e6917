"""bench.offmanifold's arithmetic (the bench itself runs ComfyUI; tests/integration covers nothing of
it beyond bench.peers' serving, which test_peers.py checks)."""
import torch

from bench.offmanifold import Flat, merge, overall_ratio, ratio_rows


def test_ratios_are_row_weighted_chain_over_prior_sums():
    # bin -> [chain error sum, prior reference sum (row-weighted), posterior reference sum, rows]
    acc = {2: [6.0, 2.0, 1.0, 10.0], 5: [1.0, 4.0, 1.0, 20.0], 6: [0.0, 0.0, 0.0, 0.0]}
    assert ratio_rows(acc) == {2: 3.0, 5: 0.25}
    assert overall_ratio(acc) == 7.0 / 6.0
    assert overall_ratio({}) is None


def test_merge_adds_every_field_per_bin():
    into = {1: [1.0, 1.0, 1.0, 1.0]}
    merge(into, {1: [1.0, 2.0, 3.0, 4.0], 3: [5.0, 6.0, 7.0, 8.0]})
    merge(into, {3: [1.0, 1.0, 1.0, 1.0]})
    assert into == {1: [2.0, 3.0, 4.0, 5.0], 3: [6.0, 7.0, 8.0, 9.0]}


def test_flat_hands_the_denoiser_flat_rows_and_restores_the_latent_shape():
    seen = []

    def fn(x, sigma):
        seen.append((tuple(x.shape), x.dtype))
        return x * 2 + sigma[:, None]

    x = torch.arange(2 * 16 * 2 * 2, dtype=torch.float64).reshape(2, 16, 2, 2)
    out = Flat(fn)(x, torch.tensor([0.5, 1.0]))
    assert seen == [((2, 64), torch.float32)]
    assert out.shape == x.shape
    assert torch.equal(out[1, 3], (x[1, 3] * 2 + 1.0).float())
