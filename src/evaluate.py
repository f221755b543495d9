"""Score every trained model with torchmetrics, draw what it learned, and write the results:

  metrics/<run>/<gate>.json       accuracy, F1, AUROC, confusion matrix, loss, steps (+ test set)
  metrics/summary.json            counts, and the whole grid as a table
  plots/boundaries/<run>/<gate>.png   each run's decision boundary over the unit square
  plots/lesson.png, plots/sixteen.png, plots/activations.png   the grids
  reports/summary.md              all of it (and the seed study's table), for people

The pipeline's `evaluate` stage writes them there (--out-dir .); by hand they go to a folder of
their own, runs/<date>/<time>_evaluate/, like every run made by hand. One process for all
checkpoints; Lightning is not imported.
"""

import argparse
import time

from gatelab.config.places import check_write_places
from gatelab.infra.errors import exit_on_user_error
from gatelab.infra.files import atomic_write_text, check_output_places, read_json, sole_writer, write_json, written_together


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="models trained on every gate, e.g. perceptron mlp2")
    parser.add_argument("--gates", required=True, help="comma-separated gate names, e.g. and,or,xor")
    parser.add_argument("--sixteen", help="the run 'sixteen': the perceptron on these function codes, e.g. f0000,f0001")
    parser.add_argument("--activations", nargs="*", default=[], help="the runs deep-<activation> on XOR")
    parser.add_argument("--deep_budgets", nargs="*", type=int, default=[],
                        help="the deep sigmoid net's seed studies: study/deep-sigmoid-<budget>steps/xor.json")  # fmt: skip
    parser.add_argument("--deep_seeds", type=int, help="(their number of seeds: the report reads it from the studies)")
    parser.add_argument("--animations", help="the runs src/animate.py animated, comma-separated <run>/<gate> (joined by +"
                        " when stacked): the report opens with the first")  # fmt: skip
    parser.add_argument("--snapshots-dir", default="snapshots", help="their snapshots, for what the report says of them")
    parser.add_argument("--study-models", help="the seed study's models, comma-separated (default: --models)")
    parser.add_argument("--study-dir", help="the seed study's results (study/<model>/<gate>.json), for the report")
    parser.add_argument("--landscape", help="the XOR landscape (src/landscape.py's JSON), for the report")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--out-dir", default=time.strftime("runs/%Y-%m-%d/%H-%M-%S_evaluate"),
                        help="where metrics/, plots/ and reports/summary.md go (default: %(default)s; the pipeline's: .)")  # fmt: skip
    parser.add_argument("--metrics-dir", help="default: <out-dir>/metrics")
    parser.add_argument("--plots-dir", help="default: <out-dir>/plots")
    parser.add_argument("--report", help="default: <out-dir>/reports/summary.md")
    args = parser.parse_args()
    args.metrics_dir = args.metrics_dir or f"{args.out_dir}/metrics"
    args.plots_dir = args.plots_dir or f"{args.out_dir}/plots"
    args.report = args.report or f"{args.out_dir}/reports/summary.md"
    return args


def split(names: str | None) -> list[str]:
    return [name.strip() for name in (names or "").split(",") if name.strip()]


def main() -> None:
    args = parse_args()
    gates, codes = split(args.gates), split(args.sixteen)
    deep_runs = {activation: f"deep-{activation}" for activation in args.activations}
    runs = [(model, gate) for model in args.models for gate in gates]
    runs += [("sixteen", code) for code in codes] + [(run, "xor") for run in deep_runs.values()]
    with exit_on_user_error():
        check_write_places({"--out-dir": (args.out_dir, True), "--metrics-dir": (args.metrics_dir, True), "--plots-dir": (args.plots_dir, True),
                            "--report": (args.report, False)})  # fmt: skip
        check_output_places([args.report], [args.metrics_dir, args.plots_dir])
        with sole_writer([args.report], "evaluation"), written_together():  # all of it appears at the end, or nothing
            summary = evaluate(args, gates, codes, deep_runs, runs)
    print(f"{summary['solved']}/{summary['runs']} runs solve their gate; report in {args.report}")


