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


def test_network_is_served_through_the_model_patcher(comfy_host):
    """--network's model: bench.learned's mixture25-mlp256 behind the ModelPatcher wrapper. One euler
    step of ComfyUI's sample_custom from flow sigma 0.6 to 0 returns the served x0: it equals the
    network's own output on the state ComfyUI built (0.6 noise + 0.4 latent in model space, the flow
    convention) to float tolerance, the wrapper is handed the flow sigma 0.6 itself, and the output
    is not the exact denoiser's (so the network, not the mixture, is what ComfyUI sampled with)."""
    import comfy.sample
    import torch

    from bench import learned
    from comfy_testbed import tiny_models
    net = learned.load("mixture25-mlp256")
    files = tiny_models.write_tiny_sd3(comfy_host.models_dir, checkpoint=False, vae=False, taesd3_pair=False)
    (base,) = comfy_host.call_node("UNETLoader", unet_name=files.unet_name, weight_dtype="default")
    (model,) = comfy_host.call_node("ModelSamplingSD3", model=base, shift=3.0)
    prior = learned.make_prior("mixture25")
    seen = []

    def recording(x, sigma):
        seen.append((x.clone(), sigma.clone()))
        return net(x, sigma)
    em = peers.ExactModel(model, prior, denoise=recording)
    n = 64
    y = prior.sample(n, torch.Generator().manual_seed(3)).float().reshape(n, *peers.LATENT)
    latent = em.to_latent(y)
    noise = torch.randn(latent.shape, generator=torch.Generator().manual_seed(4))
    (sampler,) = comfy_host.call_node("KSamplerSelect", sampler_name="euler")
    sigmas = torch.tensor([0.6, 0.0])
    with torch.inference_mode():
        out = comfy.sample.sample_custom(em.patcher, noise, 1.0, sampler, sigmas, peers.conditioning(),
                                         peers.conditioning(), latent, seed=0, disable_pbar=True)
    assert em.rows == n and len(seen) == 1
    x_in, sigma_in = seen[0]
    assert torch.allclose(sigma_in.reshape(-1).float(), torch.full((n,), 0.6), atol=1e-6)
    state = 0.6 * noise + 0.4 * em.from_latent(latent)
    assert (x_in.float() - state).abs().max() < 1e-5
    served = em.from_latent(out.float()).reshape(n, -1)
    direct = net(state.reshape(n, -1), torch.full((n,), 0.6))
    assert (served - direct).abs().max() < 1e-4, (served - direct).abs().max()
    exact = peers.Float32Mixture(prior)(state.reshape(n, -1), torch.full((n,), 0.6))
    assert (served - exact).abs().mean() > 1e-2, (served - exact).abs().mean()


def test_peers_network_run_serves_both_denoisers(comfy_host, tmp_path):
    """--network mixture25-mlp256 --quick (seed 1, N = 200, DInG-1/ddpm and masked euler, up to 20
    calls): the exact denoiser and the network each run the plan with calls counted (one a step, K a
    step with particles), their scores differ, and with the network DInG-1/ddpm still beats
    ComfyUI's masked euler at 20 calls (about 0.08 vs 0.14)."""
    results = peers.main(["--network", "mixture25-mlp256", "--quick", "--samples", "200", "--seeds", "1",
                          "--only", "ding1/ddpm", "comfy euler", "--no-lanpaint",
                          "--log", str(tmp_path / "log.txt")])
    for den in ("exact", "mixture25-mlp256"):
        for label in ("ding1/ddpm", "comfy euler", "ding1/ddpm K=4"):
            pts = results[f"{den} | {label}"]
            k = 4 if "K=4" in label else 1
            assert [round(p[1]) for p in pts] == [k * p[2] for p in pts], (den, label, pts)
    a, b = results["exact | ding1/ddpm"], results["mixture25-mlp256 | ding1/ddpm"]
    assert all(abs(p[0] - q[0]) > 1e-3 for p, q in zip(a, b)), (a, b)
    ding = peers.best_within(b, 20)[0]
    euler = peers.best_within(results["mixture25-mlp256 | comfy euler"], 20)[0]
    assert ding < euler, (ding, euler)
    text = (tmp_path / "log.txt").read_text()
    assert "| ding1/ddpm | mixture25-mlp256 - exact |" in text and "exact vs exact floor SW1" in text
    assert "| mixture25-mlp256 | comfy euler |" in text  # the paired differences


