"""The lab's own training loop, in plain PyTorch: the baseline gatelab must match and beat.

Used by the tests (Lightning must follow this trajectory step for step) and by benchmarks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gatelab.core.network import build_mlp


def train_plain(
    x: torch.Tensor,
    y: torch.Tensor,
    hidden: Sequence[int],
    *,
    activation: str = "sigmoid",
    lr: float = 1.0,
    steps: int = 10001,
    seed: int = 777,
    dtype: torch.dtype = torch.float32,
    device: str | torch.device = "cpu",
) -> tuple[torch.nn.Sequential, list[float]]:
    """Seed, build, and run ``steps`` full-batch SGD steps on BCE, as the notes do.

    Returns the trained net and the loss before each step. (The weights are drawn on the CPU, then
    moved: the same start on any ``device``.)
    """
    torch.manual_seed(seed)
    model = build_mlp(hidden, activation).to(device, dtype)
    x, y = x.to(device, dtype), y.to(device, dtype)
    criterion = torch.nn.BCELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        cost = criterion(model(x), y)
        cost.backward()
        optimizer.step()
        losses.append(cost.item())
    return model, losses
