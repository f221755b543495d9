"""Planning a seed study from its config: the studies it stands for (one per learning rate of
``study.lrs``), each shard's seeds, whether its step is compiled, and the memory a copy needs."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, ListConfig, read_write

from gatelab.config.record import trains_by_hand
from gatelab.infra.errors import GatelabError


def study_cells(cfg: DictConfig) -> list[DictConfig]:
    """The studies a study config stands for: itself, or with ``study.lrs`` one per learning rate,
    each exactly the config that study alone would have (optimizer.lr=<rate>, named <name>-lr<rate>)."""
    lrs = cfg.study.get("lrs")
    if lrs is None:
        return [cfg]
    check_lrs(cfg, lrs)
    cells = []
    for lr in lrs:
        cell = copy.deepcopy(cfg)
        with read_write(cell):
            cell.name = f"{cfg.name}-lr{float(lr):g}"
            cell.optimizer.lr = float(lr)
            cell.study.lrs = None
        cells.append(cell)
    return cells


def check_lrs(cfg: DictConfig, lrs: object) -> None:
    numbers = isinstance(lrs, (list, ListConfig)) and all(isinstance(lr, (int, float)) and not isinstance(lr, bool) for lr in lrs)
    if not numbers or not lrs or not all(0 < lr < math.inf for lr in lrs):
        raise GatelabError(f"study.lrs must be a list of positive learning rates like [0.1,1,10] (or null), got {lrs}")
    if len({float(lr) for lr in lrs}) != len(lrs):
        raise GatelabError(f"study.lrs={list(lrs)} names a learning rate twice")
    if trains_by_hand(cfg.model):
        raise GatelabError(
            f"study.lrs trains several learning rates at once through the optimizer; model={cfg.name} (hand-written "
            "backprop) takes one: set optimizer.lr, or sweep it (--multirun optimizer.lr=...)"
        )


def shard_range(first_seed: int, seeds: int, shard: int, shards: int) -> range:
    """Shard ``shard`` of ``shards`` of the seeds ``first_seed .. first_seed + seeds - 1``: consecutive
    seeds, the shards as equal as they can be."""
    return range(first_seed + shard * seeds // shards, first_seed + (shard + 1) * seeds // shards)


# Copies (seeds times study.lrs) from which study.compile=auto compiles the step: below, compiling
# (seconds) costs more than it saves over a full budget (bench/study_scale.py measures both). Under
# plain SGD the step is a fused program compiled once per net in a process, for every study of a sweep
# (gatelab.recipes.batched): from 1000 copies. Other optimizers compile per study: from 10,000.
FUSED_COMPILE_FROM = 1_000
COMPILE_FROM = 10_000
# Copies from which a compiled study of a small net (gatelab.core.scalar_step.fits_scalar_step) runs the
# per-copy scalar program rather than the copies-last step. The scalar program is the faster step (for
# 2-2-1 at 5000 copies 44 ns per seed-step against 160), but it compiles once per architecture
# (10-13 s cold), the copies-last step once per depth for every width: a sweep of widths at 1000 seeds
# and five rates (the landscape) took 4 min 1 s with one scalar program per net, 2 min 52 s with the
# copies-last step throughout (one thread, cold cache, the same hour).
SCALAR_FROM = 10_000


def study_compiles(cfg: DictConfig) -> bool:
    """Whether the study's step is compiled (study.compile; gatelab.recipes.batched). auto: with autograd,
    from FUSED_COMPILE_FROM (plain SGD) or COMPILE_FROM copies of the *whole* study (every shard and
    rate), so that all shards of one study train alike and merge exactly."""
    choice = cfg.study.get("compile", "auto")
    if choice == "auto":
        if trains_by_hand(cfg.model):
            return False
        copies = cfg.study.seeds * len(study_cells(cfg))
        return copies >= (FUSED_COMPILE_FROM if is_plain_sgd(instantiate(cfg.optimizer)) else COMPILE_FROM)
    return choice


def study_takes_scalar_step(cfg: DictConfig) -> bool:
    """Whether a compiled study of a small net runs the scalar program (``SCALAR_FROM``): by the copies
    of the *whole* study, so that every shard trains alike."""
    return cfg.study.seeds * len(study_cells(cfg)) >= SCALAR_FROM


def is_plain_sgd(optimizer: Callable | None) -> bool:
    """Whether the factory makes torch's SGD without momentum or weight decay: ``w - lr * grad`` alone."""
    if optimizer is None:
        return False
    probe = optimizer([torch.nn.Parameter(torch.zeros(1))])
    return type(probe) is torch.optim.SGD and all(
        group["momentum"] == 0 and group["weight_decay"] == 0 and not group["maximize"] for group in probe.param_groups
    )


def study_bytes_per_seed(hidden: list[int], rows: int) -> int:
    """Peak memory per copy, measured (mlp2: 7.6 kB, mlp4: 16.5 kB at 10^5 seeds): the copies' nets
    while they are built, then the weights, their gradients and the activations of every row."""
    inputs = int(math.log2(rows))
    sizes = [inputs, *hidden, 1]
    parameters = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))
    return 8192 + 40 * parameters + 40 * rows * sum(sizes)
