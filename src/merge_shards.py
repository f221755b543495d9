"""Merge a seed study's shards into the study, exactly as one job training all its seeds writes it.

    python src/study.py --multirun study.seeds=200 study.shards=4 study.shard=0,1,2,3
    python src/merge_shards.py runs/2026-11-26/10-00-00      # that sweep's folder

Each PLACE is a shard file (<gate>.shard-<i>-of-<K>.json) or a folder searched for them. Every
study found (a model on a gate) is checked to be whole and of one run before anything is written,
then written as <out-dir>/study/<name>/<gate>.json and <out-dir>/plots/study/<name>/<gate>.png.
The default --out-dir is the one folder given. Lightning is not imported.
"""

import argparse
from pathlib import Path

from gatelab.infra.errors import GatelabError, exit_on_user_error


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("places", nargs="+", metavar="PLACE", help="shard files, or folders holding them (searched through)")
    parser.add_argument("--out-dir", help="where study/ and plots/study/ go (default: the one folder given)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    with exit_on_user_error():
        # Here, not at the top: torch takes seconds to import, and --help does not need it.
        from gatelab.config.places import check_write_places
        from gatelab.recipes.shards import find_shards, merge_and_write
        from gatelab.recipes.summary import format_study

        if args.out_dir is None:
            if len(args.places) != 1 or not Path(args.places[0]).is_dir():
                find_shards(args.places)  # (a place that does not exist: said first)
                raise GatelabError("give --out-dir: the default is the one folder given, and this is not one")
            args.out_dir = args.places[0]
        check_write_places({"--out-dir": (args.out_dir, True)})  # (where it may write: said first)
        find_shards(args.places)  # (missing places, or no shards in them)
        written = merge_and_write(args.places, args.out_dir)
    for result in written:
        print(format_study(result))


if __name__ == "__main__":
    main()
