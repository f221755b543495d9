"""Bad input ends in one line and exit 2 with nothing written; kills never leave half a file;
an interrupted run resumes to the same result.

Bad input is tested by class, each a table: values out of bounds, names and paths that would write
somewhere unintended, files that are not what their path says, half-written sets and two writers
at once, and sweeps (every job checked before the first runs). The in-process tables call the
checks each command makes first (gatelab.config.check_config ...); the command-line tests show the
same refusals end as one `error:` line and exit status 2."""

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

slow = pytest.mark.slow  # the tests that start gatelab processes


def assert_one_line_error(out: subprocess.CompletedProcess, fragment: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stderr[-2000:])
    assert out.stderr.count("\n") == 1 and out.stderr.startswith("error: "), out.stderr
    assert fragment in out.stderr


# Every bad override runs through src/train.py as a user's command line would, all of them in one
# Python process (tests/cli_batch.py: exit status and stderr as a process of its own gives them).
# Two of them also run as processes of their own (tests/test_train.py: model=mlp9, accelerator=gpu).
BAD_OVERRIDES = [
    ("model=mlp9", "available options in 'model': deep, manual, manual_lab, mlp2, mlp4, perceptron"),
    ("data=xr", "available options in 'data': and, gate, nand, nor, or, xnor, xor"),
    ("optimizer.lr=-1", "optimizer.lr must be a positive number, got -1"),
    ("callbacks.snapshots.every=0", "callbacks.snapshots.every must be a positive integer, got 0"),
    ("+trainer.precision=bf16-mixed", "trainer.precision=bf16-mixed: 16-bit floats cannot follow the ln 2 plateau"),
    ("+trainer.precision=16-mixed", "use 32-true (the default) or 64-true"),
    ("optimizer.lr=abc", "optimizer.lr must be a positive number, got 'abc'"),
    # the optimizer's own checks, before anything trains (torch's ValueError was a traceback mid-fit)
    ("+optimizer.momentum=-1", "optimizer (torch.optim.SGD) refuses its settings: Invalid momentum value: -1"),
    ("+optimizer.weight_decay=-0.1", "refuses its settings: Invalid weight_decay value: -0.1"),
    ("+optimizer.nesterov=true", "refuses its settings: Nesterov momentum requires a momentum and zero dampening"),
    ("+optimizer.momentm=0.9", "refuses its settings: SGD.__init__() got an unexpected keyword argument 'momentm'"),
    (
        "optimizer=adam +optimizer.betas=[1.5,0.9]",
        "optimizer (torch.optim.Adam) refuses its settings: Invalid beta parameter at index 0: 1.5",
    ),
    ("model.hidden=[0]", "model.hidden sizes must be positive integers, got [0]"),
    ("model.hidden=[-3]", "model.hidden sizes must be positive integers, got [-3]"),
    ("model.hidden=[", "cannot parse the override"),
    ("trainer.max_steps=0", "trainer.max_steps must be a positive integer, got 0"),
    ("model.activation=swish", "choose one of sigmoid, tanh, relu"),
    ("data.nois=0.1", "'data.nois' is not a setting"),
    ("data.noise=-0.1", "data.noise must be a standard deviation >= 0"),
    ("data.samples_per_corner=2 data.split=[0.5,0.5]", "data.split must be three fractions"),
    ("data.gate=f012", "unknown gate 'f012'"),
    ("solved_below=abc", "solved_below must be a loss between 0 and ln 2 = 0.693 (the loss of answering 0.5 everywhere), got 'abc'"),
    ("solved_below=0", "solved_below must be a loss between 0 and ln 2"),
    ("seed=abc", "seed must be an integer"),
    ("seed=1.5", "seed must be an integer"),
    ("trainer.accelerator=gpu", "no GPU found on this machine"),
    ("trainer.devices=0", "trainer.devices must be a positive integer, auto or -1 (every GPU), got 0"),
    ("trainer.devices=-1", "trainer.devices=-1 means every GPU, but trainer.accelerator=cpu"),
    ("name=../../x", "name must be one folder name"),
    ("paths.dvclive_dir=", "paths.dvclive_dir must be a path, got ''"),
    ("torch_threads=100000", "torch_threads=100000 but this machine has"),
    ("steps_per_batch=0", "steps_per_batch must be a positive integer"),
    ("steps_per_epoch=75", "must be a multiple of steps_per_batch (50)"),
    ("model=manual optimizer=adam", "use optimizer=sgd"),
    (
        "model=manual +optimizer.momentum=0.9",
        "model=manual implements plain SGD by hand (optimizer.lr only), so optimizer.momentum=0.9 would be ignored",
    ),
    ("model=manual_lab +optimizer.nesterov=true", "model=manual_lab implements plain SGD by hand"),
    ("resume=true", "no interrupted run to resume"),
    ("resume_path=${ckpt_path}", "ckpt_path and resume_path are the same file"),
    ("callbacks.snapshots.path=${resume_path}", "resume_path and callbacks.snapshots.path are the same file"),
]


