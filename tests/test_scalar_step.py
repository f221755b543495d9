"""The seed study's fast step (gatelab.core.scalar_step): the generated per-copy program computes
autograd's SGD step, for any net it is made for, and the study uses it exactly where it should."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatelab.core.chain_rule import ACTIVATION_AND_DERIVATIVE, forward_with_cache
from gatelab.core.scalar_step import fits_scalar_step, from_scalars, parameter_count, parameter_names, scalar_step, to_scalars
from gatelab.recipes.batched import SeedStudy, initial_weights, summed_bce

ACTIVATIONS = ["sigmoid", "tanh", "relu"]


def autograd_steps(weights, biases, activation, x, y, lrs, steps):
    """``steps`` of the eager study's step (summed mean BCEs, SGD at each copy's rate): the weights
    before each step and after the last, and the outputs each step started from."""
    depth = len(weights)
    activations = [ACTIVATION_AND_DERIVATIVE[activation]] * (depth - 1) + [ACTIVATION_AND_DERIVATIVE["sigmoid"]]
    params = [t.clone().requires_grad_() for t in [*weights, *biases]]
    lr = lrs.view(-1, 1, 1)
    states, outputs = [[p.detach().clone() for p in params]], []
    for _ in range(steps):
        y_hat = forward_with_cache(params[:depth], params[depth:], activations, x)[-1]
        grads = torch.autograd.grad(summed_bce(y_hat, y, torch.full_like(y, 1 / y.numel())), params)
        with torch.no_grad():
            for param, grad in zip(params, grads):
                param -= lr * grad  # torch's SGD, at each copy's rate
        states.append([p.detach().clone() for p in params])
        outputs.append(y_hat.detach()[..., 0])
    return states, outputs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    activation=st.sampled_from(ACTIVATIONS),
    inputs=st.sampled_from([2, 3]),
    first_seed=st.integers(0, 10_000),
    copies=st.integers(1, 11),
    labels=st.integers(0, 255),
    lrs=st.lists(st.sampled_from([0.1, 0.5, 1.0, 3.0]), min_size=1, max_size=2),
)
def test_the_scalar_program_is_autograds_sgd_step(hidden, activation, inputs, first_seed, copies, labels, lrs):
    """Any architecture, activation, truth table and learning rates: from each of 40 states of an
    eager autograd run, one step of the program gives the outputs and the next weights autograd's
    step gives, to rounding (1e-6: the two sum the rows and compute the activations in their own
    order and kernels, so they need not agree in the last bit; a long run then drifts chaotically,
    which tests/test_study.py bounds for the study), and its 'every row right' is its outputs' own."""
    rows = [list(map(float, bits)) for bits in itertools.product([0, 1], repeat=inputs)]
    x = torch.tensor(rows)
    y = torch.tensor([[float(labels >> r & 1)] for r in range(len(rows))])
    weights, biases = initial_weights(hidden, activation, inputs, range(first_seed, first_seed + copies))
    lr = torch.tensor(lrs).repeat_interleave(copies)  # group-major, as SeedStudy joins its lrs
    weights = [w.repeat(len(lrs), 1, 1) for w in weights]
    biases = [b.repeat(len(lrs), 1, 1) for b in biases]
    states, outputs = autograd_steps(weights, biases, activation, x, y, lr, 40)

    step = scalar_step([inputs, *hidden, 1], activation, rows)
    depth = len(weights)
    assert len(to_scalars(weights, biases)) == len(parameter_names([inputs, *hidden, 1])) == parameter_count([inputs, *hidden, 1])
    for before, after, expected_outputs in zip(states, states[1:], outputs):
        params, step_outputs, right = step(lr, y.flatten(), *to_scalars(before[:depth], before[depth:]))
        step_outputs = torch.stack(step_outputs, dim=1)
        torch.testing.assert_close(step_outputs, expected_outputs, atol=1e-6, rtol=0)
        assert torch.equal(right, ((step_outputs > 0.5) == (y.flatten() > 0.5)).all(dim=1))
        trained = [torch.empty_like(t) for t in after]
        from_scalars(params, trained[:depth], trained[depth:])
        for mine, theirs in zip(trained, after):
            torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=1e-6)


def test_scalars_round_trip_to_the_stacked_weights():
    weights, biases = initial_weights([3, 2], "relu", 2, range(5))
    back = [torch.zeros_like(t) for t in [*weights, *biases]]
    from_scalars(to_scalars(weights, biases), back[: len(weights)], back[len(weights) :])
    assert all(torch.equal(a, b) for a, b in zip(back, [*weights, *biases]))


def sgd(params):
    return torch.optim.SGD(params, lr=1.0)


@pytest.mark.parametrize(
    "hidden, activation, optimizer, compiled, scalar",
    [
        ([2], "sigmoid", sgd, True, True),
        ([], "sigmoid", sgd, True, True),
        ([4], "relu", lambda p: torch.optim.SGD(p, lr=0.3), True, True),
        ([2], "sigmoid", sgd, False, False),  # study.compile=false: the eager reference
        ([2], "sigmoid", lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9), True, False),
        ([2], "sigmoid", lambda p: torch.optim.SGD(p, lr=1.0, weight_decay=1e-4), True, False),
        ([2], "sigmoid", lambda p: torch.optim.Adam(p, lr=0.1), True, False),
        ([10, 10, 10], "sigmoid", sgd, True, False),  # too big for the scalar program: batched matmuls
    ],
)  # fmt: skip
def test_a_compiled_study_takes_the_scalar_step_exactly_for_small_nets_under_plain_sgd(hidden, activation, optimizer, compiled, scalar):
    study = SeedStudy(hidden, activation, range(3), optimizer=optimizer, compiled=compiled)
    assert study.scalar is scalar
    assert fits_scalar_step([2, *hidden, 1], activation) or not scalar
