"""Score every trained model on its gate's truth table (torchmetrics) and write the results:

  metrics/<model>/<gate>.json   accuracy, F1, AUROC, confusion matrix, loss, steps trained
  metrics/summary.json          counts, and the whole grid as a table
  reports/summary.md            the model x gate grid, for people

One process for all checkpoints; Lightning is not imported.
"""

import argparse

from gatelab.errors import exit_on_user_error


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", required=True, help="model names, e.g. perceptron mlp2")
    parser.add_argument("--gates", required=True, help="comma-separated gate names, e.g. and,or,xor")
    parser.add_argument("--data-dir", default="data")
    parser.add_argument("--models-dir", default="models")
    parser.add_argument("--metrics-dir", default="metrics")
    parser.add_argument("--report", default="reports/summary.md")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    gates = [g.strip() for g in args.gates.split(",") if g.strip()]
    with exit_on_user_error():
        from gatelab.files import atomic_write_text
        from gatelab.gates import read_gate_csv
        from gatelab.metrics import evaluate_checkpoint, markdown_report, summarize, write_json

        tables = {gate: read_gate_csv(f"{args.data_dir}/{gate}.csv") for gate in gates}
        results = {
            (model, gate): evaluate_checkpoint(f"{args.models_dir}/{model}/{gate}.ckpt", *tables[gate])
            for model in args.models
            for gate in gates
        }
        for (model, gate), metrics in results.items():
            write_json(f"{args.metrics_dir}/{model}/{gate}.json", metrics)
        summary = summarize(results)
        write_json(f"{args.metrics_dir}/summary.json", summary)
        atomic_write_text(args.report, markdown_report(results, args.models, gates))
    print(f"{summary['solved']}/{summary['runs']} runs reach 100 % accuracy; table in {args.report}")


if __name__ == "__main__":
    main()
