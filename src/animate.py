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

from gatelab.errors import GatelabError, exit_on_user_error


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
    if run.count("/") != 1 or not all(run.split("/")):
        raise GatelabError(f"{run!r} is neither a snapshots file (.pt) nor <name>/<gate> (like mlp2/xor)")
    return Path(snapshots_dir) / f"{run}.pt"


def run_name(path: Path) -> str:
    """``mlp2/xor`` for .../mlp2/xor.pt: the run's name and gate."""
    return f"{path.parent.name}/{path.stem}"


def main() -> None:
    args = parse_args()
    with exit_on_user_error():
        from gatelab.animation import animate, load_recording, picture_name, strip

        items = [item for arg in args.runs for item in arg.split(",") if item]
        jobs = [[snapshots_file(run, args.snapshots_dir) for run in item.split("+")] for item in items]
        recordings = {path: load_recording(path) for job in jobs for path in job}  # all checked before drawing
        out = Path(args.out_dir)
        for job in jobs:
            name = picture_name([run_name(path) for path in job])
            written = [animate([recordings[path] for path in job], out / f"{name}.gif")]
            if len(job) == 1:
                written.append(strip(recordings[job[0]], out / f"{name}-strip.png"))
            print(" and ".join(str(path) for path in written))


if __name__ == "__main__":
    main()