@pytest.fixture(scope="module")
def bad_override_runs(tmp_path_factory) -> dict[str, tuple[subprocess.CompletedProcess, Path]]:
    from conftest import run_cli_batch
    from gatelab.core.gates import GATES, write_gate_csv

    data = tmp_path_factory.mktemp("data")
    for gate in GATES:
        write_gate_csv(gate, data / f"{gate}.csv")
    places = {override: tmp_path_factory.mktemp("run") for override, _ in BAD_OVERRIDES}
    lines = [[*override.split(), f"paths.data_dir={data}", f"paths.models_dir={place}/models",
              f"paths.checkpoints_dir={place}/checkpoints"] for override, place in places.items()]  # fmt: skip
    results = run_cli_batch("src/train.py", lines, env={"CUDA_VISIBLE_DEVICES": ""})
    return {override: (out, places[override]) for override, out in zip(places, results)}


@slow
@pytest.mark.parametrize("override, fragment", BAD_OVERRIDES)
def test_bad_overrides_are_one_line(bad_override_runs, override, fragment):
    out, place = bad_override_runs[override]
    assert_one_line_error(out, fragment)
    assert not any((place / "models").rglob("*.ckpt"))


BAD_DATA_FILES = [
    (None, "not found; run 'dvc repro generate'"),
    ("", "is empty"),
    ("x,y,z\n", "header"),
    ("x1,x2,y\n0,0,0\n0,1,nan\n1,0,1\n1,1,0\n", "NaN"),
    ("x1,x2,y\n0,0,0\n0,1,7\n1,0,1\n1,1,0\n", "must be 0 or 1"),
    ("x1,x2,y\n0,0,0\n0,1,1\n0,1,1\n1,1,0\n", "exactly once"),
]


@pytest.fixture(scope="module")
def bad_data_runs(tmp_path_factory) -> list[tuple[subprocess.CompletedProcess, Path]]:
    """Each damaged data file in a folder of its own, read by src/train.py (one process for all: tests/cli_batch.py)."""
    from conftest import run_cli_batch

    places = [tmp_path_factory.mktemp("data") for _ in BAD_DATA_FILES]
    for place, (content, _) in zip(places, BAD_DATA_FILES):
        if content is not None:
            (place / "xor.csv").write_text(content)
    results = run_cli_batch("src/train.py", [[f"paths.data_dir={place}", f"paths.models_dir={place}/models"] for place in places])
    return list(zip(results, places))


@slow
@pytest.mark.parametrize("case", range(len(BAD_DATA_FILES)), ids=[fragment for _, fragment in BAD_DATA_FILES])
def test_bad_data_files_are_one_line(bad_data_runs, case):
    out, place = bad_data_runs[case]
    assert_one_line_error(out, BAD_DATA_FILES[case][1])
    assert f"{place}/xor.csv" in out.stderr


