"""The explorer page's speed and size, in Chromium (the one tests/browser/install.sh installs).

    python bench/explorer.py                       # the pipeline's page: reports/explorer.html
    python bench/explorer.py --page runs/.../explorer.html --runs mlp4/xor deep-tanh/xor

Prints, each the median of --repeats loads or moves (the smallest and largest in brackets):
  load     from navigation to the page ready (every run decoded, its curves computed, the first
           run drawn)                                              goal: <= 1 s
  redraw   one slider move, per run shown alone: its three panels drawn at a new record
           goal: <= 16 ms for mlp4 (one frame at 60 Hz)
  limit    beside each redraw: the output field's arithmetic alone (the page's own loop over the
           pixels of the input panel), the floor of a redraw that computes the field
  size     the page's bytes against gatelab.presentation.explorer.SIZE_BUDGET

With --agreement instead: every seed of every study trained in the page (float64, as a click on the
seed grid replays it) against the study's own verdict (float32, batched), per study: the seeds whose
solved-or-not differs. --seeds N: the first N seeds of each study (the pipeline's 102 studies hold
100,000 seeds).

    python bench/explorer.py --agreement --seeds 100
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from gatelab.presentation.explorer import SIZE_BUDGET


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--page", default="reports/explorer.html")
    parser.add_argument("--runs", nargs="+", default=["mlp2/xor", "mlp4/xor", "deep-tanh/xor"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--agreement", action="store_true", help="the seed grids' replays against the studies' verdicts")
    parser.add_argument("--seeds", type=int, default=None, help="with --agreement: the first SEEDS seeds of each study (default: all)")
    args = parser.parse_args()
    if args.seeds is not None and args.seeds < 1:
        parser.error(f"--seeds must be a positive number of seeds, got {args.seeds}")
    return args


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):7.1f} [{min(values):.1f}-{max(values):.1f}]"


# One slider move after another through the run's records, timed in the page (the drawing is
# synchronous: setStep returns when the three canvases are drawn).
REDRAWS = """([id, moves]) => {
  const run = gatelab.runs.get(id), row = [...gatelab.state.rows].find((r) => r.run === run);
  const times = [], field = [], last = run.steps.length - 1;
  for (let k = 1; k <= moves; k++) {
    const i = last + 1 < moves ? k % (last + 1) : Math.round((k * last) / moves); // a new record each move
    let t = performance.now();
    gatelab.setStep(run.steps[i]);
    times.push(performance.now() - t);
    t = performance.now();
    gatelab.outputField(run, run.records[i], gatelab.fieldResolution(run.sizes));
    field.push(performance.now() - t);
  }
  return [times, field];
}"""


def agreement(page, first: int | None) -> None:
    studies = page.evaluate("() => gatelab.data.studies.filter((s) => s.rule).map((s) => [s.id, s.architecture, s.verdicts.length])")
    seeds = differ = 0
    for study, architecture, count in studies:
        start, count = time.perf_counter(), min(count, first or count)
        here = page.evaluate("([id, count]) => gatelab.solvedHere(id, count)", [study, count])
        there = page.evaluate("(id) => gatelab.data.studies.find((s) => s.id === id).verdicts.map((v) => v === 'solved')", study)[:count]
        moved = [k for k, (a, b) in enumerate(zip(here, there)) if a != b]
        seeds, differ = seeds + count, differ + len(moved)
        print(
            f"  {study:26s} {architecture:14s} {count:4d} seeds, {len(moved):3d} differ {moved[:10]} ({time.perf_counter() - start:.1f} s)",
            flush=True,
        )
    print(f"  all: {seeds} seeds, {differ} differ")


def main() -> None:
    args = parse_args()
    page_path = Path(args.page).resolve()
    size = page_path.stat().st_size
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        if args.agreement:
            page = browser.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            return agreement(page, args.seeds)
        loads = []
        for _ in range(args.repeats):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            start = time.perf_counter()
            page.goto(page_path.as_uri())
            page.wait_for_selector("body[data-ready=true]", timeout=60_000)
            loads.append((time.perf_counter() - start) * 1000)
            page.close()
        print(f"explorer: {page_path} ({time.strftime('%Y-%m-%d %H:%M')})")
        print(f"  load        {spread(loads)} ms   goal <= 1000 ms")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(page_path.as_uri())
        page.wait_for_selector("body[data-ready=true]", timeout=60_000)
        for run in args.runs:
            page.click(f'.run-item[data-run="{run}"] .show')
            redraws, fields = page.evaluate(REDRAWS, [run, args.moves])
            params = page.evaluate("(id) => gatelab.runs.get(id).sizes.join('-')", run)
            goal = "   goal <= 16 ms" if run.startswith("mlp4") else ""
            print(f"  redraw {run:16s} ({params}) {spread(redraws)} ms   limit (the field alone) {spread(fields)} ms{goal}")
        browser.close()
    print(f"  size        {size / 1e6:.2f} MB   budget {SIZE_BUDGET / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
