"""Smoke test of the digits demo (``python -m ding_sampler.demo``) at small settings."""
from __future__ import annotations

import math

import pytest

pytest.importorskip("sklearn")
PIL_Image = pytest.importorskip("PIL.Image")

from ding_sampler import demo  # noqa: E402


@pytest.mark.slow
def test_demo_writes_grid_and_ding_beats_replacement(tmp_path, capsys):
    out = tmp_path / "grid" / "demo.png"
    digits = 3
    result = demo.main(["--out", str(out), "--steps", "20", "--samples", "100",
                        "--digits", str(digits), "--seed", "0"])

    assert out.is_file()
    with PIL_Image.open(out) as img:
        img.load()
        assert img.size == demo.grid_size(digits) == tuple(result["grid_size"])
        assert img.mode == "RGB"

    for table in ("sw", "obs_rmse"):
        assert set(result[table]) == {"exact", "ding", "ding1", "replacement"}
        assert all(math.isfinite(v) and v >= 0 for v in result[table].values())
    sw = result["sw"]
    # at seeds 0..5 ding's SW is 0.05 to 0.15 below replacement's at these settings
    assert sw["ding"] < sw["replacement"]
    assert sw["exact"] < min(sw["ding"], sw["ding1"], sw["replacement"])
    assert result["obs_rmse"]["replacement"] < 1e-6  # replacement pastes the observation
    assert result["calls"] == {"ding": 39, "ding1": 20, "replacement": 20}

    printed = capsys.readouterr().out
    assert "DInG" in printed and str(out.resolve()) in printed


@pytest.mark.slow
def test_demo_is_deterministic(tmp_path):
    argv = ["--steps", "4", "--samples", "20", "--digits", "2", "--seed", "3"]
    a = demo.main(argv + ["--out", str(tmp_path / "a.png")])
    b = demo.main(argv + ["--out", str(tmp_path / "b.png")])
    assert a["sw"] == b["sw"] and a["obs_rmse"] == b["obs_rmse"]
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_grid_has_title_sw_under_the_labels_and_a_legend(tmp_path):
    """The PNG alone tells what it shows: title, SW per method column, legend with the mask colour."""
    import torch

    g = torch.Generator().manual_seed(0)
    rows = [[torch.rand(64, generator=g) * 2 - 1 for _ in demo.COLUMNS] for _ in range(2)]
    keep = demo.keep_mask("bottom")
    sw = {"exact": 0.03, "ding": 0.16, "ding1": 0.13, "replacement": 0.28}
    demo.draw_grid(rows, keep, tmp_path / "full.png", ("a title",), sw)
    demo.draw_grid(rows, keep, tmp_path / "bare.png")
    with PIL_Image.open(tmp_path / "full.png") as full, PIL_Image.open(tmp_path / "bare.png") as bare:
        full, bare = full.convert("RGB"), bare.convert("RGB")
        assert full.size == bare.size == demo.grid_size(2)
        width, height = full.size
        title_band = (0, 0, width, demo.TITLE_LINES * demo.LINE)
        assert full.crop(title_band).getextrema() != bare.crop(title_band).getextrema()
        # the SW line under each column whose SW is known, and nothing under the others
        sw_top = demo.TITLE_LINES * demo.LINE + demo.GAP + demo.LINE
        for c, key in enumerate(demo.COLUMN_KEYS):
            x = demo.GAP + c * (demo.CELL + demo.GAP)
            box = (x, sw_top, x + demo.CELL, sw_top + demo.LINE)
            changed = full.crop(box).tobytes() != bare.crop(box).tobytes()
            assert changed == (key in sw), (demo.COLUMNS[c], key)
        # legend swatch in the mask colour, in the footer
        footer = full.crop((0, height - demo.FOOTER, width, height))
        assert demo.MASK_COLOUR in {colour for _, colour in footer.getcolors(1 << 16)}
