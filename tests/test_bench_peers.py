"""bench.peers pieces that need no ComfyUI: the float32 exact denoiser, the mask,
the equal-call table, the log parser, the few-step plan and report, the grid options
(also bench.fidelity's --shift) and the plot without matplotlib."""
import sys

import pytest
import torch

from bench import fidelity, peers
from bench.peers import Float32Mixture, best_within, format_table, keep_vector, parse_log, summarize
from ding_sampler.analytic import InpaintingProblem
from ding_sampler.schedule import flow_sigmas


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


def _calls(kind, opts, steps):
    """Model calls per image of one plan entry (the bench counts them; this is the plan's promise)."""
    if kind == "comfy":
        return steps
    k = opts.get("particles", 1)
    return k * (2 * steps - 1 if opts["variant"] == "ding" else steps)


def test_few_step_plan_fits_the_budgets_with_every_variant_and_eta():
    """Every DInG variant x eta, every ComfyUI sampler named in the brief, and LanPaint are in the
    plan; every DInG / ComfyUI run costs at most 12 calls and each of them has a run within every
    budget 4 / 6 / 8 / 12 that is above 3 calls away from it (so the table's columns are filled)."""
    plan = peers.few_step_methods(lanpaint=True)
    labels = [m[0] for m in plan]
    for variant in ("ding", "ding1"):
        for eta in peers.ETAS:
            assert f"{variant}/{eta}" in labels
    for name in ("euler", "euler_ancestral", "dpmpp_2m"):
        assert f"comfy {name}" in labels
    assert "LanPaint" in labels and "LanPaint 1 Langevin step" in labels
    assert any(m[2].get("particles", 1) > 1 for m in plan)
    assert any(m[2].get("final_sigma") for m in plan)
    for label, kind, opts, steps_list in plan:
        if kind == "lanpaint":
            assert peers.LANPAINT_DEFAULT_STEPS in steps_list or label != "LanPaint"
            continue
        calls = [_calls(kind, opts, s) for s in steps_list]
        assert max(calls) <= max(peers.FEW_BUDGETS), (label, calls)
        for b in peers.FEW_BUDGETS:
            assert any(b - 3 <= c <= b for c in calls), (label, b, calls)


def test_with_final_sigma_lowers_only_the_last_positive_level():
    sig = torch.tensor(flow_sigmas(4, 3.0))
    low = peers.with_final_sigma(sig, 0.05)
    assert len(low) == len(sig) and float(low[-2]) == pytest.approx(0.05) and float(low[-1]) == 0.0
    assert torch.equal(low[:-2], sig[:-2])
    assert peers.with_final_sigma(sig, None) is sig
    assert torch.equal(peers.with_final_sigma(sig, 0.9), sig)  # already below 0.9
    assert torch.equal(peers.with_final_sigma(sig[:-1], 0.05), sig[:-1])  # does not end at 0
    with pytest.raises(ValueError, match="final_sigma"):
        peers.with_final_sigma(sig, 0.0)


def test_grid_options_and_their_checks():
    args = peers.parse_args(["--shift", "9.7", "--scheduler", "sgm_uniform", "--few-step"])
    assert args.shift == 9.7 and args.scheduler == "sgm_uniform" and args.few_step
    assert peers.parse_args([]).shift == 3.0 and peers.parse_args([]).scheduler == "simple"
    with pytest.raises(SystemExit):
        peers.parse_args(["--shift", "0"])
    assert peers.parse_args(["--budgets", "4", "8"]).budgets == [4, 8] and peers.parse_args([]).budgets is None
    with pytest.raises(SystemExit):
        peers.parse_args(["--budgets", "0"])
    # the grids' shifts are SD3-style: Flux.2's mu 2.02 is exp(2.02) = 7.54, Flux2Scheduler at 1024^2
    # 9.4-9.9; Z-Image and SD3.5 3
    shifts = {key: shift for key, shift, _, _ in peers.FEW_STEP_GRIDS}
    assert shifts["shift 3"] == 3.0 and 9.0 < shifts["shift 9.7"] < 10.0
    assert peers.grid_of("shift 3 | ding1/ddpm") == ("shift 3", "ding1/ddpm")
    assert peers.grid_of("comfy euler") == ("", "comfy euler")


