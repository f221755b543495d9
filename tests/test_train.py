"""`python src/train.py`: every model x gate, overrides, checkpoints, and the command line itself."""

import csv
import json
import subprocess

import pytest
import torch

from conftest import ROOT, run_cli
from gatelab.core.gates import GATES

MODELS = ["perceptron", "mlp2", "mlp4", "manual"]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("gate", list(GATES))
def test_every_model_trains_on_every_gate(make_cfg, model, gate):
    from gatelab.recipes.training import train

    result = train(make_cfg(f"model={model}", f"data={gate}", "trainer.max_steps=150"))

    assert result["model"] == model and result["gate"] == gate
    assert 0 < result["steps"] <= 150
    ckpt = torch.load(result["checkpoint"], weights_only=True)  # plain values only: loads safely
    assert result["checkpoint"].endswith(f"{model}/{gate}.ckpt")
    assert ckpt["global_step"] == result["steps"]
    assert ckpt["hyper_parameters"]["hidden"] == {"perceptron": [], "mlp4": [10, 10, 10]}.get(model, [2])
    # Every model's checkpoint records the resolved run config the same way: seed, optimizer, data.
    config = ckpt["config"]
    assert config["seed"] == 777 and config["data"]["gate"] == gate and config["trainer"]["max_steps"] == 150
    assert config["optimizer"] == {"_target_": "torch.optim.SGD", "_partial_": True, "lr": 1.0}


def final_weights(result):
    return torch.load(result["checkpoint"], weights_only=True)["state_dict"]


def test_overrides_reach_the_run(make_cfg):
    from gatelab.recipes.training import train

    base = train(make_cfg("trainer.max_steps=300", "callbacks=none"))
    assert base["steps"] == 300  # no early stopping: the full budget
    base_weights = final_weights(base)  # the next runs overwrite models/mlp2/xor.ckpt

    slow = train(make_cfg("trainer.max_steps=300", "callbacks=none", "optimizer.lr=0.1"))
    ckpt = torch.load(slow["checkpoint"], weights_only=True)
    assert ckpt["hyper_parameters"]["optimizer"] == {"name": "SGD", "lr": 0.1}
    assert slow["loss"] != base["loss"]

    other_seed = train(make_cfg("trainer.max_steps=300", "callbacks=none", "seed=1"))
    assert not torch.equal(final_weights(other_seed)["net.0.weight"], base_weights["net.0.weight"])

    wide = train(make_cfg("trainer.max_steps=100", "model.hidden=[8,8]", "model.activation=tanh"))
    ckpt = torch.load(wide["checkpoint"], weights_only=True)
    assert ckpt["hyper_parameters"] == {
        "hidden": [8, 8], "activation": "tanh", "steps_per_batch": 50, "inputs": 2, "log_grad_norms": False,
        "optimizer": {"name": "SGD", "lr": 1.0},
    }  # fmt: skip
    assert [tuple(w.shape) for k, w in ckpt["state_dict"].items() if k.endswith("weight")] == [(8, 2), (8, 8), (1, 8)]

    adam = train(make_cfg("trainer.max_steps=100", "optimizer=adam", "optimizer.lr=0.05"))
    assert torch.load(adam["checkpoint"], weights_only=True)["hyper_parameters"]["optimizer"] == {"name": "Adam", "lr": 0.05}


def test_same_seed_gives_identical_checkpoint_weights(make_cfg):
    from gatelab.recipes.training import train

    first = final_weights(train(make_cfg("data=xnor", "trainer.max_steps=400")))
    second = final_weights(train(make_cfg("data=xnor", "trainer.max_steps=400")))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_early_stopping_ends_a_solved_run_and_a_stuck_one(make_cfg):
    from gatelab.recipes.training import train

    solved = train(make_cfg("model=perceptron", "data=or"))
    assert solved["accuracy"] == 1.0 and solved["loss"] < 0.05 and solved["steps"] < 1000

    stuck = train(make_cfg("model=perceptron", "data=xor"))
    assert stuck["accuracy"] <= 0.75 and abs(stuck["loss"] - 0.693147) < 1e-5
    assert stuck["steps"] < 2000  # the ln 2 plateau is detected, not run to 10001 steps


def test_csv_logger_records_the_curves(make_cfg, tmp_path):
    import csv

    from gatelab.recipes.training import train

    result = train(make_cfg("logger=csv", "model=perceptron", "data=xor", "trainer.max_steps=300", "callbacks=none"))
    rows = list(csv.DictReader((tmp_path / "logs/perceptron/xor/metrics.csv").open()))
    assert [int(r["step"]) for r in rows] == [0, 100, 200, 300]  # the start, then once per epoch
    assert float(rows[-1]["train/loss"]) == pytest.approx(0.6931, abs=1e-3) and result["steps"] == 300


