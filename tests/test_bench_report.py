"""bench.overhead without ComfyUI: its ratio arithmetic on made-up runs with known times,
its method plan, and its tensor-peak measurement on a torch program with a known peak."""
import re

import pytest
import torch

from bench import overhead
from bench.overhead import Case, Run

S = 4


def _run(calls, f_per_call, own, peak=50.0):
    """A run of ``calls`` model calls of ``f_per_call`` s each plus ``own`` s outside the network."""
    network = f_per_call * calls
    return Run(network + own, network, calls, peak, cpu=network + own, net_cpu=network)


def _runs(f=1.0, f_grad=1.5, back=1.7, setup=0.01):
    """Every method of plan(S); DInG and euler share per-call cost and setup, so equal calls cost the same."""
    runs = {}
    for method, steps in overhead.plan(S):
        calls = overhead.expected_calls(method, steps)
        if method == "gradient":
            runs[overhead.key(method, steps)] = [_run(calls, f_grad, setup + back * steps, peak=500.0)]
        else:
            runs[overhead.key(method, steps)] = [_run(calls, f, setup)]
    return runs


def test_plan_pairs_ding_with_euler_at_equal_calls():
    assert overhead.plan(S) == [("ding", 4), ("ding1", 4), ("euler", 7), ("euler+mask", 7),
                                ("euler", 4), ("euler+mask", 4), ("gradient", 4)]
    for a, b in overhead.comparisons(S)[:4]:
        (ma, na), (mb, nb) = a.split(), b.split()
        assert overhead.expected_calls(ma, int(na)) == overhead.expected_calls(mb, int(nb))
    assert overhead.comparisons(S)[4:] == [("gradient 4", "ding 4"), ("gradient 4", "ding1 4")]


def test_ratios_of_known_runs():
    a = [Run(2.0, 1.5, 3, 30.0, cpu=1.8, net_cpu=1.4), Run(4.0, 3.0, 3, 0.0, cpu=3.6, net_cpu=2.8)]
    b = [Run(1.0, 0.8, 3, 10.0, cpu=0.9, net_cpu=0.75), Run(2.0, 1.6, 3, 0.0, cpu=1.9, net_cpu=1.55)]
    wall, paired, own, own_cpu, peak = overhead.ratios(a, b)
    assert wall == pytest.approx(3.0 / 1.5)
    assert paired == pytest.approx(2.0)
    # own: medians of (0.5, 1.0) and (0.2, 0.4), over B's median wall 1.5
    assert own == pytest.approx(1.0 + (0.75 - 0.3) / 1.5)
    # own in CPU time: medians of (0.4, 0.8) and (0.15, 0.35), over B's median CPU time 1.4
    assert own_cpu == pytest.approx(1.0 + (0.6 - 0.25) / 1.4)
    assert peak == pytest.approx(3.0)


def test_gradient_step_cost_in_plain_forwards():
    f, fwd, back = overhead.gradient_step_cost(_runs(f=0.5, f_grad=0.75, back=0.85), S)
    assert f == pytest.approx(0.5)
    assert fwd == pytest.approx(1.5)
    assert back == pytest.approx(1.7)


def test_report_has_every_ratio_and_no_tracker_words():
    runs = _runs()
    case = Case("made-up", "a model that does not exist", None, [], [], {})
    text = "\n".join(overhead.report(case, S, runs) + [overhead.LEGEND])
    # equal calls with equal per-call cost and setup: every DInG / euler ratio is 1
    for a, b in overhead.comparisons(S)[:4]:
        row = next(ln for ln in text.splitlines() if ln.strip().startswith(f"{a} / {b}"))
        assert [float(v) for v in row.split()[-5:]] == pytest.approx([1.0, 1.0, 1.0, 1.0, 1.0]), row
    grad = next(ln for ln in text.splitlines() if ln.strip().startswith("gradient 4 / ding1 4"))
    wall = runs["gradient 4"][0].wall / runs["ding1 4"][0].wall
    assert float(grad.split()[-5]) == pytest.approx(wall, abs=6e-4)
    assert float(grad.split()[-1]) == pytest.approx(10.0)
    m = re.search(r"= ([0-9.]+) F, against", text)
    assert m and float(m.group(1)) == pytest.approx(1.5 + 1.7, abs=0.006)
    for word in ("issue", "target", "acceptance"):
        assert word not in text.lower()


def test_tensor_peak_of_a_known_program():
    mib = 2**20

    def program():
        a = torch.ones(mib // 4)          # 1 MiB of float32
        b = torch.ones(mib // 2)          # 2 MiB: 3 MiB live
        del a
        c = b * 2                         # 2 MiB more: 4 MiB live, the peak
        del b, c
        d = torch.ones(mib // 4)          # 1 MiB after everything else was freed
        return d.sum()

    assert overhead.tensor_peak_mib(program) == pytest.approx(4.0, abs=0.01)


def test_model_table_rows_are_complete():
    assert overhead.MODELS, "no model to measure"
    for name, spec in overhead.MODELS.items():
        assert callable(spec.build), name
        assert spec.steps >= 2 and spec.quick_steps >= 2 and spec.repeats >= 1 and spec.quick_repeats >= 1


def test_report_without_the_gradient_reference():
    """Where the gradient reference cannot backpropagate (measure leaves it out), the report
    still has every equal-call row and no gradient line."""
    runs = {k: v for k, v in _runs().items() if not k.startswith("gradient")}
    case = Case("made-up", "a model that does not exist", None, [], [], {})
    text = "\n".join(overhead.report(case, S, runs))
    for a, b in overhead.comparisons(S)[:4]:
        assert any(ln.strip().startswith(f"{a} / {b}") for ln in text.splitlines())
    assert "gradient" not in text
