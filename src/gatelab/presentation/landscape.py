"""The XOR landscape: the seed studies of a sweep over nets and learning rates, as one grid.

Each cell is one study (gatelab.recipes.study) of one net at one learning rate, as the sweep of
conf/landscape/xor.yaml writes them: how many of its seeds solve the gate (the study's rule), and the
median step at which the solved ones first answer every row right. The cells are read back from the
studies' own JSON (their recorded settings say which net and rate they are), checked to be one
experiment (same gate, seeds, step budget, activation, optimizer and rule), and written as one JSON,
a heatmap per depth, and a table for the report.
"""

from __future__ import annotations

import math
from pathlib import Path

from gatelab.config.layout import SHARD_FILE
from gatelab.core.network import architecture
from gatelab.core.rates import interval_text
from gatelab.infra.errors import GatelabError
from gatelab.infra.files import check_output_places, read_json, reading, sole_writer, write_json, written_together
from gatelab.presentation.plots import save_figure

FORMAT = 1
# What every cell of one landscape shares (the study's summary, and its recorded settings).
SHARED = ("gate", "seeds", "first_seed", "threshold")
SHARED_SETTINGS = ("activation", "optimizer", "max_steps", "solved_below")


def find_studies(places: list[str | Path]) -> list[Path]:
    """The study files (``<name>/<gate>.json``, not shards) in ``places``: files, or folders searched through."""
    found = []
    for place in map(Path, places):
        if not place.exists():
            raise GatelabError(f"{place} does not exist")
        candidates = [place] if place.is_file() else sorted(place.rglob("*.json"))
        found += [path for path in candidates if not SHARD_FILE.fullmatch(path.name) and path.name != "landscape.json"]
    if not found:
        raise GatelabError(
            f"no studies in {', '.join(map(str, places))}; run the sweep first: python src/study.py --multirun +landscape=xor"
        )
    return found


def net_of(architecture: str) -> tuple[int, int]:
    """``"2-3-3-1"`` -> (depth 2, width 3): the landscape's nets have equal hidden layers."""
    hidden = [int(n) for n in architecture.split("-")[1:-1]]
    if not hidden or len(set(hidden)) != 1:
        raise GatelabError(f"a landscape cell must be a net of equal hidden layers (2-h-1, 2-h-h-1, ...), got {architecture}")
    return len(hidden), hidden[0]


def collect(places: list[str | Path]) -> dict:
    """Every study in ``places`` as one landscape, or a one-line error naming the study that does not fit."""
    cells, first, where = {}, None, {}
    for path in find_studies(places):
        study = read_json(path)
        if not isinstance(study, dict) or not {"per_seed", "settings", "steps_to_100"} <= study.keys():
            raise GatelabError(f"{path} is not a seed study written by src/study.py (shards: merge them first, src/merge_shards.py)")
        with reading("seed study", path):
            settings = study["settings"]
            key = (*net_of(settings["architecture"]), float(settings["lr"]))
            shared = {k: study[k] for k in SHARED} | {k: settings[k] for k in SHARED_SETTINGS}
            check_cell(study)
        if first is None:
            first, first_path = shared, path
        elif shared != first:
            differ = ", ".join(f"{k} {first[k]} vs {shared[k]}" for k in first if first[k] != shared[k])
            raise GatelabError(f"{path} is not of the same experiment as {first_path} ({differ}): one landscape per sweep")
        if key in cells:
            raise GatelabError(f"{path} and {where[key]} are both {settings['architecture']} at lr {settings['lr']:g}")
        cells[key], where[key] = study, path
    return summarize(first, cells)


def check_cell(study: dict) -> None:
    """What the landscape reads of a study (summarize), of the types it needs: ValueError if not."""
    steps = study["steps_to_100"]
    numbers = [study["solved"], study["solve_rate"], study["seeds"], *([steps["median"], steps["p10"], steps["p90"]] if steps else [])]
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n) for n in numbers):
        raise ValueError("a count, rate or number of steps is not a finite number")