@slow
def test_divergence_stops_with_a_clear_message_and_writes_nothing(tmp_path, data_dir):
    out = run_cli(
        "src/train.py", "model=mlp4", "model.activation=relu", "optimizer.lr=1e20",
        f"paths.data_dir={data_dir}", f"paths.models_dir={tmp_path}/models", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert_one_line_error(out, "training diverged; lower optimizer.lr")
    assert not any((tmp_path / "models").rglob("*.ckpt"))


@slow
def test_unwritable_output_folder_fails_before_training(tmp_path, data_dir):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = run_cli("src/train.py", f"paths.data_dir={data_dir}", f"paths.models_dir={blocker}/models")
    assert_one_line_error(out, f"{blocker} is a file, where this run needs a folder")


# --- evaluation refuses checkpoints it cannot trust ------------------------------------------------


class RunsCode:
    """Unpickling this object would run a command: the classic poisoned checkpoint."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def trained(tmp_path, make_cfg) -> Path:
    from gatelab.recipes.training import train

    train(make_cfg("model=mlp2", "data=xor", "trainer.max_steps=100"))
    return tmp_path / "models"


def evaluate(models_dir: Path, data_dir: Path, metrics_dir: Path) -> subprocess.CompletedProcess:
    return run_cli(
        "src/evaluate.py", "--models", "mlp2", "--gates", "xor", "--data-dir", str(data_dir),
        "--models-dir", str(models_dir), "--metrics-dir", str(metrics_dir), "--report", str(metrics_dir / "r.md"),
    )  # fmt: skip


@slow
def test_evaluate_scores_a_good_checkpoint(trained, data_dir, tmp_path):
    out = evaluate(trained, data_dir, tmp_path / "metrics")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "metrics/mlp2/xor.json").read_text())["steps"] == 100


@slow
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


@slow
def test_killed_training_never_leaves_a_partial_checkpoint(tmp_path, data_dir):
    rng = random.Random(6)
    models, checkpoints = tmp_path / "models", tmp_path / "checkpoints"
    settings = [
        "model=mlp2",
        "callbacks.early_stopping.patience=1000",
        "trainer.max_steps=3000",
        "steps_per_epoch=10",
        "steps_per_batch=5",
        "callbacks.resume_checkpoint.every_n_epochs=1",
        f"paths.data_dir={data_dir}",
        f"paths.models_dir={models}",
        f"paths.checkpoints_dir={checkpoints}",
        "trainer.enable_progress_bar=false",
    ]  # fmt: skip  (a checkpoint every 10 steps: many writes to interrupt)
    assert run_cli("src/train.py", *settings, "trainer.max_steps=20").returncode == 0  # the settings are valid
    args = ["src/train.py", "--multirun", "data=xor,xnor", *settings]
    landed_in_training = 0
    for sig in [signal.SIGKILL, signal.SIGTERM, signal.SIGINT] * 2:
        proc = start(*args)
        wait_for(lambda proc=proc: any(checkpoints.rglob("*.ckpt")) or proc.poll() is not None)  # training has begun
        time.sleep(rng.uniform(0.0, 4.0))  # then somewhere in training or saving, either gate
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert_every_output_whole(models)
        landed_in_training += assert_every_output_whole(checkpoints) > 0  # a run's state was mid-way
    assert landed_in_training >= 2, "too few kills landed during training to test anything"


@slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_sweep_stopped_by_a_signal_says_so_exits_128_plus_it_and_keeps_the_state(tmp_path, data_dir, sig):
    """SIGTERM is how a cluster preempts a job: the run must not exit 0 as if it had finished. It
    exits 128 + the signal with one line, keeps its last saved state, and the sweep runs no further
    job; the same command with resume=true then finishes the run."""
    checkpoints, sweep = tmp_path / "checkpoints", tmp_path / "sweep"
    settings = [
        "model=mlp4",
        "callbacks.early_stopping.patience=1000",
        "trainer.max_steps=100000",
        "steps_per_epoch=10",
        "steps_per_batch=5",
        "callbacks.resume_checkpoint.every_n_epochs=1",
        f"paths.data_dir={data_dir}",
        f"paths.checkpoints_dir={checkpoints}",
        "trainer.enable_progress_bar=false",
    ]  # fmt: skip  (a training state every 10 steps, and no end in sight)
    proc = subprocess.Popen(
        [sys.executable, "src/train.py", "--multirun", "data=xor,xnor", *settings, f"hydra.sweep.dir={sweep}"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    state = checkpoints / "mlp4/xor.ckpt"
    wait_for(lambda: state.exists() or proc.poll() is not None)
    time.sleep(1.0)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, (proc.returncode, stderr[-2000:])
    assert stderr.count("\n") == 1 and stderr.startswith(f"error: stopped by {sig.name} at step "), stderr[-2000:]
    assert f"the last saved training state is {state}: the same command with resume=true continues from it" in stderr
    assert state.is_file() and not list(sweep.rglob("*.ckpt")), "the state is kept, and no result written"
    assert not list(sweep.glob("1_*")), "the sweep went on to its next job"
    resumed = run_cli("src/train.py", "data=xor", *settings, "resume=true", f"hydra.run.dir={tmp_path}/resumed")
    # (a resumed run goes on in the interrupted run's folder: its curves and snapshots are there)
    assert resumed.returncode == 0 and (sweep / "0_mlp4_xor/models/mlp4/xor.ckpt").is_file(), resumed.stderr[-2000:]
    assert not state.exists(), "a finished run leaves no training state behind"


@slow
def test_a_study_stopped_by_a_signal_exits_128_plus_it_and_writes_nothing(tmp_path, data_dir):
    for wait in (10, 20, 40):  # into training: a signal before it (the imports) ends the process as any would
        out = tmp_path / f"out-{wait}"
        proc = subprocess.Popen(
            [sys.executable, "src/study.py", "study.seeds=50", "model=mlp4", "trainer.max_steps=100000", f"paths.data_dir={data_dir}",
             f"hydra.run.dir={out}", "trainer.enable_progress_bar=false"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(wait)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
        if proc.returncode != -signal.SIGTERM:
            break
    assert proc.returncode == 143 and stderr.startswith("error: stopped by SIGTERM at step "), (proc.returncode, stderr[-2000:])
    assert stderr.count("\n") == 1 and not any(p.suffix in (".json", ".png") for p in out.rglob("*"))


@slow
def test_a_run_never_saves_its_training_state_over_a_model(trained, data_dir, tmp_path):
    """paths.checkpoints_dir pointing at trained models (the pipeline's models/, say) would make the
    run's training state overwrite one, then delete it when the run ends: refused, the model intact."""
    model = trained / "mlp2/xor.ckpt"
    before = model.read_bytes()
    out = run_cli("src/train.py", f"paths.data_dir={data_dir}", f"paths.checkpoints_dir={trained}")
    assert_one_line_error(out, f"{model} is not an interrupted run's training state (a trained model?)")
    assert model.read_bytes() == before


@slow
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


@slow
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
    for changed, named in [
        ("optimizer.lr=0.5", "optimizer.lr: 1.0 -> 0.5"),
        ("optimizer=adam", "optimizer._target_"),
        ("model.hidden=[10,10]", "model.hidden: [10, 10, 10] -> [10, 10]"),
        ("seed=1", "seed: 777 -> 1"),
    ]:
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


def result_files(run: Path) -> dict[str, bytes]:
    """A finished run's result: every file of its folder but Hydra's note of the last command
    started there (.hydra/), and a killed writer's leftovers beside an output (hidden: staged
    curves, locks, temporary files; never part of a result)."""
    return {
        str(p.relative_to(run)): p.read_bytes()
        for p in run.rglob("*")
        if p.is_file() and ".hydra" not in p.parts and not any(part.startswith(".") for part in p.relative_to(run).parts)
    }


@slow
def test_a_killed_rerun_leaves_the_previous_result_whole_and_a_finished_one_replaces_it_as_a_set(tmp_path, data_dir):
    """A rerun into a finished run's folder replaces its checkpoint, snapshots, curves and config
    together at its end, or not at all: killed mid-training, the old result is all there, unmixed."""
    run_dir = tmp_path / "run"
    common = ["model=mlp4", f"paths.data_dir={data_dir}", "trainer.enable_progress_bar=false", f"hydra.run.dir={run_dir}",
              f"paths.checkpoints_dir={tmp_path}/ckpts", "steps_per_epoch=10", "steps_per_batch=5"]  # fmt: skip
    assert run_cli("src/train.py", *common, "trainer.max_steps=100").returncode == 0
    before = result_files(run_dir)
    assert {"models/mlp4/xor.ckpt", "snapshots/mlp4/xor.pt", "config.yaml", "dvclive/mlp4/xor/plots/metrics/train/loss.tsv"} <= set(before)
    staged = run_dir / "dvclive/mlp4/.xor.partial/plots/metrics/train/loss.tsv"
    for sig in (signal.SIGKILL, signal.SIGTERM):
        proc = start("src/train.py", *common, "seed=1", "trainer.max_steps=100000", "callbacks.early_stopping.patience=100000")
        wait_for(lambda proc=proc: staged.is_file() or proc.poll() is not None)  # its curves are being written
        time.sleep(1.0)
        proc.send_signal(sig)
        proc.wait(timeout=60)
        assert result_files(run_dir) == before, f"after {sig.name}, the folder mixes two runs' files"
    finished = run_cli("src/train.py", *common, "seed=1", "trainer.max_steps=200")
    assert finished.returncode == 0, finished.stderr[-2000:]
    after = result_files(run_dir)
    assert set(after) == set(before), "not replaced as a set"
    run_specific = ["models/mlp4/xor.ckpt", "snapshots/mlp4/xor.pt", "config.yaml", "dvclive/mlp4/xor/plots/metrics/train/loss.tsv"]
    assert all(after[name] != before[name] for name in run_specific), "not replaced as a set"
    assert b"seed: 1\n" in after["config.yaml"] and after["dvclive/mlp4/xor/plots/metrics/train/loss.tsv"].count(b"\n") > 10
    assert not (run_dir / "dvclive/mlp4/.xor.partial").exists() and not list(run_dir.rglob(".*.lock"))


@slow
def test_a_new_run_over_an_interrupted_runs_state_says_it_starts_over(tmp_path, data_dir):
    state = tmp_path / "ckpts/mlp2/xor.ckpt"
    state.parent.mkdir(parents=True)
    torch.save({"optimizer_states": [], "global_step": 10}, state)  # what an interrupted run leaves
    out = run_cli("src/train.py", f"paths.data_dir={data_dir}", f"paths.checkpoints_dir={tmp_path}/ckpts", "trainer.max_steps=50",
                  "trainer.enable_progress_bar=false", f"hydra.run.dir={tmp_path}/run")  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr.startswith(f"note: {state} holds an interrupted run's training state; this run starts over and replaces it")
    assert not state.exists()


@slow
@pytest.mark.parametrize(
    "case", ["a file-size limit", "stdout closed", "the reader gone", "another folder", "a folder that cannot be made"]
)
def test_the_machine_in_the_way_is_one_line_or_a_finished_run(tmp_path, data_dir, case):
    """The environment, by class: a limit on file sizes (as a full disk would), stdout closed
    before the start or its reader gone before the end, a command started in another folder, an
    output folder that cannot be made. Each ends in a whole result or one line, never a traceback."""
    import resource

    args = [sys.executable, "src/train.py", f"paths.data_dir={data_dir}", "trainer.max_steps=20", "trainer.enable_progress_bar=false",
            f"hydra.run.dir={tmp_path}/run", f"paths.checkpoints_dir={tmp_path}/ckpts"]  # fmt: skip
    checkpoint = tmp_path / "run/models/mlp2/xor.ckpt"
    options = {"cwd": ROOT, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    if case == "a file-size limit":
        options["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
    elif case == "stdout closed":
        options |= {"stdout": None, "preexec_fn": lambda: os.close(1)}
    elif case == "another folder":
        args = [sys.executable, str(ROOT / "src/train.py"), *args[2:]]
        args[2] = "paths.data_dir=data"  # (relative: from where it starts)
        options["cwd"] = tmp_path / "elsewhere"
        options["cwd"].mkdir()
    elif case == "a folder that cannot be made":
        args[5] = "hydra.run.dir=/proc/gatelab-test/run"
    proc = subprocess.Popen(args, **options)
    if case == "the reader gone":
        proc.stdout.close()  # (before the run prints its summary)
    stderr = proc.communicate(timeout=300)[1]
    if case in ("stdout closed", "the reader gone"):  # the run finishes and writes its result either way
        assert proc.returncode == (141 if case == "the reader gone" else 0) and checkpoint.is_file(), (proc.returncode, stderr[-2000:])
        assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr[-2000:]
        return
    assert proc.returncode == 2 and stderr.count("\n") == 1 and stderr.startswith("error: "), (proc.returncode, stderr[-2000:])
    assert not checkpoint.exists()
    said = {"a file-size limit": "cannot write", "another folder": "data/xor.csv not found",
            "a folder that cannot be made": "cannot write to /proc/gatelab-test/run/"}[case]  # fmt: skip
    assert said in stderr, stderr


# --- by class: checked in-process, before anything is trained or written -------------------------


def files_in(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


def refusal(make_cfg, tmp_path: Path, *overrides: str, config: str = "config") -> str:
    """The one-line reason ``check_config`` (what every command checks first) refuses the settings."""
    from gatelab.config.checks import check_config
    from gatelab.infra.errors import GatelabError

    before = files_in(tmp_path)
    with pytest.raises(GatelabError) as refused:
        check_config(make_cfg(*overrides, config=config))
    assert files_in(tmp_path) == before  # nothing written
    message = str(refused.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        # Each setting with a bound, past it (and the bound named).
        (["optimizer.lr=0"], "optimizer.lr must be a positive number"),
        (["optimizer.lr=inf"], "optimizer.lr must be a positive number"),
        (["solved_below=0.7"], "solved_below must be a loss between 0 and ln 2"),
        (["solved_below=-1"], "solved_below must be a loss between 0 and ln 2"),
        (["seed=-1"], "seed must be an integer from 0 to 2**32-1"),
        (["seed=4294967296"], "seed must be an integer from 0 to 2**32-1"),
        (["torch_threads=0"], "torch_threads must be a positive integer"),
        ([f"torch_threads={(os.cpu_count() or 1) + 1}"], f"but this machine has {os.cpu_count()} CPUs"),
        (["trainer.max_steps=-1"], "trainer.max_steps must be a positive integer"),
        (["trainer.devices=abc"], "trainer.devices must be a positive integer, auto or -1"),
        (["trainer.devices=-1"], "trainer.devices=-1 means every GPU"),
        (["steps_per_epoch=50"], "must be a multiple of steps_per_batch (50), and at least twice it"),
        (["callbacks.early_stopping.patience=0"], "callbacks.early_stopping.patience must be a positive integer"),
        (["callbacks.early_stopping.min_delta=-1e-6"], "callbacks.early_stopping.min_delta must be a number >= 0"),
        (["callbacks.progress_bar.refresh_rate=0"], "callbacks.progress_bar.refresh_rate must be a positive integer"),
        (["callbacks.resume_checkpoint.every_n_epochs=0"], "callbacks.resume_checkpoint.every_n_epochs must be a positive"),
        (["callbacks.snapshots.every=-5"], "callbacks.snapshots.every must be a positive integer"),
        (["model.hidden=[2,0]"], "model.hidden sizes must be positive integers"),
        (["model=manual", "+model.rule=guess"], "model.rule='guess' is unknown; choose one of exact, lab"),
        (["data.noise=nan"], "data.noise must be a standard deviation >= 0"),
        (["data.samples_per_corner=1000000000000"], "samples per corner fit"),  # more than memory: says how many fit
        (["data.samples_per_corner=3", "data.split=[0.1,0.1,0.8]"], "is too few to split"),
        # Settings the model would ignore.
        (["model=manual", "+optimizer.weight_decay=0.1"], "optimizer.weight_decay=0.1 would be ignored"),
        (["model=manual_lab", "optimizer=adam"], "use optimizer=sgd, not optimizer=adam"),
    ],
)
def test_values_out_of_bounds_are_refused_before_training(make_cfg, tmp_path, overrides, fragment):
    assert fragment in refusal(make_cfg, tmp_path, *overrides)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        (["study.seeds=0"], "study.seeds must be a positive integer"),
        (["study.seeds=1000000000"], "seeds per shard fit; split them into more shards (study.shards)"),
        (["study.seeds=1000000000", "study.shards=10"], "seeds per shard fit"),
        (["study.first_seed=-1"], "study.first_seed must be an integer from 0 to 2**32 - study.seeds"),
        (["study.seeds=10", "study.first_seed=4294967290"], "study.first_seed must be an integer from 0 to 2**32"),
        (["trainer.devices=2"], "the seed study trains its copies in one process"),
        (["trainer.strategy=ddp"], "the seed study trains its copies in one process"),
        (["trainer.num_nodes=2"], "the seed study trains its copies in one process"),
        (["model=manual", "optimizer=adam"], "use optimizer=sgd"),
        (["study.shards=0"], "study.shards must be a positive integer"),
        (["study.seeds=3", "study.shards=4"], "study.shards=4 is more than study.seeds=3"),
        (["study.shards=4", "study.shard=4"], "study.shard must be an integer from 0 to study.shards - 1 = 3, got 4"),
        (["study.shards=4", "study.shard=-1"], "study.shard must be an integer from 0 to study.shards - 1"),
    ],
)
def test_every_study_setting_is_checked_before_training(make_cfg, tmp_path, overrides, fragment):
    assert fragment in refusal(make_cfg, tmp_path, *overrides, config="study")


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        # Names: one folder name, never a path.
        (["name=../../x"], "name must be one folder name"),
        (["name=/etc/x"], "name must be one folder name"),
        (["name=a/b"], "name must be one folder name"),
        (["name="], "name must be one folder name"),
        (["name=.."], "name must be one folder name"),
        (["name=.hidden"], "name must be one folder name"),
        (["name=-x"], "name must be one folder name"),
        # Paths: never empty (an empty one would write to the filesystem's root).
        (["paths.out_dir="], "paths.out_dir must be a path, got ''"),
        (["paths.models_dir="], "paths.models_dir must be a path"),
        (["paths.models_dir=' '"], "paths.models_dir must be a path"),
        (["paths.checkpoints_dir="], "paths.checkpoints_dir must be a path"),
        (["paths.data_dir="], "paths.data_dir must be a path"),
        (["paths.run_config="], "paths.run_config must be a path"),
        (["ckpt_path="], "ckpt_path must be a path"),
        (["resume_path="], "resume_path must be a path"),
        (["data.path="], "data.path must be a path"),
    ],
)
def test_names_and_paths_that_would_write_elsewhere_are_refused(make_cfg, tmp_path, overrides, fragment):
    assert fragment in refusal(make_cfg, tmp_path, *overrides)


