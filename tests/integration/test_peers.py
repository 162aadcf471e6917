"""bench.peers through the real ComfyUI: exact-prior model served via the ModelPatcher,
DInG through the DInGSampler node (V1 or V3), ComfyUI's euler with a noise mask."""
from bench import peers


def test_peers_quick_run_ranks_ding1_above_masked_euler(comfy_host, tmp_path):
    """Seed 1, N = 300, up to 60 calls: calls per image are counted exactly (DInG-1 =
    steps, euler = steps) and DInG-1/ddpm beats ComfyUI's masked euler at every budget
    (SW1 about 0.03-0.07 vs 0.12 at N = 2000; asserted: lower)."""
    results = peers.main(["--quick", "--samples", "300", "--only", "ding1/ddpm", "comfy euler",
                          "--no-lanpaint", "--log", str(tmp_path / "log.txt"), "--plot", str(tmp_path / "p.png")])
    assert set(results) == {"ding1/ddpm", "comfy euler", "comfy euler_ancestral"}
    for label in results:
        assert [round(p[1]) for p in results[label]] == [p[2] for p in results[label]]  # calls == steps
    for budget in (20, 40, 60):
        ding = peers.best_within(results["ding1/ddpm"], budget)[0]
        euler = peers.best_within(results["comfy euler"], budget)[0]
        assert ding < euler, (budget, ding, euler)
    assert (tmp_path / "p.png").stat().st_size > 1000
    assert "best SW1 <= 40 calls" in (tmp_path / "log.txt").read_text()
    # the log round-trips into the same table
    again = peers.summarize(peers.parse_log(tmp_path / "log.txt"))
    assert {k: [round(p[0], 4) for p in v] for k, v in again.items()} == \
           {k: [round(p[0], 4) for p in v] for k, v in results.items()}
