"""Where a run writes: its name as a folder, and every file and folder a run, a study or a shard of
one puts its results in (the places conf/paths/ configures)."""

from __future__ import annotations

import re
from pathlib import Path

from omegaconf import DictConfig

from gatelab.config.planning import study_cells
from gatelab.infra.errors import GatelabError

# A run's name is one folder name: models/<name>/<gate>.ckpt must stay inside models/.
NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+=,-]*")
# One shard of a study's seeds (gatelab.recipes.shards).
SHARD_FILE = re.compile(r"(?P<gate>.+)\.shard-(?P<shard>\d+)-of-(?P<shards>\d+)\.json")


def is_run_name(name: object) -> bool:
    return isinstance(name, str) and NAME.fullmatch(name) is not None and ".." not in name


def check_name(name: object) -> None:
    if not is_run_name(name):
        raise GatelabError(
            f"name must be one folder name (letters, digits and . _ + = , -; not starting with . or -), got {name!r}: "
            "it names the run's folders, models/<name>/ and the like"
        )


def output_files(cfg: DictConfig) -> list[str]:
    """The files a run (or a study) writes."""
    if "study" in cfg and cfg.study.get("lrs") is not None:
        return [path for cell in study_cells(cfg) for path in output_files(cell)]
    if "study" in cfg:
        if cfg.study.shards > 1:
            return [shard_file(cfg.paths.study_dir, cfg.name, cfg.data.gate, cfg.study.shard, cfg.study.shards)]
        return [study_json(cfg), study_png(cfg)] if cfg.study.get("picture", True) else [study_json(cfg)]
    snapshots = (cfg.get("callbacks") or {}).get("snapshots")
    files = [cfg.ckpt_path, cfg.resume_path, cfg.paths.run_config, snapshots.path if snapshots else None]
    return [f for f in files if f]


def output_places(cfg: DictConfig) -> dict[str, tuple[object, bool]]:
    """Each setting that names a place the run writes: its value, and whether it is a folder (the
    paths.* folders, the logger's) or a file (a run's checkpoint, resume state, snapshots, config)."""
    places = {f"paths.{key}": (cfg.paths[key], True) for key in cfg.paths if key not in ("data_dir", "run_config")}
    if cfg.paths.get("run_config") is not None:
        places["paths.run_config"] = (cfg.paths.run_config, False)
    if "study" not in cfg:
        snapshots = (cfg.get("callbacks") or {}).get("snapshots")
        places |= {"ckpt_path": (cfg.ckpt_path, False), "resume_path": (cfg.resume_path, False)}
        if snapshots:
            places["callbacks.snapshots.path"] = (snapshots.path, False)
    logger = cfg.get("logger") or {}
    places |= {f"logger.{key}": (logger[key], True) for key in ("dir", "save_dir") if logger.get(key)}
    return places


def curves_folder(cfg: DictConfig) -> tuple[str, str] | None:
    """The folder of the run's curves, and the logger's setting that names it (directly, or its
    last part): dvclive's ``logger.dir``, or Lightning's CSV logger's ``<save_dir>/<name>/<version>``."""
    logger = cfg.get("logger") or {}
    if logger.get("dir"):
        return logger.dir, "dir"
    if logger.get("save_dir") and logger.get("version") is not None:
        return f"{logger.save_dir}/{logger.name}/{logger.version}", "version"
    return None


def output_folders(cfg: DictConfig) -> list[str]:
    logger = cfg.get("logger") or {}
    return [folder for folder in (logger.get("dir"), logger.get("save_dir")) if folder]


def study_json(cfg: DictConfig) -> str:
    return f"{cfg.paths.study_dir}/{cfg.name}/{cfg.data.gate}.json"


def study_png(cfg: DictConfig) -> str:
    return f"{cfg.paths.plots_dir}/study/{cfg.name}/{cfg.data.gate}.png"


def shard_file(study_dir: str, name: str, gate: str, shard: int, shards: int) -> str:
    return f"{study_dir}/{name}/{gate}.shard-{shard}-of-{shards}.json"


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working directory when it is inside it (runs/..., models/...)."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)
