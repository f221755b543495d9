"""Boolean functions by name, their truth tables, and the CSV files that hold them under ``data/``.

Three kinds of name:

- the six gates of the lesson: ``and``, ``or``, ``nand``, ``nor``, ``xor``, ``xnor``;
- any of the 16 boolean functions of two inputs by its code ``f`` + its four outputs for the
  inputs 00, 01, 10, 11: ``f0001`` is AND, ``f0110`` is XOR, ``f1111`` is constant true;
- n-input parity ``parity<n>`` (``parity3``: 1 when an odd number of the 3 inputs is 1).

A dataset file has a header ``x1,...,xn,y`` and one row per input, in counting order (for two
inputs the lab's ``X``: 00, 01, 10, 11). Reading validates everything a hand edit could break.
Torch is imported only where tensors are made, so writing the files does not pay its import.
"""

from __future__ import annotations

import csv
import itertools
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gatelab.infra.errors import GatelabError
from gatelab.infra.files import atomic_write_text

#: Targets for the inputs 00, 01, 10, 11. XOR and XNOR are the two that no single line separates.
GATES: dict[str, tuple[int, ...]] = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "nor": (1, 0, 0, 0),
    "xor": (0, 1, 1, 0),
    "xnor": (1, 0, 0, 1),
}

#: All 16 boolean functions of two inputs, by code, with a readable formula.
FUNCTIONS: dict[str, str] = {
    "f0000": "false",
    "f0001": "x1 AND x2",
    "f0010": "x1 AND NOT x2",
    "f0011": "x1",
    "f0100": "NOT x1 AND x2",
    "f0101": "x2",
    "f0110": "x1 XOR x2",
    "f0111": "x1 OR x2",
    "f1000": "x1 NOR x2",
    "f1001": "x1 XNOR x2",
    "f1010": "NOT x2",
    "f1011": "x1 OR NOT x2",
    "f1100": "NOT x1",
    "f1101": "NOT x1 OR x2",
    "f1110": "x1 NAND x2",
    "f1111": "true",
}

CODE = re.compile(r"f[01]{4}")
PARITY = re.compile(r"parity([2-9]|1[0-2])")  # up to 4096 rows

if TYPE_CHECKING:
    import torch  # (here: writing the CSV files, src/generate.py, needs no torch)


def inputs(n: int) -> list[tuple[int, ...]]:
    """Every input of ``n`` bits, in counting order: 00, 01, 10, 11 for ``n=2``."""
    return list(itertools.product((0, 1), repeat=n))


def targets(name: str) -> tuple[int, ...]:
    """The function's output for each row of ``inputs(n_inputs(name))``."""
    if not isinstance(name, str):
        name = repr(name)  # (null, a number or a list: named in the refusal below, like any unknown name)
    if name in GATES:
        return GATES[name]
    if CODE.fullmatch(name):
        return tuple(int(bit) for bit in name[1:])
    if match := PARITY.fullmatch(name):
        return tuple(sum(row) % 2 for row in inputs(int(match.group(1))))
    raise GatelabError(
        f"unknown gate {name!r}; use one of {', '.join(GATES)}, a two-input function code f0000..f1111 "
        "(its outputs for 00,01,10,11; f0110 is xor), or parity2..parity12"
    )


def check_gate(name: str) -> None:
    targets(name)


def n_inputs(name: str) -> int:
    return int(math.log2(len(targets(name))))


def header(n: int) -> list[str]:
    return [f"x{i}" for i in range(1, n + 1)] + ["y"]


