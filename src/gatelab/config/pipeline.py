"""The pipeline's settings, checked before DVC removes any stage's outputs.

DVC removes a stage's outputs just before it runs the stage's command, so a command that refuses a
bad value (``dvc exp run -S seed_study.seeds=0``) refuses it with the outputs already gone. The
``check`` stage, upstream of every other, runs this first: it lists dvc.yaml's stages as DVC
resolves them (foreach items, ${} values), composes every job of every Hydra command among them
as Hydra will (``gatelab.config.sweep``), and checks it as the command would
(``gatelab.config.checks``), but for the data files, which the pipeline writes itself. A refusal
stops ``dvc repro`` there, before any stage that would have removed something.
"""

from __future__ import annotations

import os
import shlex
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from gatelab.config.checks import check_config
from gatelab.config.sweep import job_config, sweep_jobs
from gatelab.infra.compat import sweep_job_overrides
from gatelab.infra.errors import GatelabError, describe_user_error

#: The Hydra commands a stage can run, and the config each composes.
HYDRA_APPS = {"src/train.py": "config", "src/study.py": "study"}


def stage_commands(root: Path) -> dict[str, str]:
    """Every stage's command, by its name (``train@mlp2``), as DVC resolves dvc.yaml."""
    # Here, not at the top: DVC's import costs a second, and only the check stage needs it.
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        return {stage.addressing: stage.cmd for stage in repo.index.stages if stage.cmd}


def check_pipeline(root: Path) -> int:
    """Check every job of every Hydra stage of ``root``'s dvc.yaml, then the runs the animate stage
    draws; returns the number of jobs. A refusal names the first refused stage in dvc.yaml's order."""
    commands = stage_commands(root)
    hydra_stages = [(stage, command) for stage, command in commands.items() if is_hydra_command(command)]
    # Composing a job's config costs about 0.25 s, and the pipeline has some ninety: the stages are
    # checked on every core, results in dvc.yaml's order (the 2-core machine: 26-29 s -> 17 s, 2026-12-08).
    processes = max(1, min(len(hydra_stages), os.cpu_count() or 1))
    with ProcessPoolExecutor(processes, initializer=enter_config_dir, initargs=(str(root / "conf"),)) as pool:
        outcomes = list(pool.map(check_stage, hydra_stages))
    jobs: list[tuple[str, str] | None] = []
    for outcome in outcomes:
        if isinstance(outcome, str):
            raise GatelabError(outcome)
        jobs += outcome
    trained = {job for job in jobs if job is not None}  # (name, gate) of every run the pipeline trains
    for stage, command in commands.items():
        argv = shlex.split(command)
        if argv[1:2] == ["src/animate.py"]:
            check_animated(stage, argv[2:], trained)
    return len(jobs)


def enter_config_dir(config_dir: str) -> None:
    """A checking process's Hydra: composes from ``config_dir`` until the process ends."""
    initialize_config_dir(config_dir, version_base="1.3")  # (not as a context: for the process's life)


def check_stage(stage_and_command: tuple[str, str]) -> list[tuple[str, str] | None] | str:
    """``check_command`` in a checking process: the stage's jobs, or its refusal in one line (any
    user's mistake: gatelab's checks, or Hydra's for an override it cannot apply)."""
    stage, command = stage_and_command
    try:
        return check_command(command)
    except Exception as err:
        message = describe_user_error(err)
        if message is None:
            raise  # a bug, not a setting: its traceback shows
        return f"stage {stage}: {message}"


def is_hydra_command(command: str) -> bool:
    argv = shlex.split(command)
    return len(argv) >= 2 and argv[1] in HYDRA_APPS


def check_animated(stage: str, arguments: list[str], trained: set[tuple[str, str]]) -> None:
    """The animate stage's runs (``animations`` in params.yaml) are runs a stage trains: a name
    that is not would be found only after DVC removed the animations."""
    values_of = {"--snapshots-dir", "--out-dir"}
    runs = [a for i, a in enumerate(arguments) if not a.startswith("--") and (i == 0 or arguments[i - 1] not in values_of)]
    for item in (run for arg in runs for group in arg.split(",") for run in group.split("+") if run):
        name, _, gate = item.partition("/")
        if (name, gate) not in trained:
            raise GatelabError(f"stage {stage}: animations names {item}, which no stage trains; name runs as <name>/<gate>, e.g. mlp2/xor")


def check_command(command: str) -> list[tuple[str, str] | None]:
    """Check each job of one stage's command (none if it is not a Hydra app's); returns one entry
    per job: the run it trains, (name, gate), or None for a study's job."""
    if not is_hydra_command(command):
        return []
    argv = shlex.split(command)
    arguments = [a for a in argv[2:] if a not in ("--multirun", "-m")]
    sweeping = len(arguments) < len(argv) - 2
    fixed = [a for a in arguments if not is_sweep(a)] if sweeping else arguments
    base = compose(HYDRA_APPS[argv[1]], overrides=fixed, return_hydra_config=True)
    with open_dict(base):  # what Hydra records of a command line: the sweep's jobs come from it
        base.hydra.overrides.task = arguments
        base.hydra.job.config_name = HYDRA_APPS[argv[1]]
    jobs = sweep_jobs(base)[0] if sweeping else [arguments]
    checked = []
    for number, overrides in enumerate(jobs):
        job = job_config(base, overrides, number)
        check_config(job, create_folders=False, data_written=False)
        checked.append(None if "study" in job else (job.name, job.data.gate))
    return checked


def is_sweep(argument: str) -> bool:
    return bool(sweep_job_overrides([argument])[1])
