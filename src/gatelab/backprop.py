"""The manual-backprop model: an MLP of any depth trained by the hand-written chain rule of
``gatelab.core.chain_rule``, as a LightningModule (``model=manual``, ``model=manual_lab``).

Everything but training is ``GateMLP``'s (the same net, seed, data, callbacks and checkpoints); its
step is the chain rule's forward cache, gradients and the two-line SGD update, with no autograd and
no torch.optim. conf/model/manual.yaml names this class by its path, and checkpoints record it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from gatelab.core.chain_rule import ACTIVATION_AND_DERIVATIVE, bce, chain_rule, check_plain_sgd, check_rule, forward_with_cache
from gatelab.core.network import check_hidden, linear_layers
from gatelab.models import GateMLP


class ManualBackpropMLP(GateMLP):
    """An MLP of any depth trained by the hand-written chain rule (plain SGD, rate ``lr``);
    ``rule="lab"`` is the notes' rule instead of the exact gradient."""

    def __init__(
        self,
        hidden: Sequence[int] = (2,),
        activation: str = "sigmoid",
        lr: float = 1.0,
        optimizer: str = "sgd",
        steps_per_batch: int = 50,
        inputs: int = 2,
        rule: str = "exact",
    ):
        check_plain_sgd(optimizer, "manual_lab" if rule == "lab" else "manual")
        check_rule(rule)
        hidden = check_hidden(hidden)  # a plain list before Lightning records the arguments
        super().__init__(hidden, activation, steps_per_batch=steps_per_batch, inputs=inputs)
        self.lr, self.rule = lr, rule
        hidden_activation = ACTIVATION_AND_DERIVATIVE[activation]
        self.activations = [hidden_activation] * len(hidden) + [ACTIVATION_AND_DERIVATIVE["sigmoid"]]

    def layers(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        layers = linear_layers(self.net)
        return [layer.weight for layer in layers], [layer.bias for layer in layers]

    def forward_with_cache(self, x: torch.Tensor) -> list[torch.Tensor]:
        return forward_with_cache(*self.layers(), self.activations, x)

    def gradients(self, cache: list[torch.Tensor], y: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return chain_rule(self.layers()[0], self.activations, cache, y, rule=self.rule)

    @torch.no_grad()
    def optimization_step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cache = self.forward_with_cache(x)
        self.check_finite(cache[-1])
        loss = bce(cache[-1], y)
        for layer, (d_w, d_b) in zip(linear_layers(self.net), self.gradients(cache, y)):
            layer.weight -= self.lr * d_w
            layer.bias -= self.lr * d_b
        return loss, cache[-1]

    def configure_optimizers(self) -> None:
        return None  # no torch.optim: the update is the two lines in optimization_step
