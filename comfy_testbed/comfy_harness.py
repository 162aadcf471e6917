"""Headless, in-process ComfyUI host for ding-inpaint integration tests and bench scripts.

Test-only code: nothing here is part of the node pack, and nothing from ComfyUI is copied here.
No pytest import, so bench scripts can use it directly::

    from comfy_testbed import comfy_harness, tiny_models   # from the repository root
    h = comfy_harness.bootstrap()                 # COMFYUI_PATH or ComfyUI/custom_nodes/<pack>
    files = tiny_models.write_tiny_sd3(h.models_dir)
    out = h.run_prompt({...API-format prompt...})

ComfyUI keeps process-global state (sys.path, sys.modules["nodes"], folder_paths,
NODE_CLASS_MAPPINGS, loaded models), so `bootstrap()` runs once per process and
returns the same `ComfyHarness` afterwards.
"""
from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import glob
import importlib.util
import logging
import math
import os
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable, Optional

HERE = Path(os.path.abspath(__file__)).parent
# comfy_testbed/comfy_harness.py -> repo root (= the pack). Not resolved, so a pack
# symlinked into ComfyUI/custom_nodes still sees its custom_nodes parent.
PACK_ROOT = HERE.parent
PACK_DIR_NAME = "ding-inpaint"


def _pack_node_ids() -> tuple:
    """The pack's node ids, from the workflow generator's table (one list for the whole repository)."""
    spec = importlib.util.spec_from_file_location("_ding_workflow_tables", PACK_ROOT / "example_workflows" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return tuple(sorted(module.OURS))


EXPECTED_PACK_NODE_IDS = _pack_node_ids()

# Python modules ComfyUI (a125cd84, 0.3.64) imports while booting nodes.py/execution.py.
# import name -> pip name (for the skip reason).
REQUIRED_MODULES = {
    "torch": "torch",
    "torchvision": "torchvision",
    "torchsde": "torchsde",
    "numpy": "numpy",
    "einops": "einops",
    "transformers": "transformers",
    "tokenizers": "tokenizers",
    "sentencepiece": "sentencepiece",
    "safetensors": "safetensors",
    "aiohttp": "aiohttp",
    "yarl": "yarl",
    "yaml": "pyyaml",
    "PIL": "Pillow",
    "scipy": "scipy",
    "tqdm": "tqdm",
    "psutil": "psutil",
    "alembic": "alembic",
    "sqlalchemy": "SQLAlchemy",
    "av": "av",
    "pydantic": "pydantic",
    "pydantic_settings": "pydantic-settings",
}

MODEL_FOLDERS = ("checkpoints", "diffusion_models", "vae", "vae_approx", "text_encoders", "clip", "loras",
                 "controlnet")


class ComfyUIUnavailable(RuntimeError):
    """ComfyUI is not found or cannot be imported here (missing dependency). Tests skip on this."""


class PromptValidationError(RuntimeError):
    def __init__(self, error: dict, node_errors: dict):
        self.error = error
        self.node_errors = node_errors
        lines = [f"{error.get('message')}: {error.get('details')}"]
        for nid, ne in (node_errors or {}).items():
            for e in ne.get("errors", []):
                lines.append(f"  node {nid} ({ne.get('class_type')}): {e.get('message')}: {e.get('details')}")
        super().__init__("prompt failed validation:\n" + "\n".join(lines))


class PromptExecutionError(RuntimeError):
    def __init__(self, message: dict):
        self.message = message
        self.node_id = message.get("node_id")
        self.node_type = message.get("node_type")
        self.exception_type = message.get("exception_type")
        self.exception_message = message.get("exception_message")
        tb = "".join(message.get("traceback") or [])
        super().__init__(
            f"node {self.node_id} ({self.node_type}) raised {self.exception_type}: "
            f"{self.exception_message}\n{tb}")


# --------------------------------------------------------------------------- locate

def is_comfyui_dir(p: Path) -> bool:
    return (p / "comfy").is_dir() and (p / "nodes.py").is_file()


def find_comfyui(pack_root: Path = PACK_ROOT) -> tuple[Optional[Path], str]:
    """Return (path, how) or (None, reason). COMFYUI_PATH wins; else pack in ComfyUI/custom_nodes/."""
    env = os.environ.get("COMFYUI_PATH")
    if env:
        p = Path(env).expanduser().absolute()
        if is_comfyui_dir(p):
            return p, f"COMFYUI_PATH={env}"
        return None, (f"COMFYUI_PATH={env!r} is not a ComfyUI checkout (needs comfy/ and nodes.py); "
                      "set COMFYUI_PATH to a ComfyUI checkout")
    roots = [Path(pack_root), Path(pack_root).resolve()]
    pwd = os.environ.get("PWD")  # logical cwd: finds a pack *symlinked* into custom_nodes
    if pwd:
        real = Path(pack_root).resolve()
        for cand in (Path(pwd), *Path(pwd).parents):
            try:
                if cand.resolve() == real:
                    roots.append(cand)
                    break
            except OSError:
                pass
    for root in roots:
        parent = root.parent
        if parent.name == "custom_nodes" and is_comfyui_dir(parent.parent):
            return parent.parent, f"pack sits in {parent}"
    return None, ("ComfyUI not found: set COMFYUI_PATH to a ComfyUI checkout "
                  "(or put the pack in ComfyUI/custom_nodes/)")


def missing_dependencies() -> list[str]:
    """pip names of ComfyUI dependencies that are not importable (find_spec only, imports nothing)."""
    missing = []
    for mod, pip_name in REQUIRED_MODULES.items():
        try:
            if importlib.util.find_spec(mod) is None:
                missing.append(pip_name)
        except (ImportError, ValueError):
            missing.append(pip_name)
    return missing


def unavailable_reason(pack_root: Path = PACK_ROOT) -> Optional[str]:
    """None if ComfyUI looks usable, else a human-readable skip reason. Cheap, imports nothing."""
    path, how = find_comfyui(pack_root)
    if path is None:
        return how
    missing = missing_dependencies()
    if missing:
        return f"ComfyUI at {path} found but its dependencies are missing: pip install {' '.join(missing)}"
    return None


# --------------------------------------------------------------------------- torchvision shim

_TORCHVISION_SHIM_LIB = None  # keep the Library object alive for the whole process


def install_torchvision_shim() -> str:
    """Make `import torchvision` work with a CUDA torchvision wheel on CPU torch (test bootstrap only).

    If torchvision's compiled _C loads, nothing is done. Otherwise the op schemas that its
    pure-Python part registers meta kernels for are defined, so that part imports.
    """
    global _TORCHVISION_SHIM_LIB
    if "torchvision" in sys.modules:
        return "torchvision already imported"
    import torch
    spec = importlib.util.find_spec("torchvision")
    if spec is None or not spec.submodule_search_locations:
        return "torchvision not installed"
    libs = []
    for loc in spec.submodule_search_locations:
        libs += glob.glob(os.path.join(loc, "_C*.so")) + glob.glob(os.path.join(loc, "_C*.pyd"))
    for lib in libs:
        try:
            torch.ops.load_library(lib)
            return f"torchvision _C loaded natively ({lib})"
        except (OSError, RuntimeError):
            pass
    if _TORCHVISION_SHIM_LIB is None:
        _TORCHVISION_SHIM_LIB = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            try:
                _TORCHVISION_SHIM_LIB.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
            except RuntimeError:
                pass  # already defined
    return "torchvision _C unusable here: defined torchvision::nms/qnms schemas (shim)"


# --------------------------------------------------------------------------- import

def _module_file(mod) -> Optional[str]:
    f = getattr(mod, "__file__", None)
    return os.path.abspath(f) if f else None


def _evict_foreign_module(name: str, comfy_root: Path, notes: list):
    """Drop sys.modules[name] (and name.*) if it is not ComfyUI's top-level module of that name.

    The pack has a `nodes/` package; with pythonpath=["."] `import nodes` in a unit test
    imports it as the top-level `nodes`, which would shadow ComfyUI's nodes.py.
    """
    mod = sys.modules.get(name)
    if mod is None:
        return
    f = _module_file(mod)
    if f is not None and os.path.dirname(f) in (str(comfy_root), str(comfy_root / name)):
        return
    for k in [k for k in sys.modules if k == name or k.startswith(name + ".")]:
        sys.modules.pop(k, None)
    notes.append(f"evicted foreign sys.modules[{name!r}] ({f}) so ComfyUI's {name} can import")


def import_comfy(comfyui_path: Path) -> dict:
    """Import ComfyUI headless on CPU. Raises ComfyUIUnavailable for a missing dependency."""
    comfyui_path = Path(comfyui_path).absolute()
    notes = [install_torchvision_shim()]
    # Threads: DING_TORCH_THREADS=N wins; else on <= 2 CPUs use 1 thread. Measured on the shared
    # 2-core box with other jobs running: 2 OpenMP threads made a depth-2 MMDiT call 400-600 ms,
    # against 9 ms with 1 thread (barrier spinning when a core is busy).
    threads = os.environ.get("DING_TORCH_THREADS")
    if not threads and (os.cpu_count() or 1) <= 2:
        threads = "1"
    if threads:
        import torch
        if torch.get_num_threads() != int(threads):
            torch.set_num_threads(int(threads))
            notes.append(f"torch.set_num_threads({int(threads)}) (DING_TORCH_THREADS or <= 2 CPUs)")
    p = str(comfyui_path)
    if p in sys.path:
        sys.path.remove(p)
    sys.path.insert(0, p)
    for name in ("nodes", "utils", "execution", "folder_paths", "server", "latent_preview", "node_helpers"):
        _evict_foreign_module(name, comfyui_path, notes)
    try:
        import comfy.options  # noqa: F401  (args parsing stays off: parse_args([]))
        from comfy.cli_args import args
        args.cpu = True  # before comfy.model_management, else it probes CUDA at import
        import utils.extra_config  # noqa: F401  BEFORE nodes (nodes.py prepends ComfyUI/comfy to sys.path)
        import folder_paths
        import comfy.model_management as mm
        if mm.cpu_state != mm.CPUState.CPU:
            notes.append("WARNING: comfy.model_management was imported before args.cpu=True; not on CPU state")
        import comfy.utils  # noqa: F401
        import nodes
        import execution
    except ImportError as e:  # ModuleNotFoundError included: a missing dependency
        raise ComfyUIUnavailable(
            f"ComfyUI at {comfyui_path} cannot be imported: {type(e).__name__}: {e}") from e
    return {"nodes": nodes, "execution": execution, "folder_paths": folder_paths, "args": args,
            "notes": notes}


# --------------------------------------------------------------------------- pack loading

@dataclasses.dataclass
class PackInfo:
    root: Path                     # the repo root (= the pack)
    link: Optional[Path]           # <tmp>/custom_nodes/ding-inpaint -> root
    module_name: Optional[str]     # sys.modules key ComfyUI used (path with '.' -> '_x_')
    has_init: bool                 # root/__init__.py exists
    loaded: bool                   # ComfyUI imported it and took its nodes (V1 mappings or V3 entrypoint)
    node_ids: list                 # node ids registered from this pack (RELATIVE_PYTHON_MODULE match)
    display_names: dict            # node id -> display name
    error: Optional[str]           # why not loaded (ComfyUI's logged warnings / traceback)
    log: list                      # ComfyUI log lines mentioning the pack
    seconds: float                 # time ComfyUI's load_custom_node took for the pack

    def missing(self, ids=EXPECTED_PACK_NODE_IDS) -> list:
        return [i for i in ids if i not in self.node_ids]

    def summary(self) -> str:
        if self.loaded:
            return f"pack loaded in {self.seconds * 1000:.0f} ms, nodes: {', '.join(self.node_ids) or '(none)'}"
        return f"pack NOT loaded (has __init__.py: {self.has_init}): {self.error}"


class _LogCapture(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def lines(self) -> list[str]:
        out = []
        for r in self.records:
            try:
                out.append(r.getMessage())
            except Exception:  # noqa: BLE001
                out.append(str(r.msg))
        return out


# --------------------------------------------------------------------------- test-only nodes

class _AnyType(str):
    """Matches every socket type in ComfyUI's validate_node_input (via the reflected __ne__)."""

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


ANY = _AnyType("*")

# Filled by DInGTestCapture: key -> value as the node received it (tensors as-is, under inference mode).
CAPTURED: dict[str, Any] = {}


def _make_test_nodes():
    import torch

    from comfy_testbed import tiny_models
    from comfy_testbed.tiny_families import CONDITIONING_FAMILIES

    class DInGTestConditioning:
        """TEST ONLY: CONDITIONING from a seed in one model family's text-encoder shapes (no text
        encoder needed); see tiny_families.family_conditioning. family defaults to sd3."""
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**63 - 1}),
                "tokens": ("INT", {"default": tiny_models.SD3_TOKENS, "min": 1, "max": 4096}),
            }, "optional": {
                "scale": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 100.0, "step": 0.01}),
                "family": (list(CONDITIONING_FAMILIES), {"default": "sd3"}),
                "width": ("INT", {"default": 0, "min": 0, "max": 16384, "tooltip":
                          "sdxl only: the size conditioning's width, as CLIPTextEncodeSDXL sets it; "
                          "0 = none, as core CLIPTextEncode (ComfyUI then uses the latent's size)."}),
                "height": ("INT", {"default": 0, "min": 0, "max": 16384, "tooltip":
                           "sdxl only: the size conditioning's height; 0 = none (see width)."}),
            }}
        RETURN_TYPES = ("CONDITIONING",)
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, seed, tokens, scale=1.0, family="sd3", width=0, height=0):
            from comfy_testbed import tiny_families
            sizes = {"width": width or None, "height": height or None}
            return (tiny_families.family_conditioning(family, seed=seed, tokens=tokens, scale=scale, **sizes),)

    class DInGTestImageMask:
        """TEST ONLY: deterministic smooth RGB IMAGE [1,H,W,3] and a MASK [1,H,W] (1 = repaint).

        mask_kind: rect (x,y,w,h filled), stroke (line (x,y)->(x+w,y+h), stroke_width px),
        none, full.
        """
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {
                "width": ("INT", {"default": 128, "min": 8, "max": 4096, "step": 8}),
                "height": ("INT", {"default": 128, "min": 8, "max": 4096, "step": 8}),
                "seed": ("INT", {"default": 0, "min": 0, "max": 2**63 - 1}),
                "mask_kind": (["rect", "stroke", "none", "full"],),
                "x": ("INT", {"default": 32, "min": 0, "max": 4096}),
                "y": ("INT", {"default": 32, "min": 0, "max": 4096}),
                "w": ("INT", {"default": 64, "min": 0, "max": 4096}),
                "h": ("INT", {"default": 64, "min": 0, "max": 4096}),
                "stroke_width": ("INT", {"default": 3, "min": 1, "max": 256}),
            }}
        RETURN_TYPES = ("IMAGE", "MASK")
        FUNCTION = "make"
        CATEGORY = "ding_test"

        def make(self, width, height, seed, mask_kind, x, y, w, h, stroke_width):
            img = tiny_models.make_test_image(width, height, seed=seed)
            mask = tiny_models.make_test_mask(width, height, kind=mask_kind, x=x, y=y, w=w, h=h,
                                         stroke_width=stroke_width)
            return (img, mask)

    class DInGTestCapture:
        """TEST ONLY output node: stores whatever reaches `value` in comfy_harness.CAPTURED[key]."""
        @classmethod
        def INPUT_TYPES(cls):
            return {"required": {"value": (ANY, {}), "key": ("STRING", {"default": "capture"})}}
        RETURN_TYPES = ()
        FUNCTION = "capture"
        OUTPUT_NODE = True
        CATEGORY = "ding_test"

        @classmethod
        def IS_CHANGED(cls, **kwargs):
            return float("nan")  # always re-run, even with a reused executor

        def capture(self, value, key):
            CAPTURED[key] = value
            return {"ui": {"captured": [key]}}

    return {
        "DInGTestConditioning": DInGTestConditioning,
        "DInGTestImageMask": DInGTestImageMask,
        "DInGTestCapture": DInGTestCapture,
    }


