"""The autograd models are the lab's networks, and Lightning trains them exactly as the lab's loop."""

import lightning as L
import pytest
import torch
from torch import nn

from gatelab.core.gates import truth_table
from gatelab.core.reference import train_plain
from gatelab.data import GateDataModule
from gatelab.models import GateMLP


def lab_mlp2():
    """Verbatim from the lab notes (after torch.manual_seed(777))."""
    linear1 = nn.Linear(2, 2, bias=True)
    linear2 = nn.Linear(2, 1, bias=True)
    return nn.Sequential(linear1, nn.Sigmoid(), linear2, nn.Sigmoid())


def lab_perceptron():
    linear = nn.Linear(2, 1, bias=True)
    return nn.Sequential(linear, nn.Sigmoid())


def lab_mlp4():
    return nn.Sequential(
        nn.Linear(2, 10), nn.Sigmoid(), nn.Linear(10, 10), nn.Sigmoid(),
        nn.Linear(10, 10), nn.Sigmoid(), nn.Linear(10, 1), nn.Sigmoid(),
    )  # fmt: skip


@pytest.mark.parametrize("hidden, lab_model", [([], lab_perceptron), ([2], lab_mlp2), ([10, 10, 10], lab_mlp4)])
def test_seed_777_gives_the_labs_initial_weights(hidden, lab_model):
    torch.manual_seed(777)
    expected = lab_model().state_dict()
    torch.manual_seed(777)
    ours = GateMLP(hidden).net.state_dict()
    assert list(ours) == list(expected)
    for key in expected:
        assert torch.equal(ours[key], expected[key]), key


def fit(model: L.LightningModule, gate: str, steps: int, tmp_path, steps_per_epoch=100, **trainer_kwargs) -> L.Trainer:
    from gatelab.core.gates import write_gate_csv

    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, **trainer_kwargs,
    )  # fmt: skip
    path = write_gate_csv(gate, tmp_path / f"{gate}.csv")
    datamodule = GateDataModule(gate, str(path), steps_per_epoch, steps_per_batch=model.steps_per_batch)
    trainer.fit(model, datamodule=datamodule)
    return trainer


@pytest.mark.parametrize("hidden, gate, steps_per_batch", [([2], "xor", 50), ([2], "xor", 1), ([], "and", 50), ([10, 10, 10], "xnor", 25)])
def test_lightning_follows_the_plain_loop_step_for_step(tmp_path, hidden, gate, steps_per_batch):
    steps = 237  # crosses epoch boundaries (100 steps each) and ends inside a batch
    x, y = truth_table(gate)
    plain_net, _ = train_plain(x, y, hidden, steps=steps)

    torch.manual_seed(777)
    model = GateMLP(hidden, optimizer=lambda params: torch.optim.SGD(params, lr=1.0), steps_per_batch=steps_per_batch)
    trainer = fit(model, gate, steps, tmp_path, steps_per_epoch=max(100, 2 * steps_per_batch))

    assert trainer.global_step == steps
    for (name, ours), theirs in zip(model.net.state_dict().items(), plain_net.state_dict().values()):
        assert torch.equal(ours, theirs), name


def test_hyperparameters_are_plain_values():
    """Checkpoints (weights_only=True) and dvclive's params.yaml both need plain values."""
    from omegaconf import ListConfig

    from gatelab.backprop import ManualBackpropMLP

    model = GateMLP(ListConfig([3, 4]), "tanh", optimizer=lambda p: torch.optim.SGD(p, lr=0.1), inputs=3)
    assert dict(model.hparams) == {"hidden": [3, 4], "activation": "tanh", "steps_per_batch": 50, "inputs": 3, "log_grad_norms": False}
    manual = ManualBackpropMLP(ListConfig([2]))
    for hparams in (model.hparams, model.hparams_initial, manual.hparams, manual.hparams_initial):
        assert type(hparams["hidden"]) is list


@pytest.mark.parametrize("hidden", [[0], [-3], [2.5], "abc", 5])
def test_bad_hidden_sizes_are_refused(hidden):
    from gatelab.infra.errors import GatelabError

    with pytest.raises(GatelabError, match="model.hidden"):
        GateMLP(hidden)


def test_unknown_activation_is_refused():
    from gatelab.infra.errors import GatelabError

    with pytest.raises(GatelabError, match="sigmoid, tanh, relu"):
        GateMLP([2], "swish")


def test_the_config_layer_knows_the_manual_model_by_its_path():
    """gatelab.config.record tells a manual-backprop config by its _target_ (the config layer
    imports no Lightning): that path is the class's, and both conf/model/manual*.yaml name it."""
    import yaml

    from conftest import CONF
    from gatelab.backprop import ManualBackpropMLP
    from gatelab.config.record import MANUAL_MODEL, trains_by_hand

    assert f"{ManualBackpropMLP.__module__}.{ManualBackpropMLP.__qualname__}" == MANUAL_MODEL
    by_hand = {path.stem for path in (CONF / "model").glob("*.yaml") if trains_by_hand(yaml.safe_load(path.read_text()))}
    assert by_hand == {"manual", "manual_lab"}
