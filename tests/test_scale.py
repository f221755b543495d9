"""Scale-out through Lightning's own strategies: DDP on two CPU processes (gloo) trains correctly."""

import pytest
import torch

from conftest import run_cli

pytestmark = pytest.mark.slow  # every test here starts gatelab processes


@pytest.mark.parametrize("gate", ["xor", "and"])  # the perceptron: stuck on XOR, solves AND
def test_ddp_on_two_cpu_processes_ends_where_one_process_ends(tmp_path, data_dir, gate):
    """With every callback on (early stopping, snapshots, curves): the same steps, the same weights,
    the same curves. Each process trains on the whole batch, so the averaged gradient is its own."""
    common = ["model=perceptron", f"data={gate}", f"paths.data_dir={data_dir}", "trainer.enable_progress_bar=false"]
    one = run_cli("src/train.py", *common, f"paths.out_dir={tmp_path}/one")
    assert one.returncode == 0, one.stderr
    ddp = run_cli(
        "src/train.py", *common, "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
        f"paths.out_dir={tmp_path}/ddp",
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in ddp.stdout + ddp.stderr  # two processes
    summaries = [line for line in ddp.stdout.splitlines() if line.startswith(f"perceptron on {gate}:")]
    assert len(summaries) == 1  # rank 0 reports; rank 1 trains in step and stays quiet

    ours = torch.load(tmp_path / f"ddp/models/perceptron/{gate}.ckpt", weights_only=True)
    single = torch.load(tmp_path / f"one/models/perceptron/{gate}.ckpt", weights_only=True)
    assert ours["global_step"] == single["global_step"] < 10001  # early stopping ended both, at one step
    for name, weight in single["state_dict"].items():
        assert torch.equal(ours["state_dict"][name], weight), name
    curves = sorted((tmp_path / "one/dvclive").rglob("*.tsv"))
    assert curves and all(c.read_bytes() == (tmp_path / "ddp" / c.relative_to(tmp_path / "one")).read_bytes() for c in curves)
    snapshots = [torch.load(tmp_path / f"{run}/snapshots/perceptron/{gate}.pt", weights_only=True) for run in ("one", "ddp")]
    assert torch.equal(snapshots[0]["weights"], snapshots[1]["weights"])


def test_a_hydra_sweep_over_models_and_learning_rates_keeps_every_run(tmp_path, data_dir):
    out = run_cli(
        "src/train.py", "--multirun", "model=mlp2,mlp4", "optimizer.lr=0.1,1,3",
        "name=${hydra:runtime.choices.model}-lr${optimizer.lr}",  # one checkpoint per combination
        "trainer.max_steps=100", f"paths.data_dir={data_dir}", f"paths.models_dir={tmp_path}/models",
        "trainer.enable_progress_bar=false", f"hydra.sweep.dir={tmp_path}/multirun",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    runs = {f"{m}-lr{lr}" for m in ("mlp2", "mlp4") for lr in ("0.1", "1", "3")}
    assert {p.parent.name for p in (tmp_path / "models").glob("*/xor.ckpt")} == runs
    for run in runs:
        lr = float(run.split("-lr")[1])
        ckpt = torch.load(tmp_path / f"models/{run}/xor.ckpt", weights_only=True)
        assert ckpt["hyper_parameters"]["optimizer"]["lr"] == lr  # each run got its own setting
    assert sum(line.endswith("xor.ckpt") for line in out.stdout.splitlines()) == 6