def test_few_step_report_counts_seed_wins_per_grid(tmp_path):
    """Two grids from a log: one table each, the best DInG setting per budget, and the seeds on which
    it beats each peer counted from the per-seed lines (seed 2 of grid A: euler wins)."""
    rows = []
    for grid, d_sw, e_sw in (("shift 3", (0.10, 0.20), (0.15, 0.12)), ("shift 9.7", (0.20, 0.21), (0.25, 0.26))):
        for seed in (1, 2):
            rows.append(f"seed {seed} {grid} | ding1/ddpm steps    4 calls    4.0 SW1 {d_sw[seed - 1]:.4f} "
                        f"TV 0.000 (1.0 s)")
            rows.append(f"seed {seed} {grid} | comfy euler steps    4 calls    4.0 SW1 {e_sw[seed - 1]:.4f} "
                        f"TV 0.000 (1.0 s)")
    log = tmp_path / "log.txt"
    log.write_text("\n".join(rows) + "\nexact vs exact floor SW1 0.0090\n")
    raw = parse_log(log)
    assert set(raw) == {"shift 3 | ding1/ddpm", "shift 3 | comfy euler", "shift 9.7 | ding1/ddpm",
                        "shift 9.7 | comfy euler"}
    text = peers.few_step_report(raw, 0.009, budgets=(4, 6))
    a, b = text.split("### shift 9.7")
    assert "### shift 3 (SD3.5 Large Turbo, Z-Image Turbo" in a
    assert "| ding1/ddpm | 0.150 (4 calls) | 0.150 (4 calls) |" in a
    assert "| ding1/ddpm | 0.150 +-0.071 (4) |" in a
    assert "comfy euler 0.135 (beaten on 1 of 2 seeds)" in a
    assert "| ding1/ddpm | 0.205 (4 calls) |" in b and "comfy euler 0.255 (beaten on 2 of 2 seeds)" in b
    assert text.rstrip().endswith("exact vs exact floor SW1 0.0090")


def test_plot_without_matplotlib_is_skipped_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    msg = peers.plot({"x": [(0.1, 10, 10, 0.0)]}, 0.01, tmp_path / "p.png")
    assert msg is not None and "matplotlib is not installed" in msg and str(tmp_path / "p.png") in msg
    assert not (tmp_path / "p.png").exists()


def test_fidelity_shift_reaches_the_grid(monkeypatch):
    """bench.fidelity --shift / --steps: the runs use flow_sigmas(steps, shift)."""
    args = fidelity.parse_args(["--shift", "9.7", "--steps", "2", "4"])
    assert args.shift == 9.7 and args.steps == [2, 4]
    assert fidelity.parse_args([]).shift is None
    seen = []
    real = fidelity.flow_sigmas
    monkeypatch.setattr(fidelity, "flow_sigmas", lambda steps, shift=3.0: seen.append((steps, shift)) or
                        real(steps, shift))
    problem = fidelity.make_problem("gaussian", 8, 0.1, 16)
    fidelity.run_method("ding1", problem, 4, shift=9.7)
    fidelity.run_method("replacement", problem, 3)
    assert seen == [(4, 9.7), (3, 3.0)]
    with pytest.raises(SystemExit):
        fidelity.main(["--shift", "-1"])


def test_fixed_prior_problem_is_seed_1s_problem_on_seed_1_and_keeps_its_prior_after():
    """--network's problems: on the networks' prior (GaussianMixture.random(64, 25, seed=1)) problem
    seed 1 is InpaintingProblem(1) exactly; seed 2 keeps that prior (not seed 2's) and draws its own
    truth and observation."""
    from bench import learned
    keep = keep_vector()
    prior = learned.make_prior("mixture25")
    a, ref = peers.FixedPriorProblem(prior, 1, keep), InpaintingProblem(1, dim=64, components=25, keep=keep)
    assert torch.equal(a.y, ref.y) and torch.equal(a.keep, ref.keep) and torch.equal(a.hidden, ref.hidden)
    assert torch.allclose(a.exact(50, 0), ref.exact(50, 0))
    b, other = peers.FixedPriorProblem(prior, 2, keep), InpaintingProblem(2, dim=64, components=25, keep=keep)
    assert b.prior is prior and not torch.allclose(b.y, a.y)
    assert not torch.allclose(b.prior.means, other.prior.means)
    with pytest.raises(ValueError, match="keep"):
        peers.FixedPriorProblem(prior, 1, keep[:10])


