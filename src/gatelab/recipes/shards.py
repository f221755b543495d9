"""A seed study in shards: K jobs, each training a consecutive range of the seeds, merged into
exactly the summary one job training all of them writes, byte for byte.

    python src/study.py --multirun study.seeds=200 study.shards=4 'study.shard=range(4)'
    -> runs/<date>/<time>/study/mlp2/xor.json, merged when the last shard is done (MergeShards)
    python src/merge_shards.py runs/<date>/<time>        # the same merge, by hand

Each shard is an ordinary job of any Hydra launcher (the basic one, joblib, submitit on a SLURM
cluster) and writes ``<study_dir>/<name>/<gate>.shard-<i>-of-<K>.json``: its copies' facts
(``gatelab.recipes.summary.facts_of``) and the run's resolved config. A copy's facts do not depend on which
copies share its batch (``gatelab.recipes.batched``: each ends where its own run stops), so merging is
concatenating them in seed order and summarizing them with the same function as an unsharded
study (``gatelab.recipes.summary.summarize_facts``).

A set of shards is merged only if it is whole and of one run: every shard 0..K-1 exactly once,
each the seed range its number names with one fact per seed, all of the same model, gate and
settings. Anything else (a shard missing, say because its job failed; one repeated; one truncated;
shards of different settings) is refused in one line, and nothing is written.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from gatelab.config.layout import SHARD_FILE, is_run_name, shown_path
from gatelab.config.planning import shard_range
from gatelab.config.record import changed_settings, resolved_config
from gatelab.infra.errors import GatelabError, exit_from_hydra_callback
from gatelab.infra.files import check_output_places, read_json, reading, sole_writer, write_json, written_together
from gatelab.recipes.summary import format_study, summarize_facts, write_study

FORMAT = "gatelab-study-shard-1"
# Settings that may differ between the shards of one study: which shard, and where each writes.
PER_SHARD = {"study.shard"}


def write_shard(cfg: DictConfig, seeds: range, steps: int, facts: dict, settings: dict, threshold: float, path: Path) -> dict:
    """Write one shard's facts; returns what the command prints."""
    shard = {
        "format": FORMAT,
        "model": cfg.name,
        "gate": cfg.data.gate,
        "shard": cfg.study.shard,
        "shards": cfg.study.shards,
        "seeds": [seeds.start, seeds.stop],  # first_seed + shard * seeds // shards, ...: gatelab.recipes.study.shard_range
        "steps": steps,
        "threshold": threshold,
        "settings": settings,
        "config": resolved_config(cfg),
        "per_seed": facts,
    }
    write_json(path, shard)
    return {**shard, "json": shown_path(path)}


def format_shard(shard: dict) -> str:
    first, stop = shard["seeds"]
    solved = sum(shard["per_seed"]["solved"])
    return (
        f"{shard['model']} on {shard['gate']}: shard {shard['shard']} of {shard['shards']} (seeds {first}..{stop - 1}): "
        f"{solved}/{stop - first} seeds solve it -> {shard['json']}"
    )


def find_shards(places: list[str | Path]) -> dict[tuple[str, str], list[Path]]:
    """The shard files in ``places`` (files, or folders searched through), by model and gate."""
    found: dict[tuple[str, str], list[Path]] = defaultdict(list)
    for place in map(Path, places):
        if not place.exists():
            raise GatelabError(f"{place} does not exist")
        for path in sorted([place] if place.is_file() else place.rglob("*.shard-*-of-*.json")):
            match = SHARD_FILE.fullmatch(path.name)
            if match is None:
                raise GatelabError(f"{path} is not a shard file (<gate>.shard-<i>-of-<K>.json)")
            found[path.parent.name, match["gate"]].append(path)
    if not found:
        raise GatelabError(f"no shard files (*.shard-<i>-of-<K>.json) in {', '.join(map(str, places))}")
    return dict(found)


