"""Write the explorer: one HTML page that replays the recorded runs, steps them side by side, shows
every seed of the studies, and trains nets live in the browser by the chain rule.

  python src/explore.py                      # the pipeline's runs and studies -> runs/<date>/<time>_explore/
  python src/explore.py runs/*/*/snapshots/*/*.pt    # your runs by hand (and the pipeline's studies)

Open the page from disk in any current browser: it needs no server and no network. The pipeline's
`explorer` stage writes reports/explorer.html. Lightning is not imported.
"""

import argparse
import time
from pathlib import Path

from gatelab.config.places import check_write_places
from gatelab.infra.errors import GatelabError, exit_on_user_error
from gatelab.infra.files import atomic_write_text, check_output_places, sole_writer


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="*", metavar="SNAPSHOTS", help="snapshots files (.pt) to show instead of --snapshots-dir's")
    parser.add_argument("--snapshots-dir", default="snapshots", help="the runs: <name>/<gate>.pt (default: %(default)s)")
    parser.add_argument("--study-dir", default="study", help="seed studies: <name>/<gate>.json, or none (default: %(default)s)")
    parser.add_argument("--landscape", default="study/landscape.json", help="the landscape's JSON, or none (default: %(default)s)")
    parser.add_argument("--landscape-dir", default="landscape/study",
                        help="the landscape's studies: <net>-lr<rate>/xor.json, or none (default: %(default)s)")  # fmt: skip
    parser.add_argument("--out", default=time.strftime("runs/%Y-%m-%d/%H-%M-%S_explore/explorer.html"),
                        help="the page (default: %(default)s; the pipeline's: reports/explorer.html)")  # fmt: skip
    return parser.parse_args()


def found(folder: str, pattern: str, what: str) -> dict[str, Path]:
    """``<name>/<gate>`` -> file, for every file matching ``pattern`` under ``folder`` (none: {})."""
    if folder == "none":
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise GatelabError(f"{what} folder {folder} does not exist: run the pipeline (dvc repro) first, or pass none")
    return {f"{path.parent.name}/{path.stem}": path for path in sorted(root.glob(pattern)) if ".shard-" not in path.name}


def named(files: list[str]) -> dict[str, Path]:
    """``<name>/<gate>`` -> file for snapshots files given by hand; a name twice (two runs of mlp2 on
    XOR) gets its run folder's name in front."""
    runs: dict[str, Path] = {}
    for file in files:
        path = Path(file)
        if path.suffix != ".pt" or not path.is_file():
            raise GatelabError(f"{file} is not a snapshots file (.pt): runs record theirs in <run folder>/snapshots/<name>/<gate>.pt")
        run_id = f"{path.parent.name}/{path.stem}"
        runs[run_id if run_id not in runs else f"{path.parents[2].name}: {run_id}"] = path
    return runs


def main() -> None:
    args = parse_args()
    with exit_on_user_error():
        # Here, not at the top: torch takes seconds to import, and --help needs none of it.
        from gatelab.presentation.explorer import explorer_data, page

        check_write_places({"--out": (args.out, False)})
        check_output_places([args.out])
        runs = named(args.runs) if args.runs else found(args.snapshots_dir, "*/*.pt", "snapshots")
        studies = {**found(args.study_dir, "*/*.json", "study"), **found(args.landscape_dir, "*/*.json", "landscape study")}
        landscape = None if args.landscape == "none" else Path(args.landscape)
        if landscape is not None and not landscape.is_file():
            raise GatelabError(f"no landscape at {landscape}: run the pipeline (dvc repro) first, or pass --landscape none")
        html = page(explorer_data(runs, studies, landscape), Path(__file__).parent / "explorer")
        with sole_writer([args.out], "explorer"):
            atomic_write_text(args.out, html)
        print(f"{args.out}: {len(runs)} runs, {len(studies)} studies, {len(html.encode()) / 1e6:.1f} MB; open it in a browser")


if __name__ == "__main__":
    main()
