"""A seed study's results, from its copies' facts: how many solve the gate, when the solved ones
first answered every row right, and where the failures end (gatelab.core.anatomy).

One summary for a study run whole and for one merged from shards (gatelab.recipes.shards), so both
write the same bytes. Lightning is not imported: src/merge_shards.py merges without it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from gatelab.config.layout import shown_path
from gatelab.core.anatomy import classify_each, count_failures, describe
from gatelab.core.solved import is_solved
from gatelab.infra.files import write_json, written_together
from gatelab.presentation import plots


def facts_of(
    first_correct: torch.Tensor, final_loss: torch.Tensor, final_correct: torch.Tensor,
    corners: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], threshold: float,
) -> dict[str, list]:  # fmt: skip
    """``corners``: the truth table ``(x, y)``, and each copy's last hidden layer ``[S, rows, units]``
    and output ``[S, rows]`` on it."""
    solved = is_solved(final_correct, final_loss, threshold)
    x, y, hidden, outputs = corners
    classified = classify_each(hidden, outputs, x, y, final_loss, ~solved)
    return {
        "first_correct": first_correct.tolist(),  # -1: never
        "final_loss": [round(v, 6) for v in final_loss.tolist()],
        "solved": solved.tolist(),
        "failure": [kind for kind, _ in classified],  # null: solved
        "at_group_mean": [at_mean for _, at_mean in classified],  # (for the counts; see gatelab.core.anatomy)
    }


def summarize_facts(name: str, gate: str, seeds: range, steps: int, threshold: float, facts: dict[str, list]) -> dict:
    """The study's summary of its copies' facts (``facts_of``, in seed order): one function for a
    study run whole and for one merged from shards, so both write the same bytes."""
    solved = torch.tensor(facts["solved"], dtype=torch.bool)
    first_correct = torch.tensor(facts["first_correct"], dtype=torch.long)
    return {
        "model": name,
        "gate": gate,
        "seeds": len(seeds),
        "first_seed": seeds.start,
        "steps": steps,  # trained: the budget, or fewer when every copy was solved earlier
        "solved": int(solved.sum()),
        "solve_rate": round(solved.float().mean().item(), 6),
        "threshold": threshold,  # solved: every row right and the final loss below this
        "steps_to_100": quantiles(first_correct[solved]),  # over the solved copies
        "failures": count_failures(zip(facts["failure"], facts["at_group_mean"])),  # where they end (gatelab.core.anatomy)
        "per_seed": {key: facts[key] for key in ("first_correct", "final_loss", "solved", "failure")},
    }


def summarize_study(
    name: str, gate: str, seeds: range, steps: int, threshold: float,
    first_correct: torch.Tensor, final_loss: torch.Tensor, final_correct: torch.Tensor,
    corners: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
) -> dict:  # fmt: skip
    """The summary straight from the copies' end states (see ``facts_of``)."""
    return summarize_facts(name, gate, seeds, steps, threshold, facts_of(first_correct, final_loss, final_correct, corners, threshold))


def quantiles(values: torch.Tensor) -> dict | None:
    if not len(values):
        return None
    q = torch.quantile(values.double(), torch.tensor([0.1, 0.5, 0.9], dtype=torch.double), interpolation="lower")
    return {"p10": int(q[0]), "median": int(q[1]), "p90": int(q[2])}


def format_study(result: dict) -> str:
    steps = result["steps_to_100"]
    timing = (
        f", every row right after {steps['median']} steps (median over the solved; p10 {steps['p10']}, p90 {steps['p90']})" if steps else ""
    )
    failures = result["failures"]
    means = (
        f" (merged corners answer their mean target in {failures['outputs_at_group_means']} of {failures['merged_total']})"
        if failures["merged_total"]
        else ""
    )
    return (
        f"{result['model']} on {result['gate']}: {result['solved']}/{result['seeds']} seeds solve it{timing}; "
        f"failures: {describe(failures)}{means} -> {result['json']}"
    )


def write_study(result: dict, out_json: Path, out_png: Path | None = None) -> dict:
    """The study's JSON and its picture (unless ``out_png`` is None), together (or neither)."""
    with written_together():
        write_json(out_json, result)
        if out_png is not None:
            plots.study_png(result, out_png)
    return {**result, "json": shown_path(out_json), "png": None if out_png is None else shown_path(out_png)}