def git_state() -> tuple[str, ...]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout

    return git("status", "--porcelain"), git("for-each-ref"), git("stash", "list")


def test_dvclive_records_the_curves_and_leaves_git_alone(make_cfg, tmp_path):
    """dvclive logs inside this DVC repository (the dangerous case: by default it would run
    `dvc exp save`, which git-adds files) and writes only its own folder."""
    from gatelab.recipes.training import train

    before = git_state()
    train(make_cfg("model=perceptron", "data=xor", "trainer.max_steps=300", "callbacks=none"))
    run = tmp_path / "dvclive/perceptron/xor"
    for metric in ("loss", "acc"):
        rows = list(csv.DictReader((run / f"plots/metrics/train/{metric}.tsv").open(), delimiter="\t"))
        assert [int(r["step"]) for r in rows] == [0, 100, 200, 300]  # the start, then once per epoch
    assert float(rows[-1]["acc"]) <= 0.75
    from gatelab.core.gates import truth_table
    from gatelab.core.reference import train_plain

    x, y = truth_table("xor")
    untrained, _ = train_plain(x, y, [], seed=777, steps=0)  # the lab's initial weights
    with torch.no_grad():
        initial_loss = torch.nn.functional.binary_cross_entropy(untrained(x), y).item()
    first = next(csv.DictReader((run / "plots/metrics/train/loss.tsv").open(), delimiter="\t"))
    assert float(first["loss"]) == pytest.approx(initial_loss, abs=1e-6)
    assert json.loads((run / "metrics.json").read_text())["step"] == 300
    assert git_state() == before


