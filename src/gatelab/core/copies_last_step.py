"""One SGD step of S copies of any net, layer by layer, with the copies as the last dimension.

The per-copy scalar program (gatelab.core.scalar_step) is the fastest study step, but it is compiled
for each net (seconds), and its code grows with the parameter count: past ``SCALAR_PARAMETERS_UP_TO``
its compile takes minutes. Wider and deeper nets (mlp4's 2-10-10-10-1, the landscape's 2-8-8-1 and
2-8-8-8-1), and every net in a study of fewer than gatelab.config.planning.SCALAR_FROM copies (one
compile per depth serves all its widths), take this step instead: the same arithmetic per layer, on tensors whose last dimension is the copies (``W_k [out, in, S]``,
``b_k [out, S]``, activations ``[units, rows, S]``), so that every op is a loop over the copies that
Inductor vectorises, and each matrix product per copy is a broadcast product summed over one
dimension, which Inductor fuses into one reduction without writing the products out.

The backward pass is written out (the chain rule of gatelab.core.chain_rule, in this layout) rather
than left to autograd: autograd's backward of a broadcast product materialises it, four times slower
than the batched-matmul step; written out, each gradient is again one fused reduction. It calls
autograd's own kernels where rounding could tell (BCE's gradient with its clamp, as
scalar_step states it; ``aten.sigmoid_backward``, ``tanh_backward``, ``threshold_backward``), so a
step equals autograd's to rounding (tests/test_scalar_step.py, from 40 states of any net).

One function per depth and activation, compiled with ``dynamic=True``: every width, gate, learning
rate and number of copies reuses one compiled program in a process. Each copy's arithmetic is its
own, so its bytes do not depend on the other copies (tests/test_study.py: shards, thread counts).
bench/study_scale.py times it against the batched-matmul step and a minimal loop.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Sequence

import torch

from gatelab.core.scalar_step import BCE_EPSILON

FORWARD = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
BACKWARD = {
    "sigmoid": torch.ops.aten.sigmoid_backward,
    "tanh": torch.ops.aten.tanh_backward,
    "relu": lambda grad, a: torch.ops.aten.threshold_backward(grad, a, 0),
}


def copies_last_step(depth: int, activation: str) -> Callable:
    """``step(lr, x, y, *weights, *biases) -> (new weights + biases, outputs, all_right)``, uncompiled.

    ``x``: the input rows ``[in, rows]``; ``y``: labels ``[rows]``; ``lr``: ``[S]``; weights
    ``[out, in, S]`` and biases ``[out, S]``, input layer first. ``outputs``: ``[rows, S]`` before the
    update; ``all_right``: ``[S]``, every row on its label's side of 0.5 (gatelab.core.solved)."""
    hidden_forward, hidden_backward = FORWARD[activation], BACKWARD[activation]

    def step(lr, x, y, *params):
        weights, biases = params[:depth], params[depth:]
        rows = x.shape[1]
        a = x.unsqueeze(-1)  # [in, rows, 1]: the same rows for every copy
        cache = [a]
        for k in range(depth):  # z[o, r, s] = sum_i W[o, i, s] a[i, r, s] + b[o, s]
            z = (weights[k].unsqueeze(2) * a.unsqueeze(0)).sum(1) + biases[k].unsqueeze(1)
            a = hidden_forward(z) if k < depth - 1 else torch.sigmoid(z)
            cache.append(a)
        p = a[0]  # [rows, S]
        grad = (p - y.unsqueeze(1)) / torch.clamp((1 - p) * p, min=BCE_EPSILON) * (1 / rows)
        delta = torch.ops.aten.sigmoid_backward(grad, p).unsqueeze(0)  # dL/dz of the output layer
        new_weights, new_biases = [None] * depth, [None] * depth
        for k in reversed(range(depth)):
            below = cache[k]
            grad_w = (delta.unsqueeze(1) * below.unsqueeze(0)).sum(2)  # sum over rows: [out, in, S]
            grad_b = delta.sum(1)
            if k > 0:  # on to the layer below: dL/da = sum_o W[o, i] dL/dz[o], through its activation
                delta = hidden_backward((weights[k].unsqueeze(2) * delta.unsqueeze(1)).sum(0), below)
            new_weights[k] = weights[k] - lr * grad_w
            new_biases[k] = biases[k] - lr * grad_b
        right = ((p > 0.5) == (y.unsqueeze(1) > 0.5)).all(0)
        return (*new_weights, *new_biases), p, right

    # Its own code object per depth and activation: Dynamo keeps compiled versions per code object,
    # and a process that studies many nets (a --multirun, the tests) would otherwise reach its
    # recompile limit with the closures of one.
    code = step.__code__.replace(co_name=f"copies_last_step_{depth}_{activation}")
    return types.FunctionType(code, step.__globals__, code.co_name, None, step.__closure__)


