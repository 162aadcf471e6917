"""bench.memory without ComfyUI: its peak-RSS reading on a torch program with a known allocation,
and its stage / ratio arithmetic on made-up node records."""
import os

import pytest
import torch

from bench import memory


def _node(before, peak, seconds=1.0):
    return {"before": before, "peak": peak, "extra": peak - before, "seconds": seconds}


def _record(path, size, nodes, base):
    graph_peak = max(n["peak"] for n in nodes.values())
    return {"path": path, "size": size, "nodes": nodes, "base": base, "graph_peak": graph_peak,
            "graph_extra": graph_peak - base}


def _records(size, pack_encode_peak=130.0):
    """One repetition per path; MiB figures chosen so every stage's extra is known."""
    pack = _record("pack", size, {
        "DInGInpaintEncode": _node(100.0, pack_encode_peak),
        "DInGKSampler": _node(110.0, 120.0),
        "VAEDecode": _node(111.0, 140.0),
        "DInGComposite": _node(120.0, 150.0),
    }, base=100.0)
    comfy = _record("comfy", size, {
        "VAEEncode": _node(100.0, 120.0),
        "SetLatentNoiseMask": _node(110.0, 125.0),   # the stage's peak: 25 over the VAEEncode baseline
        "KSampler": _node(110.0, 130.0),
        "VAEDecode": _node(111.0, 140.0),
        "ImageCompositeMasked": _node(120.0, 160.0),
    }, base=100.0)
    return [pack, comfy]


def test_stage_extra_is_the_highest_peak_over_the_stage_minus_the_rss_before_it():
    rec = _records(1024)[1]
    assert memory.stage_extra(rec, ("VAEEncode", "SetLatentNoiseMask")) == pytest.approx(25.0)
    assert memory.stage_extra(rec, ("KSampler",)) == pytest.approx(20.0)


def test_summary_ratios_and_units():
    size = 1024
    rows = {r["stage"]: r for r in memory.summarize(_records(size), size)}
    assert list(rows) == ["encode", "sampler", "decode", "composite", "graph"]
    assert rows["encode"]["ratio"] == pytest.approx(30.0 / 25.0)
    assert rows["sampler"]["ratio"] == pytest.approx(10.0 / 20.0)
    assert rows["composite"]["ratio"] == pytest.approx(30.0 / 40.0)
    assert rows["graph"]["ratio"] == pytest.approx(50.0 / 60.0)
    image_mib = size * size * 3 * 4 / 2**20
    latent_mib = 16 * (size // 8) ** 2 * 4 / 2**20
    assert rows["encode"]["diff_units"] == pytest.approx(5.0 / image_mib)
    assert rows["sampler"]["pack_units"] == pytest.approx(10.0 / latent_mib)
    text = "\n".join(memory.format_rows(list(rows.values()), size))
    assert "1.20" in text and "0.50" in text


def test_summary_medians_and_spread_over_repetitions():
    size = 512
    records = _records(size, 130.0) + _records(size, 140.0) + _records(size, 160.0)
    encode = memory.summarize(records, size)[0]
    assert (encode["pack"], encode["pack_min"], encode["pack_max"]) == (40.0, 30.0, 60.0)
    assert (encode["paired_min"], encode["paired_max"]) == pytest.approx((30.0 / 25.0, 60.0 / 25.0))


def test_summary_needs_both_paths():
    assert memory.summarize(_records(256)[:1], 256) == []


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK), reason="needs Linux's /proc/self/clear_refs")
def test_peak_reading_sees_a_freed_allocation_and_resets():
    """A 64 MiB tensor allocated and freed between two readings shows in VmHWM after a reset,
    and the next reset forgets it."""
    memory.reset_peak()
    before = memory.rss_mib()
    t = torch.ones(16 * 2**20)  # 64 MiB, touched
    del t
    seen = memory.peak_mib() - before
    assert seen >= 60.0
    memory.reset_peak()
    assert memory.peak_mib() - memory.rss_mib() < 8.0


def test_live_tensor_trace_follows_views_and_finds_the_peak():
    """Two 4 MiB buffers alive together are the peak; a buffer kept alive only by a view of it
    still counts; small tensors are left out."""
    mib = 2**20
    with memory.LiveTensors(mib) as live:
        a = torch.ones(mib)               # 4 MiB
        view = (a + 1)[:10]               # the sum (4 MiB) stays alive through its view
        assert live.total == 8 * mib
        del a
        torch.ones(8)                     # under min_bytes: not counted
        assert live.total == 4 * mib
        del view
        assert live.total == 0
        b = torch.zeros(mib // 2)         # 2 MiB
    assert live.peak == 8 * mib
    assert sorted(e[0] for e in live.at_peak) == [4 * mib, 4 * mib]
    assert live.total == 2 * mib and b.numel() == mib // 2
