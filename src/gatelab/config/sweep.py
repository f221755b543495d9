"""Check every job of a ``--multirun`` sweep before the first one runs.

Hydra starts a sweep's jobs one after another (or all at once, on a cluster), and each checks its
own settings when it starts: a mistake in the last combination (``optimizer.lr=1,-1``, a gate with
no data file) would be found only after every job before it ran. ``CheckEveryJob``, a Hydra
callback (conf/hydra/callbacks/), composes each job's config as the sweeper will, and checks it
with ``gatelab.config.checks.check_config``, before the launcher starts anything.

It lists the jobs as Hydra's basic sweeper does (``gatelab.infra.compat.sweep_job_overrides``); a
sweeper that chooses its jobs as it goes (Optuna, Nevergrad) is left alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra import compose
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict, read_write

from gatelab.config.checks import check_config
from gatelab.config.places import check_write_places
from gatelab.infra.compat import BASIC_SWEEPER, set_hydra_config, sweep_job_overrides
from gatelab.infra.errors import exit_from_hydra_callback


class CheckEveryJob(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        if config.hydra.sweeper.get("_target_") != BASIC_SWEEPER:
            return
        jobs, swept = sweep_jobs(config)
        try:
            for number, overrides in enumerate(jobs):
                try:
                    job = job_config(config, overrides, number)
                    check_write_places({"hydra.sweep.subdir": (job.hydra.runtime.output_dir, True)})
                    check_config(job, create_folders=False)
                except Exception as err:
                    shown = " ".join(o for o in overrides if o.split("=", 1)[0] in swept)
                    exit_from_hydra_callback(err, f"job #{number} of {len(jobs)} ({shown}): ")
        finally:
            set_hydra_config(config)


def job_config(config: DictConfig, overrides: list[str], number: int) -> DictConfig:
    """Job ``number``'s config, as the launcher will compose it; Hydra's config is then the job's, so
    that ${hydra:...} in it (its name, its folder) resolves to the job's."""
    job = compose(config.hydra.job.config_name, overrides=[*config.hydra.overrides.hydra, *overrides], return_hydra_config=True)
    with open_dict(job):  # what the launcher sets for each job (hydra.core.utils.run_job)
        job.hydra.job.num = number
    set_hydra_config(job)  # (it makes job.hydra read-only)
    with read_write(job.hydra):
        job.hydra.runtime.output_dir = str(Path(job.hydra.sweep.dir, str(job.hydra.sweep.subdir)).absolute())
    set_hydra_config(job)
    return job


def sweep_jobs(config: DictConfig) -> tuple[list[list[str]], set[str]]:
    """Each job's overrides, in the order the basic sweeper runs them, and the keys swept."""
    params = config.hydra.sweeper.get("params") or {}
    return sweep_job_overrides([f"{key}={value}" for key, value in params.items()] + list(config.hydra.overrides.task))
