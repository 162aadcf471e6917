"""bench.overhead's report arithmetic: ratios and the gradient cost model from known runs.

No ComfyUI and no timing: the runs are made up with known times, so every printed
ratio has an exact expected value.
"""
import re

import pytest

from bench import overhead
from bench.overhead import Run, Setup

S = 4


def _layers(calls, forward, backward=0.0):
    """Inclusive timers of one run: network forward, a 1 ms wrapper per call, and
    (gradient reference) ``backward`` seconds of sampler own work."""
    apply_model = forward + 0.001 * calls
    calc = apply_model + 0.001 * calls
    model_call = calc + 0.0005 * calls
    sampler_fn = model_call + backward + 0.0002 * calls
    wall = sampler_fn + 0.002
    return {"forward": forward, "apply_model": apply_model, "calc_cond_batch": calc, "model_call": model_call,
            "ding_sample": 0.0, "sampler_fn": sampler_fn, "ksampler_sample": sampler_fn, "calls": calls,
            "wall": wall}


def _run(method, steps, calls, f_per_call, back_per_call=0.0, rss=100.0, tensor=50.0):
    lay = _layers(calls, f_per_call * calls, back_per_call * calls)
    return Run(method, steps, lay["wall"], lay["wall"], rss, 1000.0 + rss, lay, tensor_peak=tensor)


def _runs(f=1.0, f_grad=1.5, back=1.7):
    return {
        f"ding {S}": [_run("ding", S, 2 * S - 1, f)],
        f"ding1 {S}": [_run("ding1", S, S, f)],
        f"euler {2 * S - 1}": [_run("euler", 2 * S - 1, 2 * S - 1, f)],
        f"euler+mask {2 * S - 1}": [_run("euler+mask", 2 * S - 1, 2 * S - 1, f)],
        f"euler {S}": [_run("euler", S, S, f)],
        f"euler+mask {S}": [_run("euler+mask", S, S, f)],
        f"gradient {S}": [_run("gradient", S, S, f_grad, back, rss=400.0, tensor=500.0)],
    }


def _setup():
    return Setup("test model", 2, 128, S, 1, 1_000_000, None, [], [], {}, {}, 0.7)


def test_cost_model_is_forward_plus_backward_in_plain_forwards():
    line = overhead.cost_model_lines(_runs(f=1.0, f_grad=1.5, back=1.7), S)[0]
    # (F_g + B) / F with B = backward + the 0.2 ms update per step counted as sampler own work
    step = (1.5 + 1.7 + 0.0002) / 1.0
    assert f"= {step:.2f} F;" in line
    assert f"gradient / ding1 ~ {step:.2f}" in line
    assert f"gradient / ding ~ {step * S / (2 * S - 1):.2f}" in line
    assert "1.50 F + backward" in line


def test_summary_ratios_against_the_gradient_reference():
    runs = _runs(f=1.0, f_grad=1.5, back=1.7)
    text = "\n".join(overhead.summarise(_setup(), runs))
    wall = {k: v[0].wall for k, v in runs.items()}
    for variant in ("ding", "ding1"):
        m = re.search(rf"=> {variant} {S} is ([0-9.]+)x faster than gradient {S}.*?needs (\d+)% less peak tensor "
                      rf"memory \((\d+)% less peak RSS", text)
        assert m, text
        assert float(m.group(1)) == pytest.approx(wall[f"gradient {S}"] / wall[f"{variant} {S}"], abs=0.006)
        assert int(m.group(2)) == 90   # 1 - 50 / 500
        assert int(m.group(3)) == 75   # 1 - 100 / 400
    # equal calls: DInG and euler made the same calls with the same per-call cost -> ratio 1
    row = next(ln for ln in text.splitlines() if ln.strip().startswith(f"ding {S} / euler {2 * S - 1}"))
    assert float(row.split()[5]) == pytest.approx(1.0, abs=1e-3)
