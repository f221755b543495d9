"""gatelab's speed targets, measured side by side with the lab's plain PyTorch in one run.

    python bench/speed.py                     # every target, 3 repeats (about 25 minutes on 2 cores)
    python bench/speed.py --repeats 1 --only p2 p3

Prints the median of the repeats for each figure (the machine is noisy), with the smallest and the
largest in brackets, and each target's ratio (of the medians):

  P1  cold `dvc repro` (24 trainings + evaluation) vs the lab's script run once per model x gate,
      one process each, 10001 steps each (bench/lab_script.py)          goal: <= 0.25x
      and, beside it, the limit: the same 24 runs as plain loops stopped where the pipeline's early
      stopping stops them, in ONE process
  P2  time per optimizer step, mlp2 on XOR, in one process: gatelab's Lightning training (callbacks,
      logging and resume checkpoints active; early stopping kept from ending the run) vs the
      plain loop                                                        goal: <= 1.3x
  P2 parts (--only p2-parts, not in the default set): P2 again with the snapshots, the resume
      checkpoints, early stopping, the logger, or every callback and the logger taken away, one at a time: what
      each costs per step, in microseconds over the plain loop
  P3  a no-op `dvc repro` (goal <= 3 s) and `python src/train.py --help` (goal <= 2 s)
  S1  the seed study: 1000 seeds of mlp2 on XOR for 10001 steps, trained at once (src/study.py's
      run_study, in Lightning) vs ONE seed's plain loop for 10001 steps, same process   goal: <= 2.5x

P1 times `dvc repro train` (data and the 24 model x gate trainings the lab's script also does);
the whole pipeline (plus the 16 functions, the deep net and the seed study) is printed beside it.

That stopping early never changes the results (the accuracy table equals the full 10001-step
table) is checked by tests/test_pipeline.py, not here.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["perceptron", "mlp2", "mlp4", "manual"]
GATES = ["and", "or", "nand", "nor", "xor", "xnor"]
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def seconds(cmd: list[str], cwd: Path = ROOT) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=ENV, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh_clone(where: Path) -> Path:
    """The working tree's tracked and unignored files in a new git repo: no data, models or DVC cache."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    repo = where / "repo"
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "snapshot"]):
        subprocess.run([*git, *args], cwd=repo, check=True)
    return repo


def p1_and_p3_noop(repeats: int, with_lab: bool) -> dict:
    lab, cold, full, noop = [], [], [], []
    for _ in range(repeats):  # interleaved, so that both sides see the same machine
        if with_lab:
            lab.append(sum(seconds([sys.executable, "bench/lab_script.py", m, g]) for m in MODELS for g in GATES))
        with tempfile.TemporaryDirectory() as tmp:
            repo = fresh_clone(Path(tmp))
            cold.append(seconds(["dvc", "repro", "train"], cwd=repo))
            full.append(cold[-1] + seconds(["dvc", "repro"], cwd=repo))
            noop.append(seconds(["dvc", "repro"], cwd=repo))
    return {"lab": lab, "cold": cold, "full": full, "noop": noop}


# The limit for P1: the pipeline's 24 runs as plain PyTorch loops, each stopped where the pipeline's
# early stopping stopped it (metrics/<model>/<gate>.json), all in ONE process (one import of torch).
# `manual` is timed as the autograd loop of the same 2-2-1 net.
LIMIT = """
import json, sys
sys.path.insert(0, "src")
import torch
from gatelab.core.gates import truth_table
from gatelab.core.reference import train_plain
torch.set_num_threads(1)
HIDDEN = {"perceptron": [], "mlp2": [2], "mlp4": [10, 10, 10], "manual": [2]}
for model, gate, steps in json.loads(sys.argv[1]):
    train_plain(*truth_table(gate), HIDDEN[model], steps=steps)
"""


def p1_limit(repeats: int) -> list[float]:
    runs = [(m, g, json.loads((ROOT / f"metrics/{m}/{g}.json").read_text())["steps"]) for m in MODELS for g in GATES]
    return [seconds([sys.executable, "-c", LIMIT, json.dumps(runs)]) for _ in range(repeats)]


