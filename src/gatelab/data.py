"""A boolean function's data as a LightningDataModule.

By default the data is the exact truth table, and every training step sees all of its rows (full
batch, as in the lab). With ``noise > 0`` or ``samples_per_corner > 1`` it is a noisy dataset
instead: ``samples_per_corner`` points jittered around each row of the truth table, split into
train, validation and test sets (``split``) with a fixed seed (``split_seed``). Training then sees
the train set (still full batch), validation runs every epoch (``val/loss``, ``val/acc``), and
evaluation scores the test set.

One "epoch" is ``steps_per_epoch`` steps: Lightning's per-epoch machinery (progress bar, early
stopping, logging, validation) runs every ``steps_per_epoch`` steps instead of after each one. Each
batch is used for ``steps_per_batch`` steps (see ``GateMLP``), so an epoch has
``steps_per_epoch / steps_per_batch`` batches; at least two, so that a resumable state can be saved
inside an epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from gatelab.config.checks import check_epoch_layout
from gatelab.core.gates import check_noise_settings, jittered_splits, read_gate_csv


class RepeatedFullBatch(Dataset):
    """``length`` items, each the whole ``(x, y)`` batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, length: int):
        self.x, self.y, self.length = x, y, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y


class GateDataModule(L.LightningDataModule):
    def __init__(
        self,
        gate: str,
        path: str,
        steps_per_epoch: int = 100,
        steps_per_batch: int = 50,
        noise: float = 0.0,
        samples_per_corner: int = 1,
        split: Sequence[float] = (0.6, 0.2, 0.2),
        split_seed: int = 0,
    ):
        super().__init__()
        batches = check_epoch_layout(steps_per_epoch, steps_per_batch)
        self.gate, self.path, self.batches_per_epoch = gate, path, batches
        self.x, self.y = read_gate_csv(path)  # read eagerly: a bad file fails before any training
        self.inputs = self.x.shape[1]
        check_noise_settings(noise, samples_per_corner, split)  # also when off: a typo fails now
        self.noisy = noise > 0 or samples_per_corner > 1
        if self.noisy:
            self.splits = jittered_splits(self.x, self.y, noise, samples_per_corner, split, split_seed)
        # Recorded in checkpoints (plain values), so that evaluation can rebuild the same test set.
        split = [float(f) for f in split]
        self.save_hyperparameters("gate", "noise", "samples_per_corner", "split", "split_seed")

    @property
    def train_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.splits["train"] if self.noisy else (self.x, self.y)

    @property
    def has_validation(self) -> bool:
        return self.noisy and len(self.splits["val"][0]) > 0

    @property
    def judged_set(self) -> tuple[str, torch.Tensor, torch.Tensor]:
        """The set that says whether a run is solved, for early stopping and the run's summary: the
        validation set when there is one (noisy data), else the training set (the truth table)."""
        return ("val", *self.splits["val"]) if self.has_validation else ("train", *self.train_set)

    def train_dataloader(self) -> DataLoader:
        # batch_size=None: the items already are batches, so nothing is collated or copied.
        return DataLoader(RepeatedFullBatch(*self.train_set, self.batches_per_epoch), batch_size=None)

    def val_dataloader(self) -> DataLoader | list:
        if not self.has_validation:
            return []  # nothing held out (the exact truth table): no validation loop at all
        return DataLoader(RepeatedFullBatch(*self.splits["val"], 1), batch_size=None)