@pytest.mark.parametrize(
    "taken, fragment",
    [
        ("models/mlp2/xor.ckpt/", "models/mlp2/xor.ckpt is a folder, where this run writes a file"),
        ("checkpoints/mlp2/xor.ckpt/", "checkpoints/mlp2/xor.ckpt is a folder, where this run writes a file"),
        ("run/snapshots/mlp2/xor.pt/", "xor.pt is a folder, where this run writes a file"),
        ("run/config.yaml/", "config.yaml is a folder, where this run writes a file"),
        ("dvclive/mlp2/xor", "dvclive/mlp2/xor is a file, where this run writes a folder"),
        ("models/mlp2", "models/mlp2 is a file, where this run needs a folder"),
        ("run", "run is a file, where this run needs a folder"),
    ],
)
def test_an_output_whose_place_is_taken_is_found_before_training(make_cfg, tmp_path, taken, fragment):
    place = tmp_path / taken
    place.parent.mkdir(parents=True, exist_ok=True)
    place.mkdir() if taken.endswith("/") else place.write_text("something else")
    assert fragment in refusal(make_cfg, tmp_path, f"paths.checkpoints_dir={tmp_path}/checkpoints")


def test_study_outputs_whose_place_is_taken_are_found_before_training(make_cfg, tmp_path):
    (tmp_path / "run/study/mlp2/xor.json").mkdir(parents=True)
    assert "xor.json is a folder, where this run writes a file" in refusal(make_cfg, tmp_path, config="study")


