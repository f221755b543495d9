"""S copies of one model trained together as one batched model, in Lightning (the seed study).

Copy ``i`` starts from exactly the weights that ``seed=first_seed+i`` gives the single-run model
(``build_mlp`` right after ``torch.manual_seed``), and all copies train on the same full batch.
Weights are stacked ``[S, out, in]`` and biases ``[S, 1, out]``: a forward pass is one batched
matmul per layer for every copy. The loss is the *sum* of the copies' own mean BCEs, so each
copy's gradient is exactly its own and the copies train independently, as S single runs would
(``tests/test_study.py`` checks this against single runs). Given ``manual_lr`` instead of an
optimizer, they train by the hand-written chain rule of ``gatelab.backprop`` instead of autograd.

``compiled=True`` compiles the step with ``torch.compile``, in one of three forms. Under plain SGD
(``is_plain_sgd``) the whole step, update included, is one fused program, compiled once per net in
a process for any number of copies: a small net (``fits_scalar_step``: the perceptron, mlp2, 2-h-1
for h <= 10) in a large study (``scalar_program``: gatelab.config.planning.SCALAR_FROM copies) runs
the per-copy scalar program of gatelab.core.scalar_step, one ``[S]`` tensor per parameter, fused by
Inductor into one loop over the copies, compiled per architecture; any other (mlp4, 2-8-8-1, a
thousand copies of mlp2) the copies-last layer step of gatelab.core.copies_last_step,
``[out, in, S]`` per layer, its backward written out, compiled per depth for every width. Either
trains only the copies whose own run has not stopped. Any other optimizer (Adam, momentum) traces
the forward pass, the loss and autograd's backward pass as one function
(``torch.func.grad_and_value``), compiled per study, and the torch optimizer makes the update.
bench/study_scale.py times them against the eager step and a minimal loop. Compiled outputs differ
from the eager step's in the last bits (fused arithmetic rounds differently), so whether a study
compiles is a setting of the study (``study.compile``), the same for every shard of it, never a
choice of the machine; tests/test_study.py checks that the verdicts do not move (deep nets: no
further from a float64 study than the eager step is).

Every step records, per copy, whether it answers every row right, so the first step at which
it does is exact. After each epoch, each copy that is *solved* (gatelab.core.solved, with the
``threshold`` of the single run's early stopping on these rows) for the first time keeps its weights as its
end state (``end_weights``): where its own early-stopped run would end, whatever the other copies
do. So a copy's results do not depend on which copies share its batch, and a study split into
shards of seeds merges to exactly the unsplit study (``gatelab.recipes.shards``). Training stops once every
copy is solved; a copy never solved ends where the budget ends.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from gatelab.config.planning import is_plain_sgd
from gatelab.core.chain_rule import ACTIVATION_AND_DERIVATIVE, bce, chain_rule, forward_with_cache
from gatelab.core.copies_last_step import compiled_copies_last_step, from_copies_last, steps_by_chunk, to_copies_last
from gatelab.core.network import build_mlp, check_hidden
from gatelab.core.scalar_step import compiled_scalar_step, fits_scalar_step, from_scalars, to_scalars
from gatelab.core.solved import all_right, is_solved
from gatelab.infra.compat import is_compiler_failure, is_nan_bce_input
from gatelab.infra.errors import Diverged, GatelabError
from gatelab.models import ManyStepsPerBatch, OptimizerFactory

NOT_YET = -1


def initial_weights(
    hidden: Sequence[int], activation: str, inputs: int, seeds: Sequence[int]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Each layer's weights ``[S, out, in]`` and biases ``[S, 1, out]``, copy i as seed ``seeds[i]`` makes them.

    Copy i gets exactly what ``torch.manual_seed(seeds[i])`` then ``build_mlp`` draws (tests/test_study.py
    checks it): nn.Linear's own initialisation, layer by layer (weight, then bias), here drawn straight
    into the stacked tensors from one generator reseeded per copy. Building S throwaway nets instead
    costs about 1 ms per seed (torch.manual_seed also queues a CUDA reseed, with a stack trace, each
    time): 17 minutes at 10^6 seeds.
    """
    build_mlp(hidden, activation, in_features=inputs)  # the same checks (activation) as the single run
    sizes = [inputs, *hidden, 1]
    weights = [torch.empty(len(seeds), fan_out, fan_in) for fan_in, fan_out in zip(sizes, sizes[1:])]
    biases = [torch.empty(len(seeds), 1, fan_out) for fan_out in sizes[1:]]
    generator = torch.Generator()
    for i, seed in enumerate(seeds):
        generator.manual_seed(seed)
        for weight, bias in zip(weights, biases):  # as nn.Linear.reset_parameters draws them
            nn.init.kaiming_uniform_(weight[i], a=math.sqrt(5), generator=generator)
            bound = 1 / math.sqrt(weight.shape[2])
            nn.init.uniform_(bias[i], -bound, bound, generator=generator)
    return weights, biases