# --------------------------------------------------------------------------- model-call counter

@dataclasses.dataclass
class ModelCall:
    batch: int              # x.shape[0]: 2 for cond+uncond batched at cfg>1 (1 latent)
    shape: tuple            # x.shape
    sigmas: list            # t as list (one per batch row)
    seconds: float          # wall time of this apply_model call
    cpu_seconds: float = 0.0  # CPU time of the calling thread in it (time.thread_time)
    x: Any = None           # input latent (a detached float32 copy) when the counter keeps tensors
    out: Any = None         # apply_model's output (the denoised x0 estimate, per batch row), ditto


class ModelCallCounter:
    """Counts diffusion-model forward calls (comfy.model_base.BaseModel.apply_model).

    One call = one forward of the diffusion model, whatever the batch: with cfg>1 ComfyUI
    batches cond+uncond into ONE call (batch 2); cfg == 1 skips the uncond (batch 1).
    Use as a context manager; patches the class attribute, so it sees every model instance.
    keep_tensors=True also keeps a copy of each call's input and output (small latents only).
    """

    def __init__(self, keep_tensors: bool = False):
        self.calls: list[ModelCall] = []
        self.keep_tensors = keep_tensors
        self._orig = None

    def __enter__(self):
        import comfy.model_base as mb
        self._orig = mb.BaseModel.apply_model
        orig = self._orig
        counter = self

        def apply_model(model_self, x, t, *args, **kwargs):
            t0, c0 = time.perf_counter(), time.thread_time()
            out = orig(model_self, x, t, *args, **kwargs)
            call = ModelCall(int(x.shape[0]), tuple(x.shape), [float(v) for v in t.flatten().tolist()],
                             time.perf_counter() - t0, time.thread_time() - c0)
            if counter.keep_tensors:
                call.x = x.detach().float().clone()
                call.out = out.detach().float().clone()
            counter.calls.append(call)
            return out

        mb.BaseModel.apply_model = apply_model
        return self

    def __exit__(self, *exc):
        import comfy.model_base as mb
        mb.BaseModel.apply_model = self._orig
        return False

    @property
    def count(self) -> int:
        return len(self.calls)

    @property
    def batch_sizes(self) -> list:
        return [c.batch for c in self.calls]

    @property
    def sigmas(self) -> list:
        """First sigma of each call (the step's sigma)."""
        return [c.sigmas[0] for c in self.calls]

    @property
    def total_seconds(self) -> float:
        return sum(c.seconds for c in self.calls)

    @property
    def total_cpu_seconds(self) -> float:
        return sum(c.cpu_seconds for c in self.calls)

    def ms_per_call(self, skip_first: int = 0) -> float:
        cs = self.calls[skip_first:]
        return 1000.0 * sum(c.seconds for c in cs) / max(1, len(cs))

    def reset(self):
        self.calls.clear()