# --- files that are not what their path says -------------------------------------------------------


def test_a_data_file_of_another_function_is_refused(make_cfg, tmp_path, data_dir):
    (data_dir / "xor.csv").write_bytes((data_dir / "and.csv").read_bytes())
    assert "xor.csv does not hold xor's truth table" in refusal(make_cfg, tmp_path)


@pytest.mark.parametrize("damage", ["other_gate", "other_run", "other_inputs", "nan_weight", "inf_weight"])
def test_evaluation_refuses_a_checkpoint_that_is_not_the_one_its_path_names(trained, damage):
    from gatelab.core.gates import truth_table
    from gatelab.core.network import build_mlp
    from gatelab.infra.errors import GatelabError
    from gatelab.presentation.evaluation import evaluate_checkpoint

    ckpt = trained / "mlp2/xor.ckpt"
    state = torch.load(ckpt, weights_only=True)
    if damage == "other_gate":  # and.ckpt renamed to xor.ckpt
        state["config"]["data"]["gate"] = "and"
    elif damage == "other_run":  # mlp4's checkpoint copied into mlp2's place
        state["config"]["name"] = "mlp4"
    elif damage == "other_inputs":  # a three-input net, recorded as xor
        state["state_dict"] = {f"net.{k}": v for k, v in build_mlp([2], in_features=3).state_dict().items()}
        state["hyper_parameters"]["inputs"] = 3
    else:
        state["state_dict"]["net.0.weight"][0, 0] = float("nan" if damage == "nan_weight" else "inf")
    torch.save(state, ckpt)
    with pytest.raises(GatelabError) as refused:
        evaluate_checkpoint(ckpt, *truth_table("xor"), "mlp2", "xor")
    fragment = {
        "other_gate": "holds the run mlp2 on and, not mlp2 on xor",
        "other_run": "holds the run mlp4 on xor, not mlp2 on xor",
        "other_inputs": "was trained on 3 inputs but xor has 2",
        "nan_weight": "holds weights that are NaN or infinite",
        "inf_weight": "holds weights that are NaN or infinite",
    }[damage]
    assert fragment in str(refused.value) and "\n" not in str(refused.value)