def test_network_plan_fills_every_budget_and_the_option_checks():
    """Every DInG / ComfyUI run of network_methods costs at most 60 calls and each has one run at
    (or within 1 call of) every budget 8 / 20 / 40 / 60; LanPaint runs at its default 30 steps and at
    1, 2 and 5 Langevin steps; --network takes only mixture25 networks and not --few-step."""
    plan = peers.network_methods(lanpaint=True)
    labels = [m[0] for m in plan]
    for name in ("ding/square", "ding/ddpm", "ding1/square", "ding1/ddpm", "comfy euler",
                 "comfy euler_ancestral", "comfy dpmpp_2m"):
        assert name in labels
    assert any(m[2].get("particles", 1) > 1 for m in plan)
    for label, kind, opts, steps_list in plan:
        if kind == "lanpaint":
            continue
        calls = [_calls(kind, opts, s) for s in steps_list]
        assert max(calls) <= 60, (label, calls)
        for b in peers.NETWORK_BUDGETS:
            assert any(b - 1 <= c <= b for c in calls), (label, b, calls)
    lp = {m[0]: m for m in plan if m[1] == "lanpaint"}
    assert peers.LANPAINT_DEFAULT_STEPS in lp["LanPaint"][3] and lp["LanPaint"][2] == {}
    assert {m[2].get("LanPaint_NumSteps") for m in lp.values()} == {None, 1, 2}
    assert not any(m[1] == "lanpaint" for m in peers.network_methods(lanpaint=False))
    assert peers.parse_args(["--network", "mixture25-mlp256"]).network == ["mixture25-mlp256"]
    assert peers.parse_args(["--network", "digits-mlp256", "--sample-seeds", "3", "--no-exact"]).sample_seeds == 3
    for bad in (["--network", "realdigits-mlp256"], ["--network", "nope"],
                ["--network", "mixture25-mlp256", "digits-mlp256"],  # two priors
                ["--network", "mixture25-mlp256", "--few-step"],
                ["--network", "mixture25-mlp256", "--sample-seeds", "0"],
                ["--network", "mixture25-mlp256", "--seeds", "1000"],
                ["--sample-seeds", "2"], ["--no-exact"]):
        with pytest.raises(SystemExit):
            peers.parse_args(bad)


def test_network_report_pairs_each_network_with_the_exact_denoiser(tmp_path):
    """From per-seed lines: per denoiser the best run within each budget +- its seed spread, the
    network - exact difference per seed (each at its own best run), the best setting of each family,
    LanPaint at its defaults and the floor."""
    rows = []
    for den, sw in (("exact", (0.10, 0.20)), ("net", (0.15, 0.21))):
        for seed in (1, 2):
            rows.append(f"seed {seed} {den} | ding1/ddpm steps    8 calls    8.0 SW1 {sw[seed - 1]:.4f} TV 0.000 (1 s)")
            rows.append(f"seed {seed} {den} | comfy euler steps    8 calls    8.0 SW1 0.3000 TV 0.000 (1 s)")
            rows.append(f"seed {seed} {den} | LanPaint steps   30 calls  141.0 SW1 0.0500 TV 0.000 (1 s)")
    log = tmp_path / "log.txt"
    log.write_text("\n".join(rows) + "\n")
    text = peers.network_report(parse_log(log), [0.01, 0.02], ["exact", "net"], budgets=(8, 20))
    assert "| ding1/ddpm | exact | 0.1500 +-0.0707 (8) | 0.1500 +-0.0707 (8) |" in text
    assert "| ding1/ddpm | net - exact | +0.0300 +-0.0283 | +0.0300 +-0.0283 |" in text
    assert "| DInG | net | 0.1800 ding1/ddpm (8, 8 steps) |" in text
    assert "| LanPaint | exact | - | - |" in text  # only its 141-call default run
    assert "LanPaint at its defaults (30 steps, 5 Langevin steps), net: SW1 0.0500" in text
    assert "exact vs exact floor SW1 0.0150 +-0.0071 (per seed 0.0100, 0.0200)" in text


