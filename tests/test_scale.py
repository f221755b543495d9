"""Scale-out through Lightning's own strategies: DDP on two CPU processes (gloo) trains correctly."""

import pytest
import torch

from conftest import run_cli

pytestmark = pytest.mark.slow  # every test here starts gatelab processes


def test_ddp_on_two_cpu_processes_trains_like_one_process(tmp_path, data_dir):
    common = [
        "model=mlp2", "data=xor", "callbacks=none", "trainer.max_steps=300", f"paths.data_dir={data_dir}",
        "trainer.enable_progress_bar=false",
    ]  # fmt: skip
    one = run_cli("src/train.py", *common, f"paths.models_dir={tmp_path}/one")
    assert one.returncode == 0, one.stderr
    ddp = run_cli(
        "src/train.py", *common, "trainer.strategy=ddp", "trainer.devices=2", "trainer.accelerator=cpu",
        f"paths.models_dir={tmp_path}/ddp",
    )  # fmt: skip
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in ddp.stdout + ddp.stderr  # two processes
    summaries = [line for line in ddp.stdout.splitlines() if line.startswith("mlp2 on xor:")]
    assert len(summaries) == 1  # rank 0 reports; rank 1 trains in step and stays quiet

    ours = torch.load(tmp_path / "ddp/mlp2/xor.ckpt", weights_only=True)
    single = torch.load(tmp_path / "one/mlp2/xor.ckpt", weights_only=True)
    assert ours["global_step"] == single["global_step"] == 300
    # Both processes see the full batch, so the all-reduced (averaged) gradient is each one's own.
    for name, weight in single["state_dict"].items():
        assert torch.allclose(ours["state_dict"][name], weight, atol=1e-6, rtol=0), name


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
