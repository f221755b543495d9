"""Bad input ends in one line and exit 2 with nothing written; kills never leave half a file;
an interrupted run resumes to the same result."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, cli_args, run_cli

pytestmark = pytest.mark.slow  # every test here starts gatelab processes


def assert_one_line_error(out: subprocess.CompletedProcess, fragment: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: "), out.stderr
    assert fragment in out.stderr


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("model=mlp9", "available options in 'model': deep, manual, manual_lab, mlp2, mlp4, perceptron"),
        ("data=xr", "available options in 'data': and, gate, nand, nor, or, xnor, xor"),
        ("optimizer.lr=-1", "optimizer.lr must be a positive number, got -1"),
        ("callbacks.snapshots.every=0", "callbacks.snapshots.every must be a positive integer, got 0"),
        ("+trainer.precision=bf16-mixed", "trainer.precision=bf16-mixed: 16-bit floats cannot follow the ln 2 plateau"),
        ("+trainer.precision=16-mixed", "use 32-true (the default) or 64-true"),
        ("optimizer.lr=abc", "optimizer.lr must be a positive number, got 'abc'"),
        ("model.hidden=[0]", "model.hidden sizes must be positive integers, got [0]"),
        ("model.hidden=[-3]", "model.hidden sizes must be positive integers, got [-3]"),
        ("model.hidden=[", "cannot parse the override"),
        ("trainer.max_steps=0", "trainer.max_steps must be a positive integer, got 0"),
        ("model.activation=swish", "choose one of sigmoid, tanh, relu"),
        ("data.nois=0.1", "'data.nois' is not a setting"),
        ("data.noise=-0.1", "data.noise must be a standard deviation >= 0"),
        ("data.samples_per_corner=2 data.split=[0.5,0.5]", "data.split must be three fractions"),
        ("data.gate=f012", "unknown gate 'f012'"),
        ("solved_below=abc", "solved_below must be a positive number (a loss), got 'abc'"),
        ("solved_below=0", "solved_below must be a positive number (a loss), got 0"),
        ("seed=abc", "seed must be an integer"),
        ("seed=1.5", "seed must be an integer"),
        ("trainer.accelerator=gpu", "no GPU found on this machine"),
        ("trainer.devices=0", "trainer.devices must be a positive integer"),
        ("steps_per_batch=0", "steps_per_batch must be a positive integer"),
        ("steps_per_epoch=75", "must be a multiple of steps_per_batch (50)"),
        ("model=manual optimizer=adam", "use optimizer=sgd"),
        ("model=manual +optimizer.momentum=0.9", "model=manual implements plain SGD by hand (optimizer.lr only), so optimizer.momentum=0.9 would be ignored"),
        ("model=manual_lab +optimizer.nesterov=true", "model=manual_lab implements plain SGD by hand"),
        ("resume=true", "no interrupted run to resume"),
    ],
)
def test_bad_overrides_are_one_line(tmp_path, data_dir, override, fragment):
    out = run_cli(
        "src/train.py", *override.split(), f"paths.data_dir={data_dir}", f"paths.models_dir={tmp_path}/models",
        f"paths.checkpoints_dir={tmp_path}/checkpoints", env={"CUDA_VISIBLE_DEVICES": ""},
    )  # fmt: skip
    assert_one_line_error(out, fragment)
    assert not any((tmp_path / "models").rglob("*.ckpt"))


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "not found; run 'dvc repro generate'"),
        ("", "is empty"),
        ("x,y,z\n", "header"),
        ("x1,x2,y\n0,0,0\n0,1,nan\n1,0,1\n1,1,0\n", "NaN"),
        ("x1,x2,y\n0,0,0\n0,1,7\n1,0,1\n1,1,0\n", "must be 0 or 1"),
        ("x1,x2,y\n0,0,0\n0,1,1\n0,1,1\n1,1,0\n", "exactly once"),
    ],
)
def test_bad_data_files_are_one_line(tmp_path, content, fragment):
    if content is not None:
        (tmp_path / "xor.csv").write_text(content)
    out = run_cli("src/train.py", f"paths.data_dir={tmp_path}", f"paths.models_dir={tmp_path}/models")
    assert_one_line_error(out, fragment)
    assert f"{tmp_path}/xor.csv" in out.stderr


def test_divergence_stops_with_a_clear_message_and_writes_nothing(tmp_path, data_dir):
    out = run_cli(
        "src/train.py", "model=mlp4", "model.activation=relu", "optimizer.lr=1e20",
        f"paths.data_dir={data_dir}", f"paths.models_dir={tmp_path}/models", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert_one_line_error(out, "training diverged; lower optimizer.lr")
    assert not any((tmp_path / "models").rglob("*.ckpt"))


def test_unwritable_output_folder_fails_before_training(tmp_path, data_dir):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = run_cli("src/train.py", f"paths.data_dir={data_dir}", f"paths.models_dir={blocker}/models")
    assert_one_line_error(out, f"cannot write to {blocker}/models/mlp2/")


# --- evaluation refuses checkpoints it cannot trust ------------------------------------------------


class RunsCode:
    """Unpickling this object would run a command: the classic poisoned checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def trained(tmp_path, make_cfg) -> Path:
    from gatelab.training import train

    train(make_cfg("model=mlp2", "data=xor", "trainer.max_steps=100"))
    return tmp_path / "models"