class SeedStudy(ManyStepsPerBatch):
    def __init__(
        self,
        hidden: Sequence[int],
        activation: str,
        seeds: Sequence[int],
        optimizer: OptimizerFactory | None = None,
        manual_lr: float | None = None,
        manual_rule: str = "exact",
        inputs: int = 2,
        steps_per_batch: int = 50,
        threshold: float = 0.05,
        lrs: Sequence[float] | None = None,
        compiled: bool = False,
        scalar_program: bool = True,
    ):
        super().__init__()
        self.automatic_optimization = False
        if (optimizer is None) == (manual_lr is None):
            raise GatelabError("SeedStudy needs either an optimizer (autograd) or manual_lr (hand-written backprop)")
        if lrs is not None and optimizer is None:
            raise GatelabError("SeedStudy: several learning rates (lrs) need an optimizer, not manual_lr")
        if compiled and optimizer is None:
            raise GatelabError("SeedStudy: the compiled step computes autograd's gradients; it needs an optimizer, not manual_lr")
        hidden = check_hidden(hidden)
        weights, biases = initial_weights(hidden, activation, inputs, seeds)
        # One group of copies per learning rate (the seeds again in each), as parameters of their own:
        # one optimizer parameter group each, so that every group's update is exactly the one a study
        # with that learning rate alone makes. Forward passes join the groups into one batch.
        self.lrs = list(lrs) if lrs is not None else None
        groups = len(self.lrs) if self.lrs is not None else 1
        self.weight_groups = nn.ParameterList([w.clone() for _ in range(groups) for w in weights])
        self.bias_groups = nn.ParameterList([b.clone() for _ in range(groups) for b in biases])
        self.groups, n_layers = groups, len(weights)
        self.activations = [ACTIVATION_AND_DERIVATIVE[activation]] * (n_layers - 1) + [ACTIVATION_AND_DERIVATIVE["sigmoid"]]
        self.optimizer_factory, self.manual_lr, self.manual_rule = optimizer, manual_lr, manual_rule
        self.steps_per_batch, self.threshold = steps_per_batch, threshold
        self.copies = len(seeds) * groups  # group-major: copy g * len(seeds) + i is seed i at lrs[g]
        self.register_buffer("first_correct", torch.full((self.copies,), NOT_YET))
        self.register_buffer("solved_at", torch.full((self.copies,), NOT_YET))  # the step each copy's run stops
        # Each copy's end state: its weights when first solved, or at the end of training (on_train_start).
        self.end_weights: list[torch.Tensor] = []
        self.end_biases: list[torch.Tensor] = []
        self._last_step: tuple[torch.Tensor, torch.Tensor] | None = None
        self._row_weight: torch.Tensor | None = None
        self.sizes, self.activation = [inputs, *hidden, 1], activation
        # Under plain SGD a compiled study runs a fused step of its own: a small net in a large study
        # (scalar_program) the per-copy scalar program (gatelab.core.scalar_step), any other the
        # copies-last layer step (gatelab.core.copies_last_step). Any other optimizer: autograd's
        # batched gradients, compiled.
        fused = compiled and is_plain_sgd(optimizer)
        self.scalar = fused and scalar_program and fits_scalar_step(self.sizes, activation)
        self.copies_last = fused and not self.scalar
        self._compiled_gradients = compiled_gradients(self.activations, n_layers, groups) if compiled and not fused else None

    @property
    def weights(self) -> list[torch.Tensor]:
        """Each layer's weights ``[S, out, in]`` for every copy (the groups joined)."""
        return self._joined(self.weight_groups)

    @property
    def biases(self) -> list[torch.Tensor]:
        return self._joined(self.bias_groups)

    def _joined(self, params: nn.ParameterList) -> list[torch.Tensor]:
        return join_groups(list(params), self.groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Every copy's probabilities, ``[S, rows, 1]``."""
        return forward_with_cache(list(self.weights), list(self.biases), self.activations, x)[-1]

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        first_step = self.global_step
        optimizer = None if self.manual_lr is not None else self.optimizers().optimizer
        if self.scalar or self.copies_last:
            y_hat, correct = self.fused_steps(x, y, optimizer)
        else:
            correct = []
            for _ in range(self.steps_to_take()):
                y_hat, correct_now = self.optimization_step(x, y, optimizer)
                correct.append(correct_now)
                self.count_step()
        # Once per batch, not per step: a NaN output stays NaN, so no divergence goes unseen.
        check_finite(y_hat, first_step, self.global_step)
        self.record_first_correct(torch.cat(correct, dim=1), first_step)
        self._last_step = (y_hat, y)

    @torch.no_grad()
    def fused_steps(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The batch's steps by a compiled fused step: the per-copy scalar program (``compiled_scalar_step``,
        one ``[S]`` tensor per parameter) or the copies-last layer step (``compiled_copies_last_step``,
        ``[out, in, S]`` per layer), the weights in its layout for the batch, written back at its end.
        Returns the outputs the last step started from and whether each copy answered every row right
        at each step (``[S, steps]``). The update is plain SGD's, ``w - lr * grad``, each copy at its
        group's rate.

        Only the copies whose own run goes on train: a stopped copy's end state is kept
        (``keep_end_state``) and nothing reads its weights again, and a copy's arithmetic is its own,
        so leaving the stopped ones out saves their arithmetic and changes no bit of the others
        (tests/test_study.py). A stopped copy keeps the outputs it stopped with: solved_now finds it
        solved again, and its first correct step is recorded already."""
        weights, biases = self.weights, self.biases
        seeds, steps = self.copies // self.groups, self.steps_to_take()
        dtype, device = weights[0].dtype, weights[0].device
        lr = torch.cat([torch.full((seeds,), group["lr"], dtype=dtype, device=device) for group in optimizer.param_groups])
        running = running_copies(self.solved_at)
        part_weights, part_biases = [w[running] for w in weights], [b[running] for b in biases]
        try:
            if self.scalar:
                program = compiled_scalar_step(self.sizes, self.activation, x.tolist())
                params, labels, lr, right = to_scalars(part_weights, part_biases), y.flatten(), lr[running], []
                for _ in range(steps):
                    params, outputs, right_now = program(lr, labels, *params)
                    right.append(right_now)
                part_y_hat, part_right = torch.stack(outputs, dim=1).unsqueeze(-1), torch.stack(right, dim=1)
            else:
                program = compiled_copies_last_step(len(weights), self.activation)
                params, outputs, right = steps_by_chunk(
                    program, steps, lr[running], x.T.contiguous(), y.flatten(), to_copies_last(part_weights, part_biases)
                )
                part_y_hat, part_right = outputs.T.unsqueeze(-1), right.T
        except Exception as err:
            if not is_compiler_failure(err):
                raise
            reason = str(err).strip().splitlines()[0][:300]
            raise GatelabError(f"torch.compile could not build the study's step ({reason}); set study.compile=false") from None
        for _ in range(steps):
            self.count_step()
        (from_scalars if self.scalar else from_copies_last)(params, part_weights, part_biases)
        trained = self.solved_at[running] == NOT_YET  # (not a stopped copy that kept one company)
        running, part_y_hat, part_right = running[trained], part_y_hat[trained], part_right[trained]
        for every, part in zip([*weights, *biases], [*part_weights, *part_biases]):
            every[running] = part[trained]
        if self.groups > 1:  # the joined tensors are copies: back into each group's parameters
            for joined, groups in ((weights, self.weight_groups), (biases, self.bias_groups)):
                for k, tensor in enumerate(joined):
                    for g, part in enumerate(tensor.chunk(self.groups)):
                        groups[g * len(joined) + k].copy_(part)
        y_hat = (
            torch.empty(self.copies, *part_y_hat.shape[1:], dtype=dtype, device=device)
            if self._last_step is None
            else self._last_step[0].clone()
        )
        y_hat[running] = part_y_hat
        correct = torch.zeros(self.copies, steps, dtype=torch.bool, device=device)
        correct[running] = part_right
        return y_hat, [correct]

    def optimization_step(
        self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One full-batch step for every copy; returns the outputs it started from and whether each
        copy answered every row right with them (``[S, 1]``)."""
        if self._compiled_gradients is not None:
            return self.compiled_step(x, y, optimizer)
        y_hat = self.manual_step(x, y) if optimizer is None else self.autograd_step(x, y, optimizer)
        return y_hat, all_right(y_hat, y)

    def autograd_step(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer) -> torch.Tensor:
        optimizer.zero_grad()
        y_hat = self(x)
        try:
            loss = summed_bce(y_hat, y, self.row_weight(y))
        except RuntimeError as err:  # torch's BCE refuses NaN outputs (checked per batch: here, first)
            if not is_nan_bce_input(err):
                raise
            check_finite(y_hat, max(self.global_step - 1, 0), self.global_step)
            raise
        self.backpropagate(loss)
        optimizer.step()
        return y_hat.detach()

    def compiled_step(self, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer) -> tuple[torch.Tensor, torch.Tensor]:
        """``optimization_step`` with the gradients (and the check of the outputs) from the compiled
        function, ``compiled_gradients``. A NaN output is not refused here (the fused loss does not
        check its input): the batch's ``check_finite`` reports it."""
        params = [*self.weight_groups, *self.bias_groups]
        with torch.no_grad():  # (torch.func.grad differentiates anyway; no graph is kept around it)
            try:
                grads, y_hat, correct = self._compiled_gradients(params, x, y, self.row_weight(y))
            except Exception as err:
                if not is_compiler_failure(err):
                    raise
                reason = str(err).strip().splitlines()[0][:300]
                raise GatelabError(f"torch.compile could not build the study's step ({reason}); set study.compile=false") from None
        for param, grad in zip(params, grads):
            param.grad = grad
        optimizer.step()
        return y_hat, correct

    def row_weight(self, y: torch.Tensor) -> torch.Tensor:
        if self._row_weight is None or self._row_weight.shape != y.shape:
            self._row_weight = torch.full_like(y, 1 / y.numel())
        return self._row_weight

    @torch.no_grad()
    def manual_step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        weights, biases = list(self.weights), list(self.biases)
        cache = forward_with_cache(weights, biases, self.activations, x)
        for w, b, (d_w, d_b) in zip(weights, biases, chain_rule(weights, self.activations, cache, y, rule=self.manual_rule)):
            w -= self.manual_lr * d_w
            b -= self.manual_lr * d_b
        return cache[-1]

    @torch.no_grad()
    def record_first_correct(self, correct: torch.Tensor, first_step: int) -> None:
        """``correct[s, i]``: copy s answered every row right after ``first_step + i`` updates."""
        ever = correct.any(dim=1) & (self.first_correct == NOT_YET)
        first = correct.int().argmax(dim=1) + first_step  # argmax: the first True
        self.first_correct.copy_(torch.where(ever, first, self.first_correct))

    def progress_metrics(self) -> dict[str, str]:
        """For the progress bar (gatelab.progress): copies solved as of the last batch."""
        return {} if self._last_step is None else {"solved": f"{int(self.solved_now().sum())}/{self.copies}"}

    def solved_now(self) -> torch.Tensor:
        """``[S]``: each copy solved (every row right, loss below the threshold) as of the last batch."""
        y_hat, y = self._last_step
        return is_solved(all_right(y_hat, y).flatten(), bce(y_hat, y), self.threshold)

    def on_train_epoch_end(self) -> None:
        solved = self.solved_now()
        self.keep_end_state(solved & (self.solved_at == NOT_YET))
        self.log("study/solved", solved.float().mean(), prog_bar=True)
        if self.loggers:
            self.log("step", float(self.global_step))
        if (self.solved_at != NOT_YET).all():  # every copy's own run has stopped
            self.trainer.should_stop = True

    def on_train_start(self) -> None:
        # Here, not in __init__: on the device and in the dtype (trainer.precision) training uses.
        self.end_weights = [w.detach().clone() for w in self.weights]
        self.end_biases = [b.detach().clone() for b in self.biases]

    def on_train_end(self) -> None:
        self.keep_end_state(self.solved_at == NOT_YET)  # the copies never solved end with the budget

    @torch.no_grad()
    def keep_end_state(self, copies: torch.Tensor) -> None:
        """``copies`` (``[S]`` bool) end here: keep their weights and the step."""
        if not copies.any():
            return
        for end, now in zip([*self.end_weights, *self.end_biases], [*self.weights, *self.biases]):
            end[copies] = now[copies]
        self.solved_at[copies] = self.global_step

    def end_state(self) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Each copy's weights and biases where its run ended (on the CPU, in the model's dtype)."""
        return [w.to("cpu", self.dtype) for w in self.end_weights], [b.to("cpu", self.dtype) for b in self.end_biases]

    def configure_optimizers(self) -> torch.optim.Optimizer | None:
        if self.optimizer_factory is None:
            return None
        if self.lrs is None:
            return self.optimizer_factory(self.parameters())
        layers = len(self.weight_groups) // self.groups
        return self.optimizer_factory([
            {"params": [*self.weight_groups[g * layers:(g + 1) * layers], *self.bias_groups[g * layers:(g + 1) * layers]], "lr": lr}
            for g, lr in enumerate(self.lrs)
        ])  # fmt: skip


def running_copies(solved_at: torch.Tensor) -> torch.Tensor:
    """The indices of the copies whose own run has not stopped, at least two (a stopped copy or two
    made up to two: one copy alone would compile the fused step again for a size of its own)."""
    running = (solved_at == NOT_YET).nonzero().flatten()
    if len(running) < 2:
        running = torch.cat([running, (solved_at != NOT_YET).nonzero().flatten()[: 2 - len(running)]]).sort().values
    return running


def join_groups(params: list[torch.Tensor], groups: int) -> list[torch.Tensor]:
    """Each layer's tensor for every copy, from ``groups`` groups of per-layer tensors (group-major)."""
    layers = len(params) // groups
    if groups == 1:
        return params  # the parameters themselves (manual_step updates them in place)
    return [torch.cat([params[g * layers + k] for g in range(groups)]) for k in range(layers)]