# P2's parts (--only p2-parts): the same measurement with one piece taken away at a time, so that
# the difference to "everything" is that piece's cost per step.
P2_PARTS = {
    "everything (P2)": [],
    "without snapshots": ["~callbacks.snapshots"],
    "without resume checkpoints": ["~callbacks.resume_checkpoint"],
    "without early stopping": ["~callbacks.early_stopping"],
    "without the logger (dvclive)": ["logger=none"],
    "without any callback or logger": ["callbacks=none", "logger=none"],
}


def p2(repeats: int, accelerator: str = "cpu", extra: Sequence[str] = (), variants: dict | None = None) -> dict:
    """Seconds per step of the plain loop ("plain") and of each variant of gatelab's training (by
    default only "everything"), interleaved, so that all see the same machine."""
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from gatelab.core.gates import truth_table, write_gate_csv
    from gatelab.core.reference import train_plain
    from gatelab.recipes.training import train

    torch.set_num_threads(1)  # gatelab's default (torch_threads=1): only the training loop differs
    variants = variants or {"everything (P2)": []}
    x, y = truth_table("xor")
    times: dict[str, list[float]] = {"plain": [], **{name: [] for name in variants}}
    with tempfile.TemporaryDirectory() as tmp:
        write_gate_csv("xor", f"{tmp}/data/xor.csv")
        common = [
            f"paths.data_dir={tmp}/data",
            f"paths.models_dir={tmp}/models",
            f"paths.checkpoints_dir={tmp}/ckpt",
            f"paths.dvclive_dir={tmp}/dvclive",
            f"paths.out_dir={tmp}",
            "solved_below=1e-9",
            "trainer.enable_progress_bar=false",
            f"trainer.accelerator={accelerator}",
            *extra,
        ]  # fmt: skip  (the full 10001 steps, every callback still running)
        configs = {}
        for name, overrides in variants.items():
            stops_early = not {"callbacks=none", "~callbacks.early_stopping"} & {*extra, *overrides}
            full_budget = ["callbacks.early_stopping.patience=100000"] if stops_early else []
            with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
                configs[name] = compose("config", overrides=[*common, *full_budget, *overrides], return_hydra_config=True)
        HydraConfig.instance().set_config(configs[next(iter(variants))])
        device = "cuda" if accelerator == "gpu" else "cpu"
        train_plain(x, y, [2], steps=200, device=device), train(configs[next(iter(variants))])  # warm-up: first calls pay one-off costs
        for _ in range(repeats):
            start = time.perf_counter()
            train_plain(x, y, [2], steps=10001, device=device)
            times["plain"].append((time.perf_counter() - start) / 10001)
            for name, cfg in configs.items():
                start = time.perf_counter()
                steps = train(cfg)["steps"]
                times[name].append((time.perf_counter() - start) / steps)
    return times


