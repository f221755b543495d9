"""`dvc repro` from a clean copy of the repository: it reproduces the committed results byte for
byte, caches, invalidates per model, and supports `dvc metrics diff` and `dvc exp run`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, files_under, git, run

MODELS = ["perceptron", "mlp2", "mlp4", "manual"]
GATES = ["and", "or", "nand", "nor", "xor", "xnor"]


def committed_metrics(model: str, gate: str) -> dict:
    return json.loads((ROOT / "metrics" / model / f"{gate}.json").read_text())


def test_the_committed_results_show_the_lesson():
    for gate in GATES:
        perceptron = committed_metrics("perceptron", gate)["accuracy"]
        if gate in ("xor", "xnor"):
            assert perceptron <= 0.75, gate  # no single line separates XOR
        else:
            assert perceptron == 1.0, gate
        for model in ("mlp2", "mlp4", "manual"):
            assert committed_metrics(model, gate)["accuracy"] == 1.0, (model, gate)


@pytest.mark.slow
def test_early_stopping_never_gives_up_on_a_run_the_full_budget_would_solve():
    """Each committed (early-stopped) accuracy equals the accuracy after the lab's full 10001
    steps. The full runs use the plain loop, which Lightning follows step for step
    (test_models.py); manual backprop follows mlp2 (test_backprop.py)."""
    import torch

    from gatelab.core.gates import truth_table
    from gatelab.core.reference import train_plain

    torch.set_num_threads(1)
    for model, hidden in [("perceptron", []), ("mlp2", [2]), ("mlp4", [10, 10, 10])]:
        for gate in GATES:
            x, y = truth_table(gate)
            net, _ = train_plain(x, y, hidden, steps=10001)
            with torch.no_grad():
                full_budget = ((net(x) > 0.5).float() == y).float().mean().item()
            assert committed_metrics(model, gate)["accuracy"] == full_budget, (model, gate)
            if model == "mlp2":
                assert committed_metrics("manual", gate)["accuracy"] == full_budget, ("manual", gate)


@pytest.mark.slow
def test_cold_repro_reproduces_the_committed_results_byte_for_byte(reproduced: Path):
    for generated in ("metrics", "plots", "dvclive", "study"):  # numbers, pictures, curves, seed study
        assert files_under(reproduced / generated) == files_under(ROOT / generated), generated
    assert (reproduced / "reports/summary.md").read_bytes() == (ROOT / "reports/summary.md").read_bytes()
    # Same inputs, same outputs: every dependency and output hash in dvc.lock matches, checkpoints included.
    assert (reproduced / "dvc.lock").read_text() == (ROOT / "dvc.lock").read_text()
    assert sorted(p.name for p in (reproduced / "models/mlp4").iterdir()) == sorted(f"{g}.ckpt" for g in GATES)
    assert not (reproduced / "outputs").exists() or not any((reproduced / "outputs").glob("20*"))
    summary = json.loads((reproduced / "metrics/summary.json").read_text())
    assert summary["runs"] == 24 and len(summary["table"]) == 24


@pytest.mark.slow
def test_second_repro_runs_nothing(reproduced_copy: Path):
    out = run(reproduced_copy, "dvc", "repro").stdout
    assert "Running stage" not in out
    assert "didn't change, skipping" in out


def commit_all(repo: Path, message: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "--allow-empty", "-qm", message)  # empty when byte-identical


@pytest.mark.slow
def test_experiment_and_metrics_diff(reproduced_copy: Path):
    repo = reproduced_copy
    commit_all(repo, "reproduced")
    run(repo, "dvc", "exp", "run", "-S", "seed_study.seeds=20")  # reruns only the study and the report
    shown = json.loads(run(repo, "dvc", "exp", "show", "--json").stdout)
    assert 20 in values_of(shown, "seeds")

    diff = json.loads(run(repo, "dvc", "metrics", "diff", "--json").stdout)
    changed = {path for path, metrics in diff.items() for m in metrics.values() if m.get("diff")}
    assert "study/mlp2/xor.json" in changed  # 20 seeds instead of 1000: another solve rate
    assert not any(path.startswith("metrics/") for path in changed)  # no training was rerun

    plots = json.loads(run(repo, "dvc", "plots", "diff", "HEAD", "--json").stdout)["data"]
    curves = plots["xor-loss"][0]["content"]["data"]["values"]
    assert {point["rev"] for point in curves} == {"workspace", "HEAD"}  # both commits' curves, one chart
    assert {image["revisions"][0] for image in plots["plots/study/mlp2/xor.png"]} == {"workspace", "HEAD"}


@pytest.mark.slow
def test_a_bad_experiment_value_is_refused_before_any_output_is_removed(reproduced_copy: Path):
    """DVC removes a stage's outputs just before it runs the stage's command: a value the command
    would refuse must be refused first, by the check stage upstream of every other."""
    repo = reproduced_copy
    commit_all(repo, "reproduced")
    places = ("study", "models", "snapshots", "dvclive", "landscape", "plots", "metrics", "reports")
    before = {place: files_under(repo / place) for place in places}
    for bad, said in [("seed_study.seeds=0", "study.seeds must be a positive integer, got 0"),
                      ("failing_seed=-1", "seed must be an integer from 0 to 2**32-1, got -1"),
                      ("landscape.seeds=abc", "study.seeds must be a positive integer"),
                      ("animations=mlp9/xor", "animations names mlp9/xor, which no stage trains")]:  # fmt: skip
        out = run(repo, "dvc", "exp", "run", "-S", bad, check=False)
        assert out.returncode != 0 and said in out.stdout + out.stderr, (bad, (out.stdout + out.stderr)[-3000:])
        assert "Running stage 'check'" in out.stdout and "Running stage 'study'" not in out.stdout
        assert {place: files_under(repo / place) for place in places} == before, f"{bad}: an output was removed"
        git(repo, "checkout", "--", "params.yaml")


def values_of(tree, key: str) -> list:
    """Every value stored under ``key`` anywhere in a JSON tree (dvc exp show's is deeply nested)."""
    if isinstance(tree, dict):
        return [v for k, v in tree.items() if k == key] + [x for v in tree.values() for x in values_of(v, key)]
    if isinstance(tree, list):
        return [x for v in tree for x in values_of(v, key)]
    return []


@pytest.mark.slow
def test_repro_after_a_crash_completes_with_identical_results(reproduced_copy: Path):
    """`dvc repro` killed in the middle of a stage (dvc and the training it runs, SIGKILL): the next
    `dvc repro` completes it, with byte for byte the results of an uninterrupted run. The crash hits
    train@mlp2 in a copy of the reproduced repository whose mlp2 outputs are gone: DVC reruns an
    unfinished stage the same way in a cold pipeline, and this takes 20 s instead of 3 minutes."""
    import shutil

    repo = reproduced_copy
    for output in ("models/mlp2", "snapshots/mlp2", "dvclive/mlp2"):
        shutil.rmtree(repo / output)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    crashing = subprocess.Popen(
        ["dvc", "repro"], cwd=repo, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.time() + 600
    while not any((repo / "models/mlp2").glob("*.ckpt")) and crashing.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(crashing.pid, signal.SIGKILL)  # dvc and the training it runs, mid-stage
    crashing.wait(timeout=60)
    assert len(list((repo / "models/mlp2").glob("*.ckpt"))) < len(GATES), "the crash came too late to test anything"

    out = run(repo, "dvc", "repro").stdout
    assert "Running stage 'train@mlp2'" in out
    assert files_under(repo / "dvclive/mlp2") == files_under(ROOT / "dvclive/mlp2")  # the curves
    assert files_under(repo / "metrics") == files_under(ROOT / "metrics")
    # Every output's hash (the checkpoints and snapshots too) as the committed lock has it.
    assert (repo / "dvc.lock").read_text() == (ROOT / "dvc.lock").read_text()
    assert "Data and pipelines are up to date" in run(repo, "dvc", "status").stdout
