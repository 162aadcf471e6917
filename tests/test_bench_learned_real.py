"""bench.learned.real: the real-digits classifier, the Frechet distance, seeded training, masks."""
import importlib.util
import math

import pytest
import torch

from bench.learned import NETWORKS, WEIGHTS
from bench.learned import real as lr
from bench.learned.net import TrainConfig, train

needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="the real digits need scikit-learn (requirements-dev.txt)")

# The committed classifier scores 0.981 on the 360 test digits (its JSON); 0.95 leaves room for
# other torch builds' rounding but fails for a broken or untrained classifier (0.1 by chance).
CLASSIFIER_ACCURACY = 0.95


@needs_sklearn
def test_committed_classifier_accuracy_on_the_test_split():
    clf = lr.load_classifier()
    _, _, x_test, l_test = lr.real_split()
    acc = lr.accuracy(clf, x_test, l_test)
    assert acc > CLASSIFIER_ACCURACY, acc
    meta = lr.json.loads((WEIGHTS / f"{lr.CLASSIFIER}.json").read_text())
    assert meta["test_accuracy"] == pytest.approx(acc, abs=1e-6)
    assert meta["command"].startswith("python -m bench.learned")


@needs_sklearn
def test_split_is_the_demos_and_disjoint():
    x_train, l_train, x_test, l_test = lr.real_split()
    assert x_train.shape == (1437, 64) and x_test.shape == (360, 64)
    assert float(x_train.min()) == -1.0 and float(x_train.max()) == 1.0
    assert len(l_train) + len(l_test) == 1797 and set(l_test.tolist()) == set(range(10))


def test_frechet_distance_is_zero_for_identical_sets():
    x = torch.randn(500, 8, generator=torch.Generator().manual_seed(0)) * torch.linspace(0.1, 3.0, 8)
    assert abs(lr.frechet_distance(x, x)) < 1e-9


def _tr_sqrt_2x2(m):
    # eigenvalues l1, l2 of M = C1 C2 are real and positive: (sqrt l1 + sqrt l2)^2 = tr M + 2 sqrt(det M)
    return math.sqrt(float(torch.trace(m)) + 2.0 * math.sqrt(float(torch.det(m))))


def test_frechet_from_stats_matches_the_two_by_two_closed_form():
    g = torch.Generator().manual_seed(1)
    for _ in range(5):
        a, b = torch.randn(2, 2, generator=g, dtype=torch.float64), torch.randn(2, 2, generator=g, dtype=torch.float64)
        c1, c2 = a @ a.T + 0.1 * torch.eye(2, dtype=torch.float64), b @ b.T + 0.1 * torch.eye(2, dtype=torch.float64)
        m1, m2 = torch.randn(2, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64)
        closed = float((m1 - m2).pow(2).sum() + torch.trace(c1) + torch.trace(c2)) - 2.0 * _tr_sqrt_2x2(c1 @ c2)
        assert lr.frechet_from_stats(m1, c1, m2, c2) == pytest.approx(closed, abs=1e-9)


def test_frechet_distance_of_samples_matches_the_closed_form_for_two_gaussians():
    """Diagonal covariances: FD = |m1 - m2|^2 + sum (sqrt v1 - sqrt v2)^2 = 1.0 + 0.5^2 + 1.0^2 + 0 = 2.25.
    With 100k rows per set the estimate's error is about 0.01; tolerance 0.05."""
    g = torch.Generator().manual_seed(2)
    s1, s2 = torch.tensor([1.0, 1.0, 2.0]), torch.tensor([1.5, 2.0, 2.0])
    m1, m2 = torch.zeros(3), torch.tensor([1.0, 0.0, 0.0])
    a = m1 + s1 * torch.randn(100_000, 3, generator=g, dtype=torch.float64)
    b = m2 + s2 * torch.randn(100_000, 3, generator=g, dtype=torch.float64)
    closed = float((m1 - m2).pow(2).sum() + (s1 - s2).pow(2).sum())
    assert closed == pytest.approx(2.25)
    assert lr.frechet_distance(a, b) == pytest.approx(closed, abs=0.05)