def evaluate(args, gates: list[str], codes: list[str], deep_runs: dict[str, str], runs: list[tuple[str, str]]) -> dict:
    """Score every run, draw the pictures and write the report; returns the grid's summary."""
    # Here, not at the top: torch and matplotlib take seconds to import, and --help needs neither.
    from gatelab.config.record import settings_of
    from gatelab.core.gates import read_gate_csv
    from gatelab.presentation import plots, report
    from gatelab.presentation.animation import load_recording, picture_name, story
    from gatelab.presentation.evaluation import evaluate_checkpoint, read_study, summarize

    tables = {gate: read_gate_csv(f"{args.data_dir}/{gate}.csv") for gate in {g for _, g in runs}}
    results, settings, cells = {}, {}, {}
    for run, gate in runs:  # everything is checked and scored before anything is written
        x, y = tables[gate]
        results[run, gate], net, config = evaluate_checkpoint(f"{args.models_dir}/{run}/{gate}.ckpt", x, y, run, gate)
        settings[run, gate] = settings_of(config, inputs=x.shape[1])
        if x.shape[1] == 2:
            metrics = results[run, gate]
            answer = "p ≈ 0.5" if metrics["max_margin"] < report.UNDECIDED else f"acc {metrics['accuracy']:.2f}"
            cells[run, gate] = (plots.probability_map(net), x, y, f"{run} · {gate} · {answer}")

    for (run, gate), metrics in results.items():
        write_json(f"{args.metrics_dir}/{run}/{gate}.json", metrics)
    grid = {key: results[key] for key in runs if key[0] in args.models}
    summary = summarize(grid)
    if codes:
        summary["sixteen"] = {"runs": len(codes), "solved": sum(results["sixteen", c]["solved"] for c in codes)}
    write_json(f"{args.metrics_dir}/summary.json", summary)

    for (run, gate), cell in cells.items():
        plots.boundary_png(*cell, f"{args.plots_dir}/boundaries/{run}/{gate}.png")
    described = {key: {**metrics, "settings": settings[key]} for key, metrics in results.items()}
    animations = split(args.animations)
    singles = [item for item in animations if "+" not in item]
    stacked = [item for item in animations if "+" in item]
    stories = {}
    if animations:
        for name in {n for item in animations for n in item.split("+")}:
            stories[name] = story(load_recording(f"{args.snapshots_dir}/{name}.pt"))
    sections = [report.learning_section(singles[0], stories[singles[0]], singles[1:])] if singles else []
    sections.append(report.grid_section(described, args.models, gates))
    if all((model, gate) in cells for model, gate in grid):  # two-input gates only
        plots.boundary_grid(cells, args.models, gates, "Decision boundaries: models (rows) x gates (columns)",
                            f"{args.plots_dir}/lesson.png")  # fmt: skip
    if codes:
        fours = [codes[i : i + 4] for i in range(0, len(codes), 4)]
        sixteen = {(str(i), str(j)): cells["sixteen", code] for i, row in enumerate(fours) for j, code in enumerate(row)}
        plots.boundary_grid(sixteen, [str(i) for i in range(len(fours))], [str(j) for j in range(len(fours[0]))],
                            "The perceptron on every function of two inputs", f"{args.plots_dir}/sixteen.png")  # fmt: skip
        sections.append(report.sixteen_section(described, "sixteen", codes))
    if deep_runs:
        deep = {("deep", activation): cells[run, "xor"] for activation, run in deep_runs.items()}
        net = settings[next(iter(deep_runs.values())), "xor"]
        title = f"{net['architecture']} on XOR, at most {net['max_steps']} steps, by hidden activation"
        plots.boundary_grid(deep, ["deep"], list(deep_runs), title, f"{args.plots_dir}/activations.png")
        sections.append(report.activations_section(described, deep_runs, "xor"))
    if args.study_dir and args.deep_budgets:
        deep_studies = {b: read_study(args.study_dir, f"deep-sigmoid-{b}steps", "xor") for b in args.deep_budgets}
        sections.append(report.deep_study_section(deep_studies))
    if args.study_dir:
        study_models = split(args.study_models) or args.models
        studies = {(m, g): read_study(args.study_dir, m, g) for m in study_models for g in gates}
        sections.append(report.study_section(studies, study_models, gates))
        if {"manual", "manual_lab"} <= set(study_models):
            sections.append(report.lab_rule_section(studies, gates))
    if args.landscape:
        sections.append(report.landscape_section(read_json(args.landscape), args.landscape))
    for item in stacked:
        names = item.split("+")
        sections.append(report.solve_and_fail_section(picture_name(names), [stories[n] for n in names]))
    sections.append(report.test_section(described))
    atomic_write_text(args.report, report.markdown_report(sections))
    return summary


if __name__ == "__main__":
    main()
