"""Invariants of the side tools over damaged input files, drawn by a property-based generator
(Hypothesis), not listed: a shard (src/merge_shards.py), a study (src/landscape.py) and a snapshots
file (src/animate.py), each cut short, overwritten with junk, or valid but with any one value
replaced (by null, a string, a negative or huge number, a list, a map) or any one key removed.

Whatever the damage: the exit status is 0 (the damage did not matter) with the tool's outputs
written, or 2 with one line, ``error: ...``, and nothing written; never a traceback. The damaged
cases run together in one process per tool (tests/cli_batch.py). ``EXAMPLES`` keeps every damage
that ever broke an invariant. GATELAB_INVARIANT_EXAMPLES sets the budget (30 per tool in CI).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import run_cli, run_cli_batch

BUDGET = int(os.environ.get("GATELAB_INVARIANT_EXAMPLES", "30"))
JUNK = st.sampled_from([None, "x", "", -1, 0, 1e308, float("nan"), True, [], [1, "a"], {}, {"a": 1}])
#: Damage: ("cut", fraction kept) | ("junk", bytes) | ("value", which leaf, new value) | ("drop", which key)
DAMAGE = st.one_of(
    st.tuples(st.just("cut"), st.floats(0, 0.99)),
    st.tuples(st.just("junk"), st.binary(min_size=0, max_size=64)),
    st.tuples(st.just("value"), st.integers(0, 10_000), JUNK),
    st.tuples(st.just("drop"), st.integers(0, 10_000)),
)
#: Every damage that ever broke an invariant, per tool: they run every time.
EXAMPLES: dict[str, list[tuple]] = {
    "merge_shards": [
        ("value", 744, {}),  # a failure's kind that is a map: a TypeError deep in the summary
        ("drop", 346),  # a per-seed list cut short: an IndexError in the summary
    ],
    "landscape": [
        ("value", 26, [1, "a"]),  # the learning rate a list
        ("drop", 5553),  # the learning rate gone
        ("drop", 6442),  # the activation gone
        ("junk", b"\xa4>"),  # not UTF-8
    ],
    "animate": [],
}


def places(tree, path=()) -> tuple[list[tuple], list[tuple]]:
    """Every leaf's path and every key's path in a JSON-like tree (dicts, lists, tensors as leaves)."""
    leaves, keys = [], []
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, list) else None
    if items is None:
        return [path], []
    for key, value in items:
        if isinstance(tree, dict):
            keys.append((*path, key))
        sub_leaves, sub_keys = places(value, (*path, key))
        leaves += sub_leaves
        keys += sub_keys
    return leaves, keys


def changed(tree, path: tuple, new=None, drop: bool = False):
    parent = tree
    for part in path[:-1]:
        parent = parent[part]
    if drop:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return tree


def damage(original: Path, target: Path, how: tuple) -> None:
    raw = original.read_bytes()
    kind = how[0]
    if kind == "none":
        target.write_bytes(raw)
    elif kind == "cut":
        target.write_bytes(raw[: int(len(raw) * how[1])])
    elif kind == "junk":
        target.write_bytes(how[1])
    else:
        is_json = original.suffix == ".json"
        tree = json.loads(raw) if is_json else torch.load(original, weights_only=True)
        leaves, keys = places(tree)
        if kind == "value":
            tree = changed(tree, leaves[how[1] % len(leaves)], how[2])
        else:
            tree = changed(tree, keys[how[1] % len(keys)], drop=True)
        target.write_text(json.dumps(tree)) if is_json else torch.save(tree, target)


def drawn(tool: str) -> list[tuple]:
    cases: list[tuple] = []

    @settings(max_examples=BUDGET, derandomize=True, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck), deadline=None)  # fmt: skip
    @given(DAMAGE)
    def draw(how):
        cases.append(how)

    draw()
    unique: dict[str, tuple] = {}
    for case in [("none",), *EXAMPLES[tool], *cases]:  # (first, the file as written: it must be accepted)
        unique.setdefault(repr(case), case)  # (values may be lists: not hashable)
    return list(unique.values())


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> dict[str, Path]:
    """A sharded study's folder and a run's snapshots, made by the commands themselves."""
    from gatelab.core.gates import write_gate_csv

    root = tmp_path_factory.mktemp("originals")
    write_gate_csv("xor", root / "data/xor.csv")
    common = [f"paths.data_dir={root / 'data'}", "trainer.max_steps=30", "trainer.enable_progress_bar=false"]
    study = run_cli(
        "src/study.py", "--multirun", *common, "study.seeds=4", "study.shards=2", "study.shard=0,1", f"hydra.sweep.dir={root}/sweep"
    )
    run = run_cli("src/train.py", *common, f"hydra.run.dir={root}/run")
    assert study.returncode == 0 and run.returncode == 0, study.stderr[-2000:] + run.stderr[-2000:]
    return {"sweep": root / "sweep", "snapshots": root / "run/snapshots"}


def check(outs, cases, written) -> list[str]:
    broken = []
    if outs[0].returncode != 0:
        broken.append(f"the undamaged file was refused: {outs[0].stderr[-600:]!r}")
    for how, out, outputs in zip(cases, outs, written):
        if out.returncode == 0:
            if not all(p.is_file() for p in outputs):
                broken.append(f"{how}: exit 0 without its outputs")
        elif out.returncode == 2:
            if out.stderr.count("\n") != 1 or not out.stderr.startswith("error: "):
                broken.append(f"{how}: a refusal of more than one line: {out.stderr[-600:]!r}")
            elif any(p.exists() for p in outputs):
                broken.append(f"{how}: refused, but wrote {[str(p) for p in outputs if p.exists()]}")
        else:
            broken.append(f"{how}: exit {out.returncode}: {out.stderr[-600:]!r}")
    return broken


@pytest.mark.slow
def test_a_damaged_shard_is_merged_or_refused_in_one_line(originals, tmp_path):
    cases = drawn("merge_shards")
    shard = "0_mlp2_xor/study/mlp2/xor.shard-0-of-2.json"
    lines, written = [], []
    for number, how in enumerate(cases):
        folder = tmp_path / f"case-{number}"
        shutil.copytree(originals["sweep"], folder)
        shutil.rmtree(folder / "study"), shutil.rmtree(folder / "plots")  # (the merged study: not a shard)
        damage(originals["sweep"] / shard, folder / shard, how)
        lines.append([str(folder), "--out-dir", str(folder / "out")])
        written.append([folder / "out/study/mlp2/xor.json"])
    broken = check(run_cli_batch("src/merge_shards.py", lines), cases, written)
    assert not broken, f"{len(broken)} of {len(cases)} damaged shards broke an invariant:\n" + "\n".join(broken)


@pytest.mark.slow
def test_a_damaged_study_is_gathered_or_refused_in_one_line(originals, tmp_path):
    cases = drawn("landscape")
    study = originals["sweep"] / "study/mlp2/xor.json"
    lines, written = [], []
    for number, how in enumerate(cases):
        folder = tmp_path / f"case-{number}"
        (folder / "mlp2").mkdir(parents=True)
        damage(study, folder / "mlp2/xor.json", how)
        lines.append([str(folder), "--json", str(tmp_path / f"out-{number}.json"), "--png", str(tmp_path / f"out-{number}.png")])
        written.append([tmp_path / f"out-{number}.json", tmp_path / f"out-{number}.png"])
    broken = check(run_cli_batch("src/landscape.py", lines), cases, written)
    assert not broken, f"{len(broken)} of {len(cases)} damaged studies broke an invariant:\n" + "\n".join(broken)


@pytest.mark.slow
def test_a_damaged_snapshots_file_is_drawn_or_refused_in_one_line(originals, tmp_path):
    cases = drawn("animate")[: max(BUDGET // 2, 10)]  # (each good one draws a GIF: seconds)
    lines, written = [], []
    for number, how in enumerate(cases):
        folder = tmp_path / f"case-{number}"
        (folder / "mlp2").mkdir(parents=True)
        damage(originals["snapshots"] / "mlp2/xor.pt", folder / "mlp2/xor.pt", how)
        lines.append(["mlp2/xor", "--snapshots-dir", str(folder), "--out-dir", str(tmp_path / f"out-{number}")])
        written.append([tmp_path / f"out-{number}/mlp2/xor.gif"])
    broken = check(run_cli_batch("src/animate.py", lines), cases, written)
    assert not broken, f"{len(broken)} of {len(cases)} damaged snapshots broke an invariant:\n" + "\n".join(broken)
