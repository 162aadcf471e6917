"""Node help pages. The frontend's help panel (ComfyUI frontend 1.35) asks first for the page in the
user's language, /extensions/<pack>/docs/<NodeId>/<locale>.md, then for /extensions/<pack>/docs/<NodeId>.md:
both are served from web/docs/, with the same text (web/docs/<NodeId>.md is the one to edit; copy it to
web/docs/<NodeId>/en.md). Each names every input and output of its node and reads in the panel's
default 240-px width: no tables, no long unbreakable words."""
import re
from pathlib import Path

import pytest

from tests.test_workflows import gen

ROOT = Path(__file__).resolve().parent.parent


def test_entry_point_serves_web_directory():
    source = (ROOT / "__init__.py").read_text(encoding="utf-8")
    assert re.search(r'^WEB_DIRECTORY = "\./web"', source, re.M)


@pytest.mark.parametrize("node_id", sorted(gen.OURS))
def test_help_page_names_every_input_and_output(node_id):
    page = ROOT / "web" / "docs" / f"{node_id}.md"
    assert page.is_file(), page
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# DInG ")
    links, outputs, widgets = gen.NODE_SHAPES[node_id]
    for name in [n for n, _ in links] + [w for w in widgets if not w.startswith("@")]:
        assert f"**{name}**" in text, f"{page.name} does not describe input {name}"
    for name, typ in outputs:
        assert f"**{name}**" in text or f"**{typ}**" in text, f"{page.name} does not describe output {name}"


@pytest.mark.parametrize("node_id", sorted(gen.OURS))
def test_localized_help_page_is_the_same_text(node_id):
    plain = ROOT / "web" / "docs" / f"{node_id}.md"
    localized = ROOT / "web" / "docs" / node_id / "en.md"
    assert localized.is_file(), f"{localized} is missing: copy {plain.name} there"
    assert localized.read_bytes() == plain.read_bytes(), f"{localized} differs from {plain}: copy {plain.name} there"


def test_no_help_page_for_a_node_that_does_not_exist():
    docs = ROOT / "web" / "docs"
    assert {p.stem for p in docs.glob("*.md")} == set(gen.OURS)
    assert {p.name for p in docs.iterdir() if p.is_dir()} == set(gen.OURS)
    assert all(sorted(q.name for q in (docs / n).iterdir()) == ["en.md"] for n in gen.OURS)


@pytest.mark.parametrize("node_id", sorted(gen.OURS))
def test_help_page_fits_the_narrow_panel(node_id):
    """The help panel is 240 px wide by default: a markdown table there squeezes each column to a
    word or two, so the pages use lists; no word is so long that it overflows the panel."""
    text = (ROOT / "web" / "docs" / f"{node_id}.md").read_text(encoding="utf-8")
    assert not re.search(r"^\s*\|", text, re.M), f"{node_id}.md has a table"
    longest = max(re.findall(r"\S+", re.sub(r"[*`]", "", text)), key=len)
    assert len(longest) <= 32, f"{node_id}.md: {longest!r} is too long for a 240-px panel"


@pytest.mark.parametrize("node_id", sorted(gen.OURS))
def test_help_pages_call_nodes_by_their_display_names(node_id):
    """Pages name nodes as the canvas and the node search show them (the generator's table of
    display names, which the integration suite checks against ComfyUI)."""
    text = (ROOT / "web" / "docs" / f"{node_id}.md").read_text(encoding="utf-8")
    assert text.startswith(f"# {gen.DISPLAY_NAMES[node_id]}\n")
    for wrong in ("DInG SAMPLER", "DInG Composite", "DInG Inpaint Encode", "DInG Inpaint Composite",
                  "DInG KSampler", "DInG Sampler ", "DInG Encode"):
        assert wrong not in text, f"{node_id}.md says {wrong!r}"