@pytest.mark.parametrize(
    "content, fragment",
    [
        ({"model": "mlp2", "gate": "xor"}, "is not the study of mlp4 on xor (it records mlp2 on xor"),
        ({"model": "mlp4", "gate": "and"}, "is not the study of mlp4 on xor (it records mlp4 on and"),
        ([1, 2, 3], "is not the study of mlp4 on xor"),
        (None, "is not valid JSON"),
    ],
)
def test_a_study_file_of_another_run_is_refused(tmp_path, content, fragment):
    from gatelab.infra.errors import GatelabError
    from gatelab.presentation.evaluation import read_study

    path = tmp_path / "study/mlp4/xor.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(content) if content is not None else '{"model": "mlp4", "ga')  # None: truncated
    with pytest.raises(GatelabError) as refused:
        read_study(tmp_path / "study", "mlp4", "xor")
    assert fragment in str(refused.value)


@slow
def test_animate_refuses_snapshots_of_another_run(trained, tmp_path):
    theirs = tmp_path / "run/snapshots/mlp2/xor.pt"  # written by the trained fixture's run
    ours = tmp_path / "copied/mlp4/xor.pt"
    ours.parent.mkdir(parents=True)
    ours.write_bytes(theirs.read_bytes())
    out = run_cli("src/animate.py", "--snapshots-dir", str(tmp_path / "copied"), "mlp4/xor", "--out-dir", str(tmp_path / "pictures"))
    assert_one_line_error(out, "holds the snapshots of mlp2 on xor, not of mlp4/xor")
    assert not (tmp_path / "pictures").exists()
    out = run_cli("src/animate.py", "--snapshots-dir", str(tmp_path / "copied"), "../mlp4/xor", "--out-dir", str(tmp_path / "p"))
    assert_one_line_error(out, "is neither a snapshots file (.pt) nor <name>/<gate>")


