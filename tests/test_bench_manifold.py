"""bench.learned.manifold: the DInG-1 re-implementation it compares candidates in, the candidates'
kept-noise corrections, and the report's tables and verdicts."""
import math

import torch

from bench.learned import exact_denoiser
from bench.learned import manifold as mf
from bench.learned.quick import Problem
from ding_sampler.sampler import ding_sample
from ding_sampler.schedule import flow_sigmas, plan_transitions


def test_identity_reproduces_ding_sample_ding1():
    """With the identity the bench's loop is DInG-1 itself (same noise draws), so a difference
    between a candidate and the base row is the candidate's, not the re-implementation's."""
    exact = exact_denoiser("mixture25")
    problem = Problem("mixture25", 1)
    y, keep = problem.y[None].float(), problem.keep[None].float()
    for steps in (4, 9):
        g = torch.Generator().manual_seed(3)
        noise = torch.randn(32, 64, generator=g)
        a = mf.ding1_kept_noise(exact, noise, flow_sigmas(steps, 3.0), y, keep, 0.01, g)
        g = torch.Generator().manual_seed(3)
        noise = torch.randn(32, 64, generator=g)
        b = ding_sample(exact, noise, flow_sigmas(steps, 3.0), y, keep, parametrization="flow",
                        variant="ding1", eta="ddpm", obs_std=0.01, generator=g)
        assert (a - b).abs().max() < 1e-4, steps
    # and a candidate does change the samples (the comparison is not of two identical runs)
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(32, 64, generator=g)
    c = mf.ding1_kept_noise(exact, noise, flow_sigmas(9, 3.0), y, keep, 0.01, g, mf.CANDIDATES["cap 1"])
    assert (c - b).abs().max() > 1e-3


def _step():
    plan, _ = plan_transitions(flow_sigmas(10, 3.0), "flow", "ddpm", 0.01)
    return plan[2]


def test_candidates_correct_the_kept_noise_as_documented():
    g = torch.Generator().manual_seed(0)
    st = _step()
    kept = torch.tensor([True] * 6 + [False] * 2)
    x1 = 3.0 * torch.randn(5, 8, generator=g)
    x1[0] *= 0.1  # one item already inside the shell: cap leaves it alone
    x = torch.randn(5, 8, generator=g)
    y = torch.randn(1, 8, generator=g)

    def rms(v):
        return v[:, kept].pow(2).mean(1).sqrt()

    capped = mf.cap(1.0)(x1, x, y, st, kept, g)
    assert torch.all(rms(capped) <= 1.0 + 1e-6)
    assert torch.equal(capped[0], x1[0])
    assert torch.allclose(rms(capped[1:]), torch.ones(4))
    assert torch.allclose(rms(mf.norm(1.0)(x1, x, y, st, kept, g)), torch.ones(5))
    # cap above a level only: the step starts below sigma_min -> unchanged
    assert torch.equal(mf.cap(1.0, st.sigma_t + 0.01)(x1, x, y, st, kept, g), x1)
    own = (x - st.a_t * y) / st.s_t
    assert torch.allclose(mf.blend(1.0)(x1, x, y, st, kept, g), own)
    assert torch.equal(mf.blend(0.0)(x1, x, y, st, kept, g), x1)
    lam = st.sigma_t
    assert torch.allclose(mf.blend(None)(x1, x, y, st, kept, g), (1 - lam) * x1 + lam * own)
    f = mf.fresh(0.3)(x1, x, y, st, kept, torch.Generator().manual_seed(1))
    assert not torch.allclose(f, math.sqrt(1 - 0.09) * x1 / rms(x1)[:, None])


def test_report_tables_and_verdicts():
    exact = exact_denoiser("mixture25")

    def net(x, sigma):  # a stand-in "network": the exact denoiser plus a fixed offset
        return exact(x, sigma) + 0.05

    cands, budgets = ("ding1/ddpm", "cap 1", "ding1/ddpm final 0.05", "ding/ddpm"), (4, 8)
    r = mf.bench_manifold("mixture25", seeds=(1, 2), n=16, candidates=cands, budgets=budgets, floor_budget=12,
                          log=lambda s: None, networks={"net": net})
    for den in ("exact", "net"):
        for c in cands:
            for b in budgets:
                recs = r[(den, c, b)]
                assert len(recs) == 2
                assert all(rec["calls"] == (b if c != "ding/ddpm" else 2 * ((b + 1) // 2) - 1) for rec in recs)
                assert (recs[0]["offman"] is None) == (den == "exact")
        assert len(r[(den, "ding1/ddpm", 12)]) == 2
    # the stand-in's error is the same everywhere: its off-manifold ratio is 1 on every chain
    for c in cands:
        assert all(abs(v - 1.0) < 1e-3 for rec in r[("net", c, 8)] for v in rec["offman"])
    rows = mf.score_rows(r, "net", cands, budgets)
    assert [row[0] for row in rows] == list(cands) and all(len(row) == 1 + len(budgets) for row in rows)
    assert "±" in rows[1][1] and "±" not in rows[0][1]
    lines = mf.summary(r, ["exact", "net"], cands, budgets)
    assert len(lines) == 3 and all("does not win" in line for line in lines)  # no 20/40-call cells
    # the final_sigma reference row is ding_sample's own run with that option
    problem = Problem("mixture25", 1)
    x = mf.run_one(exact, problem, "ding1/ddpm final 0.05", 8, 16)
    g = torch.Generator().manual_seed(mf.SAMPLER_SEED + 1000 + 8)
    noise = torch.randn(16, 64, generator=g)
    ref = ding_sample(exact, noise, flow_sigmas(8, 3.0), problem.y[None].float(), problem.keep[None].float(),
                      parametrization="flow", variant="ding1", eta="ddpm", obs_std=0.01, generator=g,
                      final_sigma=0.05)
    assert torch.equal(x, ref)


def test_verdict_uses_the_paired_noise():
    assert mf.verdict(-0.01, 0.001, 3) == -1
    assert mf.verdict(0.01, 0.001, 3) == 1
    assert mf.verdict(-0.01, 0.02, 3) == 0
    assert mf.verdict(-0.01, 0.0, 1) == 0
