"""The training recipe: data, model, callbacks, logger, trainer, fit, save. Imports Lightning."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from gatelab.errors import Diverged, GatelabError

log = logging.getLogger("gatelab")


def train(cfg: DictConfig) -> dict:
    """Train ``cfg.model`` on ``cfg.data``, save it to ``cfg.ckpt_path`` and return a summary."""
    check_accelerator(cfg.trainer)  # before the ~9 s Lightning import
    import lightning as L

    quiet_lightning()
    torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model)  # built right after seeding: the lab's initial weights
    callbacks = instantiate_callbacks(cfg)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger)

    try:
        trainer.fit(model, datamodule=datamodule)
    except RuntimeError as err:
        if "without overflow" not in str(err):  # torch.optim's message when an update overflows float
            raise
        raise Diverged(f"a weight update overflowed: training diverged; lower optimizer.lr (now {cfg.optimizer.lr})") from None
    # Full checkpoint (optimizer state too), written atomically: temporary file, then rename.
    trainer.save_checkpoint(cfg.ckpt_path, weights_only=False)

    with torch.no_grad():
        probs = model.cpu()(datamodule.x)
    loss = torch.nn.functional.binary_cross_entropy(probs, datamodule.y).item()
    accuracy = ((probs > 0.5).float() == datamodule.y).float().mean().item()
    return {
        "gate": cfg.data.gate,
        "model": Path(cfg.ckpt_path).parent.name,
        "steps": trainer.global_step,
        "loss": loss,
        "accuracy": accuracy,
        "checkpoint": str(cfg.ckpt_path),
    }


def instantiate_callbacks(cfg: DictConfig) -> list:
    """The configured callbacks; ``trainer.enable_progress_bar=false`` also drops a configured bar."""
    from lightning.pytorch.callbacks import ProgressBar

    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values()]
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    return callbacks


def check_accelerator(trainer_cfg: DictConfig) -> None:
    """Refuse a GPU run on a machine without one before Lightning raises its own long error."""
    if trainer_cfg.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise GatelabError(
            f"trainer.accelerator={trainer_cfg.accelerator}: no GPU found on this machine; "
            "run with trainer.accelerator=cpu or trainer.accelerator=auto"
        )


def quiet_lightning() -> None:
    """Silence Lightning's advice that does not apply to a 4-row, in-memory dataset."""
    for message in (
        ".*does not have many workers.*",  # the data is 4 rows in memory
        ".*configure_optimizers` returned `None`.*",  # the manual-backprop model has no optimizer
        ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",  # Lightning vs. newer torch, harmless
    ):
        warnings.filterwarnings("ignore", message=message)
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda"):
        logging.getLogger(name).setLevel(logging.WARNING)


def format_summary(result: dict) -> str:
    return (
        f"{result['model']} on {result['gate']}: {result['steps']} steps, loss {result['loss']:.6f}, "
        f"accuracy {result['accuracy']:.2f} -> {result['checkpoint']}"
    )
