"""EDM-preconditioned MLP denoisers for the flow parametrization, and their seeded training.

The network F sees the state in EDM's variance-exploding units and returns a scaled residual;
written directly in the flow convention x = (1 - s) x0 + s e (s = flow sigma in [0, 1]) with
sigma_data = sd and n = sqrt(s^2 + sd^2 (1 - s)^2):

    D(x, s) = c_skip x + c_out F(c_in x, c_noise)
    c_in = 1 / n,  c_skip = sd^2 (1 - s) / n^2,  c_out = s sd / n,  c_noise = log(s / (1 - s)) / 4

which is EDM's preconditioning at sigma_ve = s / (1 - s) applied to x_ve = x / (1 - s) (finite
at s = 1, where D = sd F(x)). Training minimises EDM's loss, the squared error of F against
(x0 - c_skip x) / c_out (EDM's weighting lambda = 1 / c_out^2), on a fixed training set drawn
from the prior with fresh noise every step.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Optional

import torch
from torch import nn

S_MIN, S_MAX = 1e-4, 1.0 - 1e-4  # c_noise's clamp (s = 0 and s = 1 are still served)
FOURIER = 8  # frequencies of the noise-level embedding


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained network (with the prior)."""

    hidden: int = 256
    blocks: int = 2
    train_samples: int = 200_000
    steps: int = 4000
    batch: int = 512
    lr: float = 2e-3
    seed: int = 0


