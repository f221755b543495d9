"""Where a command may write: one decision for every output of every command (a training run, a
seed study, Hydra's own run and sweep folders, the side tools' ``--out`` options), made once per
output, before any work.

A command may write anywhere but:

- the filesystem's root: no output is the root, or a file directly in it;
- the project's own folder: no output is the project's folder, or a file directly in it (only the
  pipeline's stages, which DVC runs there with ``paths=pipeline`` or ``--out-dir .``, write into
  the project's output folders from it);
- the project's sources and records (``src/``, ``conf/``, ``.git/``, ...: ``SOURCES``), ever;
- the pipeline's outputs (``data/``, ``models/``, ...: ``PIPELINE_OUTPUTS``), unless DVC runs the
  command as a stage of dvc.yaml (DVC sets ``DVC_STAGE`` for every stage it runs): a run by hand
  never writes the pipeline's committed results, and so never makes a stage fail half way;
- another run's result: a folder holding a run's ``.hydra/`` record, or the places of its result
  in it (``models/``, ``config.yaml``, ...: ``RUN_RESULTS``). A run writes its own folder (a rerun
  into the same folder replaces its files as a set); a new folder inside another's is not its result.

That no two outputs of one run are one file is ``gatelab.config.checks.check_distinct_outputs``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from gatelab.infra.compat import set_hydra_config
from gatelab.infra.errors import GatelabError, exit_from_hydra_callback
from gatelab.infra.files import check_writable

#: The project's folders that the pipeline's stages write (dvc.yaml's outs, metrics and plots, and
#: the pipeline's resume states); a test keeps this list and dvc.yaml the same.
PIPELINE_OUTPUTS = frozenset({"data", "models", "snapshots", "dvclive", "study", "plots", "metrics", "reports",
                              "landscape", "logs", "checkpoints", "checks"})  # fmt: skip
#: What a run by hand writes in its folder (conf/paths/run.yaml, Hydra's record, the side tools'
#: folders): another run's folder and these in it are its result; a test keeps the list true.
RUN_RESULTS = frozenset({"models", "dvclive", "snapshots", "logs", "study", "plots", "config.yaml", ".hydra", "metrics", "reports"})
#: The project's sources and records: nothing gatelab runs writes there.
SOURCES = frozenset({"src", "conf", "tests", "docs", "bench", ".ci", ".git", ".dvc", ".github"})


def project_root() -> Path | None:
    """The project's folder (where dvc.yaml and conf/ are), or None for an installed copy of the
    package without one (src/gatelab/config/places.py: three folders up)."""
    root = Path(__file__).resolve().parents[3]
    return root if (root / "dvc.yaml").is_file() and (root / "conf").is_dir() else None


def run_by_dvc() -> bool:
    """Whether DVC runs this command as a stage of dvc.yaml (``dvc repro``, ``dvc exp run``)."""
    return bool(os.environ.get("DVC_STAGE"))


def check_write_places(outputs: dict[str, tuple[object, bool]], own_folder: str | os.PathLike | None = None) -> None:
    """Refuse, in one line naming the setting, the first output that may not be written.

    ``outputs`` maps a setting's name (``paths.models_dir``, ``--out-dir``) to its value and
    whether it names a folder (True) or a file (False). ``own_folder``, for a training run or a
    study, is the run's own folder, the one run folder its outputs may lie in."""
    root, dvc = project_root(), run_by_dvc()
    own = Path(own_folder).resolve() if own_folder is not None else None
    for setting, (value, is_folder) in outputs.items():
        if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
            raise GatelabError(f"{setting} must be a path, got {value!r} (an empty path would write to the filesystem's root)")
        why = refusal(Path(value).resolve(), is_folder, root, dvc, own)
        if why:
            raise GatelabError(f"{setting}={value} {why}")


def refusal(place: Path, is_folder: bool, root: Path | None, dvc: bool, own: Path | None) -> str | None:
    """Why ``place`` (resolved) may not be written; None when it may."""
    folder = place if is_folder else place.parent
    if folder == Path(place.anchor):
        return "would write into the filesystem's root; choose a folder of its own"
    if root is not None and folder == root and not dvc:
        return (
            "would write into the project's own folder, where only dvc repro writes (paths=pipeline, --out-dir .); "
            "by hand, leave it to write to runs/ (the default) or choose another folder"
        )
    if root is not None and place.is_relative_to(root) and place != root:
        top = place.relative_to(root).parts[0]
        if top in SOURCES:
            return f"is inside the project's {top}/, which no run writes; choose another folder (runs/ is the default)"
        if top in PIPELINE_OUTPUTS and not dvc:
            return (
                f"is inside the pipeline's {top}/, which only dvc repro writes (the committed results); "
                "a run by hand writes its own folder under runs/ (the default): leave it, or choose another folder"
            )
    record = run_record_above(place, own)
    if record is not None and (place == record or place.relative_to(record).parts[0] in RUN_RESULTS):
        what = "is another run's folder" if place == record else f"is inside another run's result ({record})"
        return f"{what}: a run writes its own folder; choose another folder"
    return None


def run_record_above(place: Path, own: Path | None) -> Path | None:
    """The nearest folder at or above ``place`` that holds a run's Hydra record (``.hydra/``), other
    than ``own``, the writing run's own folder (whose rerun replaces its files as a set)."""
    for folder in [place, *place.parents]:
        if folder != own and (folder / ".hydra").is_dir():
            return folder
    return None


class CheckRunFolder(Callback):
    """Hydra makes a run's folder (``hydra.run.dir``, with its ``.hydra/`` record) and a sweep's
    (``hydra.sweep.dir``, with ``multirun.yaml``) before any of gatelab's code runs: this Hydra
    callback (conf/hydra/callbacks/) checks them, and the run's own ``paths.out_dir``, first."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_hydra_places(config, "hydra.run.dir")

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        check_hydra_places(config, "hydra.sweep.dir")


def check_hydra_places(config: DictConfig, setting: str) -> None:
    set_hydra_config(config)  # (before the launcher does: ${hydra:...} in the folder's name resolves)
    try:
        if config.hydra.job.chdir:
            raise GatelabError(
                "hydra.job.chdir=true is not supported: gatelab's paths (data/, runs/) are relative to the folder "
                "the command starts in; leave it false (the default)"
            )
        places = {setting: (OmegaConf.select(config, setting), True)}
        if setting == "hydra.run.dir" and not OmegaConf.is_interpolation(config.paths, "out_dir"):
            # (A folder given by hand, or paths=pipeline's: checked first, so that it is named.)
            places = {"paths.out_dir": (config.paths.out_dir, True), **places}
        check_write_places(places, own_folder=OmegaConf.select(config, setting))
        check_writable(OmegaConf.select(config, setting))  # (Hydra makes it next: a folder that cannot be, said now)
    except Exception as err:
        exit_from_hydra_callback(err)
