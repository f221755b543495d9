"""Does the seed study give the same bits at every torch thread count? (It does not, in general.)

    python bench/threads.py                                        # S = 10000 and 12345, 1/2/3/16 threads
    python bench/threads.py --seeds 100000 --threads 1 2 --steps 1000 --compiled

For each number of seeds S, trains mlp2 on XOR (the study's own model, gatelab.recipes.batched.SeedStudy,
in Lightning) for --steps steps once per thread count, each in a fresh process (a compiled step
is built for the thread count it runs with), and compares each run with the 1-thread run: how many
copies end with other weights, bit for bit, and at which copy indices; how many first answer every
row right at another step. Thread counts above this machine's CPUs are allowed here: torch divides
the work by its thread count, not by the cores, so 16 threads on 2 cores split it as 16 cores do.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train(seeds: int, steps: int, threads: int, compiled: bool, out: str) -> None:
    """One fit in this process; saves every copy's weights and first step at 100 % to ``out``."""
    sys.path.insert(0, str(ROOT / "src"))
    import warnings

    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from gatelab.core.gates import truth_table
    from gatelab.data import RepeatedFullBatch
    from gatelab.infra.compat import quiet_lightning
    from gatelab.recipes.batched import SeedStudy

    warnings.filterwarnings("ignore")
    quiet_lightning()  # Lightning's notes on the devices and logging, per fit
    torch.set_num_threads(threads)
    x, y = truth_table("xor")
    model = SeedStudy(
        [2], "sigmoid", range(seeds), optimizer=lambda p: torch.optim.SGD(p, lr=1.0), threshold=0.0, compiled=compiled,
    )  # fmt: skip
    trainer = L.Trainer(
        accelerator="cpu", devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, DataLoader(RepeatedFullBatch(x, y, 2), batch_size=None))
    flat = torch.cat([w.detach().reshape(seeds, -1) for w in [*model.weights, *model.biases]], dim=1)
    torch.save({"weights": flat, "first_correct": model.first_correct.clone()}, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[10000, 12345])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 3, 16])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--compiled", action="store_true", help="the compiled step (study.compile) instead of the uncompiled one")
    parser.add_argument("--worker", nargs=4, metavar=("SEEDS", "STEPS", "THREADS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        seeds, steps, threads, out = args.worker
        return train(int(seeds), int(steps), int(threads), args.compiled, out)
    if args.steps <= 50 or min(args.seeds) < 1 or min(args.threads) < 1:
        parser.error("--steps must be more than 50 (one batch); --seeds and --threads positive")

    import torch

    step = "compiled" if args.compiled else "uncompiled"
    print(f"mlp2 on XOR, {args.steps} steps, the {step} step; each thread count against 1 thread")
    print(f"{'seeds':>7} {'threads':>7} | {'copies with other weights':>25}  {'at copies':<28} | {'other first step at 100 %':>25}")
    with tempfile.TemporaryDirectory() as tmp:
        for seeds in args.seeds:
            runs = {}
            for threads in sorted({1, *args.threads}):
                out = f"{tmp}/{seeds}-{threads}.pt"
                worker = [sys.executable, __file__, "--worker", str(seeds), str(args.steps), str(threads), out]
                subprocess.run(worker + (["--compiled"] if args.compiled else []), check=True)
                runs[threads] = torch.load(out)
            base = runs[1]
            for threads, run in runs.items():
                if threads == 1:
                    continue
                moved = (run["weights"] != base["weights"]).any(dim=1).nonzero().flatten().tolist()
                steps_moved = int((run["first_correct"] != base["first_correct"]).sum())
                where = ", ".join(map(str, moved[:4])) + (f", ... {moved[-1]}" if len(moved) > 4 else "")
                print(f"{seeds:>7} {threads:>7} | {len(moved):>25}  {where or '-':<28} | {steps_moved:>25}", flush=True)


if __name__ == "__main__":
    main()
