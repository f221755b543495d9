"""The explorer: one HTML page, opened from disk, where a student replays any recorded run, steps
runs side by side, browses every seed of a study, and trains a net live by the chain rule.

The page is data plus code. The data is what the pipeline recorded, read here: each run's snapshots
(weights every 10 steps, exactly as float32 bytes, so the page's forward pass is the snapshot's), the
phase the animations name at each record (gatelab.presentation.animation: one definition, computed
here, not again in the page), each study's per-seed verdicts and the landscape's cells. The code is
``src/explorer/`` (beside the entry point, src/explore.py, so that the pipeline's explorer stage alone
depends on it): ``torch_init.js`` draws the weights ``torch.manual_seed(seed); build_mlp(...)`` draws,
bit for bit (mt19937 and nn.Linear's initialisation), ``chain_rule.js`` trains by the chain rule in
float64 as ``python src/train.py +trainer.precision=64-true`` does, and ``explorer.js`` draws. All of
it is inlined into one file: nothing is fetched when the page opens.

The constants the page judges by (the solved threshold, the plateau, the early-stopping rule, the
input square) come from here, from the modules that define them.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import torch

from gatelab.config.record import LAB_RULE
from gatelab.core.chain_rule import LAB_EPSILON
from gatelab.core.gates import FUNCTIONS, GATES, truth_table
from gatelab.core.network import architecture
from gatelab.core.solved import LN2, PLATEAU, solved_threshold
from gatelab.infra.errors import GatelabError
from gatelab.infra.files import reading
from gatelab.presentation.animation import UNIT_COLORS, Recording, key_frames, load_recording, phase
from gatelab.presentation.plots import HIGH, LOW

ASSETS = ("explorer.css", "torch_init.js", "chain_rule.js", "explorer.js")
#: The page's size budget: the committed pictures are about 5 MB; the page carries every run's
#: weights (3.5 MB) and every seed's verdict and first correct step (100,000 seeds of the pipeline's
#: studies and landscape, 0.5 MB), so it is held under 4.5 MB (bench/explorer.py prints its size).
SIZE_BUDGET = 4_500_000


def run_entry(run_id: str, recording: Recording) -> dict:
    """One recorded run as the page reads it: its net, steps, weights (float32 bytes, base64), and
    the phase at each record (only where it changes, as [record, text] pairs)."""
    config = recording.config
    phases, last = [], None
    for i in range(len(recording.steps)):
        text = phase(recording, i)
        if text != last:
            phases.append([i, text])
            last = text
    weights = recording.weights.to(torch.float32).contiguous().numpy().astype("<f4")
    return {
        "id": run_id,
        "title": recording.title,
        "gate": recording.gate,
        "architecture": architecture(recording.x.shape[1], recording.hidden),
        "sizes": [recording.x.shape[1], *recording.hidden, 1],
        "activation": recording.activation,
        "seed": config.get("seed"),
        "lr": (config.get("optimizer") or {}).get("lr"),
        "steps": recording.steps.tolist(),
        "weights": base64.b64encode(weights.tobytes()).decode("ascii"),
        "phases": phases,
        "keys": key_frames(recording),
        "x": recording.x.tolist(),
        "y": recording.y.flatten().tolist(),
    }


VERDICT_CODES = "0123456789abcdefghijklmnopqrstuvwxyz"  # (JavaScript: parseInt(code, 36))


def study_entry(study_id: str, study: dict) -> dict:
    """One seed study as the page's grid shows it: each seed's verdict (``solved``, the corners its
    hidden layer merged, ``plateau``, ``other``) and the step it first answered every row right."""
    per_seed, settings = study["per_seed"], study["settings"]
    verdicts = ["solved" if solved else (failure or "other") for solved, failure in zip(per_seed["solved"], per_seed["failure"])]
    # One character per seed, an index (base 36) into the study's kinds: the page carries some 10^5
    # seeds, and a word each would pass its size budget. explorer.js decodes them when it loads.
    kinds = sorted(set(verdicts))
    if len(kinds) > len(VERDICT_CODES):
        raise GatelabError(f"study {study_id}: {len(kinds)} kinds of verdict, more than the page's {len(VERDICT_CODES)} codes")
    return {
        "id": study_id,
        "gate": study["gate"],
        "first_seed": study["first_seed"],
        "kinds": kinds,
        "verdict_codes": "".join(VERDICT_CODES[kinds.index(v)] for v in verdicts),
        "first_correct": per_seed["first_correct"],
        "solved": study["solved"],
        "seeds": study["seeds"],
        "architecture": settings["architecture"],
        "activation": settings["activation"],
        "lr": settings["lr"],
        "max_steps": settings["max_steps"],
        "optimizer": settings["optimizer"],
        # The rule the page can train each seed by: plain SGD by the chain rule ("exact"), the
        # notes' rule ("lab"), or none (another optimizer: the grid shows its verdicts only).
        "rule": {"SGD": "exact", LAB_RULE: "lab"}.get(settings["optimizer"]),
    }


def truth_tables() -> dict[str, dict]:
    """Every gate's and two-input function's rows and targets (gatelab.core.gates), by name."""
    tables = {}
    for name in [*GATES, *FUNCTIONS]:
        x, y = truth_table(name)
        tables[name] = {"x": x.tolist(), "y": y.flatten().tolist()}
    return tables


def read_study(study_id: str, path: Path) -> dict:
    """A study's JSON as the page's grid reads it, or a one-line error naming a damaged file."""
    with reading("study", path):
        return study_entry(study_id, json.loads(path.read_text()))


def read_landscape(path: Path) -> dict:
    """The landscape's cells, as much of each as the page's table shows, or a one-line error."""
    with reading("landscape", path):
        cells = json.loads(path.read_text())["cells"]
        return {"cells": [{key: cell[key] for key in ("architecture", "lr", "solved", "solve_rate")} for cell in cells]}


def explorer_data(runs: dict[str, Path], studies: dict[str, Path], landscape: Path | None) -> dict:
    """Everything the page shows, from the recorded files: ``runs`` maps a run's name (mlp2/xor) to
    its snapshots, ``studies`` a study's name (mlp2/xor, 2-2-1-lr1/xor) to its JSON."""
    # The studies and the landscape first (cheap): a damaged file is named before any run is read.
    study_entries = [read_study(study_id, path) for study_id, path in studies.items()]
    landscape_entry = read_landscape(landscape) if landscape is not None else None
    if not runs:
        raise GatelabError("no snapshots to explore: train runs first (dvc repro, or python src/train.py)")
    recordings = {run_id: load_recording(path) for run_id, path in runs.items()}
    configs = [recording.config for recording in recordings.values()]
    early_stopping = common([(c.get("callbacks") or {}).get("early_stopping") or {} for c in configs])
    solved_below = common([c.get("solved_below", 0.05) for c in configs])
    return {
        "format": 1,
        # The settings the page judges live runs by: those most of the recorded runs ran with (the
        # pipeline's defaults, conf/config.yaml and conf/callbacks/default.yaml).
        "constants": {
            "ln2": LN2,
            "plateau": PLATEAU,
            "solved_below": solved_below,
            "solved_threshold_4_rows": solved_threshold(solved_below, 4),
            # The single run's early stopping (gatelab.callbacks.SolvedOrStuck), which the page's
            # live training follows: checked every steps_per_epoch steps.
            "steps_per_epoch": common([c.get("steps_per_epoch", 100) for c in configs]),
            "patience": early_stopping.get("patience", 10),
            "min_delta": early_stopping.get("min_delta", 1e-6),
            "max_steps": common([(c.get("trainer") or {}).get("max_steps", 10001) for c in configs]),
            "every": common([((c.get("callbacks") or {}).get("snapshots") or {}).get("every", 10) for c in configs]),
            "low": LOW,
            "high": HIGH,
            "unit_colors": list(UNIT_COLORS),
            "lab_epsilon": LAB_EPSILON,
        },
        # What live training can train on: every gate's and two-input function's truth table.
        "gates": truth_tables(),
        "runs": [run_entry(run_id, recording) for run_id, recording in recordings.items()],
        "studies": study_entries,
        "landscape": landscape_entry,
    }


def common(values: list):
    """The value most of ``values`` have (the first of those tied)."""
    keys = [json.dumps(v, sort_keys=True) for v in values]
    return values[max(range(len(values)), key=lambda i: (keys.count(keys[i]), -i))]


def page(data: dict, assets: Path) -> str:
    """The page: ``assets``/page.html (src/explorer/) with the styles, the scripts and the data inlined."""
    text = {name: (assets / name).read_text(encoding="utf-8") for name in ("page.html", *ASSETS)}
    # The data sits in a JSON script block: "</" inside a string would end the block early.
    blob = json.dumps(data, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    html = text["page.html"]
    html = html.replace("/*STYLE*/", text["explorer.css"])
    html = html.replace("/*DATA*/", blob)
    return html.replace("/*SCRIPTS*/", "\n".join(text[name] for name in ASSETS[1:]))
