"""What recording snapshots costs (callbacks.snapshots, src/gatelab/snapshots.py): the same runs with
and without it, side by side in one process, alternating, median of --repeats.

    python bench/snapshots.py

Each figure is the time of ``gatelab.recipes.training.train`` (build, fit, save the checkpoint and the
snapshots file): a run's whole time but for the process start and imports, which snapshots do
not touch. The issue's budget: at most 5 % of a run's time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RUNS = {
    "mlp2 on xor (early stopping: 2500 steps)": ["model=mlp2"],
    "mlp4 on xor (early stopping: 5300 steps)": ["model=mlp4"],
    "mlp2 on xor, the full 10001 steps": ["model=mlp2", "callbacks.early_stopping=null"],
}
MODES = {"snapshots every 10 steps": [], "no snapshots": ["callbacks.snapshots=null"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    import gatelab  # noqa: F401  (pins the CPU kernels before torch computes anything)
    from gatelab.core.gates import write_gate_csv
    from gatelab.recipes.training import train

    with tempfile.TemporaryDirectory() as tmp, initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        write_gate_csv("xor", Path(tmp) / "data/xor.csv")

        def timed(overrides: list[str]) -> float:
            cfg = compose("config", overrides=[*overrides, f"paths.data_dir={tmp}/data", f"paths.out_dir={tmp}/run",
                                               "logger=none", "trainer.enable_progress_bar=false"],
                          return_hydra_config=True)  # fmt: skip
            HydraConfig.instance().set_config(cfg)
            start = time.perf_counter()
            train(cfg)
            return time.perf_counter() - start

        timed(["model=mlp2"])  # warm-up: first-call costs (Lightning's imports) out of the figures
        print("| run | with snapshots | without | with / without |\n|---|---:|---:|---:|")
        for name, overrides in RUNS.items():
            times = {mode: [] for mode in MODES}
            for _ in range(args.repeats):
                for mode, extra in MODES.items():
                    times[mode].append(timed([*overrides, *extra]))
            on, off = (statistics.median(times[mode]) for mode in MODES)
            print(f"| {name} | {on:.3f} s | {off:.3f} s | {on / off:.3f}x |", flush=True)


if __name__ == "__main__":
    main()
