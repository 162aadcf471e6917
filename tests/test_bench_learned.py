"""bench.learned: committed weights, the quick bench's tables, reproducible training."""
import json

import pytest
import torch

from bench.learned import NETWORKS, WEIGHTS, exact_denoiser, load, make_prior, metadata
from bench.learned import quick as lq
from bench.learned.net import TrainConfig, prior_mse, train

MIXTURE_NETS = [name for name, (prior, _) in NETWORKS.items() if prior == "mixture25"]

# On forward-noised prior samples at sigma 0.05 ... 0.95 the exact denoiser's outputs have a
# per-coordinate variance of about 0.1-0.4; a network that learned the prior stays far below that
# (trained: 1e-3 - 1e-2, see the weights' JSON); an untrained one (D = c_skip x) is above 0.1 at
# mid sigmas.
MSE_TOLERANCE = 0.03


@pytest.mark.parametrize("name", MIXTURE_NETS)
def test_committed_mixture_weights_load_and_match_the_exact_denoiser(name):
    net = load(name)
    meta = metadata(name)
    assert (WEIGHTS / f"{name}.pt").stat().st_size < 2_000_000
    for key in ("command", "config", "params", "wall_seconds", "final_loss", "mse_vs_exact"):
        assert key in meta, key
    assert sum(p.numel() for p in net.parameters()) == meta["params"]
    prior = make_prior("mixture25")
    mse = prior_mse(net, exact_denoiser("mixture25"), prior, seed=4242, n=500, sigmas=(0.1, 0.4, 0.8))
    for s, v in mse.items():
        assert v < MSE_TOLERANCE, (name, s, v)
    # the denoiser convention: [N, d] rows and a [N] sigma tensor in, x0 estimate of that shape out
    x = torch.randn(3, 64)
    out = net(x, torch.full((3,), 0.5))
    assert out.shape == x.shape and out.dtype == x.dtype
    # at sigma 0 the preconditioning returns the input (c_skip = 1, c_out = 0)
    assert torch.allclose(net(x, torch.zeros(3)), x)


@pytest.mark.slow  # fits the digits mixture with scikit-learn (about 10 s)
def test_committed_digits_weights_match_the_exact_denoiser():
    pytest.importorskip("sklearn")
    name = "digits-mlp256"
    net = load(name)
    mse = prior_mse(net, exact_denoiser("digits"), make_prior("digits"), seed=4242, n=500, sigmas=(0.1, 0.4, 0.8))
    for s, v in mse.items():
        assert v < MSE_TOLERANCE, (name, s, v)


def test_untrained_network_fails_the_tolerance():
    """The tolerance above can fail: a network with zero output layer (D = c_skip x) does."""
    prior = make_prior("mixture25")
    model, _ = train(prior, TrainConfig(hidden=16, blocks=1, train_samples=256, steps=0, batch=8))
    mse = prior_mse(model.eval(), exact_denoiser("mixture25"), prior, seed=4242, n=500, sigmas=(0.4,))
    assert mse["0.4"] > MSE_TOLERANCE


def test_seeded_training_is_bit_identical():
    prior = make_prior("mixture25")
    cfg = TrainConfig(hidden=16, blocks=1, train_samples=512, steps=5, batch=32, seed=3)
    a, info_a = train(prior, cfg)
    b, info_b = train(prior, cfg)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert info_a["final_loss"] == info_b["final_loss"]
    c, _ = train(prior, TrainConfig(hidden=16, blocks=1, train_samples=512, steps=5, batch=32, seed=4))
    assert not torch.equal(a.out.weight, c.out.weight)


def test_quick_tables_have_one_row_per_sampler_and_denoiser_and_one_cell_per_budget():
    exact = exact_denoiser("mixture25")

    def perturbed(x, sigma):  # a stand-in "network": the exact denoiser plus a fixed offset
        return exact(x, sigma) + 0.05

    samplers, budgets = ("ding1/ddpm", "replacement"), (4, 8)
    r = lq.bench_prior("mixture25", seeds=(1, 2), n=16, samplers=samplers, budgets=budgets,
                       log=lambda s: None, networks={"net": perturbed})
    assert len(r["floor"]) == 2
    for key, vals in r["scores"].items():
        assert len(vals) == 2 and key[2] in budgets
    table = lq.score_table(r, budgets)
    # per sampler: exact, net, and the paired 'net - exact' row
    assert len(table) == len(samplers) * 3
    assert all(len(row) == 2 + len(budgets) for row in table)
    assert [row[1] for row in table[:3]] == ["exact", "net", "net − exact"]
    # the calls column is the budget for one-call samplers
    assert table[0][2].endswith("(4)") and table[0][3].endswith("(8)")
    off = lq.offman_table(r)
    # the network on its own chains and on the exact chains, each + a forward-noised prior row
    assert len(off) == 2 * (len(samplers) + 1)
    assert [row[0] for row in off].count("net on exact chains") == len(samplers) + 1
    assert all(len(row) == 2 + len(lq.SIGMA_BINS) - 1 for row in off)
    per_budget = lq.offman_budget_table(r, budgets)
    assert len(per_budget) == 2 * len(samplers) and all(len(row) == 2 + len(budgets) for row in per_budget)
    # the stand-in's error is 0.05^2 per coordinate wherever it was called
    for key in (("net", "ding1/ddpm"), ("net on exact chains", "replacement")):
        for chain, _, _, rows in r["offman"][key].values():
            assert chain / rows == pytest.approx(0.0025, rel=1e-3)


def test_sigma_bins_cover_zero_to_one():
    assert lq.sigma_bin(0.0) == 0
    assert lq.sigma_bin(1.0) == len(lq.SIGMA_BINS) - 2
    assert lq.sigma_bin(0.3) == 3


def test_weights_json_states_how_they_were_made():
    for name in NETWORKS:
        path = WEIGHTS / f"{name}.json"
        if not path.is_file():
            pytest.skip(f"{name} not trained")
        meta = json.loads(path.read_text())
        assert meta["command"].startswith("python -m bench.learned")
        assert meta["config"]["seed"] == NETWORKS[name][1].seed
        assert meta["config"]["steps"] == NETWORKS[name][1].steps


def test_kept_noise_profile_is_one_for_replacement():
    """Latent replacement puts the observation noised with the run's initial noise on the kept
    coordinates, so the implied noise there is standard normal (std near 1) at every level."""
    prof = lq.kept_noise_profile("mixture25", seed=1, n=256, budget=10, samplers=("replacement",))
    assert prof["replacement"]
    for v in prof["replacement"].values():
        assert v == pytest.approx(1.0, abs=0.1)
