"""Ready for the Comfy Registry: `comfy node validate` (comfy-cli, the registry's own pre-publish check)
is clean on a copy of the repository, and [tool.comfy] has an icon that is in the repository.

comfy-cli is a dev requirement (requirements-dev.txt; about 35 s to install, no torch). Its check runs
ruff with the rules S102 (exec), S307 (eval) and E702 (several statements on one line) over every
Python file and only prints warnings (exit status 0), so the test reads what it prints.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _repository_files() -> list[str]:
    """What a clone holds: tracked files and new ones git does not ignore (relative paths)."""
    try:
        out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                             capture_output=True, check=True).stdout.decode()
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"needs a git checkout to know which files the repository holds ({e})")
    return [f for f in out.split("\0") if f and (ROOT / f).is_file()]


def test_icon_is_a_committed_square_image():
    icon = PYPROJECT["tool"]["comfy"]["Icon"]
    repository = PYPROJECT["project"]["urls"]["Repository"]
    owner_repo = repository.removeprefix("https://github.com/")
    prefix = f"https://raw.githubusercontent.com/{owner_repo}/main/"
    assert icon.startswith(prefix), f"Icon {icon!r} should be a file of {repository} (raw URL)"
    path = ROOT / icon.removeprefix(prefix)
    assert path.is_file(), f"{path} is not in the repository"
    assert path.suffix in (".svg", ".png", ".jpg", ".gif")
    if path.suffix == ".svg":
        svg = ET.parse(path).getroot()
        width, height = int(svg.get("width")), int(svg.get("height"))
        assert width == height <= 400 and svg.get("viewBox") == f"0 0 {width} {height}"


def test_comfy_node_validate_is_clean(tmp_path):
    if importlib.util.find_spec("comfy_cli") is None:
        pytest.skip("comfy-cli is not installed (pip install -r requirements-dev.txt)")
    copy = tmp_path / "pack"
    for rel in _repository_files():
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, copy / rel)
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"))
    result = subprocess.run([sys.executable, "-m", "comfy_cli", "--skip-prompt", "--no-enable-telemetry",
                             "node", "validate"], cwd=copy, env=env, capture_output=True, text=True,
                            timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Security warnings" not in output, output
    assert "All validation checks passed" in output, output


def test_a_security_finding_would_be_reported(tmp_path):
    """The check above can fail: the same command flags a file with two statements on one line."""
    if importlib.util.find_spec("comfy_cli") is None:
        pytest.skip("comfy-cli is not installed (pip install -r requirements-dev.txt)")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "bad.py").write_text("a = 1; b = 2\n")
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"))
    result = subprocess.run([sys.executable, "-m", "comfy_cli", "--skip-prompt", "--no-enable-telemetry",
                             "node", "validate"], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=120)
    output = result.stdout + result.stderr  # comfy-cli prints its findings on stderr
    assert "Security warnings" in output and "E702" in output, output
