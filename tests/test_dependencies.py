"""Dependencies run one way: ding_sampler (torch + stdlib) <- nodes; comfy_testbed <- bench <- tests.

comfy_testbed (the tiny model families and the ComfyUI harness) serves bench and tests and
imports neither; nodes and ding_sampler import none of the three.

Read from the source with ``ast`` (nothing is imported), so the rules hold for imports
inside functions too.
"""
import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIRST_PARTY = ("ding_sampler", "nodes", "comfy_testbed", "bench", "tests")
# Imported inside the digits demo's functions only, never at module level.
DEMO_LAZY = {"sklearn", "PIL", "numpy"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """(imported module, at module level?) for every import statement in ``path``."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    top_level = {id(n) for n in tree.body}
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top_level) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                # "from . import x" names submodules
                names = [name] if node.module else [f"{name}.{a.name}" for a in node.names]
            else:
                names = [node.module]
            out += [(n, id(node) in top_level) for n in names]
    return out


def _files(folder):
    return sorted((ROOT / folder).rglob("*.py"))


def test_ding_sampler_needs_only_torch_and_the_standard_library():
    for path in _files("ding_sampler"):
        for name, at_top in _imports(path):
            root = name.split(".")[0]
            if root in ("ding_sampler", "torch", "__future__") or root in sys.stdlib_module_names:
                continue
            allowed_lazily = path.name == "demo.py" and root in DEMO_LAZY and not at_top
            assert allowed_lazily, f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("folder,forbidden", [("ding_sampler", ("nodes", "comfy_testbed", "bench", "tests", "comfy")),
                                              ("comfy_testbed", ("bench", "tests")),
                                              ("bench", ("tests",)),
                                              ("nodes", ("comfy_testbed", "bench", "tests"))])
def test_imports_point_one_way(folder, forbidden):
    for path in _files(folder):
        for name, _ in _imports(path):
            assert name.split(".")[0] not in forbidden, f"{path.relative_to(ROOT)} imports {name}"


@pytest.mark.parametrize("folder", ["comfy_testbed", "bench"])
def test_support_code_does_not_reach_into_tests_through_sys_path(folder):
    for path in _files(folder):
        text = path.read_text()
        assert not ("sys.path" in text and '"tests"' in text), path


def test_sampler_tests_do_not_import_bench():
    names = [n for n, _ in _imports(ROOT / "tests" / "test_sampler.py")]
    assert not any(n.split(".")[0] == "bench" for n in names), names


def test_no_import_cycles_between_first_party_modules():
    modules = {}
    for folder in FIRST_PARTY[:4]:
        for path in _files(folder):
            modules[_module_name(path)] = path
    graph = {}
    for mod, path in modules.items():
        deps = set()
        for name, _ in _imports(path):
            parts = name.split(".")
            # the longest first-party module the import names (a package's own __init__ aside)
            for i in range(len(parts), 0, -1):
                cand = ".".join(parts[:i])
                if cand in modules and cand != mod and not mod.startswith(cand + "."):
                    deps.add(cand)
                    break
        graph[mod] = deps
    state = {}

    def visit(mod, stack):
        state[mod] = "open"
        for dep in graph[mod]:
            assert state.get(dep) != "open", "import cycle: " + " -> ".join(stack + [mod, dep])
            if dep not in state:
                visit(dep, stack + [mod])
        state[mod] = "done"

    for mod in graph:
        if mod not in state:
            visit(mod, [])
