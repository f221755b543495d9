"""The anatomy of a failed seed (gatelab.core.anatomy), on hand-built 2-2-1 nets whose merged corners
are known by construction."""

from __future__ import annotations

import math

import pytest
import torch

from gatelab.core.anatomy import classify_failures, describe, merged_groups
from gatelab.core.chain_rule import ACTIVATION_AND_DERIVATIVE, bce, forward_with_cache
from gatelab.core.gates import truth_table

SIGMOID = ACTIVATION_AND_DERIVATIVE["sigmoid"]

# Hidden units that compute a gate of the inputs (a weight of 20 saturates the sigmoid).
X1, X2 = ([20.0, 0.0], -10.0), ([0.0, 20.0], -10.0)
AND, OR = ([20.0, 20.0], -30.0), ([20.0, 20.0], -10.0)
ONE = ([0.0, 0.0], 10.0)  # 1 for every input
ZERO = ([0.0, 0.0], -10.0)

# (units, output weights, output bias, kind): what each net's hidden layer does to XOR's corners.
NETS = {
    # x1, AND: 00 and 01 both land on (0, 0); the output answers 0.5 there and is right elsewhere.
    "00+01": ((X1, AND), [10.0, -20.0], 0.0),
    # x2, AND: 00 and 10 land on (0, 0).
    "00+10": ((X2, AND), [10.0, -20.0], 0.0),
    # x2, OR: 01 and 11 land on (1, 1); 00 -> (0, 0) and 10 -> (0, 1) are answered right.
    "01+11": ((X2, OR), [-10.0, 20.0], -10.0),
    # x2 twice: two pairs merged, 00+10 and 01+11 (the output can only say 0.5 twice).
    "00+10 / 01+11": ((X2, X2), [0.0, 0.0], 0.0),
    # a constant hidden layer: every corner on one point, the ln 2 plateau.
    "plateau": ((ONE, ZERO), [3.0, 1.0], -3.0),
    # OR, AND keeps the classes apart (01 and 10 merge, but both answer 1): a wrong output is "other".
    "other": ((OR, AND), [10.0, 10.0], -5.0),
}


def forward(units, out_w, out_b, x):
    weights = [torch.tensor([u[0] for u in units]), torch.tensor([out_w])]
    biases = [torch.tensor([u[1] for u in units]), torch.tensor([out_b])]
    cache = forward_with_cache(weights, biases, [SIGMOID, SIGMOID], x)
    return cache[1], cache[2]  # hidden [4, 2], output [4, 1]


def stacked(kinds):
    x, y = truth_table("xor")
    hidden, outputs = zip(*(forward(*NETS[kind], x) for kind in kinds))
    hidden, outputs = torch.stack(hidden), torch.stack(outputs)
    return x, y, hidden, outputs[..., 0], bce(outputs, y)


@pytest.mark.parametrize("kind", list(NETS))
def test_each_hand_built_failure_is_named_by_the_corners_it_merged(kind):
    x, y, hidden, outputs, loss = stacked([kind])
    kinds, _ = classify_failures(hidden, outputs, x, y, loss, torch.tensor([True]))
    assert kinds == [kind]


def test_merged_corners_answer_the_mean_of_their_targets_and_lose_ln2_per_merged_pair():
    x, y, hidden, outputs, loss = stacked(["00+01", "01+11"])
    assert torch.allclose(loss, torch.full((2,), math.log(2) / 2), atol=1e-3)  # one pair at 0.5: ln 2 / 2
    _, counts = classify_failures(hidden, outputs, x, y, loss, torch.tensor([True, True]))
    assert counts["outputs_at_group_means"] == counts["merged_total"] == 2


def test_an_output_that_is_not_the_group_mean_is_counted_as_such():
    x, y, hidden, outputs, loss = stacked(["00+01"])
    outputs = outputs.clone()
    outputs[0, 0] = 0.2  # the merged corner 00 answers 0.2, not the mean 0.5 of its group's targets
    _, counts = classify_failures(hidden, outputs, x, y, loss, torch.tensor([True]))
    assert (counts["outputs_at_group_means"], counts["merged_total"]) == (0, 1)


def test_a_perceptron_answering_one_half_is_on_the_plateau_without_a_hidden_layer():
    x, y = truth_table("xor")
    inputs = x.expand(1, 4, 2)  # no hidden layer: the corners as they are, never merged
    kinds, counts = classify_failures(inputs, torch.full((1, 4), 0.5), x, y, torch.tensor([math.log(2)]), torch.tensor([True]))
    assert kinds == ["plateau"] and counts["merged_total"] == 0


def test_solved_copies_are_not_classified_and_the_counts_add_up():
    order = ["plateau", "00+01", "01+11", "01+11", "other", "plateau"]
    x, y, hidden, outputs, loss = stacked(order)
    failed = torch.tensor([True, True, True, True, True, False])
    kinds, counts = classify_failures(hidden, outputs, x, y, loss, failed)
    assert kinds == [*order[:5], None]
    assert counts["plateau"] == 1 and counts["other"] == 1 and counts["merged"] == {"00+01": 1, "01+11": 2}
    assert describe(counts) == "1 on the ln 2 plateau, 2 with 01+11 merged, 1 with 00+01 merged, 1 other"


def test_merging_is_transitive_and_within_the_stated_tolerance():
    hidden = torch.tensor([[0.0, 0.0], [0.04, 0.0], [0.08, 0.0], [1.0, 1.0]])  # 0-1 close, 1-2 close: one chain
    assert merged_groups(hidden) == [[0, 1, 2], [3]]
    assert merged_groups(hidden, tolerance=0.03) == [[0], [1], [2], [3]]
