"""The markdown report that `dvc repro` writes to reports/summary.md (and the README embeds)."""

from __future__ import annotations

from collections.abc import Sequence

from gatelab.gates import FUNCTIONS

Results = dict[tuple[str, str], dict]

GRID_SECTIONS = [
    ("accuracy", "Accuracy on the truth table (1.00: every row right)", "{:.2f}"),
    ("steps", "Steps trained (early stopping ends solved runs and runs stuck on a plateau)", "{}"),
    ("loss", "Final loss (mean BCE; ln 2 = 0.6931 is the plateau of answering 0.5 everywhere)", "{:.4f}"),
]


def grid_table(results: Results, rows: Sequence[str], columns: Sequence[str], key: str, fmt: str) -> list[str]:
    """``results[row, column][key]`` as a markdown table, models down and gates across."""
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(fmt.format(results[row, c][key]) for c in columns) + " |")
    return lines


def grid_section(results: Results, models: Sequence[str], gates: Sequence[str]) -> list[str]:
    lines = ["## Every model on every gate", "", "![decision boundaries](../plots/lesson.png)", ""]
    lines += [
        "Each picture is what a trained net answers over the unit square: blue 0, red 1, white 0.5, the black",
        "line is its decision boundary, circles are rows whose answer is 0 and squares rows whose answer is 1.",
        "",
    ]
    for key, title, fmt in GRID_SECTIONS:
        lines += [f"{title}:", "", *grid_table(results, models, gates, key, fmt), ""]
    return lines


def sixteen_section(results: Results, run: str, codes: Sequence[str]) -> list[str]:
    failed = [code for code in codes if results[run, code]["accuracy"] < 1]
    solved = len(codes) - len(failed)
    lines = [
        f"## The perceptron on all {len(codes)} functions of two inputs",
        "",
        f"It learns {solved} of {len(codes)}; it fails "
        + (", ".join(f"{code} ({FUNCTIONS[code]})" for code in failed) or "none")
        + ". A code lists the outputs for the inputs 00, 01, 10, 11.",
        "",
        "![the perceptron on the 16 functions](../plots/sixteen.png)",
        "",
        "| code | function | accuracy | loss | steps |",
        "|---|---|---:|---:|---:|",
    ]
    for code in codes:
        m = results[run, code]
        lines.append(f"| {code} | {FUNCTIONS[code]} | {m['accuracy']:.2f} | {m['loss']:.4f} | {m['steps']} |")
    return [*lines, ""]


def activations_section(results: Results, runs: dict[str, str], gate: str) -> list[str]:
    """``runs``: activation -> run name (the deep net trained with that activation)."""
    lines = [
        "## A deep net, 2-64-32-16-1, on XOR for 1000 steps",
        "",
        "The notes: with sigmoids everywhere it fails (vanishing gradients); tanh or ReLU in the hidden",
        "layers help. Same seed, same SGD (lr 1); only the hidden activation differs.",
        "",
        "![the deep net with each activation](../plots/activations.png)",
        "",
        "| hidden activation | accuracy | loss | steps |",
        "|---|---:|---:|---:|",
    ]
    for activation, run in runs.items():
        m = results[run, gate]
        lines.append(f"| {activation} | {m['accuracy']:.2f} | {m['loss']:.4f} | {m['steps']} |")
    return [*lines, ""]


def study_section(studies: Results, models: Sequence[str], gates: Sequence[str]) -> list[str]:
    """``studies[model, gate]``: the seed study's summary (gatelab.study)."""
    seeds = {s["seeds"] for s in studies.values()}
    lines = [
        f"## How often does each model solve each gate? ({'/'.join(map(str, sorted(seeds)))} seeds)",
        "",
        "Seeds 0, 1, 2, ... of each model, trained at once (`python src/study.py`). Solved: every row right and",
        "loss below 0.05 within the budget. In brackets: the median step at which the solved seeds first answer",
        "every row right.",
        "",
        "| model | " + " | ".join(gates) + " |",
        "|---|" + "---:|" * len(gates),
    ]
    for model in models:
        cells = []
        for gate in gates:
            study = studies[model, gate]
            timing = f" ({study['steps_to_100']['median']})" if study["steps_to_100"] else ""
            cells.append(f"{100 * study['solve_rate']:.0f} %{timing}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append("")
    for model in models:
        if (model, "xor") in studies:
            lines += [f"![{model} on xor, every seed](../plots/study/{model}/xor.png)", ""]
    return lines


def test_section(results: Results) -> list[str]:
    tested = [key for key, m in results.items() if "test" in m]
    if not tested:
        return []
    lines = ["## Test sets (runs trained on noisy data)", "", "| run | gate | test accuracy | test loss |", "|---|---|---:|---:|"]
    for run, gate in tested:
        test = results[run, gate]["test"]
        lines.append(f"| {run} | {gate} | {test['accuracy']:.2f} | {test['loss']:.4f} |")
    return [*lines, ""]


def markdown_report(sections: list[list[str]]) -> str:
    lines = ["# Results", "", "Written by `dvc repro` (the `evaluate` stage); pictures in `plots/`.", ""]
    for section in sections:
        lines += section
    return "\n".join(lines)