def truth_table(name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(X, Y)`` float32 tensors of shape ``[2^n, n]`` and ``[2^n, 1]``."""
    import torch  # (here: writing the CSV files, src/generate.py, needs no torch)

    ys = targets(name)
    x = torch.tensor(inputs(n_inputs(name)), dtype=torch.float32)
    y = torch.tensor(ys, dtype=torch.float32).unsqueeze(1)
    return x, y


def write_gate_csv(name: str, path: str | Path) -> Path:
    """Write the function's truth table to ``path`` (atomically)."""
    ys = targets(name)
    rows = [",".join(header(n_inputs(name)))]
    rows += [",".join(map(str, (*row, y))) for row, y in zip(inputs(n_inputs(name)), ys)]
    return atomic_write_text(path, "\n".join(rows) + "\n")


def check_table_size(path: Path) -> None:
    """A truth table of n inputs has at most 2**n rows: refuse a bigger file from its header and
    size alone, in a moment, rather than read (and hold) all of it."""
    with path.open("rb") as f:
        first = f.readline(4096)
    inputs = first.count(b",")  # x1,...,xn,y
    if inputs > 24:  # (16 million rows)
        raise GatelabError(f"{path}: {inputs} inputs; a truth table of at most 24 inputs fits in memory")
    most = 2 ** max(inputs, 1) * 8 * (inputs + 1) + 4096  # (a row: each value and its comma; a few spaces)
    size = path.stat().st_size
    if size > most:
        raise GatelabError(
            f"{path} is {size / 2**20:.1f} MB, more than a truth table of {inputs} inputs can be (2**{inputs} rows); "
            f"regenerate it: python src/generate.py {path.stem}"
        )


def read_gate_csv(path: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """Read and validate a truth-table file written by ``write_gate_csv`` (or edited by hand)."""
    path = Path(path)
    if not path.is_file():
        raise GatelabError(f"{path} not found; run 'dvc repro generate' (or 'python src/generate.py {path.stem}') to create it")
    check_table_size(path)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        raise GatelabError(f"{path} is empty; expected a header x1,x2,y and one row per input")
    names = [c.strip() for c in rows[0]]
    n = len(names) - 1
    if n < 1 or names != header(n):
        raise GatelabError(f"{path}: header is {','.join(rows[0])!r}, expected x1,...,xn,y (e.g. x1,x2,y)")
    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    values = []
    for lineno, row in enumerate(body, start=2):
        if len(row) != n + 1:
            raise GatelabError(f"{path}:{lineno}: expected {n + 1} values ({','.join(names)}), got {len(row)}")
        try:
            numbers = [float(c) for c in row]
        except ValueError:
            raise GatelabError(f"{path}:{lineno}: non-numeric value in {','.join(row)!r}") from None
        if not all(math.isfinite(v) for v in numbers):
            raise GatelabError(f"{path}:{lineno}: NaN or infinite value in {','.join(row)!r}")
        if any(v not in (0.0, 1.0) for v in numbers):
            raise GatelabError(f"{path}:{lineno}: inputs and labels must be 0 or 1, got {','.join(row)!r}")
        values.append(numbers)
    rows_in = sorted(tuple(int(v) for v in row[:n]) for row in values)
    if rows_in != inputs(n):
        shown = [",".join(map(str, r)) for r in rows_in]
        raise GatelabError(f"{path}: expected each of the {2**n} inputs exactly once, got {shown}")
    values.sort()
    import torch  # (here: writing the CSV files, src/generate.py, needs no torch)

    table = torch.tensor(values, dtype=torch.float32)
    return table[:, :n], table[:, n:]


def jittered_splits(
    x: torch.Tensor, y: torch.Tensor, noise: float, samples_per_corner: int, split: Sequence[float], seed: int
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """A noisy dataset around the truth table ``(x, y)``, split into train, val and test.

    Each row becomes ``samples_per_corner`` points ``x + N(0, noise²)`` with the row's label. Each
    corner's points are divided by the fractions ``split`` (train, val, test), so every set has
    every corner. The same arguments always give the same tensors.
    """
    import torch  # (here: writing the CSV files, src/generate.py, needs no torch)

    n_train, n_val = check_noise_settings(noise, samples_per_corner, split)
    generator = torch.Generator().manual_seed(seed)
    points = x.unsqueeze(1) + noise * torch.randn(x.shape[0], samples_per_corner, x.shape[1], generator=generator)
    labels = y.unsqueeze(1).expand(-1, samples_per_corner, -1)
    order = torch.stack([torch.randperm(samples_per_corner, generator=generator) for _ in range(x.shape[0])])
    bounds = {"train": (0, n_train), "val": (n_train, n_train + n_val), "test": (n_train + n_val, samples_per_corner)}
    splits = {}
    for name, (lo, hi) in bounds.items():
        index = order[:, lo:hi]
        picked_x = torch.gather(points, 1, index.unsqueeze(-1).expand(-1, -1, x.shape[1]))
        picked_y = torch.gather(labels, 1, index.unsqueeze(-1))
        splits[name] = (picked_x.reshape(-1, x.shape[1]), picked_y.reshape(-1, 1))
    return splits


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_noise_settings(noise: float, samples_per_corner: int, split: Sequence[float]) -> tuple[int, int]:
    """Refuse settings no noisy dataset can have; returns the train and val points per corner."""
    if not is_number(noise) or noise < 0 or not math.isfinite(noise):
        raise GatelabError(f"data.noise must be a standard deviation >= 0, got {noise}")
    if (
        not is_number(samples_per_corner)
        or not math.isfinite(samples_per_corner)
        or int(samples_per_corner) != samples_per_corner
        or samples_per_corner < 1
    ):
        raise GatelabError(f"data.samples_per_corner must be a positive integer, got {samples_per_corner}")
    fractions = [float(f) for f in split] if isinstance(split, Sequence) and all(is_number(f) for f in split) else []
    if len(fractions) != 3 or any(not math.isfinite(f) or f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise GatelabError(f"data.split must be three fractions (train, val, test) that sum to 1, got {split}")
    n_train = round(fractions[0] * samples_per_corner)
    n_val = round(fractions[1] * samples_per_corner)
    if n_train < 1 or n_train + n_val > samples_per_corner:
        raise GatelabError(f"data.samples_per_corner={samples_per_corner} is too few to split {fractions}; use more samples")
    return n_train, n_val
