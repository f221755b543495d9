"""How the seed study's time per step grows with the number of seeds S (mlp2 on XOR, autograd), with
and without the compiled step (study.compile; gatelab.recipes.batched), and where compiling starts to pay.

    python bench/study_scale.py                                          # CPU, S = 1 ... 100,000
    python bench/study_scale.py --seeds 100000 --threads 2               # torch_threads=2
    python bench/study_scale.py --accelerator gpu --seeds 10000 100000 1000000

For each S, one fit of --steps steps per step kind, after a warm-up fit. The uncompiled step is the
floor of unfused batched torch (about twenty ops a step, each reading and writing every copy's
activations). The compiled one is timed after its first batch; that first batch, less its steps,
is the compile time, measured cold: Inductor's on-disk cache is a fresh folder for this run. The
last columns are what a whole 10001-step budget costs each way, compile included, in microseconds
per seed-step. One seed of the plain PyTorch loop is printed first, as the yardstick.

    python bench/study_scale.py --limit                                  # the study against its limit

With --limit, the second table puts the study beside its limit, for mlp2 and mlp4 at 10^4 to 10^6
seeds (--limit-seeds): the same arithmetic as a minimal fused loop, with no Lightning and no
bookkeeping, compiled by torch.compile (Inductor), its compile timed cold. For a 2-h-1 net the loop
is written per copy as scalar arithmetic over one [S] tensor per parameter (structure of arrays,
--per-call steps per compiled call), which Inductor fuses into one loop over the copies that keeps
each copy's weights in registers. For deeper nets it is the faster of two layouts with the chain
rule written out (the scalar form's code grows with the square of the width): batched matrix
products, and the copies as the last dimension. Both are checked against
autograd before they are timed. Columns: ns per seed-step, steady state, and over a 10001-step
budget with the compile included, for the study (uncompiled and compiled) and the limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET = 10001  # the lab's steps
MODEL_STEPS_PER_BATCH = 50  # the first batch holds the compile; steps are timed after it


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 10, 100, 1000, 10000, 100000])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the config's torch_threads)")
    parser.add_argument("--no-compiled", action="store_true", help="time the uncompiled step only")
    parser.add_argument("--limit", action="store_true", help="only the study against its limit (the second table)")
    parser.add_argument("--limit-seeds", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--limit-steps", type=int, default=200, help="steps timed for each row of the second table")
    parser.add_argument("--nets", nargs="+", default=["mlp2", "mlp4"], choices=["mlp2", "mlp4"], help="the second table's nets")
    parser.add_argument("--per-call", type=int, default=10, help="steps per compiled call of the scalar limit loop")
    args = parser.parse_args()
    if args.steps <= MODEL_STEPS_PER_BATCH:
        parser.error(f"--steps must be more than one batch ({MODEL_STEPS_PER_BATCH} steps) to time a step, got {args.steps}")
    if min(args.seeds) < 1 or args.threads < 1:
        parser.error("--seeds and --threads must be positive")
    sys.path.insert(0, str(ROOT / "src"))
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="study_scale_inductor_")  # cold compiles

    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from gatelab.core.gates import truth_table
    from gatelab.core.reference import train_plain
    from gatelab.data import RepeatedFullBatch
    from gatelab.infra.compat import quiet_lightning
    from gatelab.recipes.batched import SeedStudy

    warnings.filterwarnings("ignore")
    quiet_lightning()  # Lightning's notes on the devices and logging, per fit
    torch.set_num_threads(args.threads)
    x, y = truth_table("xor")

    class Clock(L.Callback):
        """When the first batch (the compile, for a compiled step) ended, and when training did."""

        def on_train_batch_end(self, trainer, *_) -> None:
            if trainer.global_step == MODEL_STEPS_PER_BATCH:
                self.first_batch_end = time.perf_counter()

        def on_train_end(self, *_) -> None:
            self.end = time.perf_counter()

    def fit(seeds: int, steps: int, compiled: bool, hidden: tuple[int, ...] = (2,)) -> tuple[float, float]:
        """Seconds per step after the first batch, and the first batch's extra time (the compile)."""
        model = SeedStudy(
            list(hidden), "sigmoid", range(seeds), optimizer=lambda p: torch.optim.SGD(p, lr=1.0), threshold=0.0,
            steps_per_batch=MODEL_STEPS_PER_BATCH, compiled=compiled,
        )  # fmt: skip
        clock = Clock()
        trainer = L.Trainer(
            accelerator=args.accelerator, devices=1, max_steps=steps, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, callbacks=[clock],
        )  # fmt: skip
        start = time.perf_counter()
        trainer.fit(model, DataLoader(RepeatedFullBatch(x, y, 2), batch_size=None))
        per_step = (clock.end - clock.first_batch_end) / (steps - MODEL_STEPS_PER_BATCH)
        return per_step, max(clock.first_batch_end - start - MODEL_STEPS_PER_BATCH * per_step, 0.0)

    train_plain(x, y, [2], steps=200)
    start = time.perf_counter()
    train_plain(x, y, [2], steps=args.steps)
    plain = (time.perf_counter() - start) / args.steps
    print(f"device: {args.accelerator}; torch threads: {args.threads}; plain loop, 1 seed: {plain * 1e3:.3f} ms/step")
    if args.limit:
        limit_table(args, fit, x, y)
        return
    fit(10, 100, compiled=False)  # warm-up
    print(
        f"{'seeds':>8} | {'ms/step':>8} {'us/seed-step':>12} | {'compiled':>8} {'us/seed-step':>12} {'compile s':>9} "
        f"| {BUDGET} steps, compile included: {'us/seed-step':>12} {'compiled':>9} {'speed-up':>8}"
    )
    for seeds in args.seeds:
        eager, _ = fit(seeds, args.steps, compiled=False)
        row = f"{seeds:>8} | {eager * 1e3:>8.3f} {eager / seeds * 1e6:>12.4f} |"
        if args.no_compiled:
            print(row, flush=True)
            continue
        compiled, compile_s = fit(seeds, args.steps, compiled=True)
        whole_eager, whole_compiled = eager * BUDGET, compiled * BUDGET + compile_s
        print(
            f"{row} {compiled * 1e3:>8.3f} {compiled / seeds * 1e6:>12.4f} {compile_s:>9.1f} | {'':>34}"
            f"{whole_eager / seeds / BUDGET * 1e6:>12.4f} {whole_compiled / seeds / BUDGET * 1e6:>9.4f} "
            f"{whole_eager / whole_compiled:>7.2f}x",
            flush=True,
        )


