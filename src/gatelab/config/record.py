"""The run record: a run's config with everything resolved, as checkpoints, snapshots, shards and a
run's config.yaml keep it, and what the report and the resume check read back from it."""

from __future__ import annotations

from collections.abc import Mapping

from omegaconf import DictConfig, OmegaConf

from gatelab.core.network import architecture

#: The model class that trains by the hand-written chain rule (conf/model/manual*.yaml name it; the
#: class's own path is checked against this in tests/test_models.py).
MANUAL_MODEL = "gatelab.backprop.ManualBackpropMLP"


def trains_by_hand(model: Mapping) -> bool:
    """Whether the model config (``cfg.model``, or a recorded one) is a manual-backprop model: plain
    SGD written out, no autograd and no torch.optim."""
    return model.get("_target_") == MANUAL_MODEL


def manual_model_name(model: Mapping) -> str:
    """``manual`` or ``manual_lab`` (the notes' rule), as conf/model/ names them."""
    return "manual_lab" if model.get("rule") == "lab" else "manual"


def resolved_config(cfg: DictConfig) -> dict:
    """The run's config with every interpolation resolved, as plain values (Hydra's own settings
    left out): what a checkpoint records and a run's folder keeps as config.yaml."""
    return OmegaConf.to_container(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), resolve=True)


#: How a study's settings name the notes' own backprop rule (model=manual_lab) as its optimizer.
LAB_RULE = "SGD (the notes' rule)"


def settings_of(config: dict, inputs: int) -> dict:
    """The settings of a run that the report names, from its resolved config."""
    model, optimizer = config["model"], config["optimizer"]
    return {
        "architecture": architecture(inputs, model["hidden"]),
        "activation": model["activation"],
        "optimizer": (LAB_RULE if model.get("rule") == "lab" else "SGD") if trains_by_hand(model)
        else optimizer["_target_"].rsplit(".", 1)[-1],
        "lr": optimizer["lr"],
        "max_steps": config["trainer"]["max_steps"],
        "solved_below": config["solved_below"],
        "seed": config["seed"],
    }  # fmt: skip


# Settings that only say where a run writes or how it is shown: a resumed run may change them.
# (model.optimizer is a copy of optimizer: its changes are named once.)
NOT_THE_RUN = {"paths", "ckpt_path", "resume_path", "resume", "logger", "trainer.enable_progress_bar",
               "trainer.enable_model_summary", "data.path", "callbacks.progress_bar", "callbacks.snapshots.path",
               "callbacks.resume_checkpoint.path", "model.optimizer"}  # fmt: skip


def changed_settings(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """``key: old -> new`` for every setting (but NOT_THE_RUN) that differs between two resolved configs."""
    changes = []
    for key in sorted(saved.keys() | current.keys()):
        name = f"{prefix}{key}"
        if name in NOT_THE_RUN:
            continue
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += changed_settings(old, new, f"{name}.")
        elif old != new:
            changes.append(f"{name}: {old} -> {new}")
    return changes