def test_paired_report_differences_are_per_seed_at_each_sides_best_run(tmp_path, capsys):
    """default - peer per problem seed (mean +- sd of the differences, not of the means): the peer's
    best run within the budget is picked by its mean; runs pair by seed position; a side with a
    different seed count gives '-'; --from-log prints the same table and the per-seed floors."""
    net = {  # label -> steps -> (calls, SW1 of seeds 1, 2, 3)
        "ding1/ddpm": {8: (8, (0.10, 0.20, 0.30)), 20: (20, (0.09, 0.18, 0.33))},
        "ding/square": {4: (7, (0.12, 0.19, 0.26)), 10: (19, (0.08, 0.16, 0.26))},
        "LanPaint": {2: (7, (0.15, 0.30, 0.35)), 4: (18, (0.14, 0.20, 0.38))},
        "LanPaint 1 Langevin step": {11: (20, (0.11, 0.27, 0.32))},
        "comfy euler": {8: (8, (0.20, 0.21, 0.25)), 20: (20, (0.21, 0.25, 0.29))},
    }
    rows = []
    for seed in (1, 2, 3):
        for label, by_steps in net.items():
            for steps, (calls, sw) in by_steps.items():
                rows.append(f"seed {seed} net | {label} steps {steps:4d} calls {calls:6.1f} SW1 {sw[seed - 1]:.4f} "
                            f"TV 0.000 (1 s)")
    rows.append("seed 1 net | comfy dpmpp_2m steps    8 calls    8.0 SW1 0.5000 TV 0.000 (1 s)")  # one seed only
    rows += [f"seed {seed} exact | ding1/ddpm steps    8 calls    8.0 SW1 0.0500 TV 0.000 (1 s)" for seed in (1, 2, 3)]
    rows.append("exact vs exact floor SW1 0.0100 +-0.0010 (per seed 0.0090, 0.0100, 0.0110)")
    log = tmp_path / "log.txt"
    log.write_text("\n".join(rows) + "\n")
    raw = parse_log(log)
    text = peers.paired_report(raw, ["net"], budgets=(8, 20))

    def cell(diffs):
        d = torch.tensor(diffs, dtype=torch.float64)
        return f"{float(d.mean()):+.4f} +-{float(d.std()):.4f}"
    # <= 8: default 8 steps (0.10, 0.20, 0.30); <= 20: default's best is still 8 steps (mean 0.20 < 0.20333)
    d8 = (0.10, 0.20, 0.30)
    # best DInG within 8 calls: ding1/ddpm itself (0.20) vs ding/square 4 steps (0.19) -> ding/square
    # within 20: ding/square 10 steps (mean 0.1667)
    assert (f"| net | best DInG setting | {cell([a - b for a, b in zip(d8, (0.12, 0.19, 0.26))])} (ding/square, 7) "
            f"| {cell([a - b for a, b in zip(d8, (0.08, 0.16, 0.26))])} (ding/square, 19) |") in text
    # LanPaint within 8: LanPaint 2 steps (mean 0.2667); within 20: 'LanPaint 1 Langevin step' (0.2333)
    # beats LanPaint 4 steps (0.24)
    assert (f"| net | best LanPaint setting | {cell([a - b for a, b in zip(d8, (0.15, 0.30, 0.35))])} (LanPaint, 7) "
            f"| {cell([a - b for a, b in zip(d8, (0.11, 0.27, 0.32))])} (LanPaint 1 Langevin step, 20) |") in text
    # euler: 8 steps (mean 0.22) at both budgets (20 steps has mean 0.25)
    eu = cell([a - b for a, b in zip(d8, (0.20, 0.21, 0.25))])
    assert f"| net | comfy euler | {eu} | {eu} |" in text
    assert "| net | comfy dpmpp_2m | - | - |" in text  # 1 seed against 3: not paired
    assert peers.paired_difference(raw, ("net | ding1/ddpm", 8), ("net | nope", 8)) is None
    mean, sd, n = peers.paired_difference(raw, ("net | ding1/ddpm", 20), ("net | ding1/ddpm", 8))
    assert n == 3 and abs(mean) < 1e-12 and abs(sd - 0.0264575) < 1e-6  # sd of (-0.01, -0.02, 0.03)

    # the same table from the log, with the per-seed floors; the exact denoiser ran only the default
    peers.main(["--from-log", str(log), "--budgets", "8", "20"])
    out = capsys.readouterr().out
    net_rows = [line for line in text.splitlines() if line.startswith("| net |")]
    assert len(net_rows) == 4 and all(line in out for line in net_rows)
    assert "| exact | best DInG setting | +0.0000 +-0.0000 (ding1/ddpm, 8) | +0.0000 +-0.0000 (ding1/ddpm, 8) |" in out
    assert "| exact | best LanPaint setting | - | - |" in out
    assert "exact vs exact floor SW1 0.0100 +-0.0010 (per seed 0.0090, 0.0100, 0.0110)" in out


