"""Where the last hidden layer puts the truth table's corners, in two coordinates one can plot.

The output unit is a perceptron on the last hidden layer: it answers ``sigmoid(w·h + b)``, so it
can only separate what one line (a hyperplane) separates *there*. On XOR the corners cannot be
separated by a line in input space; an MLP solves XOR by moving them, in its hidden layer, to
points that one line does separate.

- Two hidden units: the coordinates are the units' outputs ``(h1, h2)`` themselves (exact).
- More units: a 2-D projection chosen so that the output unit's line stays exact. The first axis
  ``u = w·h / |w|`` runs along the output unit's weights, so the output is ``sigmoid(|w| u + b)``
  and its line is the vertical line ``u = -b / |w|``. The second axis ``v`` is the direction,
  orthogonal to ``w``, in which the corners spread most (the top principal component of their
  points with ``w``'s direction removed), signed so that corner 11 is not below corner 00.
- One hidden unit: ``(h1, 0)``. No hidden layer (the perceptron): the inputs, as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from gatelab.core.network import linear_layers


@dataclass
class HiddenView:
    """The corners in plot coordinates, and the output unit as ``sigmoid(weight · point + bias)``
    in those same coordinates (exact for every kind of view)."""

    points: torch.Tensor  # [rows, 2]
    weight: torch.Tensor  # [2]
    bias: float
    exact: bool  # the coordinates are the hidden units themselves (or the inputs)
    axes: tuple[str, str]


def last_hidden(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """The last hidden layer's outputs on ``x`` (``x`` itself for a net without hidden layers)."""
    with torch.no_grad():
        return net[:-2](x)  # every layer but the output Linear and its sigmoid


def hidden_view(net: nn.Sequential, x: torch.Tensor) -> HiddenView:
    output = linear_layers(net)[-1]
    w, b = output.weight.detach()[0], float(output.bias.detach()[0])
    h = last_hidden(net, x)
    units = h.shape[1]
    if len(linear_layers(net)) == 1:
        return HiddenView(h, w, b, True, ("x1", "x2"))
    if units == 2:
        return HiddenView(h, w, b, True, ("h1", "h2"))
    if units == 1:
        return HiddenView(torch.cat([h, torch.zeros_like(h)], dim=1), torch.cat([w, w.new_zeros(1)]), b, True, ("h1", ""))
    norm = w.norm()
    along = w / norm if norm > 0 else torch.zeros_like(w)
    u = h @ along
    rest = h - u[:, None] * along  # the points with w's direction removed
    centred = rest - rest.mean(dim=0)
    _, _, vh = torch.linalg.svd(centred.double(), full_matrices=False)
    across = vh[0].to(h.dtype)
    v = rest @ across
    if float(v[-1] - v[0]) < 0:  # SVD's sign is arbitrary: keep the last corner (11) above the first
        v = -v
    return HiddenView(torch.stack([u, v], dim=1), torch.stack([norm, norm.new_zeros(())]), b, False, ("along w", "across"))
