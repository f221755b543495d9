"""Why a seed fails: which corners its last hidden layer merged.

A net can only answer differently for two inputs that its last hidden layer maps to different
points. A failed 2-2-1 net on XOR has mapped corners of different classes onto (nearly) the same
hidden point; the output can then only answer the mean of those corners' targets (0.5 for a 0 and
a 1, so the loss is ln 2 / 2 when one such pair merged). Over mlp2's 1000 seeds on XOR, 116 of
the 122 failures merged one such pair, 5 three corners and 1 all four.
Merging all four corners is the ln 2 plateau itself: 0.5 everywhere. For the 2-2-1 XOR net with
squared error there are no local minima at finite weights (Hamey 1998, Neural Networks 11;
Sprinkhuizen-Kuyper & Boers 1999): such runs sit on plateaus where hidden units saturate, a minimum
only at infinite weights, which in float32 is as good as a trap. (No such proof is known for BCE.)

``classify_failures`` turns each failed copy's end state into one of:
- ``"plateau"``: every corner merged, or (no hidden layer to merge them: the perceptron) a loss
  on the ln 2 plateau (gatelab.core.solved): it answers 0.5 everywhere;
- ``"01+11"`` (and so on): these corners of different classes merged, the rest kept apart;
  several such groups are joined by ``" / "``;
- ``"other"``: neither (for example a run that was still learning when the budget ran out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import torch

from gatelab.core.solved import on_plateau

MERGED = 0.05  # two corners are merged when no hidden unit tells them apart by more than this
AT_MEAN = 0.05  # a merged group's outputs "are the mean of its targets" within this


def merged_groups(hidden: torch.Tensor, tolerance: float = MERGED) -> list[list[int]]:
    """Rows of ``hidden`` (``[rows, units]``) that lie within ``tolerance`` of each other in every
    unit, as groups (connected: a chain of close points is one group), each sorted, in row order."""
    rows = len(hidden)
    close = (hidden[:, None, :] - hidden[None, :, :]).abs().amax(dim=-1) <= tolerance
    group = list(range(rows))
    for i in range(rows):
        for j in range(i + 1, rows):
            if close[i, j]:  # join j's group into i's
                old, new = group[j], group[i]
                group = [new if g == old else g for g in group]
    found: dict[int, list[int]] = {}
    for row, g in enumerate(group):
        found.setdefault(g, []).append(row)
    return list(found.values())


def classify(hidden: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor, loss: float, names: list[str]) -> tuple[str, bool | None]:
    """One failed copy: its kind (see the module docstring), and whether each merged group's outputs
    equal the mean of the group's targets (None when nothing of different classes merged)."""
    groups = merged_groups(hidden)
    mixed = [g for g in groups if len({float(targets[r]) for r in g}) > 1]
    if mixed:
        at_mean = all(abs(float(outputs[r]) - float(targets[g].mean())) <= AT_MEAN for g in mixed for r in g)
        if len(mixed) == 1 and len(mixed[0]) == len(names):
            return "plateau", at_mean
        return " / ".join("+".join(names[r] for r in g) for g in mixed), at_mean
    if on_plateau(loss):
        return "plateau", None
    return "other", None


def row_names(x: torch.Tensor) -> list[str]:
    """A truth-table row by its inputs: ``01`` is x1=0, x2=1."""
    return ["".join(str(round(float(v))) for v in row) for row in x]


def classify_failures(
    hidden: torch.Tensor, outputs: torch.Tensor, x: torch.Tensor, y: torch.Tensor, final_loss: torch.Tensor, failed: torch.Tensor
) -> tuple[list[str | None], dict]:
    """Each copy's failure kind (None: solved) and the counts. ``hidden``: ``[S, rows, units]``, the last
    hidden layer on the truth table ``x`` (the inputs themselves for a net without one); ``outputs``:
    ``[S, rows]``; ``y``: ``[rows, 1]``; ``final_loss``, ``failed``: ``[S]``."""
    classified = classify_each(hidden, outputs, x, y, final_loss, failed)
    return [kind for kind, _ in classified], count_failures(classified)


def classify_each(
    hidden: torch.Tensor, outputs: torch.Tensor, x: torch.Tensor, y: torch.Tensor, final_loss: torch.Tensor, failed: torch.Tensor
) -> list[tuple[str | None, bool | None]]:
    """Each copy's failure kind and whether its merged corners answer their mean target (``classify``);
    ``(None, None)`` for a solved copy."""
    names, targets = row_names(x), y.flatten()
    return [
        classify(hidden[s], outputs[s], targets, float(final_loss[s]), names) if failed[s] else (None, None) for s in range(len(failed))
    ]


def count_failures(classified: Iterable[tuple[str | None, bool | None]]) -> dict:
    """The counts of ``classify_each``'s results: the study's ``failures``."""
    classified = list(classified)
    at_mean = Counter(matches for kind, matches in classified if kind is not None and matches is not None)
    counts = Counter(kind for kind, _ in classified if kind is not None)
    return {
        "plateau": counts.pop("plateau", 0),
        "other": counts.pop("other", 0),
        "merged": dict(sorted(counts.items())),  # corners of different classes merged in the hidden layer
        "outputs_at_group_means": at_mean[True],  # of the failures that merged corners (plateau included)
        "merged_total": at_mean[True] + at_mean[False],
    }


def describe(failures: dict) -> str:
    """``1 on the ln 2 plateau, 56 with 01+11 merged, ...``: the study's printed line and the report."""
    parts = [f"{failures['plateau']} on the ln 2 plateau"] if failures["plateau"] else []
    parts += [f"{n} with {kind} merged" for kind, n in sorted(failures["merged"].items(), key=lambda kv: (-kv[1], kv[0]))]
    parts += [f"{failures['other']} other"] if failures["other"] else []
    return ", ".join(parts) or "none"
