"""Backpropagation by hand: the chain rule, layer by layer, with no autograd and no torch.optim.

The math only (plain torch): ``gatelab.backprop.ManualBackpropMLP`` trains ``build_mlp``'s network
with it (same seed, same initial weights as the autograd models), and the seed study's stacked copies
use it too. For layers k = 1..n with weights W_k, bias b_k and activation f_k
(f_n is the output sigmoid)::

    forward:   a_0 = x;   z_k = a_{k-1} W_kᵀ + b_k;   a_k = f_k(z_k);   ŷ = a_n
    loss:      L = -mean(y log ŷ + (1-y) log(1-ŷ))
    backward:  dL/dŷ = (ŷ - y) / (ŷ(1-ŷ)) / N
               dL/dz_k = dL/da_k · f_k'(z_k)
               dL/dW_k = (dL/dz_k)ᵀ a_{k-1};   dL/db_k = Σ_rows dL/dz_k;   dL/da_{k-1} = dL/dz_k W_k
    update:    W_k -= lr · dL/dW_k;   b_k -= lr · dL/db_k

This is the exact gradient of the mean BCE, so it equals autograd's.

``rule="lab"`` (``model=manual_lab``) is instead exactly the notes' hand-written rule::

    d_ŷ = (ŷ - y) / (ŷ(1-ŷ) + 1e-7)          (per row: no 1/N)
    d_W = Σ_rows ...  (as above);   d_b = mean_rows dL/dz

Without the ``1e-7``, its weight gradient is N times the mean BCE's (the sum over the N rows) and
its bias gradient is the mean BCE's: one step equals autograd SGD with learning rate N·lr for the
weights and lr for the biases (``tests/test_backprop.py`` checks this to 1e-12 in float64).
"""

from __future__ import annotations

import torch

from gatelab.infra.errors import GatelabError

# Each activation with its local derivative, written in terms of its output a = f(z).
ACTIVATION_AND_DERIVATIVE = {
    "sigmoid": (torch.sigmoid, lambda a: a * (1 - a)),
    "tanh": (torch.tanh, lambda a: 1 - a * a),
    "relu": (torch.relu, lambda a: (a > 0).to(a.dtype)),
}

# BCELoss clamps log() at -100 and its gradient's denominator ŷ(1-ŷ) at ATen's EPSILON, which is
# 1e-12 stored as a float32 (9.99999996e-13). Only saturated outputs reach either clamp; we clamp
# identically so that even there the gradients agree with autograd's.
LOG_FLOOR = -100.0
EPS = float(torch.tensor(1e-12, dtype=torch.float32))


def bce(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy, as ``nn.BCELoss`` computes it (per copy for stacked copies)."""
    log_p = torch.log(y_hat).clamp_min(LOG_FLOOR)
    log_not_p = torch.log(1 - y_hat).clamp_min(LOG_FLOOR)
    return -(y * log_p + (1 - y) * log_not_p).mean(dim=(-2, -1))


# The chain rule works on plain tensors: ``weights[k]`` is ``[out, in]`` for one network, or
# ``[S, out, in]`` for S stacked copies (the seed study, gatelab.recipes.batched); ``@`` and ``.mT`` treat
# both alike. ``activations[k]`` is a pair from ACTIVATION_AND_DERIVATIVE.


def linear(a: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a Wᵀ + b``. Stacked copies fed the same input (the first layer) share one matrix product,
    ``[rows, in] @ [in, S·out]``, which is several times faster than S tiny ones."""
    if w.dim() == 3 and a.dim() == 2:
        copies, out, inputs = w.shape
        return (a @ w.reshape(copies * out, inputs).T).reshape(len(a), copies, out).transpose(0, 1) + b
    if w.dim() == 3:
        return torch.baddbmm(b, a, w.mT)  # each copy its own input: batched, the bias added in place
    return a @ w.mT + b


def forward_with_cache(weights, biases, activations, x: torch.Tensor) -> list[torch.Tensor]:
    """Activations ``[a_0 = x, a_1, ..., a_n = ŷ]``: everything the backward pass needs."""
    cache = [x]
    for w, b, (f, _) in zip(weights, biases, activations):
        cache.append(f(linear(cache[-1], w, b)))
    return cache


RULES = ("exact", "lab")  # the exact gradient of the mean BCE, and the notes' variant
LAB_EPSILON = 1e-7  # the notes' guard against dividing by ŷ(1-ŷ) = 0


def chain_rule(
    weights, activations, cache: list[torch.Tensor], y: torch.Tensor, rule: str = "exact", lab_epsilon: float = LAB_EPSILON
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(dL/dW_k, dL/db_k)`` for each layer, input to output, by the chain rule (``rule="lab"``:
    the notes' rule, see the module docstring)."""
    y_hat = cache[-1]
    if rule == "lab":
        d_a = (y_hat - y) / (y_hat * (1 - y_hat) + lab_epsilon)  # the notes' d_ŷ, per row
    else:
        rows = y_hat.shape[-2] * y_hat.shape[-1]  # the mean BCE averages over one network's outputs
        d_a = (y_hat - y) / (y_hat * (1 - y_hat)).clamp_min(EPS) / rows  # dL/dŷ
    grads = []
    for k in reversed(range(len(weights))):
        _, f_prime = activations[k]
        d_z = d_a * f_prime(cache[k + 1])  # through the activation
        reduce = d_z.mean if rule == "lab" else d_z.sum  # the notes average the bias gradient over rows
        d_b = reduce(dim=-2, keepdim=d_z.dim() == 3)  # stacked biases are [S, 1, out]
        grads.append((d_z.mT @ cache[k], d_b))  # the layer's weight and bias
        d_a = d_z @ weights[k]  # on to the layer below
    return grads[::-1]


def check_rule(rule: object) -> None:
    if rule not in RULES:
        raise GatelabError(f"model.rule={rule!r} is unknown; choose one of {', '.join(RULES)}")


def check_plain_sgd(optimizer: object, model: str) -> None:
    """The hand-written rule is plain SGD: any other optimizer would be ignored without a word."""
    if optimizer != "sgd":
        raise GatelabError(f"model={model} implements plain SGD by hand; use optimizer=sgd, not optimizer={optimizer}")