def to_copies_last(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Stacked ``[S, out, in]`` weights and ``[S, 1, out]`` biases as ``[out, in, S]`` and ``[out, S]``."""
    return [_row_major(w.permute(1, 2, 0)) for w in weights] + [_row_major(b[:, 0, :].T) for b in biases]


def _row_major(t: torch.Tensor) -> torch.Tensor:
    """A row-major copy, strides of size-1 dimensions included (``contiguous()`` keeps any stride
    there): the strides the step's own outputs have, so its second call does not recompile."""
    return torch.empty(t.shape, dtype=t.dtype, device=t.device).copy_(t)


def from_copies_last(params: Sequence[torch.Tensor], weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> None:
    """Write ``to_copies_last``'s tensors back into the stacked ``weights`` and ``biases``, in place."""
    depth = len(weights)
    for w, new in zip(weights, params[:depth]):
        w.copy_(new.permute(2, 0, 1))
    for b, new in zip(biases, params[depth:]):
        b.copy_(new.T.unsqueeze(1))


#: Parameters (copies times each copy's parameters) trained together through a batch's steps on a
#: CPU: each chunk of copies goes through all its steps before the next. Every call of the compiled
#: step costs about 0.1 ms whatever its size, so small nets want many copies per call; a wide net's
#: chunk must stay in the cache through every op. Per seed-step on the 2-core machine, one call over
#: 1024 / 5000 / 50,000 copies (``python bench/chunks.py``, 2026-12-08): 2-2-1 144 / 66 / 58 ns, no
#: worse with more; 2-8-8-8-1 844 / 836 / 1036 ns and 2-10-10-10-1 1289 / 1253 / 1713 ns, best near
#: 5000 copies (10^6 parameters) and slower from 16,384 on. So about 10^6 parameters per chunk: mlp4
#: 4017 copies, 2-2-1 all of 10^5.
PARAMETERS_PER_CHUNK = 2**20


def copies_per_chunk(params: Sequence[torch.Tensor]) -> int:
    """How many copies of ``params`` (copies-last, one net) train together: ``PARAMETERS_PER_CHUNK``
    parameters' worth on a CPU, every copy on a GPU (which wants them all in each launch)."""
    if params[0].device.type != "cpu":
        return params[0].shape[-1]
    return max(2, PARAMETERS_PER_CHUNK // sum(p[..., 0].numel() for p in params))


def steps_by_chunk(
    program: Callable, steps: int, lr: torch.Tensor, x: torch.Tensor, y: torch.Tensor, params: Sequence[torch.Tensor]
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor]:
    """``steps`` steps of ``program`` (a ``copies_last_step``) for every copy, ``copies_per_chunk`` copies
    at a time, each chunk through all its steps before the next. A copy's arithmetic is its own, so
    the order changes no bit. Returns the new parameters, the outputs the last step started from
    (``[rows, S]``) and, per step, whether each copy answered every row right (``[steps, S]``)."""
    copies = lr.shape[0]
    new_params = [torch.empty_like(p) for p in params]
    outputs = torch.empty(x.shape[1], copies, dtype=params[0].dtype, device=params[0].device)
    right = torch.empty(steps, copies, dtype=torch.bool, device=params[0].device)
    chunks = -(-copies // copies_per_chunk(params))
    size = -(-copies // chunks)  # chunks of equal size: no chunk of 1 copy, which would compile again
    for start in range(0, copies, size):
        part = slice(start, start + size)
        # Copies, not views (as _row_major says): a view of lr guards on its base's size, which one
        # chunk of several lacks, so the study's first chunk of a new kind would compile again.
        chunk, chunk_lr = [_row_major(p[..., part]) for p in params], lr[part].clone()
        for step in range(steps):
            chunk, outputs[:, part], right[step, part] = program(chunk_lr, x, y, *chunk)
        for new, done in zip(new_params, chunk):
            new[..., part] = done
    return new_params, outputs, right


_COMPILED: dict[tuple[int, str], Callable] = {}


def compiled_copies_last_step(depth: int, activation: str) -> Callable:
    """``copies_last_step`` compiled by ``torch.compile``, once per depth and activation in a process
    (``dynamic=True``: any width, rows and number of copies)."""
    key = (depth, activation)
    if key not in _COMPILED:
        _COMPILED[key] = torch.compile(copies_last_step(depth, activation), dynamic=True, fullgraph=True)
    return _COMPILED[key]
