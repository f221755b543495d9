"""The autograd models: one LightningModule for the perceptron, mlp2 and mlp4.

They differ only in ``hidden`` (``[]``, ``[2]``, ``[10, 10, 10]``). Training is the lab's loop,
``loss.backward()`` + ``optimizer.step()`` on the full batch, driven by Lightning: from the same
seed it follows the plain PyTorch loop step for step.

Speed (bench/speed.py, P2): each ``training_step`` takes ``steps_per_batch`` such steps
(Lightning's manual optimization), so Lightning's per-batch machinery (data fetching, every
callback's hooks, progress) runs once per batch instead of once per step. Within a step, two of
Lightning's wrappers cost more than they do here, and are used only where something needs them:
``manual_backward`` calls ten hooks around ``loss.backward()`` (half of a whole step on these tiny
nets), needed only by strategies of several processes, precision plugins that scale the loss, and
callbacks that listen to the backward hooks (``backpropagate``); ``LightningOptimizer.step``
dispatches three hooks per call, needed only by ``on_before_optimizer_step`` hooks and strategies
that own the optimizer (DeepSpeed, XLA), so the update calls the torch optimizer itself and counts
the step for Lightning (``count_step``). Callbacks, logging and checkpoints work as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import DoublePrecision, Precision
from lightning.pytorch.strategies import SingleDeviceStrategy
from torchmetrics.functional.classification import binary_accuracy

from gatelab.config.checks import check_positive_int
from gatelab.core.network import build_mlp, check_activation, check_hidden, linear_layers
from gatelab.infra.compat import count_optimizer_step
from gatelab.infra.errors import Diverged, GatelabError
from gatelab.snapshots import Snapshots

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]


class ManyStepsPerBatch(L.LightningModule):
    """Manual optimization that takes up to ``steps_per_batch`` optimizer steps per ``training_step``."""

    steps_per_batch: int
    _direct_backward = False

    def on_fit_start(self) -> None:
        self._direct_backward = backward_needs_no_lightning(self.trainer)

    def backpropagate(self, loss: torch.Tensor) -> None:
        """``loss.backward()``: directly where Lightning's ``manual_backward`` would only add its
        hooks around it, and through it where something needs them (``backward_needs_no_lightning``)."""
        if self._direct_backward:
            loss.backward()
        else:
            self.manual_backward(loss)

    def count_step(self) -> None:
        """Tell Lightning a step was taken. It counts the steps of ``LightningOptimizer.step``
        (for ``global_step``, ``max_steps``, checkpoints); we step without it."""
        count_optimizer_step(self.trainer)

    def steps_to_take(self) -> int:
        """``steps_per_batch``, or fewer at the end so that ``trainer.max_steps`` is never passed."""
        max_steps = self.trainer.max_steps
        return self.steps_per_batch if max_steps < 0 else min(self.steps_per_batch, max_steps - self.global_step)


def backward_needs_no_lightning(trainer: L.Trainer) -> bool:
    """One process (no gradient sync), a precision that does not scale the loss (32 or 64-bit), and
    no callback or module hook listening to the backward: ``manual_backward`` would add nothing."""

    def listens(obj: object, base: type) -> bool:
        return any(getattr(type(obj), hook) is not getattr(base, hook) for hook in ("on_before_backward", "on_after_backward"))

    return (
        isinstance(trainer.strategy, SingleDeviceStrategy)
        and type(trainer.precision_plugin) in (Precision, DoublePrecision)
        and not any(listens(callback, Callback) for callback in trainer.callbacks)
        and not listens(trainer.lightning_module, L.LightningModule)
        and type(trainer.lightning_module).backward is L.LightningModule.backward
    )


class GateMLP(ManyStepsPerBatch):
    #: The run's resolved config (gatelab.recipes.training sets it); every checkpoint records it as "config".
    run_config: dict | None = None

    def __init__(
        self,
        hidden: Sequence[int] = (2,),
        activation: str = "sigmoid",
        optimizer: OptimizerFactory | None = None,
        steps_per_batch: int = 50,
        inputs: int = 2,
        log_grad_norms: bool = False,
    ):
        super().__init__()
        self.automatic_optimization = False  # we take steps_per_batch optimizer steps per batch
        check_positive_int("steps_per_batch", steps_per_batch)
        hidden = check_hidden(hidden)
        check_activation(activation)
        # Plain values only (no modules or partials), so checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["optimizer"])
        self.hparams.hidden = hidden  # a plain list even when Hydra passed a ListConfig
        if hasattr(optimizer, "func"):  # Hydra's partial: record how the model was trained
            self.hparams.optimizer = {"name": optimizer.func.__name__, **optimizer.keywords}
        self.optimizer_factory = optimizer
        self.steps_per_batch, self.log_grad_norms = steps_per_batch, log_grad_norms
        self.net = build_mlp(hidden, activation, in_features=inputs)
        self._last_step: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
        self._grad_norms: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that the gate outputs 1, shape ``[batch, 1]``."""
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        first, steps = self.global_step, self.steps_to_take()
        snapshots = self.snapshots()  # it records inside the batch, after the steps it is due at
        due = snapshots.due_between(first, first + steps) if snapshots is not None else ()
        for step in range(first + 1, first + steps + 1):
            loss, y_hat = self.optimization_step(x, y)
            self.count_step()
            if step in due:
                snapshots.record(step, self.net)
        self.remember(loss, y_hat, y)
        if self.log_grad_norms:  # the batch's last step's weight gradients (gone by the epoch's end)
            self._grad_norms = [layer.weight.grad.norm() for layer in linear_layers(self.net) if layer.weight.grad is not None]

    def snapshots(self) -> Snapshots | None:
        """The run's ``Snapshots`` callback, if it has one."""
        return next((c for c in self.trainer.callbacks if isinstance(c, Snapshots)), None)

    def optimization_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One full-batch step of the lab's loop; returns the loss before it and the outputs."""
        optimizer = self.optimizers().optimizer  # the torch optimizer (see the module docstring)
        optimizer.zero_grad()
        y_hat = self(x)
        self.check_finite(y_hat)
        loss = F.binary_cross_entropy(y_hat, y)  # the lab's nn.BCELoss on sigmoid outputs
        self.backpropagate(loss)
        optimizer.step()
        return loss, y_hat

    def check_finite(self, y_hat: torch.Tensor) -> None:
        """Stop at the first step whose outputs overflowed to NaN (BCE would fail on them, and on a
        GPU with a device-side assert). BCE clamps its logs, so this is how divergence shows."""
        if y_hat.isnan().any():  # a sigmoid's output is never infinite; isnan is the cheapest check
            raise Diverged(f"the outputs became NaN at step {self.global_step}: training diverged; lower optimizer.lr")

    def remember(self, loss: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        """Keep the step's results for the epoch-end log (logging each step would cost ~1 ms)."""
        self._last_step = (loss.detach(), y_hat.detach(), y)

    def on_train_start(self) -> None:
        """The curves start at step 0: the untrained net's loss and accuracy (not on resuming)."""
        if self.global_step > 0 or not self.loggers:
            return
        loss, accuracy = self.scores_now(*self.trainer.datamodule.train_set)
        for logger in self.loggers:
            logger.log_metrics({"train/loss": loss, "train/acc": accuracy}, step=0)

    def progress_metrics(self) -> dict[str, str]:
        """The net's loss and accuracy as it is now on the set that judges it (the training set, or
        the validation set of noisy data), for the progress bar (gatelab.progress): the same numbers
        as the summary line at the end of a run."""
        split, x, y = self.trainer.datamodule.judged_set
        loss, accuracy = self.scores_now(x, y)
        prefix = "val_" if split == "val" else ""
        return {f"{prefix}loss": f"{loss:.6f}", f"{prefix}acc": f"{accuracy:.2f}"}

    @torch.no_grad()
    def scores_now(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Mean BCE and accuracy of the net as it is now on ``(x, y)``."""
        x, y = (t.to(self.device, self.dtype) for t in (x, y))  # (trainer.precision=64-true: float64)
        y_hat = self(x)
        return F.binary_cross_entropy(y_hat, y).item(), binary_accuracy(y_hat, y).item()

    def on_train_epoch_end(self) -> None:
        loss, y_hat, y = self._last_step
        # Logged once per epoch of steps_per_epoch steps; EarlyStopping reads train/loss after this hook.
        # Under DDP every process logs the mean over processes (sync_dist; free in one process).
        sync = self.trainer.world_size > 1
        self.log("train/loss", loss, prog_bar=True, sync_dist=sync)
        self.log("train/acc", binary_accuracy(y_hat, y), prog_bar=True, sync_dist=sync)
        # Each layer's weight-gradient norm at the epoch's last step (hand-written backprop keeps none).
        for k, norm in enumerate(self._grad_norms if self.log_grad_norms else [], start=1):
            self.log(f"grad_norm/layer{k}", norm, sync_dist=sync)
        if self.loggers:  # their x-axis: optimizer steps (Lightning's default counts batches)
            self.log("step", float(self.global_step), sync_dist=sync)

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        """Only noisy datasets have a validation set (see ``GateDataModule``)."""
        x, y = batch
        y_hat = self(x)
        sync = self.trainer.world_size > 1
        self.log("val/loss", F.binary_cross_entropy(y_hat, y), prog_bar=True, sync_dist=sync)
        self.log("val/acc", binary_accuracy(y_hat, y), prog_bar=True, sync_dist=sync)
        if self.loggers:
            self.log("step", float(self.global_step), sync_dist=sync)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.run_config is not None:
            checkpoint["config"] = self.run_config  # plain values: loads with weights_only=True

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is None:
            raise GatelabError("GateMLP needs an optimizer (e.g. optimizer=sgd)")
        return self.optimizer_factory(self.parameters())