def test_real_digits_plan_and_mask_means():
    """--real-digits: the five DInG settings and three ComfyUI samplers at one step count per budget
    8 / 20 / 40 / 60 (the --network plan's), LanPaint at its defaults at four step counts and its
    own 30 steps; mean_over_masks averages the masks per seed, then takes mean and sd over seeds."""
    plan = {m[0]: m for m in peers.real_digits_methods(lanpaint=True)}
    assert set(plan) == set(peers.REAL_LABELS) | {"LanPaint"}
    for label, kind, opts, steps in plan.values():
        keys = [k for _, k in steps]
        if kind == "lanpaint":
            assert opts == {} and keys == list(peers.NETWORK_BUDGETS) + [peers.DEFAULT_KEY]
            assert steps[-1][0] == peers.LANPAINT_DEFAULT_STEPS
            continue
        assert keys == list(peers.NETWORK_BUDGETS)
        for s, b in steps:
            assert b - 1 <= _calls(kind, opts, s) <= b, (label, s, b)
    assert plan["ding1/ddpm K=4"][2]["particles"] == 4 and plan["ding1/ddpm"][2] == dict(variant="ding1", eta="ddpm")
    assert "LanPaint" not in {m[0] for m in peers.real_digits_methods(lanpaint=False)}
    # two masks, two seeds: (agree, fd, ...) per seed
    scores = {("a", "x", 8): [(0.50, 10.0, 0, 0, 8.0, 0), (0.70, 14.0, 0, 0, 8.0, 0)],
              ("b", "x", 8): [(0.90, 20.0, 0, 0, 8.0, 0), (0.90, 30.0, 0, 0, 8.0, 0)],
              ("a", "y", 8): [(0.10, 1.0, 0, 0, 7.0, 0), (0.10, 1.0, 0, 0, 7.0, 0)]}
    rows = peers.mean_over_masks(scores, ["x", "y"], (8, 20))
    # x: per-seed means (0.70, 15.0) and (0.80, 22.0) -> 75.0 ±7.1, FD 18.5 ±4.9
    assert rows[0] == ["x", "75.0 ±7.1 · 18.5 ±4.9 (8)", "-"]
    assert rows[1] == ["y", "-", "-"]  # mask b lacks y
    with pytest.raises(SystemExit):
        peers.parse_args(["--real-digits", "--network", "mixture25-mlp256"])
    with pytest.raises(SystemExit):
        peers.parse_args(["--real-digits", "--digits", "-1"])


def test_parse_logs_merges_logs_by_problem_seed(tmp_path):
    """Two --network logs sharing the exact denoiser's seeds 1-2 and a third with seeds 3-4: every
    (label, steps, seed) counts once, values are ordered by seed, the floors follow their seeds,
    and a label that ran fewer seeds is not paired with one that ran more (no crash, '-')."""
    def log(name, seeds, rows, floors):
        head = f"# prior: ...; N = 10 per run (one batch); seeds {list(seeds)}; scheduler 'simple'\n"
        text = head + "\n".join(rows) + "\nexact vs exact floor SW1 0.0100 +-0.0010 (per seed " + \
            ", ".join(f"{v:.4f}" for v in floors) + ")\n"
        path = tmp_path / name
        path.write_text(text)
        return path

    def run(seed, label, sw):
        return f"seed {seed} {label} steps    8 calls    8.0 SW1 {sw:.4f} TV 0.000 (1 s)"

    a = log("a.txt", (1, 2), [run(s, "exact | ding1/ddpm", 0.01 * s) for s in (1, 2)]
            + [run(s, "netA | ding1/ddpm", 0.1 * s) for s in (1, 2)]
            + [run(s, "netA | comfy euler", 0.2 * s) for s in (1, 2)], (0.011, 0.012))
    b = log("b.txt", (1, 2), [run(s, "exact | ding1/ddpm", 0.01 * s) for s in (2, 1)], (0.011, 0.012))
    c = log("c.txt", (3, 4), [run(s, "exact | ding1/ddpm", 0.01 * s) for s in (4, 3)]
            + [run(s, "netA | ding1/ddpm", 0.1 * s) for s in (3, 4)], (0.013, 0.014))
    raw, floors = peers.parse_logs([a, b, c])
    assert [v[0] for v in raw["exact | ding1/ddpm"][8]] == [0.01, 0.02, 0.03, 0.04]
    assert [v[0] for v in raw["netA | ding1/ddpm"][8]] == [0.1, 0.2, 0.3, 0.4]
    assert floors == [0.011, 0.012, 0.013, 0.014]
    # comfy euler ran seeds 1-2 only: not paired with the default's 4 seeds
    assert peers.paired_difference(raw, ("netA | ding1/ddpm", 8), ("netA | comfy euler", 8)) is None
    text = peers.network_report(raw, floors, ["exact", "netA"], budgets=(8,))
    assert "| comfy euler | netA - exact | - |" in text
    assert "| ding1/ddpm | netA - exact | +0.2250 +-0.1162 |" in text  # (0.09, 0.18, 0.27, 0.36)