def summed_bce(y_hat: torch.Tensor, y: torch.Tensor, row_weight: torch.Tensor) -> torch.Tensor:
    """The sum over copies of each copy's mean BCE (weight 1/rows): each copy's gradient is its own."""
    return F.binary_cross_entropy(y_hat, y.expand_as(y_hat), weight=row_weight, reduction="sum")


def compiled_gradients(activations, layers: int, groups: int):
    """``f(params, x, y, row_weight) -> (grads, y_hat, all_right)``: autograd's gradient of ``summed_bce``
    for ``params`` (every group's weights, then every group's biases), compiled as one graph.

    One graph, forward and backward together, lets Inductor fuse the whole step into three loops around
    three small matrix products; ``torch.compile`` of the loss alone would compile the forward and the
    backward apart, with every activation written out between them (twice as slow). Shapes are
    static: each study compiles for its own number of copies, and a copy's arithmetic does not depend
    on how many others share the batch (tests/test_study.py), so shards still merge exactly."""

    def loss_of(params, x, y, row_weight):
        n = layers * groups
        y_hat = forward_with_cache(join_groups(params[:n], groups), join_groups(params[n:], groups), activations, x)[-1]
        return summed_bce(y_hat, y, row_weight), y_hat

    gradients = torch.func.grad_and_value(loss_of, has_aux=True)

    def gradients_and_outputs(params, x, y, row_weight):
        grads, (_, y_hat) = gradients(params, x, y, row_weight)
        return grads, y_hat, all_right(y_hat, y)

    # Dynamo keeps its compiled versions per code object, and this one is every study's: the 9th study
    # of a new size in one process (a --multirun) would stop with FailOnRecompileLimitHit. Each study
    # compiles afresh instead (Inductor's on-disk cache still saves most of the time).
    torch.compiler.reset()
    return torch.compile(gradients_and_outputs, fullgraph=True, dynamic=False)


def check_finite(y_hat: torch.Tensor, first_step: int, last_step: int) -> None:
    if y_hat.isnan().any():
        raise Diverged(
            f"the outputs of some copies became NaN between steps {first_step} and {last_step}: training diverged; lower optimizer.lr"
        )