NETS = {"mlp2": (2,), "mlp4": (10, 10, 10)}


def limit_table(args, fit, x, y) -> None:
    """The study's time per seed-step beside its limit's, each net, each number of seeds."""
    import torch

    rows, labels = x.tolist(), y.flatten().tolist()
    print(f"torch threads: {args.threads}; {args.limit_steps} steps timed per row; ns per seed-step; "
          f"'{BUDGET}': over a {BUDGET}-step budget, compile included")  # fmt: skip
    print(f"{'net':>5} {'seeds':>8} | {'study':>8} {'compiled':>8} {BUDGET:>8} | {'limit':>8} {'compile s':>9} {BUDGET:>8} "
          f"| {'study/limit':>11} {BUDGET:>8}")  # fmt: skip
    from limit_loop import check_against_autograd

    for name, hidden in NETS.items():
        if name not in args.nets:
            continue
        sizes = [2, *hidden, 1]
        check_against_autograd(sizes, rows, labels)  # (what is timed computes the study's training)
        for seeds in args.limit_seeds:
            eager, _ = fit(seeds, args.limit_steps + MODEL_STEPS_PER_BATCH, compiled=False, hidden=hidden)
            compiled, compile_s = fit(seeds, args.limit_steps + MODEL_STEPS_PER_BATCH, compiled=True, hidden=hidden)
            study_budget = min(eager * BUDGET, compiled * BUDGET + compile_s)
            limit, limit_compile = time_limit(sizes, rows, labels, seeds, args.limit_steps, args.per_call, torch)
            limit_budget = limit * BUDGET + limit_compile
            ns = 1e9 / seeds
            print(
                f"{name:>5} {seeds:>8} | {eager * ns:>8.1f} {compiled * ns:>8.1f} {study_budget / BUDGET * ns:>8.1f} | "
                f"{limit * ns:>8.1f} {limit_compile:>9.1f} {limit_budget / BUDGET * ns:>8.1f} | "
                f"{min(eager, compiled) / limit:>10.1f}x {study_budget / limit_budget:>7.1f}x",
                flush=True,
            )


def time_limit(sizes, rows, labels, seeds, steps, per_call, torch) -> tuple[float, float]:
    """Seconds per step of the minimal loop for ``seeds`` copies, steady state, and its cold compile.
    A 2-h-1 net: the scalar loop. A deeper one: the faster of the batched-matmul loop and the
    copies-last loop (the layout of gatelab.core.copies_last_step), each timed."""
    from limit_loop import bmm_step, copies_last, copies_last_step, parameters, scalar_steps

    if len(sizes) == 3:
        program = scalar_steps(sizes, rows, labels, 1.0, per_call)
        return time_loop(program, parameters(sizes, seeds, scalar=True), steps, per_call, torch)
    batched = parameters(sizes, seeds, scalar=False)
    return min(
        time_loop(bmm_step(sizes, rows, labels, 1.0), batched, steps, 1, torch),
        time_loop(copies_last_step(sizes, rows, labels, 1.0), copies_last(batched), steps, 1, torch),
    )


def time_loop(program, params, steps, per, torch) -> tuple[float, float]:
    torch._dynamo.reset()  # (cold: a fresh compile for each row)
    compiled = torch.compile(program, fullgraph=True, dynamic=False)
    start = time.perf_counter()
    params = compiled(*params)
    first = time.perf_counter() - start
    calls = max(steps // per, 1)
    start = time.perf_counter()
    for _ in range(calls):
        params = compiled(*params)
    per_step = (time.perf_counter() - start) / (calls * per)
    return per_step, max(first - per * per_step, 0.0)


if __name__ == "__main__":
    main()