# --------------------------------------------------------------------------- stub server

class StubServer:
    """The attributes PromptExecutor / progress handlers touch on PromptServer."""

    def __init__(self):
        self.client_id = None
        self.last_node_id = None
        self.last_prompt_id = None
        self.sockets_metadata = {}
        self.events: list[tuple[str, Any, Any]] = []

    def send_sync(self, event, data, sid=None):
        self.events.append((event, data, sid))

    def send_progress_text(self, text, node_id, sid=None):
        self.events.append(("progress_text", {"text": text, "node": node_id}, sid))

    def queue_updated(self):
        pass


# --------------------------------------------------------------------------- harness

class ComfyHarness:
    def __init__(self, comfyui_path: Path, base_dir: Path, mods: dict):
        self.comfyui_path = comfyui_path
        self.base_dir = base_dir
        self.nodes = mods["nodes"]
        self.execution = mods["execution"]
        self.folder_paths = mods["folder_paths"]
        self.args = mods["args"]
        self.notes: list[str] = list(mods["notes"])
        self.models_dir = base_dir / "models"
        self.input_dir = base_dir / "input"
        self.output_dir = base_dir / "output"
        self.temp_dir = base_dir / "temp"
        self.user_dir = base_dir / "user"
        self.custom_nodes_dir = base_dir / "custom_nodes"
        self.pack: Optional[PackInfo] = None
        self.import_seconds = 0.0
        self.init_seconds = 0.0
        self.extras_failed: list[str] = []
        self.timings: dict[str, float] = {}   # filled by tests; printed in pytest's terminal summary
        self.progress_events: list[dict] = []
        self.captured = CAPTURED
        self.server = StubServer()
        self._executor = None
        self._extra_packs: dict[str, list[str]] = {}

    # ----- setup
    def _setup_folders(self):
        fp = self.folder_paths
        for d in (self.input_dir, self.output_dir, self.temp_dir, self.user_dir, self.custom_nodes_dir):
            d.mkdir(parents=True, exist_ok=True)
        for sub in MODEL_FOLDERS:
            (self.models_dir / sub).mkdir(parents=True, exist_ok=True)
        for folder in ("checkpoints", "diffusion_models", "vae", "vae_approx", "loras", "controlnet"):
            fp.add_model_folder_path(folder, str(self.models_dir / folder), is_default=True)
        fp.add_model_folder_path("text_encoders", str(self.models_dir / "text_encoders"), is_default=True)
        fp.add_model_folder_path("text_encoders", str(self.models_dir / "clip"))
        fp.set_output_directory(str(self.output_dir))
        fp.set_temp_directory(str(self.temp_dir))
        fp.set_input_directory(str(self.input_dir))
        fp.set_user_directory(str(self.user_dir))
        # Only our custom_nodes dir: isolates from whatever else lives in ComfyUI/custom_nodes.
        fp.folder_names_and_paths["custom_nodes"] = ([str(self.custom_nodes_dir)], set())

    def _link_pack(self, pack_root: Path) -> Path:
        link = self.custom_nodes_dir / PACK_DIR_NAME
        if not link.exists():
            os.symlink(str(Path(pack_root).resolve()), str(link), target_is_directory=True)
        return link

    def _init_nodes(self, pack_root: Optional[Path]):
        nodes = self.nodes
        link = self._link_pack(pack_root) if pack_root is not None else None
        cap = _LogCapture()
        root_logger = logging.getLogger()
        old_level = root_logger.level
        root_logger.addHandler(cap)
        root_logger.setLevel(min(old_level or logging.WARNING, logging.INFO))
        # wrap nodes.load_custom_node (looked up as a module global by init_external_custom_nodes)
        # to get each custom node's success flag and import time
        loads: dict[str, tuple[bool, float]] = {}
        orig_load = nodes.load_custom_node

        async def timed_load(module_path, *a, **kw):
            t = time.perf_counter()
            ok = await orig_load(module_path, *a, **kw)
            loads[os.path.abspath(module_path)] = (bool(ok), time.perf_counter() - t)
            return ok

        nodes.load_custom_node = timed_load
        t0 = time.perf_counter()
        try:
            asyncio.run(nodes.init_extra_nodes(init_custom_nodes=True, init_api_nodes=False))
        finally:
            nodes.load_custom_node = orig_load
            root_logger.removeHandler(cap)
            root_logger.setLevel(old_level)
        self.init_seconds = time.perf_counter() - t0
        lines = cap.lines()
        # comfy_extras modules that failed (nodes_audio*.py without torchaudio is expected)
        self.extras_failed = [ln.split("IMPORT FAILED:", 1)[1].strip() for ln in lines
                              if ln.startswith("IMPORT FAILED:")]
        if link is None:
            return
        rel = f"custom_nodes.{PACK_DIR_NAME}"
        ids = [k for k, v in nodes.NODE_CLASS_MAPPINGS.items()
               if getattr(v, "RELATIVE_PYTHON_MODULE", None) == rel]
        pack_lines = [ln for ln in lines if str(link) in ln or PACK_DIR_NAME in ln]
        failed = [ln for ln in lines if str(link) in ln and
                  ("IMPORT FAILED" in ln or "Cannot import" in ln or "Skip " in ln
                   or "comfy_entrypoint" in ln or "Traceback" in ln)]
        ok, secs = loads.get(os.path.abspath(str(link)), (False, 0.0))
        has_init = (Path(pack_root) / "__init__.py").is_file()
        loaded = bool(ok)
        error = None
        if not loaded:
            if not has_init:
                error = f"{pack_root}/__init__.py does not exist (nothing for ComfyUI to import)"
            else:
                error = "\n".join(failed) or "ComfyUI did not load the pack (see PackInfo.log)"
        self.pack = PackInfo(root=Path(pack_root), link=link,
                             module_name=str(link).replace(".", "_x_"), has_init=has_init,
                             loaded=loaded, node_ids=ids,
                             display_names={k: nodes.NODE_DISPLAY_NAME_MAPPINGS.get(k) for k in ids},
                             error=error, log=pack_lines, seconds=secs)

    def _register_test_nodes(self):
        for k, v in _make_test_nodes().items():
            self.nodes.NODE_CLASS_MAPPINGS[k] = v
            self.nodes.NODE_DISPLAY_NAME_MAPPINGS[k] = k + " (test only)"

    def _install_progress_hook(self):
        import comfy.model_management
        import comfy.utils
        from comfy_execution.progress import get_progress_state
        from comfy_execution.utils import get_executing_context
        harness = self

        def hook(value, total, preview_image, prompt_id=None, node_id=None):
            ctx = get_executing_context()
            if prompt_id is None and ctx is not None:
                prompt_id = ctx.prompt_id
            if node_id is None and ctx is not None:
                node_id = ctx.node_id
            comfy.model_management.throw_exception_if_processing_interrupted()
            harness.progress_events.append({"value": value, "max": total, "node": node_id,
                                            "prompt_id": prompt_id, "preview": preview_image is not None})
            try:
                get_progress_state().update_progress(node_id, value, total, preview_image)
            except Exception:  # noqa: BLE001  (no progress registry outside an execution)
                pass

        comfy.utils.set_progress_bar_global_hook(hook)

    def load_custom_node_pack(self, src) -> list[str]:
        """Load another custom node pack (a checkout outside this repository, e.g. one named by an
        environment variable) into the running ComfyUI, unmodified: it is linked into the
        harness's custom_nodes folder and imported with ComfyUI's own ``nodes.load_custom_node``.
        Returns the node ids it registered; loading the same folder again returns them again.
        Raises RuntimeError when ComfyUI does not load it (the log lines say why)."""
        src = Path(src).expanduser().resolve()
        if str(src) in self._extra_packs:
            return self._extra_packs[str(src)]
        if not (src / "__init__.py").is_file():
            raise RuntimeError(f"{src} is not a custom node pack (no __init__.py)")
        link = self.custom_nodes_dir / src.name
        if not link.exists():
            os.symlink(str(src), str(link), target_is_directory=True)
        nodes = self.nodes
        before = set(nodes.NODE_CLASS_MAPPINGS)
        cap = _LogCapture()
        root_logger = logging.getLogger()
        root_logger.addHandler(cap)
        try:
            ok = asyncio.run(nodes.load_custom_node(str(link), ignore=set(before)))
        finally:
            root_logger.removeHandler(cap)
        if not ok:
            raise RuntimeError(f"ComfyUI did not load the custom node pack {src}:\n" + "\n".join(cap.lines()))
        ids = sorted(set(nodes.NODE_CLASS_MAPPINGS) - before)
        self._extra_packs[str(src)] = ids
        return ids

    # ----- use
    def node_class(self, class_type: str):
        return self.nodes.NODE_CLASS_MAPPINGS[class_type]

    def call_node(self, class_type: str, **inputs):
        """Run one node directly (V1 FUNCTION or V3 execute) under inference_mode; returns its output tuple."""
        import torch
        cls = self.node_class(class_type)
        with torch.inference_mode():
            if hasattr(cls, "FUNCTION") and not hasattr(cls, "define_schema"):
                out = getattr(cls(), cls.FUNCTION)(**inputs)
                return out["result"] if isinstance(out, dict) and "result" in out else out
            out = cls.execute(**inputs)
            return out.result if hasattr(out, "result") else out

    def validate(self, prompt: dict, prompt_id: Optional[str] = None):
        """Await execution.validate_prompt(prompt_id, prompt, None); returns (ok, error, outputs, node_errors)."""
        return asyncio.run(self.execution.validate_prompt(prompt_id or str(uuid.uuid4()), prompt, None))

    def run_prompt(self, prompt: dict, *, use_cache: bool = False, outputs: Optional[list] = None,
                   client_id: Optional[str] = None, strict: bool = True) -> dict:
        """Validate and execute an API-format prompt in-process (like main.py's prompt_worker).

        use_cache=False (default) uses a fresh PromptExecutor so every node runs again (models
        stay loaded in comfy.model_management). Raises PromptValidationError (any node error when
        strict, else only if no output validates) or PromptExecutionError (first failing node).
        Returns {"outputs": {node_id: ui dict}, "meta": ..., "captured": {key: value} set in this
        run, "messages": [(event, data)], "prompt_id", "wall_s", "progress": [progress events]}.
        """
        prompt_id = str(uuid.uuid4())
        ok, error, good_outputs, node_errors = self.validate(prompt, prompt_id)
        if not ok or (strict and node_errors):
            raise PromptValidationError(error or {"message": "node errors", "details": ""}, node_errors)
        if outputs is not None:
            good_outputs = list(outputs)
        if use_cache:
            if self._executor is None:
                self._executor = self.new_executor()
            executor = self._executor
        else:
            executor = self.new_executor()
        CAPTURED.clear()
        n_progress = len(self.progress_events)
        self.server.last_prompt_id = prompt_id
        extra_data = {"client_id": client_id} if client_id else {}
        t0 = time.perf_counter()
        executor.execute(prompt, prompt_id, extra_data, good_outputs)
        wall = time.perf_counter() - t0
        if not executor.success:
            err = next((d for ev, d in executor.status_messages if ev == "execution_error"), None)
            intr = next((d for ev, d in executor.status_messages if ev == "execution_interrupted"), None)
            if err is not None:
                raise PromptExecutionError(err)
            raise PromptExecutionError(intr or {"exception_message": "execution failed"})
        return {
            "outputs": executor.history_result["outputs"],
            "meta": executor.history_result["meta"],
            "captured": dict(CAPTURED),
            "messages": list(executor.status_messages),
            "prompt_id": prompt_id,
            "wall_s": wall,
            "progress": self.progress_events[n_progress:],
        }

    def new_executor(self):
        """A PromptExecutor as main.py builds it, for either calling convention: ComfyUI >= 0.4
        reads cache_args["ram"] after every node (a RAM headroom in GB; 0 keeps nothing from
        being evicted by RAM pressure), 0.3.x takes cache_size instead."""
        import inspect
        params = inspect.signature(self.execution.PromptExecutor).parameters
        if "cache_args" in params:
            return self.execution.PromptExecutor(self.server, cache_type=False,
                                                 cache_args={"lru": 0, "ram": 0.0})
        return self.execution.PromptExecutor(self.server)

    def count_model_calls(self, keep_tensors: bool = False) -> ModelCallCounter:
        return ModelCallCounter(keep_tensors=keep_tensors)

    def write_input_image(self, name: str, image, mask=None) -> str:
        """Write a PNG into the input dir for LoadImage. image: [H,W,3] or [1,H,W,3] float 0..1;
        mask: [H,W] 0..1 with 1 = repaint (stored as alpha = 1 - mask, so LoadImage's MASK == mask)."""
        import numpy as np
        from PIL import Image
        img = image.detach().cpu().float() if hasattr(image, "detach") else image
        img = np.asarray(img, dtype=np.float32)
        if img.ndim == 4:
            img = img[0]
        rgb = np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)
        if mask is not None:
            m = mask.detach().cpu().float() if hasattr(mask, "detach") else mask
            m = np.asarray(m, dtype=np.float32)
            if m.ndim == 3:
                m = m[0]
            a = np.clip(np.round((1.0 - m) * 255.0), 0, 255).astype(np.uint8)
            pil = Image.fromarray(np.concatenate([rgb, a[..., None]], axis=-1), "RGBA")
        else:
            pil = Image.fromarray(rgb, "RGB")
        pil.save(self.input_dir / name)
        return name

    def output_files(self, result: dict, node_id: str) -> list[Path]:
        """Paths of images a SaveImage/PreviewImage node wrote in a run_prompt result."""
        out = []
        for img in result["outputs"].get(str(node_id), {}).get("images", []):
            base = {"output": self.output_dir, "temp": self.temp_dir, "input": self.input_dir}[img.get("type", "output")]
            out.append(base / img.get("subfolder", "") / img["filename"])
        return out


