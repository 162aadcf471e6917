"""bench.peers pieces that need no ComfyUI: the float32 exact denoiser, the mask,
the equal-call table and the log parser."""
import torch

from bench.peers import Float32Mixture, best_within, format_table, keep_vector, parse_log, summarize
from ding_sampler.analytic import InpaintingProblem


def test_float32_denoiser_matches_the_float64_reference():
    """Same formula as GaussianMixture.posterior_mean (float64): within 1e-4 at four levels."""
    prior = InpaintingProblem(1, dim=64, components=25).prior
    fast = Float32Mixture(prior)
    x = torch.randn(50, 16, 2, 2, generator=torch.Generator().manual_seed(0))
    for s in (0.95, 0.5, 0.1, 0.02):
        sigma = torch.full((50,), s)
        ref = prior.posterior_mean(x.reshape(50, -1), 1 - s, s)
        assert (fast(x, sigma).reshape(50, -1).double() - ref).abs().max() < 1e-4, s


def test_keep_vector_regenerates_a_quarter_at_one_latent_position():
    keep = keep_vector().reshape(16, 2, 2)
    assert keep.sum() == 48
    assert (keep[:, 1, 1] == 0).all() and (keep[:, 0, :] == 1).all() and (keep[:, 1, 0] == 1).all()


def test_best_within_and_table():
    pts = [(0.10, 10, 10, 0.0), (0.05, 40, 40, 0.0), (0.04, 150, 150, 0.0)]
    assert best_within(pts, 40)[0] == 0.05
    assert best_within(pts, 60)[0] == 0.05
    assert best_within(pts, 300)[0] == 0.04
    assert best_within(pts, 5) is None
    table = format_table({"x": pts}, budgets=(5, 40))
    assert "| x | - | 0.050 (40 calls) |" in table


def test_parse_log_averages_over_seeds(tmp_path):
    log = tmp_path / "log.txt"
    log.write_text(
        "seed 1 ding1/ddpm             steps   20 calls   20.0 SW1 0.0400 TV 0.010 (1.0 s)\n"
        "seed 2 ding1/ddpm             steps   20 calls   20.0 SW1 0.0600 TV 0.030 (1.0 s)\n"
        "seed 1 comfy euler            steps   20 calls   20.0 SW1 0.1200 TV 0.050 (1.0 s)\n"
        "| a table line | 1 |\n")
    res = summarize(parse_log(log))
    assert set(res) == {"ding1/ddpm", "comfy euler"}
    sw, calls, steps, tv = res["ding1/ddpm"][0]
    assert abs(sw - 0.05) < 1e-12 and calls == 20 and steps == 20 and abs(tv - 0.02) < 1e-12