def test_seed_noise_splits_sampling_seeds_from_problems():
    """Runs p + 1000 r: the mean is over every run, run_sd the pooled within-problem sd, the seed
    noise run_sd / sqrt(runs), 'between' the sd of the problem means; unequal or single seed counts
    give None."""
    diffs = {1: -0.10, 1001: -0.12, 2001: -0.11, 2: 0.00, 1002: 0.02, 2002: 0.01}
    st = peers.seed_noise(diffs)
    assert st["problems"] == pytest.approx({1: -0.11, 2: 0.01})
    assert st["mean"] == pytest.approx(-0.05)
    assert st["run_sd"] == pytest.approx(0.01)  # each problem: values +-0.01 around its mean
    assert st["noise"] == pytest.approx(0.01 / 6 ** 0.5)
    assert st["between"] == pytest.approx(0.12 / 2 ** 0.5)
    assert peers.seed_noise({1: 0.1, 2: 0.2}) is None  # one sampling seed a problem
    assert peers.seed_noise({1: 0.1, 1001: 0.2, 2: 0.3}) is None  # unequal counts


def test_seed_noise_report_from_a_replicated_log(tmp_path, capsys):
    """--sample-seeds log (no exact denoiser): default minus the best LanPaint setting run by run,
    with |mean| / seed noise and the problems won by more than twice their own seed noise; the best
    DInG peer excludes the default itself; --from-log rebuilds the same report."""
    sw = {  # label -> steps -> (calls, {run seed: SW1})
        "ding1/ddpm": {8: (8, {1: 0.10, 1001: 0.11, 2: 0.20, 1002: 0.21})},
        "ding/ddpm": {4: (7, {1: 0.15, 1001: 0.15, 2: 0.25, 1002: 0.27})},
        "LanPaint": {2: (7, {1: 0.13, 1001: 0.14, 2: 0.20, 1002: 0.22}),
                     30: (141, {1: 0.09, 1001: 0.09, 2: 0.21, 1002: 0.21})},
    }
    rows = [f"seed {seed} net | {label} steps {steps:4d} calls {calls:6.1f} SW1 {v:.4f} TV 0.000 (1 s)"
            for label, by in sw.items() for steps, (calls, vals) in by.items() for seed, v in sorted(vals.items())]
    log = tmp_path / "log.txt"
    log.write_text("# prior: ...; seeds [1, 2]; ...\n" + "\n".join(rows) + "\n"
                   "exact vs exact floor SW1 0.0100 +-0.0000 (per seed 0.0100, 0.0100)\n")
    raw, _ = peers.parse_logs([log])
    seeds = peers.logged_run_seeds([log])
    assert seeds == [1, 2, 1001, 1002]
    text = peers.seed_noise_report(raw, seeds, ["net"], budgets=(8,))
    # vs LanPaint: problem 1 -0.03, -0.03, problem 2 0.00, -0.01: mean -0.0175; within-problem variances
    # 0 and 0.00005 -> run_sd 0.005, noise 0.005 / sqrt 4; problem means -0.03 (< -2 * 0.005 / sqrt 2)
    # and -0.005 (not)
    assert "| net | best LanPaint setting | -0.0175 ±0.0025 [0.0177] x7.0 1/2 (LanPaint, 7) |" in text
    assert "| net | best DInG setting | -0.0500 ±0.0035 [0.0071] x14.1 2/2 (ding/ddpm, 7) |" in text
    assert "| net | ding1/ddpm | 0.1550 ±0.0035 [0.0707] (8) |" in text
    # the further target: the best DInG run within 8 calls (the default) minus LanPaint's 141-call run
    # (0.01, 0.02, -0.01, 0.00: mean 0.005, run_sd sqrt(0.00005), noise run_sd / 2, problems +0.015 / -0.005)
    assert ("| net | best DInG setting minus LanPaint at its defaults (30 steps) | +0.0050 ±0.0035 [0.0141] x1.4 "
            "0/2 (ding1/ddpm, 8) |") in text
    peers.main(["--from-log", str(log)])
    assert "| net | best LanPaint setting | -0.0175 ±0.0025 [0.0177] x7.0 1/2 (LanPaint, 7) |" in capsys.readouterr().out
