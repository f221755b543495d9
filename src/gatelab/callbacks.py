"""The training callbacks of gatelab's own: when a run is solved or stuck, and saving the full
training state periodically, so that an interrupted run can be resumed."""

from __future__ import annotations

from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Checkpoint, EarlyStopping

from gatelab.core.solved import solved_threshold
from gatelab.infra.files import atomic_write


class SolvedOrStuck(EarlyStopping):
    """Lightning's EarlyStopping, set from the data when the fit starts: it watches the loss on the
    validation set when there is one (noisy data) and on the training set otherwise, and stops
    once that loss says the run is solved (``gatelab.core.solved``) or has stopped improving."""

    def __init__(self, solved_below: float, **early_stopping):
        super().__init__(monitor="train/loss", mode="min", stopping_threshold=solved_below, **early_stopping)
        self.solved_below = solved_below

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        split, x, _ = trainer.datamodule.judged_set
        self.monitor = f"{split}/loss"
        self.stopping_threshold = solved_threshold(self.solved_below, len(x))
        # The validation set's loss exists only once validation has run (at an epoch's end): a run
        # whose step budget ends inside its first epoch has none to check, and is not stopped early
        # for it (Lightning's strict check would end it with a RuntimeError instead; found by
        # tests/test_invariants.py). The training loss is logged every epoch, so stays strict.
        self.strict = split == "train"


def save_checkpoint(trainer: L.Trainer, path: str | Path, weights_only: bool, alone: bool = False) -> Path:
    """``trainer.save_checkpoint``, written atomically beside its destination.

    Every process of a multi-process run (DDP) must call ``trainer.save_checkpoint`` (it ends in a
    barrier), but only global rank 0 writes, so only rank 0 may rename a file into place."""
    if not trainer.is_global_zero:
        trainer.save_checkpoint(path, weights_only=weights_only)  # writes nothing on this rank
        return Path(path)
    return atomic_write(path, lambda tmp: trainer.save_checkpoint(tmp, weights_only=weights_only), alone=alone)


class ResumeCheckpoint(Checkpoint):
    """Every ``every_n_epochs`` epochs, save the whole training state (weights, optimizer, loop
    progress, early-stopping state) to ``path``; ``resume=true`` continues from it. The file is
    deleted when the run completes, so only an interrupted run leaves one behind.

    When: right after the *first* batch of an epoch. Lightning restores such a mid-epoch state
    exactly (the previous epoch's early-stopping check is in it, and the epoch's remaining batches
    are counted), so a resumed run stops at the same step, with the same weights, as an
    uninterrupted one. A state saved at an epoch's end is restored with its epoch boundaries
    shifted by one batch, which moves every later early-stopping check.
    """

    def __init__(self, path: str, every_n_epochs: int = 10):
        self.path = Path(path)
        self.every_n_epochs = every_n_epochs

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """On resuming, the curves go on from the saved step: what the interrupted run logged after
        it is dropped (loggers that can: ``gatelab.loggers``), so they end as an uninterrupted run's."""
        if trainer.global_step > 0 and trainer.is_global_zero:  # (only rank 0 has the loggers' files)
            for logger in trainer.loggers:
                if hasattr(logger, "forget_after"):
                    logger.forget_after(trainer.global_step)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        epoch = trainer.current_epoch
        if batch_idx == 0 and epoch > 0 and epoch % self.every_n_epochs == 0:
            save_checkpoint(trainer, self.path, weights_only=False, alone=True)  # now, not with the run's results

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.interrupted:
            self.path.unlink(missing_ok=True)
