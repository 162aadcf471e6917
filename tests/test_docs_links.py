"""README.md and docs/*.md: every relative link points to a file of the repository, and every
``#anchor`` to a heading of its page, with GitHub's heading slugs. The README stays short and
links every docs page, and its test command is the one .ci/run runs.

The checker is tested on pages with broken links too, so it can fail.
"""
from __future__ import annotations

import re
import shlex
import unicodedata
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 250

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_ATX = re.compile(r"^\s{0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
# [text](target) and ![alt](target); the target may be <...> and may carry a "title"
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s()]*(?:\([^\s()]*\)[^\s()]*)*)"
                          r"(?:\s+(?:\"[^\"]*\"|'[^']*'))?\s*\)")
_REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
_HTML_ANCHOR = re.compile(r"<a\s[^>]*\b(?:name|id)\s*=\s*[\"']([^\"']+)[\"']", re.I)


def _prose_lines(text: str):
    """(line number, line) outside fenced code blocks."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if m:
            if fence is None:
                fence = m.group(1)[0] * len(m.group(1))
            elif m.group(1).startswith(fence):
                fence = None
            continue
        if fence is None:
            yield number, line


def _rendered_heading_text(raw: str) -> str:
    """The text GitHub renders for a heading's inline Markdown (what its slug is made from)."""
    text = _CODE_SPAN.sub(lambda m: m.group(2).strip(), raw)
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images: their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = re.sub(r"(\*{1,3})(\S(?:.*?\S)?)\1", r"\2", text)  # *emphasis*, **strong**
    text = re.sub(r"(?<!\w)(_{1,3})(\S(?:.*?\S)?)\1(?!\w)", r"\2", text)  # _emphasis_
    return text


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, drop every character that is not a letter,
    digit, mark, underscore, hyphen or space, then each space becomes a hyphen."""
    text = _rendered_heading_text(heading).strip().lower()
    kept = [c for c in text if c in "-_ " or unicodedata.category(c)[0] in "LNM"]
    return "".join(kept).replace(" ", "-")


def anchors(text: str) -> set[str]:
    """Every anchor a page defines: its headings' slugs (repeats get -1, -2, ... as on GitHub)
    and explicit <a name/id> anchors."""
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose_lines(text):
        m = _ATX.match(line)
        if m:
            slug = github_slug(m.group(2))
            if slug in seen:
                seen[slug] += 1
                slug = f"{slug}-{seen[slug]}"
            else:
                seen[slug] = 0
            out.add(slug)
        out.update(a for a in _HTML_ANCHOR.findall(line))
    return out


def links(text: str):
    """(line number, target) of every inline link, image and reference definition outside code."""
    for number, line in _prose_lines(text):
        prose = _CODE_SPAN.sub("", line)
        for m in _INLINE_LINK.finditer(prose):
            yield number, m.group(1).strip("<>")
        m = _REFERENCE_DEF.match(prose)
        if m:
            yield number, m.group(1).strip("<>")


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """What is wrong with the relative links of ``page``: a missing file, a link that leaves the
    repository, or an anchor that no heading of the target page makes."""
    text = page.read_text(encoding="utf-8")
    problems = []
    for number, target in links(text):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:  # https:, mailto:, //host: not checked here
            continue
        where = f"{page.relative_to(root)}:{number}: {target}"
        path = unquote(parts.path)
        dest = (page.parent / path).resolve() if path else page.resolve()
        if path.startswith("/") or not dest.is_relative_to(root.resolve()):
            problems.append(f"{where} (leaves the repository)")
            continue
        if not dest.exists():
            problems.append(f"{where} (no such file)")
            continue
        if parts.fragment:
            if dest.suffix.lower() != ".md":
                continue  # line anchors in code files are GitHub viewer features, not headings
            fragment = unquote(parts.fragment)
            if fragment not in anchors(dest.read_text(encoding="utf-8")):
                problems.append(f"{where} (no heading with the anchor #{fragment})")
    return problems


# -- the checker itself ------------------------------------------------------------------------

@pytest.mark.parametrize("heading,slug", [
    ("Install", "install"),
    ("Two experts (Wan 2.2 A14B)", "two-experts-wan-22-a14b"),
    ("Quality per model call, against ComfyUI's samplers and LanPaint (`python -m bench.peers`)",
     "quality-per-model-call-against-comfyuis-samplers-and-lanpaint-python--m-benchpeers"),
    ("12. What the model is told: one noise level", "12-what-the-model-is-told-one-noise-level"),
    ("With Inpaint Crop&Stitch and DifferentialDiffusion", "with-inpaint-cropstitch-and-differentialdiffusion"),
    ("DInG Inpaint/Outpaint Encode (`DInGInpaintEncode`, *latent/inpaint*)",
     "ding-inpaintoutpaint-encode-dinginpaintencode-latentinpaint"),
    ("Particles (experimental): `ding_sample(..., particles=K)`", "particles-experimental-ding_sample-particlesk"),
    ("Über **bold** [link](x.md)", "über-bold-link"),
])
def test_github_slug(heading, slug):
    assert github_slug(heading) == slug


def test_repeated_headings_get_numbered_anchors():
    assert anchors("# A\n## Notes\n## Notes\n### Notes\n") == {"a", "notes", "notes-1", "notes-2"}


def test_checker_finds_broken_links_and_anchors(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "b.md").write_text("# Page B\n\n## Some Section\n", encoding="utf-8")
    (tmp_path / "pic one.png").write_bytes(b"")
    page = tmp_path / "README.md"
    page.write_text(
        "# Top\n\n"
        "[ok](docs/b.md) [ok](docs/b.md#some-section) [ok](#top) ![ok](pic%20one.png)\n"
        "[web](https://example.com/missing.md#nowhere) `[code](docs/none.md)`\n\n"
        "```\n[fenced](docs/none.md)\n```\n\n"
        "[missing file](docs/c.md)\n"
        "[missing anchor](docs/b.md#no-such-section)\n"
        "[missing local anchor](#bottom)\n"
        "[outside](../elsewhere.md)\n"
        "[ref]: docs/d.md\n",
        encoding="utf-8")
    problems = broken_links(page, root=tmp_path)
    assert [p.split(": ", 1)[1].split(" (")[0] for p in problems] == [
        "docs/c.md", "docs/b.md#no-such-section", "#bottom", "../elsewhere.md", "docs/d.md"], problems
    assert "no heading with the anchor #no-such-section" in problems[1]
    assert broken_links(tmp_path / "docs" / "b.md", root=tmp_path) == []


# -- the repository's pages ---------------------------------------------------------------------

@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert broken_links(page) == []


def test_every_docs_page_is_linked_from_the_readme():
    readme = ROOT / "README.md"
    linked = {(readme.parent / urlsplit(t).path).resolve()
              for _, t in links(readme.read_text(encoding="utf-8")) if not urlsplit(t).scheme}
    assert [p.name for p in PAGES[1:] if p.resolve() not in linked] == []


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < README_MAX_LINES, f"README.md has {lines} lines; move detail into docs/"


def _readme_commands(section: str) -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```bash\n(.*?)\n```", body, re.S)


def test_readme_test_command_is_what_ci_runs():
    """The README's set-up commands: the demo and the tests; .ci/run runs the same installs and
    the same pytest command."""
    demo, tests = _readme_commands("Set-up commands")
    install = "pip install torch==2.13.0 && pip install -r requirements-dev.txt && "
    assert demo == install + "python -m ding_sampler.demo"
    assert tests == install + "python -m pytest -q -rs"
    ci = [shlex.split(line) for line in (ROOT / ".ci" / "run").read_text().splitlines()
          if line.startswith("python3 ")]
    pip = [[a for a in c[4:] if not a.startswith("--")] for c in ci if c[1:4] == ["-m", "pip", "install"]]
    assert pip == [["torch==2.13.0"], ["-r", "requirements-dev.txt"]]
    assert ci[-1] == ["python3"] + shlex.split(tests.split(" && ")[-1])[1:]