# --------------------------------------------------------------------------- graph builders

def sd3_txt2img_prompt(ckpt_name: str, *, width: int = 128, height: int = 128, steps: int = 4,
                       cfg: float = 1.0, sampler_name: str = "euler", scheduler: str = "simple",
                       seed: int = 0, denoise: float = 1.0, pos_seed: int = 1, neg_seed: int = 2,
                       save: bool = True, capture_latent: Optional[str] = "latent") -> dict:
    """API-format graph: CheckpointLoaderSimple -> EmptySD3LatentImage -> KSampler -> VAEDecode
    -> SaveImage, with DInGTestConditioning for positive/negative and (optionally) the sampled
    LATENT captured under CAPTURED[capture_latent]. Node ids: ckpt, pos, neg, empty, ksampler,
    decode, save, cap."""
    p = {
        "ckpt": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt_name}},
        "pos": {"class_type": "DInGTestConditioning", "inputs": {"seed": pos_seed, "tokens": 154}},
        "neg": {"class_type": "DInGTestConditioning", "inputs": {"seed": neg_seed, "tokens": 154}},
        "empty": {"class_type": "EmptySD3LatentImage", "inputs": {"width": width, "height": height, "batch_size": 1}},
        "ksampler": {"class_type": "KSampler", "inputs": {
            "model": ["ckpt", 0], "positive": ["pos", 0], "negative": ["neg", 0], "latent_image": ["empty", 0],
            "seed": seed, "steps": steps, "cfg": cfg, "sampler_name": sampler_name, "scheduler": scheduler,
            "denoise": denoise}},
        "decode": {"class_type": "VAEDecode", "inputs": {"samples": ["ksampler", 0], "vae": ["ckpt", 2]}},
    }
    if save:
        p["save"] = {"class_type": "SaveImage", "inputs": {"images": ["decode", 0], "filename_prefix": "ding_test"}}
    if capture_latent:
        p["cap"] = {"class_type": "DInGTestCapture", "inputs": {"value": ["ksampler", 0], "key": capture_latent}}
    return p


