"""The seed study's recipe: S seeds of one model on one gate as one batched Lightning fit
(``gatelab.batched``), then what a researcher reports about them:

- how many solve the gate: every row right and the loss below ``solved_below`` at the end of the
  budget (the single run's rule, conf/config.yaml);
- when each solved copy first answered every row right: median, 10th and 90th percentile, and a
  histogram;
- where the failures end: which corners the last hidden layer merged, or the ln 2 plateau
  (gatelab.anatomy), and the final-loss histogram.
"""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from gatelab.anatomy import classify_each, count_failures, describe
from gatelab.config import check_config, is_manual, output_files, study_cells, study_compiles
from gatelab.files import sole_writer, written_together
from gatelab.metrics import write_json
from gatelab.report import settings_of
from gatelab.training import check_accelerator, instantiate_callbacks, quiet_lightning, resolved_config, shown_path


def run_study(cfg: DictConfig) -> dict | list[dict]:
    """Train the study's copies of ``cfg.model`` on ``cfg.data`` (all its seeds, or one shard's:
    ``study.shards``, ``study.shard``), write and return the summary (or the shard). With
    ``study.lrs``, one study per learning rate, trained side by side in the same fit: a list of them."""
    check_config(cfg)  # the study's settings too (gatelab.config.check_study)
    check_accelerator(cfg.trainer)
    study = cfg.study
    seeds = shard_range(study.first_seed, study.seeds, study.shard, study.shards)
    manual = is_manual(cfg)
    cells = study_cells(cfg)

    from gatelab.batched import SeedStudy

    quiet_lightning()
    torch.set_num_threads(cfg.torch_threads)
    datamodule = instantiate(cfg.data)
    model = SeedStudy(
        cfg.model.hidden, cfg.model.activation, seeds,
        optimizer=None if manual else instantiate(cfg.optimizer), manual_lr=cfg.optimizer.lr if manual else None,
        manual_rule=cfg.model.get("rule", "exact"),
        inputs=datamodule.inputs, steps_per_batch=cfg.steps_per_batch, threshold=cfg.solved_below,
        lrs=None if study.get("lrs") is None else [cell.optimizer.lr for cell in cells],
        compiled=study_compiles(cfg),
    )  # fmt: skip
    callbacks = instantiate_callbacks(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False, enable_checkpointing=False)
    outputs = [Path(path) for path in output_files(cfg)]
    with sole_writer(outputs, "seed study"), written_together():
        trainer.fit(model, datamodule=datamodule)
        facts = copy_facts(model, datamodule, cfg.solved_below)
        results = [write_cell(cell, seeds, steps, facts_g, datamodule.inputs) for cell, (steps, facts_g) in zip(cells, by_group(model, facts))]
    return results if study.get("lrs") is not None else results[0]


def by_group(model, facts: dict[str, list]) -> list[tuple[int, dict[str, list]]]:
    """Each learning rate's copies (``SeedStudy.lrs``; one group without): the steps its own study
    trains (to its last copy's stop: every copy's stop is its own) and its copies' facts."""
    size = model.copies // model.groups
    return [
        (int(model.solved_at[g * size:(g + 1) * size].max()), {key: values[g * size:(g + 1) * size] for key, values in facts.items()})
        for g in range(model.groups)
    ]  # fmt: skip


def write_cell(cfg: DictConfig, seeds: range, steps: int, facts: dict, inputs: int) -> dict:
    """One study's summary (or shard), as that study run alone writes it."""
    # What ran, for the report. (Not `seed`: the copies' seeds are first_seed.. above.)
    settings = {k: v for k, v in settings_of(resolved_config(cfg), inputs).items() if k != "seed"}
    outputs = [Path(path) for path in output_files(cfg)]
    if cfg.study.shards > 1:  # one shard of seeds: its facts, for gatelab.shards to merge
        from gatelab.shards import write_shard

        return write_shard(cfg, seeds, steps, facts, settings, outputs[0])
    result = summarize_facts(cfg.name, cfg.data.gate, seeds, steps, cfg.solved_below, facts)
    result["settings"] = settings
    return write_study(result, *outputs)


def write_study(result: dict, out_json: Path, out_png: Path | None = None) -> dict:
    """The study's JSON and its picture (unless ``out_png`` is None), together (or neither)."""
    from gatelab import plots

    with written_together():
        write_json(out_json, result)
        if out_png is not None:
            plots.study_png(result, out_png)
    return {**result, "json": shown_path(out_json), "png": None if out_png is None else shown_path(out_png)}


def shard_range(first_seed: int, seeds: int, shard: int, shards: int) -> range:
    """Shard ``shard`` of ``shards`` of the seeds ``first_seed .. first_seed + seeds - 1``: consecutive
    seeds, the shards as equal as they can be."""
    return range(first_seed + shard * seeds // shards, first_seed + (shard + 1) * seeds // shards)


def copy_facts(model, datamodule, threshold: float) -> dict[str, list]:
    """What each trained copy did, from its end state (``SeedStudy.end_state``): when it first
    answered every row right, its final loss, whether it is solved, and how it failed."""
    from gatelab.backprop import bce, forward_with_cache

    model.cpu()
    weights, biases = model.end_state()
    x, y = (t.to(model.dtype) for t in datamodule.train_set)  # float64 under trainer.precision=64-true
    with torch.no_grad():
        y_hat = forward_with_cache(weights, biases, model.activations, x)[-1]
        final_loss = bce(y_hat, y)
        final_correct = ((y_hat > 0.5) == (y > 0.5)).all(dim=1).flatten()
        # The truth table's corners as each copy's last hidden layer sees them (the anatomy of failures).
        cache = forward_with_cache(weights, biases, model.activations, datamodule.x.to(model.dtype))
        hidden = cache[-2].expand(model.copies, *cache[-2].shape[-2:])  # no hidden layer: the inputs
    return facts_of(
        model.first_correct.cpu(), final_loss, final_correct, (datamodule.x, datamodule.y, hidden, cache[-1][..., 0]), threshold
    )


def facts_of(
    first_correct: torch.Tensor, final_loss: torch.Tensor, final_correct: torch.Tensor,
    corners: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], threshold: float,
) -> dict[str, list]:  # fmt: skip
    """``corners``: the truth table ``(x, y)``, and each copy's last hidden layer ``[S, rows, units]``
    and output ``[S, rows]`` on it."""
    solved = final_correct & (final_loss < threshold)
    x, y, hidden, outputs = corners
    classified = classify_each(hidden, outputs, x, y, final_loss, ~solved)
    return {
        "first_correct": first_correct.tolist(),  # -1: never
        "final_loss": [round(v, 6) for v in final_loss.tolist()],
        "solved": solved.tolist(),
        "failure": [kind for kind, _ in classified],  # null: solved
        "at_group_mean": [at_mean for _, at_mean in classified],  # (for the counts; see gatelab.anatomy)
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
        "failures": count_failures(zip(facts["failure"], facts["at_group_mean"])),  # where they end (gatelab.anatomy)
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
        f", every row right after {steps['median']} steps (median over the solved; p10 {steps['p10']}, p90 {steps['p90']})"
        if steps
        else ""
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
