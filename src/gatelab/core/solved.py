"""When a net has learned its gate, and the ln 2 plateau it sits on when it has learned nothing.

One rule for every part of gatelab: a single run's early stopping (``gatelab.callbacks``), the seed
study's copies (``gatelab.recipes``), evaluation, the animations and the report all ask here.

- A row is *right* when the output is on its target's side of 0.5 (the notes' ``y_pred > 0.5``: an
  output of exactly 0.5 counts as 0).
- A run is *solved* when every row is right and its mean BCE is below ``solved_threshold``:
  ``solved_below`` (conf/config.yaml), or ln 2 / rows when that is lower. A wrong row alone costs at
  least ln 2 (its probability is on the wrong side of 0.5), so a mean below ln 2 / rows already
  means every row right: on the 4 rows of a two-input gate ``solved_below`` (0.05 < ln 2 / 4 = 0.17)
  decides alone; on parity4's 16 rows the threshold is ln 2 / 16 = 0.043.
- Answering 0.5 everywhere costs exactly ln 2 per row: a loss within ``PLATEAU`` of it is the
  plateau, where a perceptron on XOR stays and an MLP waits before it escapes.
"""

from __future__ import annotations

import math

import torch

from gatelab.infra.errors import GatelabError

LN2 = math.log(2)
PLATEAU = 0.01  # a loss within this of ln 2: answering 0.5 everywhere
#: An output within this of 0.5 on every row is "0.5 everywhere": its accuracy is decided by which
#: side of 0.5 the last bits of each output fall, not by anything the net learned.
UNDECIDED = 0.01


def solved_threshold(solved_below: float, rows: int) -> float:
    """The loss under which a run on ``rows`` rows is solved (see the module docstring)."""
    return min(solved_below, LN2 / rows)


def rows_right(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whether each row is right (the notes' ``y_pred > 0.5``), elementwise."""
    return (y_hat > 0.5) == (y > 0.5)


def all_right(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Whether every row is right: ``[..., 1]`` for outputs ``[..., rows, 1]`` (one net, or stacked copies)."""
    return rows_right(y_hat, y).all(dim=-2)


def is_solved(right: torch.Tensor | bool, loss: torch.Tensor | float, threshold: float) -> torch.Tensor | bool:
    """Solved: every row right and the loss below ``threshold`` (``solved_threshold``), elementwise."""
    return right & (loss < threshold)


def on_plateau(loss: torch.Tensor | float) -> torch.Tensor | bool:
    """A loss within ``PLATEAU`` of ln 2: the net answers (about) 0.5 everywhere."""
    return abs(loss - LN2) < PLATEAU


def check_solved_below(solved_below: object) -> None:
    """``solved_below`` must lie between 0 and ln 2 (the loss of answering 0.5 everywhere)."""
    number = isinstance(solved_below, (int, float)) and not isinstance(solved_below, bool)
    if not number or not (0 < solved_below < LN2):
        raise GatelabError(
            f"solved_below must be a loss between 0 and ln 2 = {LN2:.3f} (the loss of answering 0.5 everywhere), got {solved_below!r}"
        )