_HARNESS: Optional[ComfyHarness] = None


def bootstrap(comfyui_path: Optional[Path] = None, base_dir: Optional[Path] = None,
              pack_root: Optional[Path] = PACK_ROOT) -> ComfyHarness:
    """Import ComfyUI (CPU), set up tmp folders, load this pack as a custom node + the test nodes.

    Once per process; later calls return the first harness. pack_root=None skips the pack.
    Raises ComfyUIUnavailable when ComfyUI is absent or a dependency is missing.
    """
    global _HARNESS
    if _HARNESS is not None:
        return _HARNESS
    if comfyui_path is None:
        comfyui_path, how = find_comfyui(pack_root or PACK_ROOT)
        if comfyui_path is None:
            raise ComfyUIUnavailable(how)
    missing = missing_dependencies()
    if missing:
        raise ComfyUIUnavailable(
            f"ComfyUI at {comfyui_path} found but its dependencies are missing: pip install {' '.join(missing)}")
    if str(PACK_ROOT) not in sys.path:
        sys.path.insert(0, str(PACK_ROOT))  # comfy_testbed.tiny_models importable by the test nodes
    base_dir = Path(base_dir) if base_dir is not None else Path(tempfile.mkdtemp(prefix="ding_comfy_"))
    t0 = time.perf_counter()
    mods = import_comfy(Path(comfyui_path))
    h = ComfyHarness(Path(comfyui_path).absolute(), base_dir, mods)
    h.import_seconds = time.perf_counter() - t0
    h._setup_folders()
    h._init_nodes(pack_root)
    h._register_test_nodes()
    h._install_progress_hook()
    _HARNESS = h
    return h


