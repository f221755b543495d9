"""The markdown report that `dvc repro` writes to reports/summary.md (the README shows its first tables).

Every setting it names (optimizer, learning rate, seeds, architecture, step budget, the solved
rule) is read from the configs the runs recorded: checkpoints keep their resolved config, study
results their settings. Nothing about a run is written here by hand.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from gatelab.core.anatomy import AT_MEAN, MERGED, describe
from gatelab.core.gates import FUNCTIONS
from gatelab.core.rates import interval_text
from gatelab.core.solved import LN2, UNDECIDED
from gatelab.presentation.landscape import grid, table

Results = dict[tuple[str, str], dict]

ACCURACY_RULE = (
    "A row is right when the output is on its target's side of 0.5 (the notes' `y_pred > 0.5`: an output of exactly 0.5 counts as 0)."
)


def number(value: float) -> str:
    return f"{value:g}"


def training_sentence(settings: Iterable[dict]) -> str:
    """ "full-batch SGD (lr 1), at most 10001 steps", or the values that differ between runs."""
    settings = list(settings)

    def values(key: str) -> str:
        found = sorted({str(s[key]) if key != "lr" else number(s[key]) for s in settings})
        return found[0] if len(found) == 1 else " or ".join(found)

    return f"full-batch {values('optimizer')} (lr {values('lr')}), at most {values('max_steps')} steps"


def solved_rule(threshold: float) -> str:
    return f"every row right and the loss below {number(threshold)}"


def accuracy_cell(metrics: dict) -> str:
    """The accuracy, marked when the net answers 0.5 on every row (see UNDECIDED)."""
    text = f"{metrics['accuracy']:.2f}"
    return text + "*" if metrics["max_margin"] < UNDECIDED else text


def undecided_note(results: Iterable[dict]) -> list[str]:
    if not any(m["max_margin"] < UNDECIDED for m in results):
        return []
    return [
        f"\\* The net answers 0.5 on every row (each output within {UNDECIDED} of 0.5): it has learned nothing that",
        "separates the rows, and whether each output lands a hair above or below 0.5 decides this accuracy.",
        "",
    ]


GRID_SECTIONS = [
    ("accuracy", "Accuracy on the truth table (1.00: every row right)", accuracy_cell),
    ("steps", "Steps trained (early stopping ends solved runs and runs stuck on a plateau)", lambda m: f"{m['steps']}"),
    ("loss", f"Final loss (mean BCE; ln 2 = {LN2:.4f} is the plateau of answering 0.5 everywhere)",
     lambda m: f"{m['loss']:.4f}"),
]  # fmt: skip


def grid_table(results: Results, rows: Sequence[str], columns: Sequence[str], cell) -> list[str]:
    """``cell(results[row, column])`` as a markdown table, models down and gates across."""
    lines = ["| model | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    for row in rows:
        lines.append(f"| {row} | " + " | ".join(cell(results[row, c]) for c in columns) + " |")
    return lines


def grid_section(results: Results, models: Sequence[str], gates: Sequence[str]) -> list[str]:
    grid = [results[m, g] for m in models for g in gates]
    settings = [m["settings"] for m in grid]
    seeds = sorted({s["seed"] for s in settings})
    architectures = ", ".join(f"{m} {results[m, gates[0]]['settings']['architecture']}" for m in models)
    lines = ["## Every model on every gate", ""]
    lines += [
        f"Each model ({architectures}) trained on each gate from seed {' or '.join(map(str, seeds))}: "
        f"{training_sentence(settings)}, stopped early once solved ({solved_rule(settings[0]['solved_below'])}) "
        "or stuck on a plateau.",
        "",
        "![decision boundaries](../plots/lesson.png)",
        "",
        "Each picture is what a trained net answers over the unit square: blue 0, red 1, white 0.5, the black",
        "line is its decision boundary, circles are rows whose answer is 0 and squares rows whose answer is 1.",
        "",
        ACCURACY_RULE,
        "",
    ]
    for _, title, cell in GRID_SECTIONS:
        lines += [f"{title}:", "", *grid_table(results, models, gates, cell), ""]
    return lines + undecided_note(grid)


def sixteen_section(results: Results, run: str, codes: Sequence[str]) -> list[str]:
    runs = [results[run, code] for code in codes]
    failed = [code for code in codes if not results[run, code]["solved"]]
    solved = len(codes) - len(failed)
    settings = runs[0]["settings"]
    lines = [
        f"## The perceptron on all {len(codes)} functions of two inputs",
        "",
        f"A {settings['architecture']} net, {training_sentence(r['settings'] for r in runs)}. "
        f"It solves {solved} of {len(codes)} ({solved_rule(settings['solved_below'])}); it fails "
        + (", ".join(f"{code} ({FUNCTIONS[code]})" for code in failed) or "none")
        + ". A code lists the outputs for the inputs 00, 01, 10, 11.",
        "",
        "![the perceptron on the 16 functions](../plots/sixteen.png)",
        "",
        "| code | function | accuracy | loss | steps |",
        "|---|---|---:|---:|---:|",
    ]
    for code, m in zip(codes, runs):
        lines.append(f"| {code} | {FUNCTIONS[code]} | {accuracy_cell(m)} | {m['loss']:.4f} | {m['steps']} |")
    return [*lines, "", *undecided_note(runs)]


def activations_section(results: Results, runs: dict[str, str], gate: str) -> list[str]:
    """``runs``: activation -> run name (the deep net trained with that activation)."""
    metrics = [results[run, gate] for run in runs.values()]
    settings = metrics[0]["settings"]
    seeds = " or ".join(sorted({str(m["settings"]["seed"]) for m in metrics}))
    lines = [
        f"## A deep net, {settings['architecture']}, on {gate.upper()} for at most {settings['max_steps']} steps",
        "",
        "The notes: with sigmoids everywhere it fails (vanishing gradients); tanh or ReLU in the hidden",
        f"layers help. Seed {seeds}, {training_sentence(m['settings'] for m in metrics)}; only the hidden",
        "activation differs.",
        "",
        "![the deep net with each activation](../plots/activations.png)",
        "",
        "| hidden activation | accuracy | loss | steps |",
        "|---|---:|---:|---:|",
    ]
    for activation, m in zip(runs, metrics):
        lines.append(f"| {activation} | {accuracy_cell(m)} | {m['loss']:.4f} | {m['steps']} |")
    return [*lines, "", *undecided_note(metrics)]


def deep_study_section(studies: dict[int, dict]) -> list[str]:
    """``studies[budget]``: the deep sigmoid net's seed study on XOR with that step budget."""
    budgets = sorted(studies)
    first = studies[budgets[0]]
    settings = first["settings"]
    lines = [
        f"### The notes' claim, tested: does the {settings['architecture']} sigmoid net fail XOR?",
        "",
        f"Seeds {first['first_seed']} to {first['first_seed'] + first['seeds'] - 1} of it "
        f"({settings['activation']} everywhere, full-batch {settings['optimizer']}, lr {number(settings['lr'])}), "
        "trained with each step budget:",
        "",
        "| step budget | seeds that solve XOR [95 % interval, %] | median step at which the solved first answer every row right | failures |",
        "|---:|---:|---:|---|",
    ]
    for budget in budgets:
        study = studies[budget]
        timing = study["steps_to_100"]["median"] if study["steps_to_100"] else "-"
        solved = f"{study['solved']}/{study['seeds']} {interval_text(study['solved'], study['seeds'])}"
        lines.append(f"| {budget} | {solved} | {timing} | {describe_failures(study)} |")
    short, long = studies[budgets[0]], studies[budgets[-1]]
    if long["solved"] > short["solved"] and long["steps_to_100"]:
        verdict = (
            f"With {budgets[-1]} steps {long['solved']} of {long['seeds']} seeds solve it, after "
            f"{long['steps_to_100']['median']} steps (median): the net does not fail, it sits on the ln 2 plateau "
            f"for longer than the notes' {budgets[0]} steps."
        )
    else:
        verdict = f"More steps do not help: {long['solved']} of {long['seeds']} seeds solve it with {budgets[-1]} steps."
    return [*lines, "", verdict, ""]