def merge(paths: list[Path]) -> dict:
    """The summary of one study from all its shard files, or a one-line error naming what is wrong."""
    shards = [read_json(path) for path in paths]
    for path, shard in zip(paths, shards):
        if not isinstance(shard, dict) or shard.get("format") != FORMAT:
            raise GatelabError(f"{path} is not a study shard written by src/study.py study.shards=K")
    with reading("set of study shards", ", ".join(map(str, paths))):
        first, first_path = shards[0], paths[0]
        count = first["shards"]
        for path, shard in zip(paths, shards):
            if (shard["model"], shard["gate"], shard["shards"]) != (first["model"], first["gate"], count):
                raise GatelabError(
                    f"{path} is shard {shard['shard']} of {shard['shards']} of {shard['model']} on {shard['gate']}, but "
                    f"{first_path} is of {count} of {first['model']} on {first['gate']}: shards of different studies"
                )
            changed = [c for c in changed_settings(first["config"], shard["config"]) if c.split(":")[0] not in PER_SHARD]
            if changed:
                raise GatelabError(f"{path} and {first_path} are shards of runs with different settings ({'; '.join(changed)})")
        numbers = sorted(shard["shard"] for shard in shards)
        repeated = sorted({n for n in numbers if numbers.count(n) > 1})
        missing = sorted(set(range(count)) - set(numbers))
        if repeated or missing:
            what = "; ".join([f"shard(s) {', '.join(map(str, repeated))} given twice"] * bool(repeated)
                             + [f"shard(s) {', '.join(map(str, missing))} missing (failed or not run?)"] * bool(missing))  # fmt: skip
            raise GatelabError(f"{first['model']} on {first['gate']}: {count} shards expected, {what}")
        study = first["config"]["study"]
        shards.sort(key=lambda shard: shard["shard"])
        facts: dict[str, list] = defaultdict(list)
        for path, shard in sorted(zip(paths, shards), key=lambda item: item[1]["shard"]):
            seeds = shard_range(study["first_seed"], study["seeds"], shard["shard"], count)
            lengths = {len(values) for values in shard["per_seed"].values()}
            if shard["seeds"] != [seeds.start, seeds.stop] or lengths != {len(seeds)}:
                raise GatelabError(
                    f"{path} does not hold the seeds {seeds.start}..{seeds.stop - 1} that shard {shard['shard']} of {count} trains"
                )
            for key, values in shard["per_seed"].items():
                facts[key] += values
        seeds = range(study["first_seed"], study["first_seed"] + study["seeds"])
        steps = max(shard["steps"] for shard in shards)  # the unsharded study stops when its last copy's run does
        result = summarize_facts(first["model"], first["gate"], seeds, steps, first["threshold"], dict(facts))
        result["settings"] = first["settings"]
    return result


def merge_and_write(places: list[str | Path], out_dir: str | Path) -> list[dict]:
    """Merge every study whose shards are in ``places`` and write it under ``out_dir``
    (study/<name>/<gate>.json, plots/study/<name>/<gate>.png): all checked before anything is
    written, then written together."""
    studies = {key: merge(paths) for key, paths in sorted(find_shards(places).items())}
    for name, _ in studies:
        if not is_run_name(name):
            raise GatelabError(f"{name!r} (a shard's folder) is not a run's name")
    outputs = {(name, gate): (Path(out_dir, "study", name, f"{gate}.json"), Path(out_dir, "plots/study", name, f"{gate}.png"))
               for name, gate in studies}  # fmt: skip
    check_output_places([str(path) for pair in outputs.values() for path in pair])
    with sole_writer([path for pair in outputs.values() for path in pair], "merge"), written_together():
        return [write_study(result, *outputs[key]) for key, result in studies.items()]


class MergeShards(Callback):
    """A Hydra callback (conf/hydra/callbacks/): when a sweep's jobs have written shards into its
    folder (``paths=run``, the default), merge them there once the last job is done. A job that
    failed leaves its shard missing, and the merge says which (its own error came first)."""

    def on_multirun_end(self, config: DictConfig, **kwargs) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir() or not any(sweep_dir.rglob("*.shard-*-of-*.json")):
            return
        try:
            for result in merge_and_write([sweep_dir], sweep_dir):
                print(format_study(result))
        except Exception as err:
            exit_from_hydra_callback(err, "merging the shards: ")
