"""The network every gatelab model shares: Linear layers and activations, ending in a sigmoid.

Plain torch, no Lightning, so evaluation, the animations and the plain-loop reference build it cheaply.
Layers are created in the same order as the lab's ``nn.Sequential``, so after
``torch.manual_seed(777)`` the initial weights are exactly the lab's.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from gatelab.infra.errors import GatelabError

ACTIVATIONS: dict[str, type[nn.Module]] = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


def build_mlp(hidden: Sequence[int], activation: str = "sigmoid", in_features: int = 2) -> nn.Sequential:
    """``in_features -> hidden[0] -> ... -> 1`` with ``activation`` between layers and a sigmoid output.

    ``hidden=[]`` is the single perceptron ``Linear(2, 1) + Sigmoid``.
    """
    check_activation(activation)
    sizes = [in_features, *hidden, 1]
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        is_output = i == len(sizes) - 2
        layers += [nn.Linear(fan_in, fan_out), nn.Sigmoid() if is_output else ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def linear_layers(net: nn.Sequential) -> list[nn.Linear]:
    """The net's Linear layers, input to output."""
    return [m for m in net if isinstance(m, nn.Linear)]


def check_hidden(hidden: Sequence[int]) -> list[int]:
    """Hidden layer sizes as a plain list of positive ints, or a one-line error."""
    try:
        sizes = [int(h) for h in hidden]
    except (TypeError, ValueError):
        raise GatelabError(f"model.hidden must be a list of layer sizes like [2] or [10,10,10], got {hidden}") from None
    if any(h < 1 for h in sizes) or any(int(h) != h for h in hidden):
        raise GatelabError(f"model.hidden sizes must be positive integers, got {list(hidden)}")
    return sizes


def check_activation(activation: object) -> None:
    if activation not in ACTIVATIONS:
        raise GatelabError(f"model.activation={activation!r} is unknown; choose one of {', '.join(ACTIVATIONS)}")


def architecture(inputs: int, hidden: Sequence[int]) -> str:
    """The net's layer sizes as its name: ``2-2-1`` (mlp2), ``2-10-10-10-1`` (mlp4), ``2-1`` (the perceptron)."""
    return "-".join(str(size) for size in [inputs, *hidden, 1])