def evaluate(models_dir: Path, data_dir: Path, metrics_dir: Path) -> subprocess.CompletedProcess:
    return run_cli(
        "src/evaluate.py", "--models", "mlp2", "--gates", "xor", "--data-dir", str(data_dir),
        "--models-dir", str(models_dir), "--metrics-dir", str(metrics_dir), "--report", str(metrics_dir / "r.md"),
    )  # fmt: skip


def test_evaluate_scores_a_good_checkpoint(trained, data_dir, tmp_path):
    out = evaluate(trained, data_dir, tmp_path / "metrics")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "metrics/mlp2/xor.json").read_text())["steps"] == 100


@pytest.mark.parametrize("damage", ["missing", "truncated", "garbage", "other_architecture", "runs_code"])
def test_evaluate_refuses_a_bad_checkpoint(trained, data_dir, tmp_path, damage):
    ckpt = trained / "mlp2/xor.ckpt"
    marker = tmp_path / "pwned"
    if damage == "missing":
        ckpt.unlink()
    elif damage == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:200])
    elif damage == "garbage":
        ckpt.write_bytes(b"definitely not a zip file")
    elif damage == "other_architecture":
        state = torch.load(ckpt, weights_only=True)
        state["hyper_parameters"]["hidden"] = [10, 10, 10]  # weights are still 2-2-1
        torch.save(state, ckpt)
    elif damage == "runs_code":
        torch.save({"hyper_parameters": RunsCode(marker), "state_dict": {}}, ckpt)
    out = evaluate(trained, data_dir, tmp_path / "metrics")
    fragment = {
        "missing": "not found; run 'dvc repro train@mlp2'",
        "truncated": "is truncated or not a checkpoint",
        "garbage": "is truncated or not a checkpoint",
        "other_architecture": "does not match its recorded architecture",
        "runs_code": "refusing to load it (weights_only=True)",
    }[damage]
    assert_one_line_error(out, fragment)
    assert not marker.exists(), "the poisoned checkpoint ran code"
    assert not (tmp_path / "metrics").exists() or not any((tmp_path / "metrics").rglob("*.json"))


# --- kills at random moments leave the old file or a whole new one ----------------------------------


def start(*args: str, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *cli_args(args)], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip


def assert_every_output_whole(folder: Path) -> int:
    """Every visible file loads completely; returns how many there are."""
    files = [p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for path in files:
        if path.suffix == ".ckpt":
            torch.load(path, weights_only=True)
        elif path.suffix == ".json":
            json.loads(path.read_text())
    return len(files)


def wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.02)


