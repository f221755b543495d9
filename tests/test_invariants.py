"""Invariants of a training run's command line, over command lines a property-based generator draws
(Hypothesis), not over a list: whatever the overrides,

- the exit status is 0 only for a completed run (its checkpoint is there, whole), and 2 for a
  refusal, never a crash (1);
- a refusal is one line, ``error: ...``, with no traceback;
- nothing outside the run's own folders changes (the data it reads, the repository).

The command lines of one test run are drawn first and run together in one process (tests/cli_batch.py:
each as its own process would, without paying the imports each time). ``EXAMPLES`` keeps every
command line that ever broke an invariant; they run every time. CI draws a small budget; set
GATELAB_INVARIANT_EXAMPLES=500 for a large one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import run_cli_batch
from gatelab.core.gates import FUNCTIONS, GATES, write_gate_csv

BUDGET = int(os.environ.get("GATELAB_INVARIANT_EXAMPLES", "30"))

# Values of every kind a user types: in and out of each setting's bounds, of the wrong type, empty.
ANY_VALUE = st.sampled_from(
    ["0", "1", "2", "-1", "3", "0.5", "1.5", "1e-9", "abc", "null", "''", "true", "[]", "[2]", "[0]", "[2,2]", "nan", "inf"]
)
SETTINGS = {
    "optimizer.lr": ANY_VALUE,
    "trainer.max_steps": st.sampled_from(["-1", "0", "1", "7", "40", "abc", "1.5", "null"]),  # (no long runs)
    "seed": ANY_VALUE,
    "model.hidden": st.sampled_from(["[]", "[1]", "[2]", "[3,3]", "[0]", "[-1]", "[2.5]", "abc", "[a]", "null", "3"]),
    "model.activation": st.sampled_from(["sigmoid", "tanh", "relu", "swish", "", "null", "1"]),
    "steps_per_batch": ANY_VALUE,
    "steps_per_epoch": ANY_VALUE,
    "solved_below": ANY_VALUE,
    "data.gate": st.sampled_from([*GATES, "f0110", "parity3", "f012", "xorr", "", "null"]),
    "callbacks.snapshots.every": ANY_VALUE,
    "callbacks.early_stopping.patience": ANY_VALUE,
    "callbacks.early_stopping.min_delta": ANY_VALUE,
    "name": st.sampled_from(["run", "a.b", "../x", "/abs", "", "null", ".hidden", "-dash", "x y"]),
    "torch_threads": ANY_VALUE,
    "data.noise": ANY_VALUE,
    "data.samples_per_corner": ANY_VALUE,
    "data.split": st.sampled_from(["[0.6,0.2,0.2]", "[1,0,0]", "[0.5,0.5]", "[a,b,c]", "abc", "null", "[nan,0,1]"]),
    "model": st.sampled_from(["perceptron", "mlp2", "manual", "manual_lab", "mlp9"]),
    "optimizer": st.sampled_from(["sgd", "adam", "rmsprop"]),
}
OVERRIDES = st.lists(st.sampled_from(sorted(SETTINGS)), min_size=1, max_size=3, unique=True).flatmap(
    lambda keys: st.tuples(*(SETTINGS[key].map(lambda value, key=key: f"{key}={value}") for key in keys))
)

#: Every command line that ever broke an invariant: they run every time, before the drawn ones.
EXAMPLES: list[tuple[str, ...]] = [
    # noisy data, a step budget inside the first epoch: early stopping on a val/loss not yet logged (a traceback)
    ("data.noise=3", "data.samples_per_corner=3", "model=perceptron"),
    # noisy-data settings of the wrong type: a TypeError or ValueError instead of a refusal
    ("data.samples_per_corner=[0]",),
    ("data.samples_per_corner=abc",),
    ("data.samples_per_corner=nan",),
    ("data.noise=''",),
    ("data.noise=null",),
    ("data.split=abc",),
    ("data.split=null",),
    ("data.gate=null",),  # (a gate that is not a string)
]


def drawn_command_lines() -> list[tuple[str, ...]]:
    """``BUDGET`` command lines from OVERRIDES, the same ones on every machine (derandomized)."""
    drawn: list[tuple[str, ...]] = []

    @settings(max_examples=BUDGET, derandomize=True, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck), deadline=None)  # fmt: skip
    @given(OVERRIDES)
    def draw(overrides):
        drawn.append(overrides)

    draw()
    return [*EXAMPLES, *dict.fromkeys(drawn)]


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.slow
def test_every_drawn_command_line_completes_or_is_refused_in_one_line(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    for gate in [*GATES, *FUNCTIONS, "parity3"]:
        write_gate_csv(gate, data / f"{gate}.csv")
    before = digest(data)
    lines = drawn_command_lines()
    runs = [tmp_path_factory.mktemp("run") for _ in lines]
    base = ["trainer.enable_progress_bar=false", "trainer.max_steps=40", f"paths.data_dir={data}"]
    command_lines = [
        [*base, f"hydra.run.dir={run}/out", f"paths.checkpoints_dir={run}/checkpoints", *line] for run, line in zip(runs, lines)
    ]
    outs = []
    for start in range(0, len(command_lines), 100):  # (a process's command line has a length limit)
        outs += run_cli_batch("src/train.py", command_lines[start : start + 100], env={"CUDA_VISIBLE_DEVICES": ""})
    broken = []
    for line, run, out in zip(lines, runs, outs):
        shown = " ".join(line)
        if out.returncode == 0:
            saved = re.search(r"-> (\S+\.ckpt)$", out.stdout.strip())
            if not saved or not Path(saved[1]).is_file() or Path(run) not in Path(saved[1]).resolve().parents:
                broken.append(f"{shown}: exit 0 without its checkpoint in its folder: {out.stdout[-300:]!r}")
            else:
                torch.load(saved[1], weights_only=True)  # whole
        elif out.returncode == 2:
            if out.stderr.count("\n") != 1 or not out.stderr.startswith("error: "):
                broken.append(f"{shown}: a refusal of more than one line: {out.stderr[-500:]!r}")
        else:
            broken.append(f"{shown}: exit {out.returncode}: {out.stderr[-500:]!r}")
        if "Traceback" in out.stderr:
            broken.append(f"{shown}: a traceback")
    assert digest(data) == before, "a run changed the data it read"
    assert not broken, f"{len(broken)} of {len(lines)} command lines broke an invariant:\n" + "\n".join(broken)
