"""The gate's truth table as a LightningDataModule.

Every training step sees all four rows (full batch, as in the lab). One "epoch" is
``steps_per_epoch`` such steps: Lightning's per-epoch machinery (progress bar, early stopping,
logging) runs every ``steps_per_epoch`` steps instead of after each one. Each batch is used for
``steps_per_batch`` steps (see ``GateMLP``), so an epoch has ``steps_per_epoch / steps_per_batch``
batches; at least two, so that a resumable state can be saved inside an epoch.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from gatelab.errors import GatelabError
from gatelab.gates import read_gate_csv


class RepeatedFullBatch(Dataset):
    """``length`` items, each the whole ``(x, y)`` batch."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, length: int):
        self.x, self.y, self.length = x, y, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x, self.y


class GateDataModule(L.LightningDataModule):
    def __init__(self, gate: str, path: str, steps_per_epoch: int = 100, steps_per_batch: int = 50):
        super().__init__()
        batches, remainder = divmod(steps_per_epoch, steps_per_batch)
        if remainder or batches < 2:
            raise GatelabError(
                f"steps_per_epoch ({steps_per_epoch}) must be a multiple of steps_per_batch ({steps_per_batch}), "
                "and at least twice it"
            )
        self.gate, self.path, self.batches_per_epoch = gate, path, batches
        self.x, self.y = read_gate_csv(path)  # read eagerly: a bad file fails before any training

    def train_dataloader(self) -> DataLoader:
        # batch_size=None: the items already are batches, so nothing is collated or copied.
        return DataLoader(RepeatedFullBatch(self.x, self.y, self.batches_per_epoch), batch_size=None)
