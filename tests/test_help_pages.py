"""Node help pages: web/docs/<NodeId>.md, which the frontend's help panel asks for at
/extensions/<pack>/docs/<NodeId>.md. Each names every input and output of its node."""
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
