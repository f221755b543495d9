"""Checks on the composed config: a wrong value gets one actionable line, before any training (and
before a ``--multirun`` sweep's first job: ``gatelab.config.sweep`` checks every job with these).

By class of mistake: names and paths that would write somewhere unintended, outputs whose place is
taken by something else, files that are not what their path says, values out of their bounds
(including more than this machine's CPUs or memory), and settings a model would ignore. A check
that a class's constructor makes too is the owning module's own function, called here before any
training (and before the ~9 s Lightning import).
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import psutil  # (dvc's dependency, and ours)
import torch
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from gatelab.config.layout import check_name, output_files, output_folders, output_places
from gatelab.config.places import check_write_places, project_root
from gatelab.config.planning import study_bytes_per_seed, study_cells
from gatelab.config.record import manual_model_name, trains_by_hand
from gatelab.core.chain_rule import check_plain_sgd, check_rule
from gatelab.core.gates import check_gate, check_noise_settings, read_gate_csv, truth_table
from gatelab.core.network import check_activation, check_hidden
from gatelab.core.solved import check_solved_below
from gatelab.infra.errors import GatelabError
from gatelab.infra.files import check_output_places


def check_config(cfg: DictConfig, create_folders: bool = True, data_written: bool = True) -> None:
    """Every check below, for a training run or (with a ``study`` section) a seed study. The output
    folders are created to test that they can be written, unless ``create_folders`` is false; the
    data file is read, unless ``data_written`` is false (the pipeline's, before it writes them)."""
    check_names_and_paths(cfg)
    check_gate(cfg.data.gate)
    check_numbers(cfg)
    check_precision(cfg.trainer)
    check_devices(cfg.trainer)
    check_model(cfg)
    check_manual_optimizer(cfg)
    check_optimizer(cfg)  # (after the hand-written models' own refusal, which says more)
    check_callbacks(cfg)
    check_data(cfg, data_written)
    if "study" in cfg:
        check_study(cfg)
    check_output_places(output_files(cfg), output_folders(cfg), create_folders)


# --- names and paths ---------------------------------------------------------------------------


def check_names_and_paths(cfg: DictConfig) -> None:
    check_name(cfg.name)
    for key, value in {"paths.data_dir": cfg.paths.data_dir, "data.path": cfg.data.path}.items():  # (read, not written)
        if not isinstance(value, str) or not value.strip():
            raise GatelabError(f"{key} must be a path, got {value!r}")
    check_write_places(output_places(cfg), own_folder=cfg.paths.out_dir)
    if "study" not in cfg:
        check_distinct_outputs(cfg)
        if (cfg.get("callbacks") or {}).get("resume_checkpoint") and not cfg.get("resume"):
            check_no_model_at(Path(cfg.resume_path))


def check_no_model_at(path: Path) -> None:
    """A run saves its training state at ``resume_path`` every 1000 steps and deletes it when it
    ends: a file there that is not an interrupted run's state (a trained model, say) would be lost."""
    if not path.is_file():
        return
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        state = None
    if not (isinstance(state, dict) and "optimizer_states" in state):  # a full training state; a model has none
        raise GatelabError(
            f"{path} is not an interrupted run's training state (a trained model?): this run would save its state over it "
            "and delete it when done; point paths.checkpoints_dir (or resume_path) elsewhere"
        )


def check_distinct_outputs(cfg: DictConfig) -> None:
    """A run writes each of its files once: two settings naming one file (its training state over
    its model, say) would leave one of them lost."""
    snapshots = (cfg.get("callbacks") or {}).get("snapshots")
    named = {"ckpt_path": cfg.ckpt_path, "resume_path": cfg.resume_path, "paths.run_config": cfg.paths.run_config,
             "callbacks.snapshots.path": snapshots.path if snapshots else None}  # fmt: skip
    seen: dict[Path, str] = {}
    for key, value in named.items():
        if value is None:
            continue
        place = Path(value).resolve()
        if place in seen:
            raise GatelabError(
                f"{seen[place]} and {key} are the same file, {value}: a run writes each of its files once; "
                "point one of them elsewhere (paths.*)"
            )
        seen[place] = key


# --- values and their bounds ------------------------------------------------------------------


def check_numbers(cfg: DictConfig) -> None:
    lr = cfg.optimizer.get("lr")
    if not _is_number(lr) or not (0 < lr < math.inf):
        raise GatelabError(f"optimizer.lr must be a positive number, got {lr!r}")
    check_solved_below(cfg.get("solved_below"))
    if not _is_int(cfg.seed) or not (0 <= cfg.seed < 2**32):
        raise GatelabError(f"seed must be an integer from 0 to 2**32-1, got {cfg.seed!r}")
    for key, value in [
        ("trainer.max_steps", cfg.trainer.max_steps),
        ("steps_per_epoch", cfg.steps_per_epoch),
        ("steps_per_batch", cfg.steps_per_batch),
        ("torch_threads", cfg.torch_threads),
    ]:
        check_positive_int(key, value)
    cpus = os.cpu_count() or 1
    if cfg.torch_threads > cpus:
        raise GatelabError(f"torch_threads={cfg.torch_threads} but this machine has {cpus} CPUs (1 is fastest for these nets)")


def check_positive_int(key: str, value: object) -> None:
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


def check_callbacks(cfg: DictConfig) -> None:
    callbacks = cfg.get("callbacks") or {}
    for group, key in [("snapshots", "every"), ("early_stopping", "patience"), ("progress_bar", "refresh_rate"),
                       ("resume_checkpoint", "every_n_epochs")]:  # fmt: skip
        if callbacks.get(group) and key in callbacks[group]:
            check_positive_int(f"callbacks.{group}.{key}", callbacks[group][key])
    stopping = callbacks.get("early_stopping")
    min_delta = stopping.get("min_delta", 0) if stopping else 0
    if not _is_number(min_delta) or not 0 <= min_delta < math.inf:
        raise GatelabError(f"callbacks.early_stopping.min_delta must be a number >= 0, got {min_delta!r}")


# --- the model ---------------------------------------------------------------------------------


def check_model(cfg: DictConfig) -> None:
    hidden = check_hidden(cfg.model.hidden)
    check_activation(cfg.model.activation)
    if trains_by_hand(cfg.model):
        check_rule(cfg.model.get("rule", "exact"))
    if "study" not in cfg:  # (a study's copies: check_study)
        check_sizes(cfg, parameter_count(cfg, hidden))


def parameter_count(cfg: DictConfig, hidden: list[int]) -> int:
    widths = [len(truth_table(cfg.data.gate)[0][0]), *hidden, 1]
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


def check_sizes(cfg: DictConfig, parameters: int) -> None:
    """A net whose weights, or whose snapshots (the weights every ``every`` steps, held until the end
    and then written), would not fit this machine's free memory or disk, is refused before training."""
    hidden = f"model.hidden={list(cfg.model.hidden)}"
    check_memory(hidden, parameters, 4 * 4, "parameters", " (weights, gradients and optimizer state, float32)")
    snapshots = (cfg.get("callbacks") or {}).get("snapshots")
    if not snapshots or not _is_int(snapshots.get("every")) or snapshots.every < 1:
        return
    volume = parameters * 4 * (cfg.trainer.max_steps // snapshots.every + 2)
    room = {"the snapshots' budget": SNAPSHOTS_BUDGET, "half the free memory": available_memory() // 2,
            f"half the free disk of {Path(snapshots.path).parent}/": free_disk(Path(snapshots.path)) // 2}  # fmt: skip
    limit = min(room, key=room.get)
    if volume > room[limit]:
        raise GatelabError(
            f"{hidden} with callbacks.snapshots.every={snapshots.every} over {cfg.trainer.max_steps} steps makes about "
            f"{volume / 2**20:,.0f} MiB of snapshots, more than {limit} ({room[limit] / 2**20:,.0f} MiB); "
            "snapshot less often (callbacks.snapshots.every) or not at all (~callbacks.snapshots)"
        )


#: The most a run's snapshots may hold: they are for animations (the pipeline's deep nets: 12 MB).
SNAPSHOTS_BUDGET = 2**30


def free_disk(path: Path) -> int:
    """Free bytes on the filesystem that will hold ``path`` (its nearest existing folder's)."""
    for folder in [path.parent, *path.parent.parents]:
        if folder.is_dir():
            return shutil.disk_usage(folder).free
    return shutil.disk_usage(Path.cwd()).free


def check_optimizer(cfg: DictConfig) -> None:
    """The optimizer's own checks (torch's: momentum, weight decay, betas ...) and the settings it does
    not take, before anything trains: one line, not torch's traceback from inside the fit."""
    try:
        instantiate(cfg.optimizer)([torch.nn.Parameter(torch.zeros(1))])
    except (ValueError, TypeError, InstantiationException) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise GatelabError(f"optimizer ({cfg.optimizer.get('_target_')}) refuses its settings: {reason}") from None


def check_manual_optimizer(cfg: DictConfig) -> None:
    """The hand-written backprop models implement plain SGD with a learning rate and nothing else:
    any other optimizer, or optimizer setting, would be ignored without a word."""
    if not trains_by_hand(cfg.model):
        return
    model = manual_model_name(cfg.model)
    check_plain_sgd(cfg.model.get("optimizer", "sgd"), model)
    extra = sorted(key for key in cfg.optimizer if key not in ("_target_", "_partial_", "lr"))
    if extra:
        settings = ", ".join(f"optimizer.{key}={cfg.optimizer[key]}" for key in extra)
        raise GatelabError(
            f"model={model} implements plain SGD by hand (optimizer.lr only), so {settings} would be ignored; "
            "drop it, or use an autograd model (model=mlp2)"
        )


# --- the data ----------------------------------------------------------------------------------


def check_data(cfg: DictConfig, data_written: bool = True) -> None:
    data = cfg.data
    check_epoch_layout(cfg.steps_per_epoch, cfg.steps_per_batch)
    check_noise_settings(data.noise, data.samples_per_corner, data.split)
    expected_x, expected_y = truth_table(data.gate)
    root = project_root()
    elsewhere = root is not None and Path.cwd().resolve() != root  # (started in another folder than the project's)
    if data_written and not Path(data.path).is_file() and elsewhere and (root / data.path).is_file():
        raise GatelabError(
            f"{data.path} not found in {Path.cwd()}: gatelab's paths are relative to the folder a command starts in; "
            f"start it in the project's folder ({root}), or give paths.data_dir={root / cfg.paths.data_dir}"
        )
    if data_written:
        x, y = read_gate_csv(data.path)
        if x.shape != expected_x.shape or not (x == expected_x).all() or not (y == expected_y).all():
            raise GatelabError(
                f"{data.path} does not hold {data.gate}'s truth table (it was written for another function); "
                f"regenerate it: python src/generate.py {data.gate} --out {Path(data.path).parent}"
            )
    per_sample = len(expected_x) * (expected_x.shape[1] + 1) * 4 * 3  # float32 points and labels, each corner, train/val/test
    check_memory(f"data.samples_per_corner={data.samples_per_corner}", data.samples_per_corner, per_sample, "samples per corner")


def check_epoch_layout(steps_per_epoch: int, steps_per_batch: int) -> int:
    """An epoch is whole batches, at least two (a resumable state is saved inside an epoch, after its
    first batch: gatelab.callbacks.ResumeCheckpoint); returns the batches per epoch."""
    batches, remainder = divmod(steps_per_epoch, steps_per_batch)
    if remainder or batches < 2:
        raise GatelabError(
            f"steps_per_epoch ({steps_per_epoch}) must be a multiple of steps_per_batch ({steps_per_batch}), and at least twice it"
        )
    return batches


# --- the seed study ----------------------------------------------------------------------------


def check_study(cfg: DictConfig) -> None:
    study, trainer = cfg.study, cfg.trainer
    check_positive_int("study.seeds", study.seeds)
    if not _is_int(study.first_seed) or not 0 <= study.first_seed <= 2**32 - study.seeds:
        raise GatelabError(f"study.first_seed must be an integer from 0 to 2**32 - study.seeds, got {study.first_seed!r}")
    check_positive_int("study.shards", study.shards)
    if study.shards > study.seeds:
        raise GatelabError(f"study.shards={study.shards} is more than study.seeds={study.seeds}: every shard needs a seed")
    if not _is_int(study.shard) or not 0 <= study.shard < study.shards:
        raise GatelabError(f"study.shard must be an integer from 0 to study.shards - 1 = {study.shards - 1}, got {study.shard!r}")
    one_device = trainer.devices == 1 or (trainer.devices == "auto" and trainer.accelerator == "cpu")
    if not one_device or trainer.num_nodes != 1 or "ddp" in str(trainer.strategy):
        raise GatelabError(
            "the seed study trains its copies in one process (on one device); more processes would train every "
            "copy in each. Split the seeds into shards instead, one job each (study.shards, study.shard)"
        )
    data = cfg.data
    if data.noise > 0 or data.samples_per_corner > 1:
        # A single run on noisy data is judged (and stopped) on its validation set; the study's
        # copies train and are judged on one batch, so they could not end where such a run ends.
        raise GatelabError(
            "the seed study trains on the exact truth table; noisy data (data.noise, data.samples_per_corner) "
            "is for single runs (src/train.py)"
        )
    if not isinstance(study.get("picture", True), bool):
        raise GatelabError(f"study.picture must be true or false, got {study.picture!r}")
    compile_choice = study.get("compile", "auto")
    if not (compile_choice == "auto" or isinstance(compile_choice, bool)):  # (1 == True: not a choice)
        raise GatelabError(f"study.compile must be auto, true or false, got {compile_choice!r}")
    if compile_choice is True and trains_by_hand(cfg.model):
        raise GatelabError(
            f"study.compile=true compiles autograd's step; model={cfg.name} trains by the hand-written chain rule: "
            "set study.compile=auto or false"
        )
    cells = study_cells(cfg)  # (checks study.lrs)
    for cell in cells if study.get("lrs") is not None else ():
        check_names_and_paths(cell)
        check_numbers(cell)
    per_seed = len(cells) * study_bytes_per_seed(check_hidden(cfg.model.hidden), len(truth_table(cfg.data.gate)[0]))
    check_memory(f"study.seeds={study.seeds}", -(-study.seeds // study.shards), per_seed, "seeds per shard",
                 "; split them into more shards (study.shards)")  # fmt: skip


# --- this machine's memory ---------------------------------------------------------------------


def available_memory() -> int:
    return psutil.virtual_memory().available


def check_memory(setting: str, count: int, bytes_each: int, unit: str, hint: str = "") -> None:
    """Refuse ``count`` things of ``bytes_each`` bytes that would not fit in this machine's free memory."""
    available = available_memory()
    if count * bytes_each > available:
        raise GatelabError(
            f"{setting} needs about {count * bytes_each / 2**30:.1f} GiB of memory and this machine has "
            f"{available / 2**30:.1f} GiB free: at most about {available // bytes_each} {unit} fit{hint}"
        )


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
