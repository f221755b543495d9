"""Gather the XOR landscape's studies into one table, heatmap and JSON.

    python src/study.py --multirun +landscape=xor study.seeds=1000     # the sweep (conf/landscape/xor.yaml)
    python src/landscape.py runs/2026-11-26/10-00-00                   # that sweep's folder

Each PLACE is a study file (<name>/<gate>.json) or a folder searched for them; every study found is
one cell (a net at a learning rate, read from its recorded settings). All must be of one experiment:
same gate, seeds, step budget, activation, optimizer and rule; each cell once. Shards of a cluster
run are merged first (python src/merge_shards.py). Writes --json and --png (default: landscape.json
and landscape.png in the one folder given) and prints the table. Lightning is not imported.
"""

import argparse
from pathlib import Path

from gatelab.infra.errors import GatelabError, exit_on_user_error


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("places", nargs="+", metavar="PLACE", help="study files, or folders holding them (searched through)")
    parser.add_argument("--json", help="the landscape's JSON (default: <the one folder given>/landscape.json)")
    parser.add_argument("--png", help="its heatmap (default: <the one folder given>/landscape.png)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with exit_on_user_error():
        # Here, not at the top: torch takes seconds to import, and --help does not need it.
        from gatelab.config.places import check_write_places
        from gatelab.presentation.landscape import find_studies, table, write_landscape

        if args.json is None or args.png is None:
            if len(args.places) != 1 or not Path(args.places[0]).is_dir():
                find_studies(args.places)  # (a place that does not exist: said first)
                raise GatelabError("give --json and --png: the default is the one folder given, and this is not one")
            args.json = args.json or str(Path(args.places[0], "landscape.json"))
            args.png = args.png or str(Path(args.places[0], "landscape.png"))
        check_write_places({"--json": (args.json, False), "--png": (args.png, False)})  # (where it may write: said first)
        find_studies(args.places)  # (missing places, or no studies in them)
        landscape = write_landscape(args.places, args.json, args.png)
    print("\n".join(table(landscape)))
    print(f"-> {args.json}, {args.png}")


if __name__ == "__main__":
    main()