def describe_failures(study: dict) -> str:
    return describe(study["failures"])


def study_section(studies: Results, models: Sequence[str], gates: Sequence[str]) -> list[str]:
    """``studies[model, gate]``: the seed study's summary (gatelab.recipes.study)."""
    every = list(studies.values())
    ranges = sorted({(s["first_seed"], s["first_seed"] + s["seeds"] - 1) for s in every})
    seeds = " or ".join(f"{first} to {last}" for first, last in ranges)
    counts = " or ".join(sorted({str(s["seeds"]) for s in every}))
    thresholds = sorted({s["threshold"] for s in every})
    lines = [
        f"## How often does each model solve each gate? ({counts} seeds)",
        "",
        f"Seeds {seeds} of each model, trained at once (`python src/study.py`): "
        f"{training_sentence(s['settings'] for s in every)}. A seed solves the gate with "
        + " or ".join(solved_rule(t) for t in thresholds)
        + " at the end of training. In square brackets: the 95 % interval of the solve rate over all seeds, in percent "
        "(Wilson's); in round brackets: the median step at which the solved seeds first answered every row right.",
        "",
        "| model | " + " | ".join(gates) + " |",
        "|---|" + "---:|" * len(gates),
    ]
    for model in models:
        cells = []
        for gate in gates:
            study = studies[model, gate]
            timing = f" ({study['steps_to_100']['median']})" if study["steps_to_100"] else ""
            cells.append(f"{study['solved']}/{study['seeds']} {interval_text(study['solved'], study['seeds'])}{timing}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += failures_table(studies, models, gates)
    for model in models:
        if (model, "xor") in studies:
            lines += [f"![{model} on xor, every seed](../plots/study/{model}/xor.png)", ""]
    return lines


def landscape_section(landscape: dict, path: str) -> list[str]:
    """The XOR landscape (gatelab.presentation.landscape): its table, heatmap, and what they show."""
    nets, lrs, cells = grid(landscape)
    seeds = landscape["seeds"]
    first = landscape["first_seed"]
    lines = [
        f"## How reliably does a net learn XOR? ({seeds} seeds per cell)",
        "",
        f"Seeds {first} to {first + seeds - 1} of each {landscape['activation']} net at each learning rate, full-batch "
        f"{landscape['optimizer']}, at most {landscape['max_steps']} steps; solved by the seed study's rule "
        f"({solved_rule(landscape['threshold'])}). A cell: seeds that solve XOR, in square brackets the 95 % interval of "
        "the solve rate over all seeds (percent, Wilson's), and in round brackets the median step at which "
        "they first answered every row right. One study per net and rate (`python src/study.py --multirun +landscape=xor`), "
        f"gathered by `python src/landscape.py` into `{path}`.",
        "",
        "![the XOR landscape](../plots/landscape.png)",
        "",
        *table(landscape),
        "",
    ]
    facts = []
    narrow = [cells[d, w, lr] for d, w in nets for lr in lrs if w == 1 and (d, w, lr) in cells]
    if narrow and not any(c["solved"] for c in narrow):
        facts.append(f"One hidden unit per layer never solves XOR ({len(narrow)} cells, no seed): its output is a "
                     "monotone function of one line across the inputs.")  # fmt: skip
    lesson_lr = 1.0 if 1.0 in lrs else lrs[0]  # the lesson's rate
    shallow = [cells[1, w, lesson_lr] for d, w in nets if d == 1 and w > 1 and (1, w, lesson_lr) in cells]
    if len(shallow) > 1:
        low, high = shallow[0], shallow[-1]
        facts.append(f"Width: at lr {lesson_lr:g}, {low['architecture']} solves {low['solved']}/{seeds} and "
                     f"{high['architecture']} {high['solved']}/{seeds}, after {low['median_steps']} and "
                     f"{high['median_steps']} steps (median).")  # fmt: skip
    widest = max((w for d, w in nets if all((d2, w) in nets for d2 in {d for d, _ in nets})), default=None)
    depths = sorted({d for d, _ in nets})
    if widest and len(depths) > 1:
        for lr in (lesson_lr, lrs[-1]):
            by_depth = [cells.get((d, widest, lr)) for d in depths]
            if all(by_depth):
                facts.append(f"Depth, at lr {lr:g}: " + ", ".join(
                    f"{c['architecture']} solves {c['solved']}/{seeds}" for c in by_depth) + ".")  # fmt: skip
    for depth, width in nets:
        timed = [cells[depth, width, lr] for lr in lrs if (depth, width, lr) in cells and cells[depth, width, lr]["median_steps"]]
        if width > 1 and len(timed) > 1:
            slow, fast = timed[0], timed[-1]
            facts.append(f"The learning rate sets the pace: {slow['architecture']} needs {slow['median_steps']} steps "
                         f"(median) at lr {slow['lr']:g} and {fast['median_steps']} at lr {fast['lr']:g}.")  # fmt: skip
            break
    return [*lines, *[f"- {fact}" for fact in facts], ""]


def lab_rule_section(studies: Results, gates: Sequence[str]) -> list[str]:
    """``manual`` (the exact gradient) against ``manual_lab`` (the notes' hand-written rule), seed by seed."""

    def cell(study: dict) -> str:
        steps = study["steps_to_100"]
        return f"{study['solved']}/{study['seeds']} {interval_text(study['solved'], study['seeds'])}" + (
            f" ({steps['median']})" if steps else ""
        )

    lines = [
        "### The notes' hand-written backprop rule, tested",
        "",
        "The notes' backprop sums the weight gradients over the rows but averages the bias gradients (and adds",
        "1e-7 to a denominator). That is not the gradient of the mean loss: for a truth table of N rows, one",
        "step of it is one step of SGD with learning rate N·lr on the weights and lr on the biases",
        "(`tests/test_backprop.py` proves it to 1e-12 in float64). `model=manual_lab` trains with exactly that",
        "rule; `model=manual` with the exact gradient. Seeds solved [95 % interval of the rate, %] (median step at",
        "which the solved seeds first answer every row right), same seeds, same lr:",
        "",
        "| gate | manual | manual_lab |",
        "|---|---:|---:|",
    ]
    speedups = []
    for gate in gates:
        exact, lab = studies["manual", gate], studies["manual_lab", gate]
        lines.append(f"| {gate} | {cell(exact)} | {cell(lab)} |")
        if exact["steps_to_100"] and lab["steps_to_100"]:
            speedups.append(exact["steps_to_100"]["median"] / lab["steps_to_100"]["median"])
    solved = [sum(studies[m, g]["solved"] for g in gates) for m in ("manual", "manual_lab")]
    seeds = sum(studies["manual", g]["seeds"] for g in gates)
    # The largest gap in solve rate on one gate, against two standard errors of a difference of two rates.
    gap, gate = max((abs(studies["manual", g]["solve_rate"] - studies["manual_lab", g]["solve_rate"]), g) for g in gates)
    rates, n = [studies[m, gate]["solve_rate"] for m in ("manual", "manual_lab")], studies["manual", gate]["seeds"]
    two_se = 2 * math.sqrt(sum(p * (1 - p) for p in rates) / n)
    lines.append("")
    if speedups:
        lines += [
            "It trains as if the weights' learning rate were N times larger, and it is faster for it: its solved seeds",
            f"first answer every row right {min(speedups):.1f} to {max(speedups):.1f} times sooner (medians).",
        ]
    lines += [
        f"Over the {len(gates)} gates it solves {solved[1]} of {seeds} seed-gate runs against {solved[0]} for the exact gradient.",
        f"The largest gap on one gate ({gate}: {gap * n:.0f} seeds of {n}) is "
        + ("within" if gap <= two_se else "beyond")
        + f" two standard errors of the difference of two such rates ({two_se * n:.0f} seeds).",
        "",
    ]
    return lines


def failures_table(studies: Results, models: Sequence[str], gates: Sequence[str]) -> list[str]:
    """Where the failed seeds end (gatelab.core.anatomy), for the gates where some seed failed."""
    failing = [g for g in gates if any(studies[m, g]["solved"] < studies[m, g]["seeds"] for m in models)]
    if not failing:
        return []
    matched = sum(studies[m, g]["failures"]["outputs_at_group_means"] for m in models for g in failing)
    merged = sum(studies[m, g]["failures"]["merged_total"] for m in models for g in failing)
    lines = [
        "Where the failures end. A net can only answer differently for inputs its last hidden layer keeps apart.",
        "A failed seed has merged corners of different classes into one hidden point (no hidden unit tells them",
        f"apart by more than {MERGED}), and there the output can only answer the mean of their targets (0.5 for a 0",
        "and a 1). Merging all four corners is the ln 2 plateau. These are plateaus, not local minima: the 2-2-1 XOR",
        "net has no local minima at finite weights (Hamey 1998; Sprinkhuizen-Kuyper & Boers 1999, for squared error).",
        f"In {matched} of the {merged} failures that merged corners, each merged corner answers its group's mean target",
        f"(within {AT_MEAN}).",
        "",
        "| model | " + " | ".join(failing) + " |",
        "|---|" + "---|" * len(failing),
    ]
    for model in models:
        lines.append(f"| {model} | " + " | ".join(describe(studies[model, g]["failures"]) for g in failing) + " |")
    return [*lines, ""]


def picture(name: str, kind: str = ".gif") -> str:
    """Where ``src/animate.py`` puts a run's pictures (``mlp2/xor``), relative to the report."""
    return f"../plots/animations/{name}{kind}"


def learning_section(name: str, story: dict, others: Sequence[str]) -> list[str]:
    """The report's opening: one run learning (``story``: gatelab.presentation.animation.story), animated."""
    plateau = story["plateau"]
    lines = [
        f"## Watch a net learn: {story['title']}",
        "",
        f"![{story['title']}, learning]({picture(name)})",
        "",
        "Left, *input space*: what the net answers over the unit square (blue 0, white 0.5, red 1, in bands of",
        "0.1), its decision boundary (black), the four corners (circles answer 0, squares 1), and the line",
        "each hidden unit of the first layer draws (dashed). Middle, *hidden space*: the corners where the",
        "last hidden layer puts them, and the output unit's line there; the output unit is a perceptron on",
        "these points. Right: the loss (black) and accuracy (orange), ln 2 and ln 2 / 2 dashed.",
        "",
    ]
    if plateau:
        lines.append(
            f"The {story['architecture']} net's loss stays within 0.01 of ln 2 from step {plateau[0]} to step "
            f"{plateau[1]}: it answers about 0.5 for every corner, and in the hidden layer the corners sit "
            "close together."
        )
    if story["all_right_at"] is not None:
        lines.append(f"Every row is first right at step {story['all_right_at']}.")
    lines.append(f"At step {story['steps']} the loss is {story['final_loss']:.3f}: {story['end']}.")
    zeros, ones = story["output_sides"]
    unseparable = f", which no line can in input space for {story['gate'].upper()}" if story["gate"] in ("xor", "xnor") else ""
    lines += [
        f"In the hidden layer the output's line then has {', '.join(zeros) or 'no corner'} on its 0 side and "
        f"{', '.join(ones) or 'no corner'} on its 1 side: one line separates them there{unseparable}.",
        "",
        f"![key frames]({picture(name, '-strip.png')})",
        "",
    ]
    if others:
        links = ", ".join(f"[{other}]({picture(other)})" for other in others)
        lines += [f"More runs, animated the same way (each with a `-strip.png`): {links}.", ""]
    return lines


def solve_and_fail_section(name: str, stories: Sequence[dict]) -> list[str]:
    """Runs stacked in one animation (``name``: its picture's, gatelab.presentation.animation.picture_name): one
    that solves and one that fails."""
    title = " and ".join(s["title"] for s in stories)
    lines = [f"### {title}, side by side", "", f"![{title}]({picture(name)})", ""]
    for story in stories:
        plateau = f"leaves ln 2 after step {story['plateau'][1]}, " if story["plateau"] else ""
        lines.append(f"- {story['title']}: {plateau}ends at step {story['steps']} with loss {story['final_loss']:.3f}: {story['end']}.")
    lines.append("")
    failing = [story for story in stories if story["end"].endswith("merged")]
    for story in failing:
        lines += [
            f"In {story['title']} the hidden layer has mapped corners of different classes onto one point "
            f"({story['end']}): no line in the hidden layer can separate them, so the output can only answer the",
            "mean of their targets there. The seed study's failure anatomy counts every seed that ends this way.",
            "",
        ]
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
