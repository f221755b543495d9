"""How many copies one call of the copies-last study step should train (gatelab.core.copies_last_step).

    python bench/chunks.py                       # the landscape's and the study's nets, 1024 ... 50,000 copies
    python bench/chunks.py --copies 2048 5000    # other call sizes

Each call of the compiled step costs a fixed ~0.1 ms (Dynamo's guards, the wrapper, its buffers)
besides its arithmetic, so a small net wants many copies per call; a wide net wants its chunk's
weights and activations to stay in the core's cache through the step's passes over them. For each
net and call size: ns per seed-step, steady state (one thread, the step compiled once per depth,
as the study compiles it; the first call of each net is not timed). The last column is the chunk
``copies_per_chunk`` gives the net (``PARAMETERS_PER_CHUNK`` parameters' worth), which the study
uses for any study of more copies than that.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETS = [(2,), (8,), (2, 2, 2), (8, 8), (8, 8, 8), (10, 10, 10)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, nargs="+", default=[1024, 2048, 5000, 16384, 50000])
    parser.add_argument("--seed-steps", type=float, default=3e6, help="about how many seed-steps to time per cell")
    args = parser.parse_args()
    if min(args.copies) < 2:
        parser.error("--copies must be at least 2 (one copy alone would compile the step again)")
    sys.path.insert(0, str(ROOT / "src"))
    import torch

    from gatelab.core.copies_last_step import compiled_copies_last_step, copies_per_chunk, to_copies_last
    from gatelab.core.gates import truth_table
    from gatelab.recipes.batched import initial_weights

    torch.set_num_threads(1)
    x, y = truth_table("xor")
    rows, labels = x.T.contiguous(), y.flatten()
    print(f"one thread; ns per seed-step by copies per call; {args.seed_steps:.0e} seed-steps timed per cell")
    print(f"{'net':>14} | " + " ".join(f"{c:>7}" for c in args.copies) + f" | {'chunk':>7}")
    for hidden in NETS:
        cells = []
        for copies in args.copies:
            weights, biases = initial_weights(list(hidden), "sigmoid", 2, range(copies))
            params = to_copies_last(weights, biases)
            program = compiled_copies_last_step(len(weights), "sigmoid")
            lr = torch.full((copies,), 1.0)
            for _ in range(3):  # (the compile, and the first calls)
                params, *_ = program(lr, rows, labels, *params)
            calls = max(20, int(args.seed_steps // copies))
            start = time.perf_counter()
            for _ in range(calls):
                params, *_ = program(lr, rows, labels, *params)
            cells.append((time.perf_counter() - start) / calls / copies * 1e9)
        name = "-".join(map(str, (2, *hidden, 1)))
        chunk = copies_per_chunk(to_copies_last(*initial_weights(list(hidden), "sigmoid", 2, range(2))))
        print(f"{name:>14} | " + " ".join(f"{c:>7.0f}" for c in cells) + f" | {chunk:>7}", flush=True)


if __name__ == "__main__":
    main()
