"""Snapshots: the network's weights every ``every`` optimizer steps, saved for the animations.

A run's learning is a process: on XOR an MLP sits on the ln 2 plateau for thousands of steps, then
escapes within a few hundred (mlp4: under a hundred). ``Snapshots`` records the weights at step 0
and every ``every`` steps, and writes them when the fit ends to ``path``; ``gatelab.presentation.animation``
then picks its frames from them where the loss moves (``python src/animate.py``). The file's
layout is ``gatelab.core.snapshot_file``'s.

Why the model calls ``record`` itself: a Lightning callback sees only batch boundaries, which here
are ``steps_per_batch`` (50) optimizer steps apart (see ``gatelab.models``), too coarse for an
escape of under 100 steps. ``GateMLP.training_step`` asks once per batch which of its steps are
due (``due_between``) and hands the net over after each of them.

Cost (``python bench/snapshots.py``): one record is one copy of the weights into a flat vector,
amortised over ``every`` steps; the file is written once, at the end.

The records are part of the callback's state, so a run resumed with ``resume=true`` keeps the
snapshots taken before its interruption (up to the saved state, like everything else).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

from gatelab.config.checks import check_positive_int
from gatelab.core.snapshot_file import FORMAT, save
from gatelab.infra.files import atomic_write


class Snapshots(Callback):
    """Record the weights at step 0, every ``every`` optimizer steps and at the last step; write them
    to ``path`` (``torch.save``: ``steps`` [n], ``weights`` [n, parameters], and how to rebuild the
    net and its data) when the fit completes."""

    def __init__(self, path: str, every: int = 10):
        check_positive_int("callbacks.snapshots.every", every)
        self.path, self.every = Path(path), every
        self.steps: list[int] = []
        self.weights: list[torch.Tensor] = []

    def due_between(self, first: int, last: int) -> range:
        """The steps after ``first`` up to ``last`` at which a record is due (asked once per batch:
        a test per step would cost more than the records)."""
        return range(first + self.every - first % self.every, last + 1, self.every)

    @torch.no_grad()
    def record(self, step: int, net: torch.nn.Module) -> None:
        # torch.cat copies: the parameters are updated in place by the next step. Kept on the CPU:
        # a GPU run's last record is taken in on_fit_end, after Lightning has moved the net back.
        self.steps.append(step)
        self.weights.append(torch.cat([p.reshape(-1) for p in net.parameters()]).cpu())

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.global_step == 0:  # not on resuming: the records so far came with the state
            self.steps, self.weights = [], []
            self.record(0, pl_module.net)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.interrupted or not trainer.is_global_zero:
            return
        if self.steps[-1] != trainer.global_step:  # the last step is off the schedule
            self.record(trainer.global_step, pl_module.net)
        x, y = pl_module.trainer.datamodule.train_set
        hparams = pl_module.hparams
        content = {
            "format": FORMAT,
            "steps": torch.tensor(self.steps),
            "weights": torch.stack(self.weights),
            "net": {"hidden": list(hparams.hidden), "activation": hparams.activation, "inputs": int(x.shape[1])},
            "data": {"x": x.cpu(), "y": y.cpu()},
            "config": getattr(pl_module, "run_config", None),  # what ran: name, gate, seed, settings
        }
        atomic_write(self.path, lambda tmp: save(content, tmp))

    def state_dict(self) -> dict:
        # One tensor, not a list of them: the resume checkpoint (every 1000 steps) stores each tensor
        # as a record of its own, and a thousand small ones cost more than all the snapshots.
        return {"steps": list(self.steps), "weights": torch.stack(self.weights) if self.weights else None}

    def load_state_dict(self, state_dict: dict) -> None:
        weights = state_dict["weights"]
        self.steps, self.weights = list(state_dict["steps"]), list(weights) if weights is not None else []
