"""The seed study's fused steps (gatelab.core.scalar_step, gatelab.core.copies_last_step): each computes
autograd's SGD step, for any net it is made for, and the study uses each exactly where it should."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gatelab.core.chain_rule import ACTIVATION_AND_DERIVATIVE, forward_with_cache
from gatelab.core.copies_last_step import copies_last_step, copies_per_chunk, from_copies_last, steps_by_chunk, to_copies_last
from gatelab.core.gates import truth_table
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


# Any activation, 2 or 3 inputs, any truth table, any seeds, 1-11 copies, one or two rates side by side.
STUDY_RUNS = dict(
    activation=st.sampled_from(ACTIVATIONS),
    inputs=st.sampled_from([2, 3]),
    first_seed=st.integers(0, 10_000),
    copies=st.integers(1, 11),
    labels=st.integers(0, 255),
    lrs=st.lists(st.sampled_from([0.1, 0.5, 1.0, 3.0]), min_size=1, max_size=2),
)


def autograd_run(hidden, activation, inputs, first_seed, copies, labels, lrs):
    """40 steps of the eager autograd study from its seeds' weights, every rate's copies side by side
    (group-major, as SeedStudy joins its lrs), on the truth table ``labels`` of ``inputs`` inputs:
    the rows, x, y, each copy's rate, the states and the outputs (``autograd_steps``)."""
    rows = [list(map(float, bits)) for bits in itertools.product([0, 1], repeat=inputs)]
    x = torch.tensor(rows)
    y = torch.tensor([[float(labels >> r & 1)] for r in range(len(rows))])
    weights, biases = initial_weights(hidden, activation, inputs, range(first_seed, first_seed + copies))
    lr = torch.tensor(lrs).repeat_interleave(copies)
    weights = [w.repeat(len(lrs), 1, 1) for w in weights]
    biases = [b.repeat(len(lrs), 1, 1) for b in biases]
    states, outputs = autograd_steps(weights, biases, activation, x, y, lr, 40)
    return rows, x, y, lr, states, outputs


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.integers(1, 4), min_size=0, max_size=3),
    **STUDY_RUNS,
)
def test_the_scalar_program_is_autograds_sgd_step(hidden, activation, inputs, first_seed, copies, labels, lrs):
    """Any architecture, activation, truth table and learning rates: from each of 40 states of an
    eager autograd run, one step of the program gives the outputs and the next weights autograd's
    step gives, to rounding (1e-6: the two sum the rows and compute the activations in their own
    order and kernels, so they need not agree in the last bit; a long run then drifts chaotically,
    which tests/test_study.py bounds for the study), and its 'every row right' is its outputs' own."""
    rows, _, y, lr, states, outputs = autograd_run(hidden, activation, inputs, first_seed, copies, labels, lrs)
    step = scalar_step([inputs, *hidden, 1], activation, rows)
    depth = len(hidden) + 1
    weights, biases = states[0][:depth], states[0][depth:]
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


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hidden=st.lists(st.integers(1, 12), min_size=0, max_size=3),
    **STUDY_RUNS,
)
def test_the_copies_last_step_is_autograds_sgd_step(hidden, activation, inputs, first_seed, copies, labels, lrs):
    """The same for the copies-last layer step, for nets up to three hidden layers of 12: from each of
    40 states of an eager autograd run, one step gives autograd's outputs and next weights to rounding
    (1e-6; it sums rows and inputs in its own order), and its 'every row right' is its outputs' own."""
    _, x, y, lr, states, outputs = autograd_run(hidden, activation, inputs, first_seed, copies, labels, lrs)
    depth = len(hidden) + 1
    step = copies_last_step(depth, activation)
    for before, after, expected_outputs in zip(states, states[1:], outputs):
        params, step_outputs, right = step(lr, x.T.contiguous(), y.flatten(), *to_copies_last(before[:depth], before[depth:]))
        torch.testing.assert_close(step_outputs.T, expected_outputs, atol=1e-6, rtol=0)
        assert torch.equal(right, ((step_outputs.T > 0.5) == (y.flatten() > 0.5)).all(dim=1))
        trained = [torch.empty_like(t) for t in after]
        from_copies_last(params, trained[:depth], trained[depth:])
        for mine, theirs in zip(trained, after):
            torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=1e-6)