def bootstrap_temporary(prefix: str = "ding_bench_",
                        prepare: Optional[Callable[[Path], None]] = None) -> ComfyHarness:
    """``bootstrap()`` for a bench script: ComfyUI in a temporary folder that is removed at exit,
    console logging errors only, progress bars off, and a RuntimeError unless this pack loaded.
    ``prepare(base_dir)`` runs before ComfyUI loads its custom nodes (e.g. to link another pack
    into ``base_dir / "custom_nodes"``). In a process that has bootstrapped already (a test
    session) it returns that harness and changes nothing."""
    if _HARNESS is not None:
        return _HARNESS
    import atexit
    import shutil
    logging.basicConfig(format="%(levelname)s:%(name)s:%(message)s")
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: record.levelno >= logging.ERROR)
    base = Path(tempfile.mkdtemp(prefix=prefix))
    atexit.register(shutil.rmtree, str(base), ignore_errors=True)
    if prepare is not None:
        prepare(base)
    h = bootstrap(base_dir=base)
    if h.pack is None or not h.pack.loaded:
        raise RuntimeError(f"ComfyUI did not load the ding-inpaint pack: {h.pack.error if h.pack else '?'}")
    import comfy.utils
    comfy.utils.set_progress_bar_enabled(False)  # no progress bars, for every method alike
    return h


