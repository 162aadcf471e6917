"""bench.peers through the real ComfyUI: exact-prior model served via the ModelPatcher,
DInG through the DInGSampler node (V1 or V3), ComfyUI's euler with a noise mask; the
few-step grids (ModelSamplingSD3 shift on the model). Runs with or without matplotlib."""
import importlib.util

from bench import peers


def test_peers_quick_run_ranks_ding1_above_masked_euler(comfy_host, tmp_path):
    """Seed 1, N = 300, up to 60 calls: calls per image are counted exactly (DInG-1 =
    steps, euler = steps) and DInG-1/ddpm beats ComfyUI's masked euler at every budget
    (SW1 about 0.03-0.07 vs 0.12 at N = 2000; asserted: lower). The plot is written when
    matplotlib is installed, and skipped with a message naming it when it is not."""
    results = peers.main(["--quick", "--samples", "300", "--only", "ding1/ddpm", "comfy euler",
                          "--no-lanpaint", "--log", str(tmp_path / "log.txt"), "--plot", str(tmp_path / "p.png")])
    assert set(results) == {"ding1/ddpm", "comfy euler", "comfy euler_ancestral"}
    for label in results:
        assert [round(p[1]) for p in results[label]] == [p[2] for p in results[label]]  # calls == steps
    for budget in (20, 40, 60):
        ding = peers.best_within(results["ding1/ddpm"], budget)[0]
        euler = peers.best_within(results["comfy euler"], budget)[0]
        assert ding < euler, (budget, ding, euler)
    log_text = (tmp_path / "log.txt").read_text()
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "p.png").stat().st_size > 1000
    else:
        assert not (tmp_path / "p.png").exists()
        assert "plot skipped: matplotlib is not installed" in log_text
    assert "best SW1 <= 40 calls" in log_text
    # the log round-trips into the same table
    again = peers.summarize(peers.parse_log(tmp_path / "log.txt"))
    assert {k: [round(p[0], 4) for p in v] for k, v in again.items()} == \
           {k: [round(p[0], 4) for p in v] for k, v in results.items()}


def test_peers_few_step_grids_reach_the_model(comfy_host, tmp_path):
    """--few-step with seed 1, N = 200, DInG-1/ddpm and ComfyUI's euler only: both grids run
    (the shift reaches the model: the same sampler scores differently on them), calls are the
    plan's (4 / 6 / 8 / 12), and at 12 calls DInG-1/ddpm beats masked euler on both grids
    (0.06 vs 0.12 at shift 3, 0.10 vs 0.15 at shift 9.7 with N = 1000)."""
    results = peers.main(["--few-step", "--samples", "200", "--seeds", "1", "--no-lanpaint",
                          "--only", "ding1/ddpm", "comfy euler", "--log", str(tmp_path / "log.txt")])
    grids = [key for key, *_ in peers.FEW_STEP_GRIDS]
    for key in grids:
        pts = results[f"{key} | ding1/ddpm"]
        assert [p[2] for p in pts] == list(peers.FEW_BUDGETS)
        assert [round(p[1]) for p in pts] == list(peers.FEW_BUDGETS)  # one call a step
        ding = peers.best_within(pts, 12)[0]
        euler = peers.best_within(results[f"{key} | comfy euler"], 12)[0]
        assert ding < euler, (key, ding, euler)
    a, b = (results[f"{key} | comfy euler"] for key in grids[:2])
    assert all(abs(p[0] - q[0]) > 1e-3 for p, q in zip(a, b)), (a, b)
    text = (tmp_path / "log.txt").read_text()
    assert all(f"### {key}" in text for key in grids) and "beaten on" in text