class MLPDenoiser(nn.Module):
    """F of the module docstring: an MLP with residual blocks and a noise-level embedding
    added in every block. ``forward(x, sigma)`` is the preconditioned D(x, s) -> x0 estimate on
    ``[N, d]`` rows with flow sigmas ``[N]`` (or a scalar)."""

    def __init__(self, dim: int, hidden: int, blocks: int, sigma_data: float):
        super().__init__()
        self.dim, self.hidden, self.n_blocks = dim, hidden, blocks
        self.register_buffer("sigma_data", torch.tensor(float(sigma_data)))
        self.register_buffer("freqs", math.pi * 2.0 ** torch.arange(FOURIER, dtype=torch.float32) / 4.0)
        emb = 64
        self.embed = nn.Sequential(nn.Linear(2 * FOURIER + 1, emb), nn.SiLU(), nn.Linear(emb, emb), nn.SiLU())
        self.inp = nn.Linear(dim, hidden)
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(blocks))
        self.fc1 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.temb = nn.ModuleList(nn.Linear(emb, hidden) for _ in range(blocks))
        self.fc2 = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(blocks))
        self.out_norm = nn.LayerNorm(hidden)
        self.out = nn.Linear(hidden, dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def coefficients(self, s: torch.Tensor):
        """(c_in, c_skip, c_out, c_noise) as [N, 1] columns for flow sigmas ``s`` [N]."""
        s = s.reshape(-1, 1).to(torch.float32)
        sd = self.sigma_data
        n2 = s * s + sd * sd * (1.0 - s) ** 2
        n = n2.sqrt()
        sc = s.clamp(S_MIN, S_MAX)
        return 1.0 / n, sd * sd * (1.0 - s) / n2, s * sd / n, 0.25 * torch.log(sc / (1.0 - sc))

    def raw(self, x_in: torch.Tensor, c_noise: torch.Tensor) -> torch.Tensor:
        f = c_noise * self.freqs
        t = self.embed(torch.cat([c_noise, torch.sin(f), torch.cos(f)], dim=1))
        h = self.inp(x_in)
        for norm, fc1, temb, fc2 in zip(self.norms, self.fc1, self.temb, self.fc2):
            h = h + fc2(nn.functional.silu(fc1(norm(h)) + temb(t)))
        return self.out(nn.functional.silu(self.out_norm(h)))

    def forward(self, x: torch.Tensor, sigma) -> torch.Tensor:
        rows = x.reshape(x.shape[0], -1).to(torch.float32)
        s = torch.as_tensor(sigma, dtype=torch.float32).reshape(-1).expand(rows.shape[0])
        c_in, c_skip, c_out, c_noise = self.coefficients(s)
        out = c_skip * rows + c_out * self.raw(c_in * rows, c_noise)
        return out.reshape(x.shape).to(x.dtype)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def sample_sigmas(n: int, generator: torch.Generator) -> torch.Tensor:
    """Training noise levels in (0, 1): half uniform, half logit-normal (log sigma_ve ~
    N(-0.4, 1.4^2), EDM's lognormal recentred on the flow grids' middle)."""
    u = torch.rand(n, generator=generator)
    ln = torch.sigmoid(-0.4 + 1.4 * torch.randn(n, generator=generator))
    pick = torch.rand(n, generator=generator) < 0.5
    return torch.where(pick, u, ln).clamp(1e-3, 1.0 - 1e-3)


def train(prior, config: TrainConfig, log: Optional[Callable[[str], None]] = None,
          exact: Optional[Callable] = None, data: Optional[torch.Tensor] = None) -> tuple:
    """Train one network on ``prior`` (a ``GaussianMixture``); returns (model, info).

    With ``data`` ([M, d] rows, e.g. real images) the training set is ``data`` itself instead
    of ``config.train_samples`` prior samples (``prior`` is then unused and may be None).

    Reproducible on CPU: one torch thread, deterministic algorithms, every random draw from
    generators seeded by ``config.seed`` (training set, initialisation, noise, sigmas). ``info``
    records the config, parameter count, wall and CPU seconds, the mean training loss over the
    last 10 % of steps, and (with ``exact``, the prior's exact denoiser) the MSE per coordinate
    of D against it on held-out forward-noised prior samples at a few sigmas.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    det = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(prior, config, log or (lambda _: None), exact, data)
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(det)


def _train(prior, config: TrainConfig, log, exact, data=None):
    if data is None:
        g_data = torch.Generator().manual_seed(10_000 + config.seed)
        data = prior.sample(config.train_samples, g_data)
    data = data.to(torch.float32)
    sigma_data = float(data.std())
    torch.manual_seed(config.seed)  # initialisation
    model = MLPDenoiser(data.shape[1], config.hidden, config.blocks, sigma_data)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min(1.0, (k + 1) / 200) * 0.5 * (1.0 + math.cos(math.pi * k / max(1, config.steps))))
    g = torch.Generator().manual_seed(20_000 + config.seed)
    losses = []
    c0, t0 = time.process_time(), time.perf_counter()
    for step in range(config.steps):
        idx = torch.randint(0, data.shape[0], (config.batch,), generator=g)
        x0 = data[idx]
        s = sample_sigmas(config.batch, g)
        e = torch.randn(x0.shape, generator=g)
        x = (1.0 - s[:, None]) * x0 + s[:, None] * e
        c_in, c_skip, c_out, c_noise = model.coefficients(s)
        target = (x0 - c_skip * x) / c_out
        loss = (model.raw(c_in * x, c_noise) - target).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if (step + 1) % max(1, config.steps // 10) == 0:
            tail = losses[-max(1, config.steps // 10):]
            log(f"  step {step + 1}/{config.steps} loss {sum(tail) / len(tail):.4f} "
                f"({time.perf_counter() - t0:.0f} s)")
    tail = losses[-max(1, config.steps // 10):]
    info: Dict[str, object] = {
        "config": asdict(config),
        "params": n_params(model),
        "sigma_data": sigma_data,
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "cpu_seconds": round(time.process_time() - c0, 1),
        "final_loss": sum(tail) / len(tail) if tail else float("nan"),
        "torch": torch.__version__,
        "train_rows": int(data.shape[0]),
    }
    if exact is not None:
        model.eval()
        info["mse_vs_exact"] = prior_mse(model, exact, prior, seed=999)
    return model, info


EVAL_SIGMAS = (0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 0.95)


@torch.no_grad()
def prior_mse(model, exact, prior, seed: int, n: int = 2000, sigmas=EVAL_SIGMAS) -> Dict[str, float]:
    """sigma -> mean over rows and coordinates of (D_net - D_exact)^2 on forward-noised prior
    samples (x0 and noise from ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for s in sigmas:
        x0 = prior.sample(n, g).to(torch.float32)
        x = (1.0 - s) * x0 + s * torch.randn(x0.shape, generator=g)
        sig = torch.full((n,), s)
        out[f"{s:g}"] = float((model(x, sig) - exact(x, sig)).pow(2).mean())
    return out