# --------------------------------------------------------------------------- kept region

def model_space(latent_format: str, samples):
    """``samples`` (latent space) in model space by ``comfy.latent_formats.<latent_format>``, the
    units obs_std is in."""
    import comfy.latent_formats
    return getattr(comfy.latent_formats, latent_format)().process_in(samples.float())


def kept_and_free(latent_format: str, encoded: dict, out: dict):
    """(kept, free, diff): the model-space change ``out - encoded`` on the cells the encoded
    latent's noise_mask keeps, on the others, and everywhere."""
    keep = (1 - encoded["noise_mask"]).expand_as(out["samples"]) > 0.5
    diff = model_space(latent_format, out["samples"]) - model_space(latent_format, encoded["samples"])
    return diff[keep], diff[~keep], diff


# --------------------------------------------------------------------------- shipped workflows

def load_twin(title: str) -> dict:
    """The API twin of a shipped workflow, example_workflows/api/<title>.api.json."""
    import json
    return json.loads((PACK_ROOT / "example_workflows" / "api" / f"{title}.api.json").read_text(encoding="utf-8"))


def with_test_conditioning(api: dict, family: str, tokens: int) -> tuple:
    """A copy of an API prompt whose CLIPTextEncode nodes are DInGTestConditioning in ``family``'s
    text-encoder shapes (seeds 100, 101, ... in node order) and whose CLIP loaders, then unused,
    are dropped. Returns (prompt, {class_type: [node ids]})."""
    p = {k: dict(v, inputs=dict(v["inputs"])) for k, v in api.items()}
    for k, node_id in enumerate(i for i, n in p.items() if n["class_type"] == "CLIPTextEncode"):
        p[node_id] = {"class_type": "DInGTestConditioning", "inputs": {"seed": 100 + k, "tokens": tokens,
                                                                         "family": family}}
    for node_id in [i for i, n in p.items() if n["class_type"] in ("CLIPLoader", "DualCLIPLoader")]:
        del p[node_id]
    by_type = {}
    for node_id, node in p.items():
        by_type.setdefault(node["class_type"], []).append(node_id)
    return p, by_type