def test_noisy_data_is_validated_every_epoch_and_tested_by_evaluate(make_cfg, tmp_path, data_dir):
    from gatelab.recipes.training import train

    noisy = ("data.noise=0.15", "data.samples_per_corner=20", "callbacks=none", "trainer.max_steps=400")
    result = train(make_cfg("model=mlp2", "data=and", *noisy))
    val = list(csv.DictReader((tmp_path / "dvclive/mlp2/and/plots/metrics/val/loss.tsv").open(), delimiter="\t"))
    assert [int(r["step"]) for r in val] == [100, 200, 300, 400]

    out = run_cli(
        "src/evaluate.py", "--models", "mlp2", "--gates", "and", "--data-dir", str(data_dir),
        "--models-dir", str(tmp_path / "models"), "--metrics-dir", str(tmp_path / "metrics"),
        "--plots-dir", str(tmp_path / "plots"), "--report", str(tmp_path / "report.md"),
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    metrics = json.loads((tmp_path / "metrics/mlp2/and.json").read_text())
    # The run is judged on its validation set: the summary is the last validation's (at the last step).
    assert result["on"] == "val" and abs(result["loss"] - float(val[-1]["loss"])) < 1e-6
    assert 0 <= metrics["accuracy"] <= 1  # evaluation scores the truth table, as for every run ...
    counts = metrics["test"]["confusion_matrix"]  # ... and the test set: 20% of 20 points per corner: 4 test points each
    assert counts["tn"] + counts["fp"] == 3 * 4 and counts["tp"] + counts["fn"] == 4  # AND: one corner is 1
    assert metrics["test"]["accuracy"] >= 0.75
    assert f"| mlp2 | and | {metrics['test']['accuracy']:.2f} |" in (tmp_path / "report.md").read_text()


def test_any_of_the_sixteen_functions_and_parity_by_name(make_cfg):
    from gatelab.recipes.training import train

    # f1011 = "x1 OR NOT x2": outputs 1, 0, 1, 1 for 00, 01, 10, 11.
    implication = train(make_cfg("model=perceptron", "data.gate=f1011"))
    assert implication["accuracy"] == 1.0
    # Three-input parity is not linearly separable either; one hidden layer of three solves it.
    assert train(make_cfg("model=perceptron", "data.gate=parity3"))["accuracy"] < 1.0
    hidden = train(make_cfg("model=mlp2", "model.hidden=[3]", "data.gate=parity3"))
    assert hidden["accuracy"] == 1.0 and hidden["checkpoint"].endswith("mlp2/parity3.ckpt")


def test_manual_refuses_an_optimizer_it_does_not_implement(make_cfg):
    from gatelab.infra.errors import user_error_in
    from gatelab.recipes.training import train

    with pytest.raises(Exception) as info:
        train(make_cfg("model=manual", "optimizer=adam"))
    assert "use optimizer=sgd, not optimizer=adam" in str(user_error_in(info.value))


# --- the command line, as a user runs it ------------------------------------------------------


def test_help_lists_groups_and_options():
    out = run_cli("src/train.py", "--help")
    assert out.returncode == 0
    assert "model: deep, manual, manual_lab, mlp2, mlp4, perceptron" in out.stdout
    assert "data: and, gate, nand, nor, or, xnor, xor" in out.stdout
    assert "optimizer: adam, sgd" in out.stdout
    assert "max_steps: 10001" in out.stdout and "seed: 777" in out.stdout


@pytest.mark.slow
def test_default_run_trains_mlp2_on_xor_and_prints_a_summary(tmp_path, data_dir):
    out = run_cli("src/train.py", f"paths.data_dir={data_dir}", f"paths.models_dir={tmp_path}/models")
    assert out.returncode == 0, out.stderr
    summary = out.stdout.strip().splitlines()[-1]
    assert summary.startswith("mlp2 on xor: ") and "accuracy 1.00" in summary
    assert summary.endswith(f"{tmp_path}/models/mlp2/xor.ckpt")
    assert (tmp_path / "models/mlp2/xor.ckpt").is_file()
    assert not (ROOT / "outputs").exists() or not any((ROOT / "outputs").glob("20*"))  # no Hydra run dirs


@pytest.mark.slow
def test_gpu_request_without_a_gpu_is_one_clear_line(tmp_path, data_dir):
    out = run_cli(
        "src/train.py",
        "trainer.accelerator=gpu",
        f"paths.data_dir={data_dir}",
        f"paths.models_dir={tmp_path}",
        env={"CUDA_VISIBLE_DEVICES": ""},  # no GPU, even on a machine that has one
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "error: trainer.accelerator=gpu: no GPU found on this machine; run with trainer.accelerator=cpu or trainer.accelerator=auto"
    )
    assert not any(tmp_path.rglob("*.ckpt"))


@pytest.mark.slow
def test_unknown_option_names_the_choices():
    out = run_cli("src/train.py", "model=mlp9")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "mlp9" in out.stderr and "perceptron" in out.stderr


@pytest.mark.slow
def test_runs_by_hand_each_get_a_folder_of_their_own_and_leave_the_repository_alone(tmp_path, data_dir):
    """A sweep of one model over two settings (the README's deep-net sweep, smaller): two folders,
    each with its checkpoint, its curves and its resolved config; nothing written elsewhere."""
    import yaml

    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    out = run_cli(
        "src/train.py", "--multirun", "model=perceptron", "model.activation=sigmoid,tanh", "trainer.max_steps=100",
        f"paths.data_dir={data_dir}", f"hydra.sweep.dir={tmp_path}/sweep", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    folders = sorted(p for p in (tmp_path / "sweep").iterdir() if p.is_dir() and not p.name.startswith("."))
    assert [f.name for f in folders] == ["0_perceptron_xor", "1_perceptron_xor"]
    for folder, activation in zip(folders, ["sigmoid", "tanh"]):
        assert (folder / "models/perceptron/xor.ckpt").is_file() and (folder / "dvclive/perceptron/xor").is_dir()
        config = yaml.safe_load((folder / "config.yaml").read_text())
        assert config["model"]["activation"] == activation and config["paths"]["out_dir"] == str(folder)
        assert "${" not in (folder / "config.yaml").read_text()  # resolved
        assert f"-> {folder}/models/perceptron/xor.ckpt" in out.stdout or f"{folder.name}/models/perceptron/xor.ckpt" in out.stdout
    checkpoint = torch.load(folders[1] / "models/perceptron/xor.ckpt", weights_only=True)
    assert checkpoint["config"]["model"]["activation"] == "tanh" and checkpoint["config"]["seed"] == 777
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == before


def test_the_deep_net_logs_each_layers_gradient_norm(make_cfg, tmp_path):
    """conf/model/deep.yaml: log_grad_norms, one curve per layer (the notes' vanishing-gradient claim)."""
    from gatelab.recipes.training import train

    train(make_cfg("model=deep", "data=xor", "trainer.max_steps=300", "callbacks=none"))
    curves = tmp_path / "dvclive/deep/xor/plots/metrics/grad_norm"
    assert sorted(p.name for p in curves.iterdir()) == [f"layer{k}.tsv" for k in (1, 2, 3, 4)]
    for k in (1, 2, 3, 4):
        rows = list(csv.DictReader((curves / f"layer{k}.tsv").open(), delimiter="\t"))
        assert [int(r["step"]) for r in rows] == [100, 200, 300] and all(float(r[f"layer{k}"]) > 0 for r in rows)
    assert not (tmp_path / "dvclive/mlp2").exists()
    train(make_cfg("model=mlp2", "data=xor", "trainer.max_steps=100", "callbacks=none"))
    assert not (tmp_path / "dvclive/mlp2/xor/plots/metrics/grad_norm").exists()  # off by default


def test_double_precision_gives_the_default_answers(make_cfg):
    """trainer.precision=64-true trains in float64 to the same end as float32 (half precisions are
    refused: tests/test_robustness.py)."""
    from gatelab.recipes.training import train

    single = train(make_cfg("trainer.max_steps=3000"))
    double = train(make_cfg("trainer.max_steps=3000", "+trainer.precision=64-true", "name=double"))
    assert (double["steps"], double["accuracy"]) == (single["steps"], single["accuracy"])
    assert abs(double["loss"] - single["loss"]) < 1e-5
    weights = torch.load(double["checkpoint"], weights_only=True)["state_dict"]
    assert all(w.dtype == torch.float64 for w in weights.values())


def test_any_number_of_devices_lightning_accepts(make_cfg):
    """trainer.devices=auto (on CPUs: one process) trains exactly as the default."""
    from gatelab.recipes.training import train

    default = train(make_cfg("data=and"))
    auto = train(make_cfg("data=and", "trainer.devices=auto", "name=auto"))
    assert (auto["steps"], auto["loss"]) == (default["steps"], default["loss"])


@pytest.mark.parametrize("rows", [1, 2, 4, 8, 16, 60, 1000])
def test_a_loss_below_the_solved_threshold_means_every_row_right(rows):
    """Whatever the outputs, a run with a wrong row has a loss at or above the threshold that early
    stopping uses; on 4 rows (every two-input gate) the threshold is solved_below itself."""
    import math

    from gatelab.core.solved import solved_threshold

    threshold = solved_threshold(0.05, rows)
    assert threshold <= 0.05 and (threshold == 0.05) == (rows <= 13)  # ln 2 / 13 = 0.053; ln 2 / 14 = 0.0495
    generator = torch.Generator().manual_seed(rows)
    for _ in range(200):
        y = torch.randint(0, 2, (rows, 1), generator=generator).float()
        # Confident right answers everywhere, but one row just on the wrong side of 0.5.
        p = torch.where(y > 0.5, 1 - 1e-7, 1e-7)
        wrong = int(torch.randint(0, rows, (1,), generator=generator))
        p[wrong] = 0.5 - 1e-4 if y[wrong] > 0.5 else 0.5 + 1e-4
        assert torch.nn.functional.binary_cross_entropy(p, y).item() >= threshold
    assert math.log(2) / rows >= threshold


@pytest.mark.parametrize(
    "data, monitor, rows",
    [
        (("data=xor",), "train/loss", 4),
        (("data.gate=parity4",), "train/loss", 16),
        (("data=and", "data.noise=0.1", "data.samples_per_corner=10"), "val/loss", 8),  # 20% of 10 per corner
        (("data=and", "data.samples_per_corner=5", "data.split=[0.8,0,0.2]"), "train/loss", 16),  # no validation set
    ],
)
def test_early_stopping_watches_the_set_that_judges_the_run(make_cfg, data, monitor, rows):
    from types import SimpleNamespace

    from hydra.utils import instantiate

    from gatelab.core.solved import solved_threshold

    cfg = make_cfg(*data)
    stopping = instantiate(cfg.callbacks.early_stopping)
    stopping.setup(SimpleNamespace(datamodule=instantiate(cfg.data)), None, "fit")
    assert stopping.monitor == monitor
    assert stopping.stopping_threshold == solved_threshold(cfg.solved_below, rows)


@pytest.mark.parametrize("gpu", ["CUDAAccelerator", "MPSAccelerator"])  # an NVIDIA card; Apple silicon
def test_a_cpu_run_on_a_machine_with_a_gpu_is_not_told_to_use_it(monkeypatch, gpu):
    """gatelab trains on the CPU by choice (faster for a 4-row batch, and bit-reproducible), so
    Lightning's hint that a GPU is available but not used would only mislead: the run is quiet."""
    import warnings

    import lightning as L
    from lightning.pytorch import accelerators

    from gatelab.infra.compat import quiet_lightning

    monkeypatch.setattr(getattr(accelerators, gpu), "is_available", staticmethod(lambda: True))
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        quiet_lightning()
        L.Trainer(accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False)
    assert [str(w.message) for w in shown] == []
