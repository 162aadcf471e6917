"""Fuzz every input of the pack's nodes through a real ComfyUI server.

    python -m bench.fuzz --comfyui /work/comfy/c064 --python /work/comfy/venv-c064/bin/python \\
        --prompts 1000 --seed 0 --log bench/results/fuzz_064.txt

(``--comfyui`` defaults to $COMFYUI_PATH, ``--python`` to the running interpreter.) The driver is
standard-library only; the ComfyUI python writes the tiny models (a tiny SD3 checkpoint with a
16-channel TAESD, and a tiny Wan 2.1 VAE for clips) into a temporary models folder and runs
``main.py --cpu`` through a small launcher that applies the torchvision shim first. The pack is
linked into a temporary custom_nodes folder (``--extra-model-paths-config``), next to a
test-only pack of the nodes in ``comfy_testbed.fuzz`` (odd images, masks, latents, and two
check nodes that read outputs back).

Each prompt (``comfy_testbed.fuzz.make_cases``: a pipeline through the pack's nodes, one or two
of their inputs made wrong) is POSTed to /prompt, /history polled, and the outcome classified
(comfy_testbed.fuzz: rejected, failed_named, failed_otherwise, silent, server_error, crash, ok);
GET /system_stats must answer after every prompt. The table of counts goes to stdout and to
``--log``, with one line per prompt that is not ok/rejected/failed_named (and a sample of the
others).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from comfy_testbed import fuzz
from comfy_testbed.comfy_server import comfy_commit, comfy_version, free_port, launcher_source

ROOT = Path(__file__).resolve().parent.parent

FUZZ_PACK = """\
import sys
sys.path.insert(0, {root!r})
from comfy_testbed.fuzz import make_fuzz_nodes
NODE_CLASS_MAPPINGS = make_fuzz_nodes()
NODE_DISPLAY_NAME_MAPPINGS = {{k: k + " (test only)" for k in NODE_CLASS_MAPPINGS}}
"""

WRITE_MODELS = """\
import sys
sys.path.insert(0, {root!r})
from pathlib import Path
from comfy_testbed import comfy_harness
comfy_harness.import_comfy(Path({comfy!r}))
from comfy_testbed import tiny_models, tiny_wan
models = Path({models!r})
tiny_models.write_tiny_sd3(models, name="fuzz_sd3")
if {video!r}:
    tiny_wan.write_tiny_wan(models, name="fuzz_wan")
