"""Write the truth table of every gate to ``data/<gate>.csv`` (pure Python: no torch, no Lightning)."""

import argparse

from gatelab.errors import exit_on_user_error


def main() -> None:
    from gatelab.gates import GATES

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data", help="output folder (default: %(default)s)")
    parser.add_argument("gates", nargs="*", default=list(GATES), help="gates to write (default: all)")
    args = parser.parse_args()
    with exit_on_user_error():
        from gatelab.gates import check_gate, write_gate_csv

        for gate in args.gates:  # all names first: a typo writes nothing
            check_gate(gate)
        for gate in args.gates:
            print(f"wrote {write_gate_csv(gate, f'{args.out}/{gate}.csv')}")


if __name__ == "__main__":
    main()