def test_copies_last_round_trips_to_the_stacked_weights():
    weights, biases = initial_weights([3, 1, 2], "tanh", 3, range(5))
    back = [torch.zeros_like(t) for t in [*weights, *biases]]
    from_copies_last(to_copies_last(weights, biases), back[: len(weights)], back[len(weights) :])
    assert all(torch.equal(a, b) for a, b in zip(back, [*weights, *biases]))


def test_scalars_round_trip_to_the_stacked_weights():
    weights, biases = initial_weights([3, 2], "relu", 2, range(5))
    back = [torch.zeros_like(t) for t in [*weights, *biases]]
    from_scalars(to_scalars(weights, biases), back[: len(weights)], back[len(weights) :])
    assert all(torch.equal(a, b) for a, b in zip(back, [*weights, *biases]))


def test_a_small_nets_landscape_job_is_one_call_a_step_and_a_wide_nets_is_split():
    """Each call of the compiled step costs ~0.1 ms besides its arithmetic: the landscape's 2-h-1 jobs
    (1000 seeds x 5 rates) train every copy in one call; a wide net's copies go in chunks that stay
    in the cache, never of one copy (bench/chunks.py measures both)."""
    assert all(chunk_of([h]) >= 5000 for h in range(1, 9))
    assert 2 <= chunk_of([10, 10, 10]) < 5000 and 2 <= chunk_of([64, 64, 64]) < chunk_of([10, 10, 10])


@pytest.mark.slow
def test_the_copies_last_step_compiles_once_for_a_study_in_one_chunk_and_one_in_several():
    """One compile per depth serves every study of a process (a --multirun: the landscape's jobs),
    whether its copies train in one chunk or several: a chunk's learning rates were a view of the
    whole study's, Dynamo guarded on their base's size, and the first study of several chunks
    after one of a single chunk compiled the step again."""
    program = torch.compile(copies_last_step(4, "sigmoid"), dynamic=True, fullgraph=True)  # (its own code object)
    x, y = truth_table("xor")
    with torch._dynamo.config.patch(error_on_recompile=True):
        for hidden, copies in [([10, 10, 10], 1000), ([10, 10, 10], 9000), ([6, 6, 6], 13)]:
            assert (copies > chunk_of(hidden)) is (copies == 9000)
            weights, biases = initial_weights(hidden, "sigmoid", 2, range(copies))
            steps_by_chunk(program, 2, torch.ones(copies), x.T.contiguous(), y.flatten(), to_copies_last(weights, biases))


def chunk_of(hidden):
    return copies_per_chunk(to_copies_last(*initial_weights(hidden, "sigmoid", 2, range(2))))


def sgd(params):
    return torch.optim.SGD(params, lr=1.0)


@pytest.mark.parametrize(
    "hidden, activation, optimizer, compiled, step",
    [
        ([2], "sigmoid", sgd, True, "scalar"),
        ([], "sigmoid", sgd, True, "scalar"),
        ([4], "relu", lambda p: torch.optim.SGD(p, lr=0.3), True, "scalar"),
        ([10, 10, 10], "sigmoid", sgd, True, "copies_last"),  # too big for the scalar program
        ([8, 8], "tanh", lambda p: torch.optim.SGD(p, lr=3.0), True, "copies_last"),
        ([2], "sigmoid", sgd, False, "eager"),  # study.compile=false: the eager reference
        ([10, 10, 10], "sigmoid", sgd, False, "eager"),
        ([2], "sigmoid", lambda p: torch.optim.SGD(p, lr=1.0, momentum=0.9), True, "batched"),
        ([2], "sigmoid", lambda p: torch.optim.SGD(p, lr=1.0, weight_decay=1e-4), True, "batched"),
        ([10, 10, 10], "sigmoid", lambda p: torch.optim.Adam(p, lr=0.1), True, "batched"),
    ],
)  # fmt: skip
def test_a_compiled_study_takes_a_fused_step_exactly_under_plain_sgd(hidden, activation, optimizer, compiled, step):
    """Plain SGD compiled: the scalar program for small nets, the copies-last step for the others.
    Any other optimizer compiled: autograd's batched gradients. Not compiled: the eager step."""
    study = SeedStudy(hidden, activation, range(3), optimizer=optimizer, compiled=compiled)
    assert study.scalar is (step == "scalar") and study.copies_last is (step == "copies_last")
    assert (study._compiled_gradients is not None) is (step == "batched")
    assert fits_scalar_step([2, *hidden, 1], activation) is (step == "scalar") or step in ("eager", "batched")
