"""One SGD step of S copies of a net, written out per copy as scalar arithmetic: generated Python source.

The seed study trains many copies of one small net on the same few rows. Stacked as ``[S, out, in]``
tensors (gatelab.recipes.batched), every step is some twenty ops, each a pass over every copy's
activations in memory. Written per copy instead, one ``[S]`` tensor per parameter (structure of
arrays), the whole step is a straight-line program of elementwise ops: ``torch.compile`` (Inductor)
fuses it into one loop over the copies that keeps each copy's weights in registers: for mlp2 at 10^5
seeds 9x faster per seed-step than the eager step, where autograd's batched step compiled is 2-3x
(bench/study_scale.py). Its code grows with the square of the width, so
``SCALAR_PARAMETERS_UP_TO`` bounds the nets it is made for.

``step_source`` writes that program for one architecture and one set of input rows: the forward pass
of every row, then autograd's backward pass of the *mean* BCE written out (the chain rule, as
gatelab.core.chain_rule states it, in the order torch's kernels compute it: BCE's gradient with its
clamp, then each activation's own backward), then ``w - lr * grad``. The input rows are constants:
a 0 input drops its products, a 1 input its multiplication. Labels and learning rates are inputs,
so one compiled program serves every gate on those rows and every learning rate. Each copy's
arithmetic is its own: its results do not depend on how many copies share the loop or where it
sits in it (tests/test_study.py checks shards and thread counts).

Generated source, not a traced closure: each architecture gets its own code object, so a process
that runs many studies (a --multirun) compiles each one once and never hits Dynamo's recompile limit;
``print(step_source(...))`` shows exactly what runs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

#: Nets with more parameters than this keep the batched-matmul step: the scalar program's size and
#: its compile time grow with the parameter count times the rows. Cold, on the 2-core machine:
#: 2-2-1 (9 parameters) 11 s, 2-8-1 (33) 14 s, 2-8-8-1 (105) 92 s. So 2-h-1 up to h = 10, 2-h-h-1 up to 4.
SCALAR_PARAMETERS_UP_TO = 41
#: torch's binary_cross_entropy_backward divides by max((1 - p) * p, EPSILON).
BCE_EPSILON = 1e-12

ACTIVATION_CALL = {"sigmoid": "torch.sigmoid({})", "tanh": "torch.tanh({})", "relu": "torch.relu({})"}
#: Each activation's backward from its output ``a`` and the incoming gradient ``g``: autograd's own
#: kernels, called as autograd calls them (tanh's computes ``1 - a * a`` with a fused multiply-add,
#: so a hand-written ``g * (1 - a * a)`` would round apart from autograd's step).
ACTIVATION_BACKWARD = {
    "sigmoid": "torch.ops.aten.sigmoid_backward({g}, {a})",
    "tanh": "torch.ops.aten.tanh_backward({g}, {a})",
    "relu": "torch.ops.aten.threshold_backward({g}, {a}, 0)",
}


def parameter_names(sizes: Sequence[int]) -> list[str]:
    """The program's parameters in order: layer by layer, its weights (unit j, input i), then its biases."""
    names = []
    for layer, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        names += [f"w{layer}_{j}_{i}" for j in range(fan_out) for i in range(fan_in)]
        names += [f"b{layer}_{j}" for j in range(fan_out)]
    return names


def parameter_count(sizes: Sequence[int]) -> int:
    return sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))


def fits_scalar_step(sizes: Sequence[int], activation: str) -> bool:
    """Whether ``step_source`` is made for this net (see ``SCALAR_PARAMETERS_UP_TO``)."""
    return activation in ACTIVATION_CALL and parameter_count(sizes) <= SCALAR_PARAMETERS_UP_TO


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0.0"


def _times(constant: float, name: str) -> str | None:
    """``constant * name`` with the input rows' constants folded: None for 0, ``name`` for 1."""
    if constant == 0.0:
        return None
    return name if constant == 1.0 else f"{constant!r} * {name}"