@needs_sklearn
def test_seeded_training_on_real_digits_is_bit_identical():
    x_train, l_train, _, _ = lr.real_split()
    cfg = TrainConfig(hidden=16, blocks=1, steps=5, batch=32, seed=3)
    a, info_a = train(None, cfg, data=x_train[:200])
    b, info_b = train(None, cfg, data=x_train[:200])
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb), ka
    assert info_a["final_loss"] == info_b["final_loss"] and info_a["train_rows"] == 200
    c, _ = train(None, TrainConfig(hidden=16, blocks=1, steps=5, batch=32, seed=4), data=x_train[:200])
    assert not torch.equal(a.out.weight, c.out.weight)
    ccfg = lr.ClassifierConfig(hidden=16, features=8, steps=20, batch=32, seed=3)
    k1, _ = lr.train_classifier(ccfg, x_train[:200], l_train[:200])
    k2, _ = lr.train_classifier(ccfg, x_train[:200], l_train[:200])
    for (ka, va), (kb, vb) in zip(k1.state_dict().items(), k2.state_dict().items()):
        assert torch.equal(va, vb), ka


def test_masks_regenerate_the_stated_pixels():
    counts = {name: int((keep == 0).sum()) for name, keep in lr.MASKS.items()}
    assert counts == {"box 4x4": 16, "half (bottom)": 32, "stroke (diagonal)": 8, "outpaint (border)": 28}
    ring = lr.MASKS["outpaint (border)"].reshape(8, 8)
    assert ring[0].sum() == 0 and ring[:, 7].sum() == 0 and ring[1:7, 1:7].min() == 1


@needs_sklearn
def test_bench_with_an_oracle_denoiser_reaches_the_clean_ceiling():
    """A 'denoiser' that returns the true test digits: every sampler's inpainting is the truth, so
    the agreement is the clean accuracy, the kept error is ~0 and the FD is the real-vs-real one."""
    clf = lr.load_classifier()
    _, _, x_test, _ = lr.real_split()
    n = 40
    truth = x_test[:n]

    def oracle(x, sigma):
        return truth.repeat(x.shape[0] // n, 1).to(x.dtype)

    r = lr.bench_real(oracle, clf, seeds=(1,), budgets=(4,), samplers=("ding1/ddpm", "replacement"),
                      masks={"half (bottom)": lr.MASKS["half (bottom)"]}, n_test=n, log=lambda s: None)
    for label in ("ding1/ddpm", "replacement"):
        agree, fd, kept_mean, kept_max, calls, _ = r["scores"][("half (bottom)", label, 4)][0]
        assert agree == pytest.approx(r["refs"]["clean_acc"])
        assert kept_max < 1e-5 and calls == 4
        assert fd == pytest.approx(lr.split_fd(clf.features(truth), clf.features(truth)), abs=1e-6)
    rows = lr.mask_table({"oracle": r}, "half (bottom)", (4,))
    assert [row[0] for row in rows] == ["ding1/ddpm", "replacement"] and all(len(row) == 3 for row in rows)
    assert rows[0][2].startswith(f"{100 * r['refs']['clean_acc']:.1f} ±0.0 · ") and rows[0][2].endswith("(4)")


@needs_sklearn
def test_real_network_is_registered_and_committed():
    assert NETWORKS[lr.REAL_NETWORK][0] == "realdigits"
    assert (WEIGHTS / f"{lr.REAL_NETWORK}.pt").stat().st_size < 2_000_000
    net = lr.load(lr.REAL_NETWORK)
    meta = lr.json.loads((WEIGHTS / f"{lr.REAL_NETWORK}.json").read_text())
    assert meta["train_rows"] == 1437
    # the network denoises held-out digits far better than returning the noisy input's skip term
    _, _, x_test, _ = lr.real_split()
    mse = lr.denoising_mse(net, x_test, seed=4242, sigmas=(0.4,))
    assert mse["0.4"] < 0.5 * float(x_test.var())
