"""How the seed study's time per step grows with the number of seeds S (mlp2 on XOR, autograd).

    python bench/study_scale.py                                   # CPU, S = 1 ... 10,000
    python bench/study_scale.py --accelerator gpu --seeds 1 10 100 1000 10000 100000

Each S trains for --steps steps after a warm-up fit; prints milliseconds per step and per
seed-step. One seed of the plain PyTorch loop is printed first, as the yardstick.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 10, 100, 1000, 10000])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))

    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from gatelab.batched import SeedStudy
    from gatelab.data import RepeatedFullBatch
    from gatelab.gates import truth_table
    from gatelab.reference import train_plain

    warnings.filterwarnings("ignore")
    logging.getLogger("lightning").setLevel(logging.ERROR)
    torch.set_num_threads(1)
    x, y = truth_table("xor")

    def fit(seeds: int, steps: int) -> float:
        model = SeedStudy([2], "sigmoid", range(seeds), optimizer=lambda p: torch.optim.SGD(p, lr=1.0), threshold=0.0)
        trainer = L.Trainer(
            accelerator=args.accelerator, devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False,
        )  # fmt: skip
        start = time.perf_counter()
        trainer.fit(model, DataLoader(RepeatedFullBatch(x, y, 2), batch_size=None))
        return (time.perf_counter() - start) / steps

    train_plain(x, y, [2], steps=200)
    start = time.perf_counter()
    train_plain(x, y, [2], steps=args.steps)
    plain = (time.perf_counter() - start) / args.steps
    print(f"device: {args.accelerator}; plain loop, 1 seed: {plain * 1e3:.3f} ms/step")
    fit(10, 100)  # warm-up
    print(f"{'seeds':>8} {'ms/step':>9} {'x plain':>8} {'us/seed-step':>13}")
    for seeds in args.seeds:
        per_step = fit(seeds, args.steps)
        print(f"{seeds:>8} {per_step * 1e3:>9.3f} {per_step / plain:>8.2f} {per_step / seeds * 1e6:>13.3f}")


if __name__ == "__main__":
    main()
