import math

import pytest

from ding_sampler import flow_sigmas, karras_sigmas, plan_transitions, signal_and_noise
from ding_sampler.schedule import bridge_std, vp_scale


@pytest.mark.parametrize("sigma", [0.0, 0.3, 1.0])
def test_flow_signal_and_noise(sigma):
    assert signal_and_noise(sigma, "flow") == (1 - sigma, sigma)
    assert vp_scale(sigma, "flow") == 1.0


@pytest.mark.parametrize("sigma", [0.0, 0.5, 14.6])
def test_ve_is_variance_preserving(sigma):
    a, s = signal_and_noise(sigma, "ve")
    assert a * a + s * s == pytest.approx(1.0)
    assert s / a == pytest.approx(sigma)
    assert vp_scale(sigma, "ve") == pytest.approx(a)


def test_square_bridge_is_sigma_squared_for_flow():
    (step,), final = plan_transitions([0.8, 0.4, 0.0], "flow", "square", 0.01)
    assert final
    assert step.eta == pytest.approx(0.4**2)
    assert step.c_t == pytest.approx(math.sqrt(0.4**2 - 0.4**4) / 0.8)
    assert step.c_0 == pytest.approx(0.6 - 0.2 * step.c_t)
    assert step.tau == pytest.approx(0.6 * 0.01)


def test_ddpm_multiple_and_named_schedules():
    a_t, s_t = signal_and_noise(0.8, "flow")
    a_s, s_s = signal_and_noise(0.4, "flow")
    r = a_t * s_s / (a_s * s_t)
    d = s_s * math.sqrt(1 - r * r)
    assert bridge_std("ddpm", a_t, s_t, a_s, s_s) == pytest.approx(d)
    assert bridge_std("ddim", a_t, s_t, a_s, s_s) == pytest.approx(0.01 * d)
    assert bridge_std(0.5, a_t, s_t, a_s, s_s) == pytest.approx(0.5 * d)
    assert bridge_std("default", a_t, s_t, a_s, s_s) == pytest.approx(s_s * math.sqrt(1 - a_s))


def test_plan_keeps_every_positive_target():
    steps, final = plan_transitions(flow_sigmas(10), "flow", "square", 0.01)
    assert final and len(steps) == 9
    steps, final = plan_transitions(flow_sigmas(10)[:5], "flow", "square", 0.01)
    assert not final and len(steps) == 4
    for st in steps:
        assert 0 < st.eta < st.s_s


def test_grids():
    g = flow_sigmas(27, shift=3.0)
    assert len(g) == 28 and g[0] == 1.0 and g[-1] == 0.0
    assert all(b < a for a, b in zip(g, g[1:]))
    k = karras_sigmas(10, 0.03, 14.6)
    assert len(k) == 11 and k[0] == pytest.approx(14.6) and k[-2] == pytest.approx(0.03) and k[-1] == 0.0
    with pytest.raises(ValueError, match="steps"):
        flow_sigmas(0)
