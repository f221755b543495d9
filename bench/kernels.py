"""What pinning the CPU kernels costs (src/gatelab/kernels.py): the same seed studies, pinned and
unpinned, side by side, alternating, median of --repeats.

    python bench/kernels.py                 # mlp4 on XOR, 100 seeds (the pipeline's); mlp2, 2000 seeds

Each run is a fresh process (the kernels are chosen at start-up); its wall time includes
start-up, which is the same in both modes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {
    "pinned": {},  # gatelab's default on x86-64 with AVX2
    "unpinned": {"GATELAB_PIN_CPU_KERNELS": "0"},  # torch's and MKL's own choice
}
STUDIES = {
    "mlp4 on xor, 100 seeds": ["model=mlp4", "data=xor", "study.seeds=100"],
    "mlp2 on xor, 2000 seeds": ["model=mlp2", "data=xor", "study.seeds=2000"],
}


def run(overrides: list[str], mode: str, tmp: str) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR")}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "src/study.py", *overrides, f"paths.data_dir={tmp}/data", f"hydra.run.dir={tmp}/{mode}",
         "trainer.enable_progress_bar=false"],
        cwd=ROOT, env={**env, **MODES[mode]}, check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "src/generate.py", "--out", f"{tmp}/data", "xor"], cwd=ROOT, check=True)
        print("| study | pinned | unpinned | pinned / unpinned |\n|---|---:|---:|---:|")
        for name, overrides in STUDIES.items():
            times = {mode: [] for mode in MODES}
            for _ in range(args.repeats):
                for mode in MODES:
                    times[mode].append(run(overrides, mode, tmp))
            pinned, unpinned = (statistics.median(times[mode]) for mode in MODES)
            print(f"| {name} | {pinned:.2f} s | {unpinned:.2f} s | {pinned / unpinned:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
