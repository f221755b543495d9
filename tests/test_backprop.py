"""Hand-written backprop computes the true gradient of the mean BCE: it must equal autograd's."""

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from gatelab.backprop import ManualBackpropMLP
from gatelab.core.chain_rule import bce
from gatelab.core.gates import truth_table, write_gate_csv
from gatelab.core.network import linear_layers
from gatelab.data import GateDataModule
from gatelab.models import GateMLP

ARCHITECTURES = [([], "sigmoid"), ([2], "sigmoid"), ([10, 10, 10], "sigmoid"), ([5, 3], "tanh"), ([6, 4], "relu")]


def randomize(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * 2)


@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
@pytest.mark.parametrize("gate", ["xor", "and"])
def test_manual_gradients_equal_autograd_in_float64(hidden, activation, gate):
    model = ManualBackpropMLP(hidden, activation).double()
    randomize(model, seed=len(hidden) + len(gate))
    x, y = (t.double() for t in truth_table(gate))

    loss = F.binary_cross_entropy(model(x), y)
    loss.backward()
    with torch.no_grad():
        cache = model.forward_with_cache(x)
        manual = model.gradients(cache, y)
        assert torch.allclose(bce(cache[-1], y), loss, rtol=0, atol=1e-12)

    for layer, (d_w, d_b) in zip(linear_layers(model.net), manual):
        assert torch.allclose(d_w, layer.weight.grad, rtol=0, atol=1e-12)
        assert torch.allclose(d_b, layer.bias.grad, rtol=0, atol=1e-12)


@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
def test_manual_starts_from_the_autograd_models_weights(hidden, activation):
    torch.manual_seed(777)
    autograd = GateMLP(hidden, activation).net.state_dict()
    torch.manual_seed(777)
    manual = ManualBackpropMLP(hidden, activation).net.state_dict()
    assert all(torch.equal(manual[k], autograd[k]) for k in autograd)


def train_64(model, gate, steps, tmp_path):
    trainer = L.Trainer(
        max_steps=steps, accelerator="cpu", precision="64-true", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    path = write_gate_csv(gate, tmp_path / f"{gate}.csv")
    trainer.fit(model, datamodule=GateDataModule(gate, str(path), steps_per_epoch=100, steps_per_batch=50))
    return trainer


@pytest.mark.parametrize("hidden, activation", [([2], "sigmoid"), ([10, 10, 10], "sigmoid"), ([4], "tanh")])
def test_manual_and_autograd_training_end_at_the_same_weights(tmp_path, hidden, activation):
    steps, lr = 300, 0.5
    torch.manual_seed(777)
    autograd = GateMLP(hidden, activation, optimizer=lambda p: torch.optim.SGD(p, lr=lr))
    torch.manual_seed(777)
    manual = ManualBackpropMLP(hidden, activation, lr=lr)

    train_64(autograd, "xor", steps, tmp_path)
    trainer = train_64(manual, "xor", steps, tmp_path)

    assert trainer.global_step == steps  # Lightning counts the hand-made steps: max_steps stops it
    for (name, a), m in zip(autograd.net.state_dict().items(), manual.net.state_dict().values()):
        assert a.dtype == torch.float64
        assert torch.allclose(m, a, rtol=0, atol=1e-12), name
    torch.manual_seed(777)
    initial = GateMLP(hidden, activation).double().net.state_dict()
    moved = any(not torch.allclose(initial[k], manual.net.state_dict()[k]) for k in initial)
    assert moved, "training did not change the weights"


def test_manual_training_uses_neither_autograd_nor_torch_optim(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("the manual model must not call this")

    for owner, name in [(torch.Tensor, "backward"), (torch.autograd, "backward"), (torch.autograd, "grad")]:
        monkeypatch.setattr(owner, name, forbidden)
    for optimizer in (torch.optim.SGD, torch.optim.Adam):
        monkeypatch.setattr(optimizer, "step", forbidden)
    torch.manual_seed(777)
    model = ManualBackpropMLP([2], lr=1.0)
    before = [p.clone() for p in model.parameters()]
    trainer = train_64(model, "xor", 120, tmp_path)
    assert trainer.global_step == 120
    assert all(p.grad is None for p in model.parameters())  # autograd never filled a gradient
    assert any(not torch.equal(b.double(), p) for b, p in zip(before, model.parameters()))


@pytest.mark.parametrize("hidden, activation", ARCHITECTURES)
@pytest.mark.parametrize("gate", ["xor", "and"])
def test_the_notes_rule_is_sgd_with_n_times_the_rate_on_weights_and_the_rate_on_biases(hidden, activation, gate):
    """model=manual_lab, without its 1e-7, in float64: one step of the notes' rule equals one step of
    autograd SGD on the mean BCE with learning rate 4·lr for the weights and lr for the biases."""
    from gatelab.core.chain_rule import chain_rule, forward_with_cache

    lr, rows = 0.7, 4
    lab = ManualBackpropMLP(hidden, activation, lr=lr, rule="lab").double()
    randomize(lab, seed=len(hidden) + len(gate) + 1)
    with torch.no_grad():  # smaller weights: no output saturates to 0 or 1, where only autograd clamps
        for p in lab.parameters():
            p.mul_(0.25)
    reference = ManualBackpropMLP(hidden, activation).double()
    reference.load_state_dict(lab.state_dict())
    x, y = (t.double() for t in truth_table(gate))

    weights, biases = lab.layers()
    cache = forward_with_cache(weights, biases, lab.activations, x)
    assert ((cache[-1] > 1e-6) & (cache[-1] < 1 - 1e-6)).all()
    with torch.no_grad():
        for w, b, (d_w, d_b) in zip(weights, biases, chain_rule(weights, lab.activations, cache, y, rule="lab", lab_epsilon=0)):
            w -= lr * d_w
            b -= lr * d_b

    ref_weights, ref_biases = reference.layers()
    sgd = torch.optim.SGD([{"params": ref_weights, "lr": rows * lr}, {"params": ref_biases, "lr": lr}])
    F.binary_cross_entropy(reference(x), y).backward()
    sgd.step()
    for mine, theirs in zip([*weights, *biases], [*ref_weights, *ref_biases]):
        assert torch.allclose(mine, theirs, atol=1e-12, rtol=0)
    # ... and it is not the exact gradient's step (which would take lr for both)
    exact = ManualBackpropMLP(hidden, activation, lr=lr).double()
    exact.load_state_dict(reference.state_dict())  # any weights: the two rules' gradients differ
    grads = chain_rule(exact.layers()[0], exact.activations, exact.forward_with_cache(x), y)
    lab_grads = chain_rule(exact.layers()[0], exact.activations, exact.forward_with_cache(x), y, rule="lab", lab_epsilon=0)
    assert torch.allclose(lab_grads[-1][0], rows * grads[-1][0], atol=1e-12, rtol=0)
    assert torch.allclose(lab_grads[-1][1], grads[-1][1], atol=1e-12, rtol=0)


def test_manual_lab_trains_with_the_notes_rule_and_records_it(make_cfg):
    from gatelab.presentation.evaluation import load_network
    from gatelab.recipes.training import train

    lab = train(make_cfg("model=manual_lab", "data=xor", "callbacks=none", "trainer.max_steps=300"))
    exact = train(make_cfg("model=manual", "data=xor", "callbacks=none", "trainer.max_steps=300"))
    assert lab["loss"] != exact["loss"]  # same seed, same start: only the rule differs
    _, checkpoint = load_network(lab["checkpoint"])
    assert checkpoint["config"]["model"]["rule"] == "lab" and checkpoint["hyper_parameters"]["rule"] == "lab"