def test_killed_training_never_leaves_a_partial_checkpoint(tmp_path, data_dir):
    rng = random.Random(6)
    models, checkpoints = tmp_path / "models", tmp_path / "checkpoints"
    settings = [
        "model=mlp2", "callbacks.early_stopping.patience=1000", "trainer.max_steps=3000",
        "steps_per_epoch=10", "steps_per_batch=5", "callbacks.resume_checkpoint.every_n_epochs=1",
        f"paths.data_dir={data_dir}", f"paths.models_dir={models}", f"paths.checkpoints_dir={checkpoints}",
        "trainer.enable_progress_bar=false",
    ]  # fmt: skip  (a checkpoint every 10 steps: many writes to interrupt)
    assert run_cli("src/train.py", *settings, "trainer.max_steps=20").returncode == 0  # the settings are valid
    args = ["src/train.py", "--multirun", "data=xor,xnor", *settings]
    landed_in_training = 0
    for sig in [signal.SIGKILL, signal.SIGTERM, signal.SIGINT] * 2:
        proc = start(*args)
        wait_for(lambda: any(checkpoints.rglob("*.ckpt")) or proc.poll() is not None)  # training has begun
        time.sleep(rng.uniform(0.0, 4.0))  # then somewhere in training or saving, either gate
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert_every_output_whole(models)
        landed_in_training += assert_every_output_whole(checkpoints) > 0  # a run's state was mid-way
    assert landed_in_training >= 2, "too few kills landed during training to test anything"


def test_killed_evaluation_never_leaves_a_partial_metrics_file(trained, data_dir, tmp_path):
    rng = random.Random(7)
    metrics = tmp_path / "metrics"
    assert evaluate(trained, data_dir, metrics).returncode == 0  # an old result to keep or replace
    for sig in [signal.SIGKILL, signal.SIGTERM, signal.SIGINT] * 2:
        proc = start(
            "src/evaluate.py", "--models", "mlp2", "--gates", "xor", "--data-dir", str(data_dir),
            "--models-dir", str(trained), "--metrics-dir", str(metrics), "--report", str(metrics / "r.md"),
        )  # fmt: skip
        time.sleep(rng.uniform(1.0, 6.0))
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert assert_every_output_whole(metrics) == 3  # xor.json, summary.json, r.md


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(tmp_path, data_dir):
    common = ["model=mlp4", "data=xor", f"paths.data_dir={data_dir}", "trainer.enable_progress_bar=false"]
    reference = run_cli("src/train.py", *common, f"paths.models_dir={tmp_path}/ref", f"hydra.run.dir={tmp_path}/ref-run")
    assert reference.returncode == 0, reference.stderr

    interrupted = [*common, f"paths.models_dir={tmp_path}/models", f"paths.checkpoints_dir={tmp_path}/ckpts"]
    proc = start("src/train.py", *interrupted, f"hydra.run.dir={tmp_path}/first")
    resume_file = tmp_path / "ckpts/mlp4/xor.ckpt"
    wait_for(lambda: resume_file.exists() or proc.poll() is not None)
    time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=60)
    assert resume_file.exists() and not (tmp_path / "models/mlp4/xor.ckpt").exists(), "not interrupted mid-run"
    resumed_from = torch.load(resume_file, weights_only=False)["global_step"]

    # Resuming with other settings would continue the old run under the new run's record: refused.
    for changed, named in [("optimizer.lr=0.5", "optimizer.lr: 1.0 -> 0.5"), ("optimizer=adam", "optimizer._target_"),
                           ("model.hidden=[10,10]", "model.hidden: [10, 10, 10] -> [10, 10]"), ("seed=1", "seed: 777 -> 1")]:
        refused = run_cli("src/train.py", *interrupted, "resume=true", changed)
        assert_one_line_error(refused, f"resume=true but the interrupted run had other settings ({named}")
        assert resume_file.exists() and not (tmp_path / "models/mlp4/xor.ckpt").exists()

    resumed = run_cli("src/train.py", *interrupted, "resume=true", f"hydra.run.dir={tmp_path}/second")
    assert resumed.returncode == 0, resumed.stderr
    # It went on in the interrupted run's folder, and its curves end as the uninterrupted run's.
    curves = "dvclive/mlp4/xor/plots/metrics/train"
    for curve in ("loss.tsv", "acc.tsv"):
        assert (tmp_path / "first" / curves / curve).read_text() == (tmp_path / "ref-run" / curves / curve).read_text()
    assert not (tmp_path / "second/dvclive").exists()
    assert 0 < resumed_from < int(resumed.stdout.split(" steps")[0].split()[-1])
    ours = torch.load(tmp_path / "models/mlp4/xor.ckpt", weights_only=True)
    ref = torch.load(tmp_path / "ref/mlp4/xor.ckpt", weights_only=True)
    assert ours["global_step"] == ref["global_step"]
    assert all(torch.equal(ours["state_dict"][k], ref["state_dict"][k]) for k in ref["state_dict"])
    assert not resume_file.exists()  # a completed run leaves nothing to resume
