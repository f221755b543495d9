"""Check every setting of the pipeline, before DVC removes any stage's outputs: dvc.yaml's `check`
stage, upstream of every other, runs this (``gatelab.config.pipeline``).

    python src/check_pipeline.py            # what `dvc repro` runs first

A bad value is refused in one line, naming the stage; with every value good it writes --note (a
file whose content never changes, so that the stages that depend on it rerun only for their own
reasons).
"""

import argparse
import signal
from pathlib import Path

from gatelab.infra.errors import Stopped, exit_on_user_error

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--note", default=None, help="the file to write when every setting is good (the stage's: checks/pipeline.txt)")
    args = parser.parse_args()
    with exit_on_user_error():
        try:
            # Here, not at the top: --help imports neither Hydra's compose nor DVC.
            from gatelab.config.pipeline import check_pipeline
            from gatelab.infra.files import atomic_write_text

            jobs = check_pipeline(ROOT)
        except KeyboardInterrupt:  # Ctrl+C: one line and status 130, as a stopped run's (its checking processes end with it)
            raise Stopped("stopped by SIGINT before every setting was checked; nothing written: run it again", signal.SIGINT) from None
        if args.note:
            atomic_write_text(args.note, "Every stage's settings passed gatelab's checks (src/check_pipeline.py).\n")
    print(f"checked the settings of {jobs} jobs of the pipeline's stages")


if __name__ == "__main__":
    main()
