"""Checks on the composed config: a wrong value gets one actionable line, before any training."""

from __future__ import annotations

import math

from omegaconf import DictConfig

from gatelab.errors import GatelabError
from gatelab.gates import check_gate


def check_config(cfg: DictConfig) -> None:
    check_gate(cfg.data.gate)
    check_precision(cfg.trainer)
    check_devices(cfg.trainer)
    check_manual_optimizer(cfg)
    lr = cfg.optimizer.get("lr")
    if not _is_number(lr) or not (0 < lr < math.inf):
        raise GatelabError(f"optimizer.lr must be a positive number, got {lr!r}")
    solved_below = cfg.get("solved_below")
    if not _is_number(solved_below) or not (0 < solved_below < math.inf):
        raise GatelabError(f"solved_below must be a positive number (a loss), got {solved_below!r}")
    if not _is_int(cfg.seed) or not (0 <= cfg.seed < 2**32):
        raise GatelabError(f"seed must be an integer from 0 to 2**32-1, got {cfg.seed!r}")
    for key, value in [
        ("trainer.max_steps", cfg.trainer.max_steps),
        ("steps_per_epoch", cfg.steps_per_epoch),
        ("steps_per_batch", cfg.steps_per_batch),
        ("torch_threads", cfg.torch_threads),
        *[("callbacks.snapshots.every", snapshots.every) for snapshots in [(cfg.get("callbacks") or {}).get("snapshots")] if snapshots],
    ]:
        if not _is_int(value) or value < 1:
            raise GatelabError(f"{key} must be a positive integer, got {value!r}")


def check_devices(trainer_cfg: DictConfig) -> None:
    """Lightning's forms of ``trainer.devices`` that mean a number of processes: a positive count,
    ``auto`` (every GPU, or one CPU process) and ``-1`` (every GPU)."""
    devices = trainer_cfg.devices
    if devices == "auto" or (_is_int(devices) and devices >= 1):
        return
    if devices == -1:
        if trainer_cfg.accelerator in ("gpu", "cuda", "auto"):
            return
        raise GatelabError(
            f"trainer.devices=-1 means every GPU, but trainer.accelerator={trainer_cfg.accelerator}; "
            "on CPUs give the number of processes (trainer.devices=2)"
        )
    raise GatelabError(f"trainer.devices must be a positive integer, auto or -1 (every GPU), got {devices!r}")


# Lightning's precisions that give the same answers as the default. Half precisions (16-mixed,
# bf16-mixed, ...) cannot resolve the ln 2 plateau's slope, about 1e-5 per 1000 steps: the plateau
# rule stops mlp2 on XOR at 1300 steps with accuracy 0.50, where float32 solves it.
PRECISIONS = ("32-true", "32", "64-true", "64")


def check_precision(trainer_cfg: DictConfig) -> None:
    precision = trainer_cfg.get("precision")
    if precision is not None and str(precision) not in PRECISIONS:
        raise GatelabError(
            f"trainer.precision={precision}: 16-bit floats cannot follow the ln 2 plateau (its loss moves by about 1e-5 "
            "per 1000 steps); use 32-true (the default) or 64-true"
        )


def check_manual_optimizer(cfg: DictConfig) -> None:
    """The hand-written backprop models implement plain SGD with a learning rate and nothing else:
    any other optimizer setting would be ignored without a word."""
    if not str(cfg.model.get("_target_", "")).endswith("ManualBackpropMLP"):
        return
    extra = sorted(key for key in cfg.optimizer if key not in ("_target_", "_partial_", "lr"))
    if extra:
        settings = ", ".join(f"optimizer.{key}={cfg.optimizer[key]}" for key in extra)
        model = "manual_lab" if cfg.model.get("rule") == "lab" else "manual"
        raise GatelabError(
            f"model={model} implements plain SGD by hand (optimizer.lr only), so {settings} would be ignored; "
            "drop it, or use an autograd model (model=mlp2)"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
