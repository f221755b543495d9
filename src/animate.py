"""Animate how runs learn, from the snapshots they recorded (callbacks.snapshots, on by default).

  python src/animate.py runs/2026-11-25/10-00-00_mlp2_xor/snapshots/mlp2/xor.pt
  python src/animate.py --snapshots-dir snapshots mlp2/xor mlp4/xor mlp2/xor+mlp2-seed5/xor

Each RUN is a snapshots file, or <name>/<gate> under --snapshots-dir. For each one it writes
<out-dir>/<name>/<gate>.gif (input space, hidden space and loss, step by step) and
<name>/<gate>-strip.png (the key frames: start, plateau, escape, end). Runs joined by "+" become one
GIF, stacked and stepping together: <out-dir>/<name>-<gate>+<name>-<gate>.gif.

The pipeline's `animate` stage writes plots/animations/; by hand the pictures go to a folder of their
own, runs/<date>/<time>_animate/. Lightning is not imported.
"""

import argparse
import time
from pathlib import Path

from gatelab.config.layout import is_run_name
from gatelab.config.places import check_write_places
from gatelab.infra.errors import GatelabError, exit_on_user_error
from gatelab.infra.files import check_output_places, sole_writer, written_together


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="RUN",
                        help="a snapshots file, or <name>/<gate>; join runs with +, list several with commas or spaces")  # fmt: skip
    parser.add_argument("--snapshots-dir", default="snapshots", help="where <name>/<gate>.pt are (default: %(default)s)")
    parser.add_argument("--out-dir", default=time.strftime("runs/%Y-%m-%d/%H-%M-%S_animate"),
                        help="where the pictures go (default: %(default)s; the pipeline's: plots/animations)")  # fmt: skip
    return parser.parse_args()


def snapshots_file(run: str, snapshots_dir: str) -> Path:
    if run.endswith(".pt"):
        return Path(run)
    if run.count("/") != 1 or not all(is_run_name(part) for part in run.split("/")):
        raise GatelabError(f"{run!r} is neither a snapshots file (.pt) nor <name>/<gate> (like mlp2/xor)")
    return Path(snapshots_dir) / f"{run}.pt"


def check_identity(path: Path, recording) -> None:
    """The snapshots are the run and gate their path names (not another run's copied into place)."""
    recorded = (recording.config.get("name"), (recording.config.get("data") or {}).get("gate"))
    if recording.config and recorded != (path.parent.name, path.stem):
        raise GatelabError(
            f"{path} holds the snapshots of {recorded[0]} on {recorded[1]}, not of {run_name(path)} (copied or renamed "
            "into place?); train that run again"
        )


def run_name(path: Path) -> str:
    """``mlp2/xor`` for .../mlp2/xor.pt: the run's name and gate."""
    return f"{path.parent.name}/{path.stem}"


def main() -> None:
    args = parse_args()
    with exit_on_user_error():
        # Here, not at the top: torch and matplotlib take seconds to import, and --help needs neither.
        from gatelab.presentation.animation import animate, load_recording, picture_name, strip

        check_write_places({"--out-dir": (args.out_dir, True)})  # (where it may write: said first)
        items = [item for arg in args.runs for item in arg.split(",") if item]
        jobs = [[snapshots_file(run, args.snapshots_dir) for run in item.split("+")] for item in items]
        recordings = {path: load_recording(path) for job in jobs for path in job}  # all checked before drawing
        for path, recording in recordings.items():
            check_identity(path, recording)
        out = Path(args.out_dir)
        names = [picture_name([run_name(path) for path in job]) for job in jobs]
        pictures = [[out / f"{name}.gif", *([out / f"{name}-strip.png"] if len(job) == 1 else [])] for name, job in zip(names, jobs)]
        check_output_places([str(p) for job in pictures for p in job])
        with sole_writer([p for job in pictures for p in job], "animation"), written_together():  # all or nothing
            for job, (gif, *png) in zip(jobs, pictures):
                animate([recordings[path] for path in job], gif)
                if png:
                    strip(recordings[job[0]], png[0])
        for job in pictures:
            print(" and ".join(str(path) for path in job))


if __name__ == "__main__":
    main()
