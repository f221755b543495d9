"""The autograd models: one LightningModule for the perceptron, mlp2 and mlp4.

They differ only in ``hidden`` (``[]``, ``[2]``, ``[10, 10, 10]``). Training is the lab's loop,
``loss.backward()`` + ``optimizer.step()`` on the full batch, driven by Lightning: from the same
seed it follows the plain PyTorch loop step for step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torchmetrics.functional.classification import binary_accuracy

from gatelab.errors import Diverged, GatelabError
from gatelab.network import ACTIVATIONS, build_mlp

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter]], torch.optim.Optimizer]


class GateMLP(L.LightningModule):
    def __init__(
        self,
        hidden: Sequence[int] = (2,),
        activation: str = "sigmoid",
        optimizer: OptimizerFactory | None = None,
    ):
        super().__init__()
        hidden = check_hidden(hidden)
        if activation not in ACTIVATIONS:
            raise GatelabError(f"model.activation={activation!r} is unknown; choose one of {', '.join(ACTIVATIONS)}")
        # Plain values only (no modules or partials), so checkpoints load with weights_only=True.
        self.save_hyperparameters(ignore=["optimizer"])
        self.hparams.hidden = hidden  # a plain list even when Hydra passed a ListConfig
        if hasattr(optimizer, "func"):  # Hydra's partial: record how the model was trained
            self.hparams.optimizer = {"name": optimizer.func.__name__, **optimizer.keywords}
        self.optimizer_factory = optimizer
        self.net = build_mlp(hidden, activation)
        self._last_step: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probability that the gate outputs 1, shape ``[batch, 1]``."""
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        y_hat = self(x)
        self.check_finite(y_hat)
        loss = F.binary_cross_entropy(y_hat, y)  # the lab's nn.BCELoss on sigmoid outputs
        self.remember(loss, y_hat, y)
        return loss

    def check_finite(self, y_hat: torch.Tensor) -> None:
        """Stop at the first step whose outputs overflowed to NaN (BCE would fail on them, and on a
        GPU with a device-side assert). BCE clamps its logs, so this is how divergence shows."""
        if not torch.isfinite(y_hat).all():
            raise Diverged(f"the outputs became NaN at step {self.global_step}: training diverged; lower optimizer.lr")

    def remember(self, loss: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        """Keep the step's results for the epoch-end log (logging each step would cost ~1 ms)."""
        self._last_step = (loss.detach(), y_hat.detach(), y)

    def on_train_epoch_end(self) -> None:
        loss, y_hat, y = self._last_step
        # Logged once per epoch of steps_per_epoch steps; EarlyStopping reads train/loss after this hook.
        self.log("train/loss", loss, prog_bar=True)
        self.log("train/acc", binary_accuracy(y_hat, y), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.optimizer_factory is None:
            raise GatelabError("GateMLP needs an optimizer (e.g. optimizer=sgd)")
        return self.optimizer_factory(self.parameters())


def check_hidden(hidden: Sequence[int]) -> list[int]:
    """Hidden layer sizes as a plain list of positive ints, or a one-line error."""
    try:
        sizes = [int(h) for h in hidden]
    except (TypeError, ValueError):
        raise GatelabError(f"model.hidden must be a list of layer sizes like [2] or [10,10,10], got {hidden}") from None
    if any(h < 1 for h in sizes) or any(int(h) != h for h in hidden):
        raise GatelabError(f"model.hidden sizes must be positive integers, got {list(hidden)}")
    return sizes
