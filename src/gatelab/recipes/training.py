"""The training recipe: data, model, callbacks, logger, trainer, fit, save. Imports Lightning: the
entry point imports this module only after its own ``--help`` (src/train.py)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.callbacks import Checkpoint, ProgressBar
from omegaconf import DictConfig, OmegaConf

from gatelab.callbacks import save_checkpoint
from gatelab.config.checks import check_config
from gatelab.config.layout import curves_folder, output_files, output_folders, shown_path
from gatelab.config.record import changed_settings, resolved_config
from gatelab.core.scores import score
from gatelab.infra.compat import is_overflowing_update, quiet_lightning, stopping_signal
from gatelab.infra.errors import Diverged, GatelabError, Stopped
from gatelab.infra.files import (
    atomic_write_text,
    check_output_places,
    first_process,
    replace_folder,
    sole_writer,
    staged_folder,
    written_together,
)


def train(cfg: DictConfig) -> dict | None:
    """Train ``cfg.model`` on ``cfg.data``, save it to ``cfg.ckpt_path`` and return a summary
    (``None`` in the other processes of a multi-process run: rank 0 reports)."""
    check_config(cfg, create_folders=False)  # (a resumed run writes into the interrupted run's folders)
    check_accelerator(cfg.trainer)
    resume_from, interrupted = resume_checkpoint(cfg, resolved_config(cfg))
    if interrupted:  # continue in the interrupted run's folder: its curves and snapshots go on there
        for key, value in interrupted["paths"].items():
            cfg.paths[key] = value
    check_output_places(output_files(cfg), output_folders(cfg))
    config = resolved_config(cfg)
    if not interrupted and first_process() and Path(cfg.resume_path).is_file():
        print(
            f"note: {shown_path(cfg.resume_path)} holds an interrupted run's training state; this run starts over and "
            "replaces it (the same command with resume=true would have continued it)",
            file=sys.stderr,
        )
    curves = stage_curves(cfg, fresh=not interrupted)
    quiet_lightning()
    torch.set_num_threads(cfg.torch_threads)
    L.seed_everything(cfg.seed, verbose=False)

    datamodule = instantiate(cfg.data)
    model = instantiate(cfg.model, inputs=datamodule.inputs)  # right after seeding: the lab's weights
    model.run_config = config  # saved in the checkpoint: what ran, for evaluation and the report
    callbacks = instantiate_callbacks(cfg)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    # Checkpointing is our ResumeCheckpoint callback's job; with none configured, Lightning must not
    # add its default one (it would write epoch=N-step=M.ckpt files nobody asked for).
    checkpointing = any(isinstance(c, Checkpoint) for c in callbacks)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=logger, enable_checkpointing=checkpointing)

    # The run's files (checkpoint, snapshots, config) appear together at the end, or not at all;
    # and no other process may write them meanwhile (the same run started twice).
    with sole_writer([cfg.ckpt_path, cfg.resume_path] if first_process() else [], "training run"), written_together():
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=resume_from)
        except RuntimeError as err:
            if not is_overflowing_update(err):
                raise
            raise Diverged(f"a weight update overflowed: training diverged; lower optimizer.lr (now {cfg.optimizer.lr})") from None
        except BaseException as err:
            signum = stopping_signal(err)
            if signum is None:
                raise
            # Nothing of the run's result is written (written_together); its last saved state is kept.
            saved = Path(cfg.resume_path)
            raise Stopped(
                f"stopped by {signum.name} at step {trainer.global_step}; "
                + (f"the last saved training state is {shown_path(saved)}: the same command with resume=true continues from it"
                   if saved.is_file() else "no training state was saved yet: the same command starts over"),
                signum,
            ) from None  # fmt: skip
        # The trained model: weights, hyperparameters and step count. No optimizer or callback state,
        # which would embed absolute paths and make checkpoints differ between clones.
        save_checkpoint(trainer, cfg.ckpt_path, weights_only=True)
        if not trainer.is_global_zero:
            return None
        if cfg.paths.get("run_config"):  # a run by hand: its folder gets the resolved config too
            atomic_write_text(cfg.paths.run_config, OmegaConf.to_yaml(config))
        if curves:
            replace_folder(*curves)  # (last: after the files written into it)

    split, *data = datamodule.judged_set  # what early stopping watched: the validation set, if any
    with torch.no_grad():
        model.cpu()
        x, y = (t.to(model.dtype) for t in data)  # float64 under trainer.precision=64-true
        scores = score(model(x), y)
    return {
        "gate": cfg.data.gate,
        "model": Path(cfg.ckpt_path).parent.name,
        "steps": trainer.global_step,
        "on": split,
        "loss": scores["loss"],
        "accuracy": scores["accuracy"],
        "checkpoint": shown_path(cfg.ckpt_path),
    }


def stage_curves(cfg: DictConfig, fresh: bool) -> tuple[Path, Path] | None:
    """Point the logger at a folder beside its curves' place, so that the curves replace a previous
    run's with the rest of the result, or not at all (a killed rerun leaves the old set whole).
    A resumed run goes on in the interrupted run's staged folder; a fresh one starts it over.
    Returns the staged folder and the curves' place."""
    curves = curves_folder(cfg)
    if curves is None:
        return None
    place, key = curves
    staged = staged_folder(place)
    if fresh and first_process():
        shutil.rmtree(staged, ignore_errors=True)
    cfg.logger[key] = str(staged) if key == "dir" else staged.name
    return staged, Path(place)


def instantiate_callbacks(cfg: DictConfig) -> list:
    """The configured callbacks; ``trainer.enable_progress_bar=false`` also drops a configured bar."""
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c is not None]
    if not cfg.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    return callbacks


def check_accelerator(trainer_cfg: DictConfig) -> None:
    """Refuse a GPU run on a machine without (enough) GPUs before Lightning raises its own long error."""
    if trainer_cfg.accelerator not in ("gpu", "cuda"):
        return
    found = torch.cuda.device_count()
    if found == 0:
        raise GatelabError(
            f"trainer.accelerator={trainer_cfg.accelerator}: no GPU found on this machine; "
            "run with trainer.accelerator=cpu or trainer.accelerator=auto"
        )
    if isinstance(trainer_cfg.devices, int) and trainer_cfg.devices > found:  # (auto and -1: every GPU found)
        raise GatelabError(f"trainer.devices={trainer_cfg.devices} but this machine has {found} GPU(s)")


def resume_checkpoint(cfg: DictConfig, config: dict) -> tuple[str | None, dict | None]:
    """With ``resume=true``, the interrupted run's saved training state to continue from and its
    resolved config, if it was started with the settings of this one (``config``: this run's)."""
    if not cfg.get("resume"):
        return None, None
    path = Path(cfg.resume_path)
    if not path.is_file():
        raise GatelabError(f"resume=true but there is no interrupted run to resume ({path} does not exist)")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True).get("config")
    except Exception:
        raise GatelabError(f"resume=true but {path} is not a training state gatelab can read; delete it to start over") from None
    changed = changed_settings(saved or {}, config)
    if changed:
        raise GatelabError(
            f"resume=true but the interrupted run had other settings ({'; '.join(changed)}): resume it with its own "
            f"settings, or delete {path} to start over"
        )
    return str(path), saved


def format_summary(result: dict) -> str:
    on = "validation " if result.get("on") == "val" else ""
    return (
        f"{result['model']} on {result['gate']}: {result['steps']} steps, {on}loss {result['loss']:.6f}, "
        f"{on}accuracy {result['accuracy']:.2f} -> {result['checkpoint']}"
    )