# --- half-written sets, and two writers at once -------------------------------------------------------


def test_files_written_together_appear_together_or_not_at_all(tmp_path):
    from gatelab.infra.files import atomic_write_text, written_together

    with pytest.raises(RuntimeError), written_together():
        atomic_write_text(tmp_path / "a.json", "1")
        atomic_write_text(tmp_path / "sub/b.md", "2")
        raise RuntimeError("the second half of the work failed")
    assert files_in(tmp_path) == set()  # neither, and no temporary file left
    with written_together():
        atomic_write_text(tmp_path / "a.json", "1")
        atomic_write_text(tmp_path / "a.json", "1 again")  # written twice: the last one lands
        atomic_write_text(tmp_path / "sub/b.md", "2")
        assert not (tmp_path / "a.json").exists()  # not before the block ends
    assert {p.name: p.read_text() for p in files_in(tmp_path)} == {"a.json": "1 again", "b.md": "2"}


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    from gatelab.infra.files import atomic_write_text

    alive = tmp_path / f".out.json.{os.getpid()}.abc123.tmp"  # this process is writing it
    dead = tmp_path / ".out.json.999999999.def456.tmp"  # no such process: left by a killed writer
    for tmp in (alive, dead):
        tmp.write_text("partial")
    atomic_write_text(tmp_path / "out.json", "{}")
    assert alive.exists() and not dead.exists()