def step_source(sizes: Sequence[int], activation: str, rows: Sequence[Sequence[float]]) -> str:
    """The source of ``step(lr, y, *params) -> (new_params, outputs, all_right)``.

    ``params``: ``[S]`` tensors in ``parameter_names`` order; ``lr``: ``[S]`` (each copy's learning
    rate); ``y``: ``[rows]`` labels. ``outputs``: each row's output before the update (``[S]`` each);
    ``all_right``: ``[S]`` bool, every row on its label's side of 0.5 (gatelab.core.solved)."""
    n_rows, depth = len(rows), len(sizes) - 1
    hidden_backward = ACTIVATION_BACKWARD[activation]
    lines = [f"def step(lr, y, {', '.join(parameter_names(sizes))}):"]
    emit = lines.append
    # Forward: a{layer}_{unit}_r{row}, layer 0 the input row's constants.
    value: dict[tuple[int, int, int], str | float] = {}
    for r, row in enumerate(rows):
        for i, v in enumerate(row):
            value[0, i, r] = float(v)
        for layer in range(depth):
            call = ACTIVATION_CALL[activation] if layer < depth - 1 else ACTIVATION_CALL["sigmoid"]
            for j in range(sizes[layer + 1]):
                terms = []
                for i in range(sizes[layer]):
                    a = value[layer, i, r]
                    term = _times(a, f"w{layer}_{j}_{i}") if isinstance(a, float) else f"{a} * w{layer}_{j}_{i}"
                    if term is not None:
                        terms.append(term)
                name = f"a{layer + 1}_{j}_r{r}"
                emit(f"    {name} = {call.format(_sum([*terms, f'b{layer}_{j}']))}")
                value[layer + 1, j, r] = name
    # Backward: d{layer}_{unit}_r{row} is the gradient at that unit's pre-activation.
    for r in range(n_rows):
        p = f"a{depth}_0_r{r}"
        emit(f"    g = ({p} - y[{r}]) / torch.clamp((1 - {p}) * {p}, min={BCE_EPSILON!r}) * {1 / n_rows!r}")
        emit(f"    d{depth}_0_r{r} = {ACTIVATION_BACKWARD['sigmoid'].format(g='g', a=p)}")
        for layer in range(depth - 1, 0, -1):
            for i in range(sizes[layer]):
                incoming = _sum([f"d{layer + 1}_{j}_r{r} * w{layer}_{j}_{i}" for j in range(sizes[layer + 1])])
                emit(f"    d{layer}_{i}_r{r} = {hidden_backward.format(g=f'({incoming})', a=f'a{layer}_{i}_r{r}')}")
    # Gradients summed over the rows, and the update.
    new = []
    for layer in range(depth):
        for j in range(sizes[layer + 1]):
            for i in range(sizes[layer]):
                terms = []
                for r in range(n_rows):
                    a = value[layer, i, r]
                    term = _times(a, f"d{layer + 1}_{j}_r{r}") if isinstance(a, float) else f"d{layer + 1}_{j}_r{r} * {a}"
                    if term is not None:
                        terms.append(term)
                new.append(f"w{layer}_{j}_{i} - lr * ({_sum(terms)})")
        for j in range(sizes[layer + 1]):
            new.append(f"b{layer}_{j} - lr * ({_sum([f'd{layer + 1}_{j}_r{r}' for r in range(n_rows)])})")
    outputs = [f"a{depth}_0_r{r}" for r in range(n_rows)]
    right = " & ".join(f"(({o} > 0.5) == (y[{r}] > 0.5))" for r, o in enumerate(outputs))
    emit(f"    right = {right}")
    emit(f"    return ({', '.join(new)},), ({', '.join(outputs)},), right")
    return "\n".join(lines) + "\n"


def scalar_step(sizes: Sequence[int], activation: str, rows: Sequence[Sequence[float]]) -> Callable:
    """``step_source``'s function, uncompiled (its own code object; see the module docstring)."""
    namespace: dict = {"torch": torch}
    name = f"<gatelab scalar step {'-'.join(map(str, sizes))} {activation}>"
    exec(compile(step_source(sizes, activation, rows), name, "exec"), namespace)  # our own generated source (step_source)
    return namespace["step"]


def to_scalars(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Stacked ``[S, out, in]`` weights and ``[S, 1, out]`` biases as ``[S]`` tensors, ``parameter_names`` order."""
    # Copies, never views: a view (``contiguous()`` of a slice that already is) makes Dynamo guard on its
    # base, which the program's own outputs lack, so its second call would compile the program again.
    scalars = []
    for w, b in zip(weights, biases):
        scalars += [w[:, j, i].clone(memory_format=torch.contiguous_format) for j in range(w.shape[1]) for i in range(w.shape[2])]
        scalars += [b[:, 0, j].clone(memory_format=torch.contiguous_format) for j in range(b.shape[2])]
    return scalars


def from_scalars(scalars: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> None:
    """Write ``to_scalars``' tensors back into the stacked ``weights`` and ``biases``, in place."""
    k = 0
    for w, b in zip(weights, biases):
        n = w.shape[1] * w.shape[2]
        w.copy_(torch.stack(list(scalars[k : k + n]), dim=1).view_as(w))
        k += n
        b.copy_(torch.stack(list(scalars[k : k + b.shape[2]]), dim=1).view_as(b))
        k += b.shape[2]


_COMPILED: dict[tuple, Callable] = {}


def compiled_scalar_step(sizes: Sequence[int], activation: str, rows: Sequence[Sequence[float]]) -> Callable:
    """``scalar_step`` compiled by ``torch.compile``, once per architecture and rows in a process.

    ``dynamic=True``: one compiled program for any number of copies, so every study of one net (each
    gate, shard and learning rate, at any size) reuses it instead of compiling its own."""
    key = (tuple(sizes), activation, tuple(tuple(map(float, row)) for row in rows))
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(scalar_step(sizes, activation, rows), dynamic=True, fullgraph=True)
    return _COMPILED[key]
