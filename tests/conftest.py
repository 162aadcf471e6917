"""Unit-test setup shared by every test module.

On a machine with 2 CPUs or fewer, torch runs on one intra-op thread (set
``DING_TORCH_THREADS=N`` to choose). The unit tests work on small tensors, where a
second thread gains nothing, and on a shared 2-core machine OpenMP threads that
wait for a busy core slow every small op down several times (the integration
harness, ``comfy_testbed/comfy_harness.py``, applies the same rule to ComfyUI runs).
"""
import os

_threads = os.environ.get("DING_TORCH_THREADS") or ("1" if (os.cpu_count() or 1) <= 2 else None)
if _threads:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # effective only if torch is not loaded yet
    import torch

    torch.set_num_threads(int(_threads))
