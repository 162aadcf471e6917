"""Small helpers for the benches that drive a real ComfyUI server (bench/fuzz.py, bench/soak.py):
a free local port and the version and commit of a ComfyUI folder. Standard library only."""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def comfy_commit(comfyui: Path, given: str = "") -> str:
    """``given`` when set, else the short HEAD commit of the ComfyUI folder, else "?" (a folder
    written out of a snapshot has no .git: pass the commit)."""
    if given:
        return given
    try:
        return subprocess.run(["git", "-C", str(comfyui), "rev-parse", "--short=8", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def comfy_version(comfyui: Path) -> str:
    """The version in ComfyUI's comfyui_version.py, or "?"."""
    try:
        return (Path(comfyui) / "comfyui_version.py").read_text().split('"')[1]
    except (OSError, IndexError):
        return "?"