print("models written")
"""




class Server:
    def __init__(self, comfy: Path, python: str, base: Path, threads: int):
        self.comfy, self.python, self.base, self.threads = comfy, python, base, threads
        self.proc = None
        self.port = None
        self.starts = 0

    def start(self, timeout=180):
        self.port = free_port()
        launcher = self.base / "launch_comfy.py"
        launcher.write_text(launcher_source(ROOT, self.comfy, self.threads))
        args = [self.python, str(launcher), "--cpu", "--listen", "127.0.0.1", "--port", str(self.port),
                "--extra-model-paths-config", str(self.base / "extra_model_paths.yaml"),
                "--output-directory", str(self.base / "output"), "--input-directory", str(self.base / "input"),
                "--temp-directory", str(self.base / "temp"), "--user-directory", str(self.base / "user"),
                "--disable-auto-launch", "--dont-print-server", "--preview-method", "none"]
        self.log = open(self.base / f"server_{self.starts}.log", "w")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, cwd=str(self.comfy))
        self.starts += 1
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.proc.returncode}; see {self.log.name}")
            if self.alive(2):
                return time.time() - t0
            time.sleep(0.5)
        raise RuntimeError(f"ComfyUI did not answer within {timeout} s; see {self.log.name}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path, data=None, timeout=30):
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(self.url(path), data=body,
                                     headers={"Content-Type": "application/json"} if body else {})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            text = e.read()
            try:
                return e.code, json.loads(text)
            except ValueError:
                return e.code, {"raw": text.decode(errors="replace")[:500]}

    def alive(self, timeout=30) -> bool:
        try:
            status, _ = self.request("/system_stats", timeout=timeout)
            return status == 200
        except (OSError, urllib.error.URLError):
            return False


def run_case(server: Server, case: fuzz.Case, timeout: float) -> tuple:
    """(class, detail) of one prompt on the server."""
    try:
        status, body = server.request("/prompt", {"prompt": case.prompt, "client_id": "ding-fuzz"}, timeout=60)
    except (OSError, urllib.error.URLError) as e:
        return "crash", f"POST /prompt: {e}"
    if status >= 500:
        return "server_error", f"HTTP {status}: {json.dumps(body)[:300]}"
    if status == 400:
        if body.get("node_errors"):
            first = next(iter(body["node_errors"].values()))
            err = (first.get("errors") or [{}])[0]
            return "rejected", f"{first.get('class_type')}: {err.get('message')}: {err.get('details')}"
        return "rejected", f"400 without node_errors: {body.get('error')}"
    if status != 200:
        return "server_error", f"HTTP {status}: {json.dumps(body)[:300]}"
    partly = bool(body.get("node_errors"))
    pid = body["prompt_id"]
    t0 = time.time()
    delay = 0.02
    while True:
        try:
            _, hist = server.request(f"/history/{pid}", timeout=30)
        except (OSError, urllib.error.URLError) as e:
            return "crash", f"GET /history: {e}"
        if hist and pid in hist and hist[pid].get("status", {}).get("completed") is not None \
                and (hist[pid]["status"].get("status_str") in ("success", "error")):
            entry = hist[pid]
            break
        if server.proc.poll() is not None:
            return "crash", f"server exited with {server.proc.returncode}"
        if time.time() - t0 > timeout:
            server.request("/interrupt", {})
            t1 = time.time()
            while time.time() - t1 < 30:
                _, hist = server.request(f"/history/{pid}", timeout=30)
                if hist and pid in hist:
                    return "failed_otherwise", f"no result after {timeout:.0f} s (interrupted)"
                time.sleep(1)
            return "crash", f"hung: no result after {timeout:.0f} s, and /interrupt did not stop it"
        time.sleep(delay)
        delay = min(delay * 1.5, 0.3)
    if entry["status"]["status_str"] == "error":
        err = next((d for ev, d in entry["status"].get("messages", []) if ev == "execution_error"), {})
        cls = fuzz.classify_execution_error(err)
        return cls, f"{err.get('node_type')}: {err.get('exception_type')}: {str(err.get('exception_message')).strip()[:300]}"
    cls, why = fuzz.classify_checks(entry.get("outputs", {}))
    if cls == "ok" and partly:
        return "rejected", "partly rejected: " + ", ".join(
            f"{v.get('class_type')}" for v in body["node_errors"].values())
    return cls, why


def prepare(base: Path, comfy: Path, python: str, video: bool):
    for d in ("models", "input", "output", "temp", "user", "custom_nodes/ding_fuzz_nodes"):
        (base / d).mkdir(parents=True, exist_ok=True)
    os.symlink(str(ROOT), str(base / "custom_nodes" / "ding-inpaint"), target_is_directory=True)
    (base / "custom_nodes" / "ding_fuzz_nodes" / "__init__.py").write_text(FUZZ_PACK.format(root=str(ROOT)))
    folders = ("checkpoints", "diffusion_models", "vae", "vae_approx", "text_encoders", "loras")
    (base / "extra_model_paths.yaml").write_text(
        "ding_fuzz:\n" f"  base_path: {base}\n" "  custom_nodes: custom_nodes/\n"
        + "".join(f"  {f}: models/{f}/\n" for f in folders))
    t0 = time.time()
    subprocess.run([python, "-c", WRITE_MODELS.format(root=str(ROOT), comfy=str(comfy), models=str(base / "models"),
                                                      video=video)], check=True, cwd=str(ROOT))
    return time.time() - t0






def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--comfyui", default=os.environ.get("COMFYUI_PATH"))
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--prompts", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first case index (to rerun a slice)")
    ap.add_argument("--only", default="", help="comma-separated case indices to run")
    ap.add_argument("--log", default=None)
    ap.add_argument("--timeout", type=float, default=240.0, help="seconds per prompt")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-video", action="store_true", help="no Wan VAE (no clip cases)")
    ap.add_argument("--commit", default=os.environ.get("COMFYUI_COMMIT"),
                    help="ComfyUI's commit for the report, where the checkout has no .git")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args(argv)
    if not args.comfyui:
        ap.error("--comfyui or COMFYUI_PATH is required")
    comfy = Path(args.comfyui).absolute()
    base = Path(tempfile.mkdtemp(prefix="ding_fuzz_"))
    models = fuzz.Models(ckpt="fuzz_sd3.safetensors", video_vae=None if args.no_video else "fuzz_wan_vae.safetensors")
    t_start = time.time()
    server = Server(comfy, args.python, base, args.threads)
    results = []
    try:
        t_models = prepare(base, comfy, args.python, not args.no_video)
        t_boot = server.start()
        print(f"ComfyUI {comfy_version(comfy)} ({comfy_commit(comfy, args.commit)}) up on port {server.port} in {t_boot:.1f} s "
              f"(models {t_models:.1f} s), base {base}", flush=True)
        indices = ([int(i) for i in args.only.split(",") if i.strip()] if args.only
                   else range(args.start, args.start + args.prompts))
        for n, i in enumerate(indices):
            case = fuzz.make_case(i, args.seed, models)
            t0 = time.time()
            cls, detail = run_case(server, case, args.timeout)
            if cls != "crash" and not server.alive(60):
                cls, detail = "crash", f"server stopped answering /system_stats after the prompt ({detail})"
            if cls == "crash":
                server.stop()
                server.start()
            results.append((case, cls, detail))
            dt = time.time() - t0
            if cls in fuzz.GOAL_ZERO or os.environ.get("DING_FUZZ_VERBOSE"):
                print(f"[{cls}] {case.label} ({dt:.1f} s): {detail}", flush=True)
            if (n + 1) % 50 == 0:
                counts = collections.Counter(c for _, c, _ in results)
                print(f"{n + 1} prompts, {time.time() - t_start:.0f} s: {dict(counts)}", flush=True)
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    elapsed = time.time() - t_start
    title = (f"ding-inpaint fuzz: ComfyUI {comfy_version(comfy)} ({comfy_commit(comfy, args.commit)}), {len(results)} prompts, seed "
             f"{args.seed}, {elapsed:.0f} s wall, {server.starts} server start(s)")
    table = fuzz.count_table(results, title)
    lines = [table, "", "command: python -m bench.fuzz " + " ".join(sys.argv[1:] if argv is None else argv), ""]
    bad = [(c, r, d) for c, r, d in results if r in fuzz.GOAL_ZERO]
    lines.append(f"prompts in a goal-zero class: {len(bad)}")
    lines += [f"  [{r}] {c.label}: {d}" for c, r, d in bad]
    lines.append("")
    lines.append("sample of the other outcomes (first 3 per class and pipeline):")
    seen = collections.Counter()
    for c, r, d in results:
        if r not in fuzz.GOAL_ZERO and seen[(r, c.kind)] < 3:
            seen[(r, c.kind)] += 1
            lines.append(f"  [{r}] {c.label}: {d[:200]}")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.log:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        Path(args.log).write_text(text)
    return 0 if not bad else 1


if __name__ == "__main__":
    sys.exit(main())