def test_a_study_that_fails_while_writing_leaves_neither_file(make_cfg, tmp_path, monkeypatch):
    from gatelab.presentation import plots
    from gatelab.recipes.study import run_study

    def broken_picture(result, path):
        raise OSError("disk full")

    monkeypatch.setattr(plots, "study_png", broken_picture)
    with pytest.raises(OSError):
        run_study(make_cfg("study.seeds=3", "trainer.max_steps=100", config="study"))
    assert not any(p.suffix in (".json", ".png") for p in files_in(tmp_path / "run"))


@slow
def test_an_evaluation_that_fails_late_writes_nothing(trained, data_dir, tmp_path):
    """The studies are read after every checkpoint was scored and drawn: a missing one must not
    leave the metrics and pictures of the others behind."""
    out = run_cli(
        "src/evaluate.py", "--models", "mlp2", "--gates", "xor", "--data-dir", str(data_dir), "--models-dir", str(trained),
        "--study-dir", str(tmp_path / "no-studies"), "--out-dir", str(tmp_path / "out"),
    )  # fmt: skip
    assert_one_line_error(out, "no-studies/mlp2/xor.json not found")
    assert not (tmp_path / "out").exists() or files_in(tmp_path / "out") == set()


@slow
@pytest.mark.parametrize("command", ["train", "study", "evaluate"])
def test_a_second_writer_of_the_same_outputs_is_refused(trained, data_dir, tmp_path, command):
    from gatelab.infra.files import sole_writer

    out_dir = tmp_path / "busy"
    args, outputs = {
        "train": (["src/train.py", f"paths.data_dir={data_dir}", f"paths.out_dir={out_dir}",
                   f"paths.checkpoints_dir={out_dir}/checkpoints"], [out_dir / "models/mlp2/xor.ckpt"]),
        "study": (["src/study.py", f"paths.data_dir={data_dir}", f"paths.out_dir={out_dir}", "study.seeds=3"],
                  [out_dir / "study/mlp2/xor.json"]),
        "evaluate": (["src/evaluate.py", "--models", "mlp2", "--gates", "xor", "--data-dir", str(data_dir),
                      "--models-dir", str(trained), "--out-dir", str(out_dir)], [out_dir / "reports/summary.md"]),
    }[command]  # fmt: skip
    (tmp_path / "another-tmp").mkdir()
    with sole_writer(outputs, "test"):  # as a first process writing them would
        # (with another temp folder, as on another node of a cluster: the lock is beside the outputs)
        out = run_cli(*args, env={"TMPDIR": str(tmp_path / "another-tmp")})
    assert_one_line_error(out, f"is writing {outputs[0]} right now; wait for it to end, or write elsewhere")
    assert not any(p.suffix in (".ckpt", ".json", ".md", ".png") for p in files_in(tmp_path / "busy"))


# --- sweeps: every job is checked before the first one runs ------------------------------------------


@slow
@pytest.mark.parametrize(
    "command, sweep, fragment",
    [
        (
            "src/train.py",
            "model=mlp2,perceptron optimizer.lr=1,-1",
            "job #1 of 4 (model=mlp2 optimizer.lr=-1): optimizer.lr must be a positive number, got -1",
        ),
        ("src/train.py", "data.gate=xor,parity5", "job #1 of 2 (data.gate=parity5): "),  # no data file for it
        ("src/train.py", "model=mlp2,mlp9", "job #1 of 2 (model=mlp9): Could not find 'model/mlp9'"),
        ("src/train.py", "name=a,../b", "job #1 of 2 (name=../b): name must be one folder name"),
        ("src/study.py", "model=mlp2,manual optimizer=sgd,adam", "job #3 of 4 (model=manual optimizer=adam): "),
        ("src/study.py", "study.seeds=10,0", "job #1 of 2 (study.seeds=0): study.seeds must be a positive integer"),
    ],
)
def test_a_sweep_with_one_bad_job_runs_none(tmp_path, data_dir, command, sweep, fragment):
    out = run_cli(command, "--multirun", *sweep.split(), f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path}/sweep")
    assert_one_line_error(out, fragment)
    assert not (tmp_path / "sweep").exists() or files_in(tmp_path / "sweep") == set()
