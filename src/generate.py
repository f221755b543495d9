"""Write truth tables to ``<out>/<name>.csv`` (pure Python: no torch, no Lightning).

By default: the six gates, all 16 two-input functions (f0000..f1111) and parity3, parity4. The
pipeline's `generate` stage writes them to data/ (--out data); by hand they go to runs/data/, so
that data/ stays exactly what the pipeline made. Train on them with paths.data_dir=runs/data.
"""

import argparse

from gatelab.infra.errors import exit_on_user_error

DEFAULT = ["and", "or", "nand", "nor", "xor", "xnor", *(f"f{i:04b}" for i in range(16)), "parity3", "parity4"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/data", help="output folder (default: %(default)s; the pipeline's is data)")
    parser.add_argument("gates", nargs="*", default=DEFAULT, help="names to write, e.g. xor f1011 parity5")
    args = parser.parse_args()
    with exit_on_user_error():
        # Here: --help imports nothing more.
        from gatelab.config.places import check_write_places
        from gatelab.core.gates import check_gate, write_gate_csv

        check_write_places({"--out": (args.out, True)})
        for gate in args.gates:  # all names first: a typo writes nothing
            check_gate(gate)
        for gate in args.gates:
            write_gate_csv(gate, f"{args.out}/{gate}.csv")
    print(f"wrote {len(args.gates)} truth table{'s' if len(args.gates) != 1 else ''} to {args.out}/")


if __name__ == "__main__":
    main()