def test_peers_sample_seeds_rerun_each_problem_with_new_noise(comfy_host, tmp_path):
    """--sample-seeds 2 --no-exact on digits-mlp256 (seeds 1 2, N = 200, DInG-1/ddpm at 8 steps):
    run seeds 1, 2, 1001, 1002; run seed p repeats the run of a plain --seeds p run exactly (same
    problem, same noise), run seed p + 1000 is the same problem with other noise (a different SW1,
    within 0.05 of it), no exact-denoiser runs, and the log ends with seed_noise_report."""
    common = ["--network", "digits-mlp256", "--samples", "200", "--only", "ding1/ddpm", "--steps", "8",
              "--no-lanpaint", "--no-exact", "--seeds", "1", "2"]
    peers.main(common + ["--sample-seeds", "2", "--log", str(tmp_path / "two.txt")])
    peers.main(common + ["--log", str(tmp_path / "one.txt")])
    two, one = peers.parse_log(tmp_path / "two.txt"), peers.parse_log(tmp_path / "one.txt")
    assert peers.logged_run_seeds([tmp_path / "two.txt"]) == [1, 2, 1001, 1002]
    assert not any(label.startswith("exact") for label in two)
    rows = two["digits-mlp256 | ding1/ddpm"][8]
    assert rows[:2] == one["digits-mlp256 | ding1/ddpm"][8]  # r = 0: the plain runs, bit for bit
    for first, again in zip(rows[:2], rows[2:]):
        assert first[0] != again[0] and abs(first[0] - again[0]) < 0.05, (first, again)
    text = (tmp_path / "two.txt").read_text()
    assert "seed noise: 4 runs = 2 problems x 2 sampling seeds" in text
    assert "| digits-mlp256 | ding1/ddpm | " in text.split("seed noise:")[1]


def test_peers_real_digits_through_comfyui(comfy_host, tmp_path):
    """--real-digits --quick on the first 60 test digits (seed 1, 8 and 20 calls, DInG-1/ddpm and
    masked euler): realdigits-mlp256 is what ComfyUI samples with (calls counted one a step), the
    kept-region estimate is the network's (not pasted: its error is > 0), every mask kind is scored,
    and DInG-1/ddpm's classifier agreement averaged over the masks at 20 calls beats masked euler's
    (88.6 % vs 75.6 % on all 360 digits, seed 1)."""
    from bench.learned import real
    result = peers.main(["--real-digits", "--quick", "--digits", "60", "--no-lanpaint",
                         "--only", "ding1/ddpm", "comfy euler", "--log", str(tmp_path / "log.txt")])
    scores = result[real.REAL_NETWORK]["scores"]
    assert {k[0] for k in scores} == set(real.MASKS)
    assert {k[1] for k in scores} == {"ding1/ddpm", "ding1/ddpm K=4", "comfy euler", "comfy euler_ancestral"}
    for (mask, label, budget), runs in scores.items():
        agree, fd, kept_mean, kept_max, calls, _ = runs[0]
        assert 0.0 <= agree <= 1.0 and fd >= 0.0 and kept_mean > 0.0
        assert budget - 1 <= calls <= budget, (mask, label, budget, calls)

    def mean_agree(label):
        return sum(scores[(m, label, 20)][0][0] for m in real.MASKS) / len(real.MASKS)
    assert mean_agree("ding1/ddpm") > mean_agree("comfy euler")
    text = (tmp_path / "log.txt").read_text()
    assert "## mean over the four masks" in text and "FD floor" in text