def summarize(shared: dict, cells: dict[tuple[int, int, float], dict]) -> dict:
    rows = []
    for (depth, width, lr), study in sorted(cells.items()):
        steps = study["steps_to_100"]
        rows.append({
            "architecture": study["settings"]["architecture"],
            "depth": depth,
            "width": width,
            "lr": lr,
            "solved": study["solved"],
            "solve_rate": study["solve_rate"],
            "median_steps": steps["median"] if steps else None,  # to every row right, over the solved seeds
            "p10_steps": steps["p10"] if steps else None,
            "p90_steps": steps["p90"] if steps else None,
        })  # fmt: skip
    return {"format": FORMAT, **shared, "lrs": sorted({lr for _, _, lr in cells}), "cells": rows}


def grid(landscape: dict) -> tuple[list[tuple[int, int]], list[float], dict]:
    """The nets (by depth, then width), the learning rates, and each (depth, width, lr) cell."""
    cells = {(c["depth"], c["width"], c["lr"]): c for c in landscape["cells"]}
    nets = sorted({(depth, width) for depth, width, _ in cells})
    return nets, landscape["lrs"], cells


def table(landscape: dict) -> list[str]:
    """Markdown: a row per net, a column per learning rate; 'solved/seeds [95 % interval, %] (median steps)'."""
    nets, lrs, cells = grid(landscape)
    lines = ["| net | " + " | ".join(f"lr {lr:g}" for lr in lrs) + " |", "|---|" + "---:|" * len(lrs)]
    for depth, width in nets:
        row = []
        for lr in lrs:
            cell = cells.get((depth, width, lr))
            if cell is None:
                row.append("")
                continue
            timing = f" ({cell['median_steps']})" if cell["median_steps"] is not None else ""
            row.append(f"{cell['solved']}/{landscape['seeds']} {interval_text(cell['solved'], landscape['seeds'])}{timing}")
        lines.append(f"| {architecture(2, [width] * depth)} | " + " | ".join(row) + " |")
    return lines


def heatmap_png(landscape: dict, path: str | Path) -> Path:
    """The table as a heatmap: a row per net (by depth, then width), a column per learning rate,
    coloured by solve rate and labelled with it and the median step to every row right."""
    from matplotlib.figure import Figure  # (matplotlib's import: only when a picture is drawn)

    nets, lrs, cells = grid(landscape)
    fig = Figure(figsize=(1.9 + 0.95 * len(lrs), 1.1 + 0.36 * len(nets)), dpi=90, layout="constrained")
    ax = fig.subplots()
    ax.set_title(
        f"XOR: share of {landscape['seeds']} seeds solved · median step to every row right\n"
        f"{landscape['activation']} nets, full-batch {landscape['optimizer']}, at most {landscape['max_steps']} steps",
        fontsize=9,
    )
    rates = [[cells[d, w, lr]["solve_rate"] if (d, w, lr) in cells else float("nan") for lr in lrs] for d, w in nets]
    image = ax.imshow(rates, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    for i, (depth, width) in enumerate(nets):
        for j, lr in enumerate(lrs):
            cell = cells.get((depth, width, lr))
            if cell is None:
                continue
            steps = "" if cell["median_steps"] is None else f" · {cell['median_steps']}"
            dark = cell["solve_rate"] < 0.15 or cell["solve_rate"] > 0.85  # the colour map's dark ends
            ax.text(j, i, f"{percent(cell['solved'], landscape['seeds'])}{steps}", ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
        if i and depth != nets[i - 1][0]:
            ax.axhline(i - 0.5, color="white", linewidth=3)  # between depths
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(len(nets)), [architecture(2, [w] * d) for d, w in nets])
    ax.set(xlabel="learning rate")
    ax.tick_params(labelsize=8, length=2)
    fig.colorbar(image, ax=ax, shrink=0.6, label="share solved").ax.tick_params(labelsize=7)
    return save_figure(fig, path, colors=64)


def percent(solved: int, seeds: int) -> str:
    """0 % and 100 % only when no seed or every seed solves it (998 of 1000 is 99.8 %, not 100 %)."""
    share = 100 * solved / seeds
    if solved in (0, seeds) or 1 <= share <= 99:
        return f"{share:.0f}%"
    return f"{share:.1f}%"


def write_landscape(places: list[str | Path], out_json: str | Path, out_png: str | Path) -> dict:
    """Collect, then write the JSON and the heatmap together (or neither)."""
    landscape = collect(places)
    outputs = [Path(out_json), Path(out_png)]
    check_output_places([str(path) for path in outputs])
    with sole_writer(outputs, "landscape"), written_together():
        write_json(out_json, landscape)
        heatmap_png(landscape, out_png)
    return landscape
