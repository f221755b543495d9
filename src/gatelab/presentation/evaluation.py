"""Evaluation: load a checkpoint safely, score it on its gate's truth table with torchmetrics,
and summarise a whole model x gate grid."""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import torch

from gatelab.core.gates import jittered_splits
from gatelab.core.network import build_mlp
from gatelab.core.scores import score
from gatelab.core.solved import is_solved, solved_threshold
from gatelab.infra.errors import GatelabError
from gatelab.infra.files import read_json


def load_network(ckpt_path: str | Path) -> tuple[torch.nn.Sequential, dict]:
    """Rebuild the trained net from a checkpoint, without Lightning and without running pickled code."""
    ckpt_path = Path(ckpt_path)
    if not ckpt_path.is_file():
        model = ckpt_path.parent.name
        raise GatelabError(f"{ckpt_path} not found; run 'dvc repro train@{model}' to train it")
    not_a_checkpoint = GatelabError(f"{ckpt_path} is truncated or not a checkpoint; retrain it with src/train.py")
    if not zipfile.is_zipfile(ckpt_path):  # torch.save writes a zip archive; a cut-off one has no index
        raise not_a_checkpoint
    try:
        ckpt = torch.load(ckpt_path, map_location="cpu", weights_only=True)  # never runs pickled code
    except pickle.UnpicklingError:
        raise GatelabError(
            f"{ckpt_path} holds objects other than tensors and plain values; refusing to load it "
            "(weights_only=True). Retrain it with src/train.py"
        ) from None
    except (zipfile.BadZipFile, RuntimeError, EOFError, OSError):
        raise not_a_checkpoint from None
    try:
        hparams = ckpt["hyper_parameters"]
        net = build_mlp(hparams["hidden"], hparams["activation"], in_features=hparams.get("inputs", 2))
        net.load_state_dict({k.removeprefix("net."): v for k, v in ckpt["state_dict"].items()})
    except (KeyError, TypeError, ValueError, RuntimeError):
        raise GatelabError(f"{ckpt_path} does not match its recorded architecture or is not a gatelab checkpoint; retrain it") from None
    if not all(torch.isfinite(w).all() for w in ckpt["state_dict"].values()):
        raise GatelabError(f"{ckpt_path} holds weights that are NaN or infinite (a diverged run); retrain it with a lower optimizer.lr")
    return net.eval(), ckpt


def check_identity(ckpt_path: str | Path, config: dict, run: str, gate: str) -> None:
    """A checkpoint is the run and gate its path names (not another one copied or renamed into place)."""
    recorded = (config.get("name"), (config.get("data") or {}).get("gate"))
    if recorded != (run, gate):
        raise GatelabError(
            f"{ckpt_path} holds the run {recorded[0]} on {recorded[1]}, not {run} on {gate} (copied or renamed into "
            f"place?); retrain it: python src/train.py name={run} data.gate={gate}"
        )


def evaluate_checkpoint(
    ckpt_path: str | Path, x: torch.Tensor, y: torch.Tensor, run: str, gate: str
) -> tuple[dict, torch.nn.Sequential, dict]:  # fmt: skip
    """Metrics of the run ``run`` on ``gate``, whose truth table is ``(x, y)``; for a run trained on
    noisy data also on its test set (rebuilt from the data settings the checkpoint recorded).
    Returns them, the network and the run's resolved config (as the checkpoint recorded it)."""
    net, ckpt = load_network(ckpt_path)
    config = ckpt.get("config")
    if not isinstance(config, dict):
        raise GatelabError(f"{ckpt_path} does not record the config it was trained with; retrain it with src/train.py")
    check_identity(ckpt_path, config, run, gate)
    if net[0].in_features != x.shape[1]:
        raise GatelabError(f"{ckpt_path} was trained on {net[0].in_features} inputs but {gate} has {x.shape[1]}; retrain it")
    with torch.no_grad():
        metrics = {**score(net(x), y), "steps": ckpt["global_step"]}
        # Solved, as training and the seed study define it (gatelab.core.solved).
        metrics["solved"] = is_solved(metrics["accuracy"] == 1.0, metrics["loss"], solved_threshold(config["solved_below"], len(y)))
        data = ckpt.get("datamodule_hyper_parameters") or {}
        if data.get("noise", 0) > 0 or data.get("samples_per_corner", 1) > 1:
            test_x, test_y = jittered_splits(x, y, data["noise"], data["samples_per_corner"], data["split"], data["split_seed"])["test"]
            if len(test_x):
                metrics["test"] = score(net(test_x), test_y)
    return metrics, net, config


def summarize(results: dict[tuple[str, str], dict]) -> dict:
    """``{(model, gate): metrics}`` -> counts plus a flat table (DVC shows the counts, tools read the table)."""
    table = [
        {"model": model, "gate": gate, **{k: m[k] for k in ("accuracy", "f1", "auroc", "loss", "steps")}}
        for (model, gate), m in results.items()
    ]
    return {"runs": len(table), "solved": sum(m["solved"] for m in results.values()), "table": table}


def read_study(study_dir: str | Path, name: str, gate: str) -> dict:
    """The seed study of ``name`` on ``gate`` (study/<name>/<gate>.json), checked to be that one."""
    path = Path(study_dir) / name / f"{gate}.json"
    result = read_json(path)
    recorded = (result.get("model"), result.get("gate")) if isinstance(result, dict) else (None, None)
    if recorded != (name, gate):
        raise GatelabError(
            f"{path} is not the study of {name} on {gate} (it records {recorded[0]} on {recorded[1]}: copied or renamed "
            "into place?); rerun that study with src/study.py"
        )
    return result
