"""The core's own definitions, tested as plain functions: torch only, no Lightning, no subprocess
(tests/test_structure.py runs this file with Lightning unimportable)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from gatelab.core.gates import truth_table
from gatelab.core.network import architecture, build_mlp
from gatelab.core.solved import LN2, PLATEAU, all_right, is_solved, on_plateau, solved_threshold


@pytest.mark.parametrize("rows", [1, 2, 4, 8, 16, 4096])
def test_a_loss_under_the_threshold_means_every_row_right(rows):
    """The rule's premise, checked by brute force over outputs: a wrong row alone costs ln 2 / rows
    of the mean BCE at least, so below solved_threshold no row can be wrong, whatever solved_below."""
    threshold = solved_threshold(0.05, rows)
    assert threshold == min(0.05, LN2 / rows)
    y = torch.zeros(rows, 1)
    y[::2] = 1
    for wrong_output in (0.5, 0.5 - 1e-7, 0.49, 0.3, 1e-6):  # a row answered on the wrong side (or exactly 0.5 for a 1)
        y_hat = torch.where(y > 0.5, torch.tensor(1.0 - 1e-7), torch.tensor(1e-7)).double()
        y_hat[0] = wrong_output  # row 0's target is 1
        loss = torch.nn.functional.binary_cross_entropy(y_hat, y.double()).item()
        assert not bool(all_right(y_hat, y.double()))
        assert not is_solved(False, loss, threshold) and loss >= threshold, (rows, wrong_output, loss)


def test_solved_needs_both_every_row_right_and_a_low_loss():
    right = torch.tensor([True, True, False, False])
    loss = torch.tensor([0.01, 0.2, 0.01, 0.2])
    assert is_solved(right, loss, 0.05).tolist() == [True, False, False, False]


def test_all_right_reads_stacked_copies_and_one_net_alike():
    y = truth_table("xor")[1]
    one = torch.tensor([[0.1], [0.9], [0.8], [0.5]])  # 0.5 for a 0 target counts as right (not > 0.5)
    stacked = torch.stack([one, 1 - one])
    assert all_right(one, y).tolist() == [True]
    assert all_right(stacked, y).flatten().tolist() == [True, False]


def test_the_plateau_is_answering_one_half_everywhere():
    y = truth_table("xor")[1]
    half = torch.full_like(y, 0.5)
    assert torch.nn.functional.binary_cross_entropy(half, y).item() == pytest.approx(LN2)
    assert on_plateau(LN2 + PLATEAU / 2) and not on_plateau(LN2 - 2 * PLATEAU)
    assert on_plateau(torch.tensor([LN2, LN2 / 2])).tolist() == [True, False]


@pytest.mark.parametrize("hidden", [[], [2], [10, 10, 10], [64, 32, 16], [3, 1]])
def test_the_architecture_string_is_the_nets_layer_sizes(hidden):
    net = build_mlp(hidden, in_features=3)
    layers = [m for m in net if isinstance(m, torch.nn.Linear)]
    sizes = [layers[0].in_features, *(layer.out_features for layer in layers)]
    assert architecture(3, hidden) == "-".join(map(str, sizes))


def test_a_gates_truth_table_counts_its_inputs_in_order():
    for n in (2, 3, 4):
        x, y = truth_table(f"parity{n}")
        assert x.tolist() == [list(map(float, bits)) for bits in itertools.product((0, 1), repeat=n)]
        assert y.flatten().tolist() == [float(sum(bits) % 2) for bits in itertools.product((0, 1), repeat=n)]
        assert solved_threshold(0.05, len(y)) == min(0.05, math.log(2) / 2**n)