def s1(repeats: int, accelerator: str = "cpu", extra: Sequence[str] = (), seeds: int = 1000) -> dict:
    import torch
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from gatelab.core.gates import truth_table, write_gate_csv
    from gatelab.core.reference import train_plain
    from gatelab.recipes.study import run_study

    torch.set_num_threads(1)
    x, y = truth_table("xor")
    plain, ours = [], []
    with tempfile.TemporaryDirectory() as tmp:
        write_gate_csv("xor", f"{tmp}/data/xor.csv")
        overrides = [
            "model=mlp2", "data=xor", f"study.seeds={seeds}", f"paths.data_dir={tmp}/data",
            f"paths.out_dir={tmp}", "trainer.enable_progress_bar=false", f"trainer.accelerator={accelerator}", *extra,
        ]  # fmt: skip
        with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("study", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        warm = cfg.copy()
        warm.trainer.max_steps, warm.study.seeds = 200, 10
        train_plain(x, y, [2], steps=200), run_study(warm)  # warm-up: first calls pay one-off costs
        for _ in range(repeats):
            start = time.perf_counter()
            train_plain(x, y, [2], steps=10001)
            plain.append(time.perf_counter() - start)
            start = time.perf_counter()
            result = run_study(cfg)
            ours.append(time.perf_counter() - start)
            assert result["steps"] == 10001, "every seed solved early: not the full budget"
    return {"plain": plain, "ours": ours, "solved": result["solved"]}


def p3_help(repeats: int) -> list[float]:
    return [seconds([sys.executable, "src/train.py", "--help"]) for _ in range(repeats)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="+", choices=["p1", "p2", "p2-parts", "p3", "s1"], default=["p1", "p2", "p3", "s1"])
    parser.add_argument("--accelerator", default="cpu", choices=["cpu", "gpu"], help="P2 and S1: gatelab's side")
    parser.add_argument("--override", nargs="*", default=[], help="P2 and S1: more Hydra overrides (logger=csv ...)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    med = statistics.median

    def shown(values: Sequence[float], unit: str, scale: float = 1.0, digits: int = 1) -> str:
        """The median, and the spread of the repeats: ``0.142 ms (0.139-0.150)``."""
        low, middle, high = (f"{v * scale:.{digits}f}" for v in (min(values), med(values), max(values)))
        return f"{middle} {unit}" + (f" ({low}-{high})" if len(values) > 1 else "")

    rows = []
    if "p1" in args.only or "p3" in args.only:
        r = p1_and_p3_noop(args.repeats, with_lab="p1" in args.only)
        if "p1" in args.only:
            rows.append(("P1", "cold dvc repro train, 24 runs", shown(r["lab"], "s"), shown(r["cold"], "s"),
                         f"{med(r['cold']) / med(r['lab']):.2f}x", "<= 0.25x"))  # fmt: skip
            limit = p1_limit(args.repeats)
            rows.append(("", "the limit: the same 24 early-stopped runs as plain loops in ONE process", "", shown(limit, "s"),
                         f"{med(r['cold']) / med(limit):.1f}x the limit", ""))  # fmt: skip
            rows.append(("", "cold dvc repro, whole pipeline", "", shown(r["full"], "s"), "", ""))
        if "p3" in args.only:
            rows.append(("P3", "no-op dvc repro", "", shown(r["noop"], "s", digits=2), "", "<= 3 s"))
    if "p2" in args.only:
        r = p2(args.repeats, args.accelerator, args.override)
        ours = r["everything (P2)"]
        rows.append(("P2", "per optimizer step, mlp2 XOR", shown(r["plain"], "ms", 1e3, 3),
                     shown(ours, "ms", 1e3, 3), f"{med(ours) / med(r['plain']):.2f}x", "<= 1.30x"))  # fmt: skip
    if "p2-parts" in args.only:
        r = p2(args.repeats, args.accelerator, args.override, variants=P2_PARTS)
        for name in P2_PARTS:  # the ratio column: microseconds per step over the plain loop
            rows.append(("P2 parts", name, shown(r["plain"], "ms", 1e3, 3), shown(r[name], "ms", 1e3, 3),
                         f"{(med(r[name]) - med(r['plain'])) * 1e6:+.1f} us", ""))  # fmt: skip
    if "s1" in args.only:
        r = s1(args.repeats, args.accelerator, args.override)
        rows.append(("S1", f"1000 seeds at once vs 1 seed, mlp2 XOR, 10001 steps ({r['solved']} solve it)",
                     shown(r["plain"], "s", digits=2), shown(r["ours"], "s", digits=2),
                     f"{med(r['ours']) / med(r['plain']):.2f}x", "<= 2.5x"))  # fmt: skip
    if "p3" in args.only:
        rows.append(("P3", "python src/train.py --help", "", shown(p3_help(args.repeats), "s", digits=2), "", "<= 2 s"))

    header = ("target", "what", "lab's plain PyTorch", "gatelab", "ratio", "goal")
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    print(f"median of {args.repeats} repeat(s); {os.cpu_count()} CPUs; P2/S1 on {args.accelerator} {' '.join(args.override)}")
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
