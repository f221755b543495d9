"""Truth tables of the two-input gates, and the CSV files that hold them under ``data/``.

A dataset file has a header ``x1,x2,y`` and the four rows of the truth table in the order
00, 01, 10, 11 (the lab's ``X``). Reading validates everything a hand edit could break.
Torch is imported only where tensors are made, so writing the files (``dvc repro generate``)
does not pay its 2-3 s import.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import TYPE_CHECKING

from gatelab.errors import GatelabError
from gatelab.files import atomic_write_text

INPUTS: tuple[tuple[int, int], ...] = ((0, 0), (0, 1), (1, 0), (1, 1))

#: Targets for the inputs 00, 01, 10, 11. XOR and XNOR are the two that no single line separates.
GATES: dict[str, tuple[int, int, int, int]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}

HEADER = ["x1", "x2", "y"]

if TYPE_CHECKING:
    import torch


def check_gate(gate: str) -> None:
    if gate not in GATES:
        raise GatelabError(f"unknown gate {gate!r}; choose one of {', '.join(GATES)}")


def truth_table(gate: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, Y)`` float32 tensors of shape ``[4, 2]`` and ``[4, 1]`` for a named gate."""
    import torch

    check_gate(gate)
    x = torch.tensor(INPUTS, dtype=torch.float32)
    y = torch.tensor(GATES[gate], dtype=torch.float32).unsqueeze(1)
    return x, y


def write_gate_csv(gate: str, path: str | Path) -> Path:
    """Write the gate's truth table to ``path`` (atomically)."""
    check_gate(gate)
    targets = GATES[gate]
    lines = [",".join(HEADER)] + [f"{a},{b},{t}" for (a, b), t in zip(INPUTS, targets)]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def read_gate_csv(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and validate a truth-table file written by ``write_gate_csv`` (or edited by hand)."""
    path = Path(path)
    if not path.is_file():
        raise GatelabError(f"{path} not found; run 'dvc repro generate' (or 'python src/generate.py') to create it")
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise GatelabError(f"{path} is empty; expected a header {','.join(HEADER)} and 4 rows")
    if [c.strip() for c in rows[0]] != HEADER:
        raise GatelabError(f"{path}: header is {','.join(rows[0])!r}, expected {','.join(HEADER)!r}")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    values = []
    for lineno, row in enumerate(body, start=2):
        if len(row) != len(HEADER):
            raise GatelabError(f"{path}:{lineno}: expected 3 values (x1,x2,y), got {len(row)}")
        try:
            numbers = [float(c) for c in row]
        except ValueError:
            raise GatelabError(f"{path}:{lineno}: non-numeric value in {','.join(row)!r}") from None
        if not all(math.isfinite(v) for v in numbers):
            raise GatelabError(f"{path}:{lineno}: NaN or infinite value in {','.join(row)!r}")
        if any(v not in (0.0, 1.0) for v in numbers):
            raise GatelabError(f"{path}:{lineno}: inputs and labels must be 0 or 1, got {','.join(row)!r}")
        values.append(numbers)
    inputs = [tuple(int(v) for v in row[:2]) for row in values]
    if sorted(inputs) != list(INPUTS):
        raise GatelabError(f"{path}: expected each input 00, 01, 10, 11 exactly once, got {inputs}")
    values.sort(key=lambda row: (row[0], row[1]))
    import torch

    table = torch.tensor(values, dtype=torch.float32)
    return table[:, :2], table[:, 2:]
