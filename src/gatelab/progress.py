"""A progress bar that counts what a gatelab run counts: optimizer steps, toward ``trainer.max_steps``.

Lightning's ``TQDMProgressBar`` draws one bar per epoch and counts its batches; here an epoch is
100 steps in 2 batches (see ``gatelab.data``), so it showed ``Epoch 52: 2/2`` and the metrics
logged at the end of the previous epoch. ``StepProgressBar`` draws one bar for the whole run,
``step 2500/10001``, with the loss and accuracy of the net as it is at each refresh
(``progress_metrics()`` of the model); its last state is the run's end state, the numbers the
summary line prints.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class StepProgressBar(TQDMProgressBar):
    """One bar per run counting optimizer steps; redrawn every ``refresh_rate`` batches and at the end."""

    @property
    def train_description(self) -> str:
        return "step"

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.batches = 0
        self.train_progress_bar = self.init_train_tqdm()
        self.train_progress_bar.reset(total=trainer.max_steps if trainer.max_steps > 0 else None)
        self.show(trainer, pl_module)  # from step 0, or where a resumed run starts

    def on_train_epoch_start(self, *_) -> None:
        pass  # one bar for the whole run, not one per epoch

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        self.batches += 1  # over the run (batch_idx restarts every epoch, which is 2 batches here)
        if self.batches % self.refresh_rate == 0:
            self.show(trainer, pl_module)

    def on_train_epoch_end(self, *_) -> None:
        pass  # the postfix shows the current step's metrics, not the epoch's log

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)  # closes the validation bar, and sets the logged metrics
        if trainer.state.fn == "fit" and not trainer.sanity_checking:
            self.show(trainer, pl_module)  # ... so put ours back

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.show(trainer, pl_module)
        self.train_progress_bar.close()

    def show(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        bar = self.train_progress_bar
        if bar.disable:
            return
        bar.n = trainer.global_step
        metrics = pl_module.progress_metrics() if hasattr(pl_module, "progress_metrics") else {}
        bar.set_postfix(metrics, refresh=False)
        bar.refresh()
