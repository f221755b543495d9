"""The seed study's recipe: S seeds of one model on one gate as one batched Lightning fit
(``gatelab.recipes.batched``), then what a researcher reports about them:

- how many solve the gate: the single run's rule (gatelab.core.solved), at the end of the budget;
- when each solved copy first answered every row right: median, 10th and 90th percentile, and a
  histogram;
- where the failures end: which corners the last hidden layer merged, or the ln 2 plateau
  (gatelab.core.anatomy), and the final-loss histogram.
"""

from __future__ import annotations

from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from gatelab.config.checks import check_config
from gatelab.config.layout import output_files
from gatelab.config.planning import shard_range, study_cells, study_compiles, study_takes_scalar_step
from gatelab.config.record import resolved_config, settings_of, trains_by_hand
from gatelab.core.chain_rule import bce, forward_with_cache
from gatelab.core.solved import all_right, solved_threshold
from gatelab.infra.compat import quiet_lightning, stopping_signal
from gatelab.infra.errors import Stopped
from gatelab.infra.files import sole_writer, written_together
from gatelab.recipes.batched import SeedStudy
from gatelab.recipes.shards import write_shard
from gatelab.recipes.summary import facts_of, summarize_facts, write_study
from gatelab.recipes.training import check_accelerator, instantiate_callbacks


def run_study(cfg: DictConfig) -> dict | list[dict]:
    """Train the study's copies of ``cfg.model`` on ``cfg.data`` (all its seeds, or one shard's:
    ``study.shards``, ``study.shard``), write and return the summary (or the shard). With
    ``study.lrs``, one study per learning rate, trained side by side in the same fit: a list of them."""
    check_config(cfg)  # the study's settings too (gatelab.config.checks.check_study)
    check_accelerator(cfg.trainer)
    study = cfg.study
    seeds = shard_range(study.first_seed, study.seeds, study.shard, study.shards)
    manual = trains_by_hand(cfg.model)
    cells = study_cells(cfg)

    quiet_lightning()
    torch.set_num_threads(cfg.torch_threads)
    datamodule = instantiate(cfg.data)
    # A copy ends where its own early-stopped run would (gatelab.callbacks.SolvedOrStuck): solved by
    # the same rule, on the same rows.
    threshold = solved_threshold(cfg.solved_below, len(datamodule.x))
    model = SeedStudy(
        cfg.model.hidden, cfg.model.activation, seeds,
        optimizer=None if manual else instantiate(cfg.optimizer), manual_lr=cfg.optimizer.lr if manual else None,
        manual_rule=cfg.model.get("rule", "exact"),
        inputs=datamodule.inputs, steps_per_batch=cfg.steps_per_batch, threshold=threshold,
        lrs=None if study.get("lrs") is None else [cell.optimizer.lr for cell in cells],
        compiled=study_compiles(cfg), scalar_program=study_takes_scalar_step(cfg),
    )  # fmt: skip
    callbacks = instantiate_callbacks(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False, enable_checkpointing=False)
    outputs = [Path(path) for path in output_files(cfg)]
    with sole_writer(outputs, "seed study"), written_together():
        try:
            trainer.fit(model, datamodule=datamodule)
        except BaseException as err:
            signum = stopping_signal(err)
            if signum is None:
                raise
            raise Stopped(f"stopped by {signum.name} at step {trainer.global_step}; nothing written: run the study again", signum) from None
        facts = copy_facts(model, datamodule, threshold)
        results = [
            write_cell(cell, seeds, steps, facts_g, datamodule.inputs, threshold)
            for cell, (steps, facts_g) in zip(cells, by_group(model, facts))
        ]
    return results if study.get("lrs") is not None else results[0]


def by_group(model, facts: dict[str, list]) -> list[tuple[int, dict[str, list]]]:
    """Each learning rate's copies (``SeedStudy.lrs``; one group without): the steps its own study
    trains (to its last copy's stop: every copy's stop is its own) and its copies' facts."""
    size = model.copies // model.groups
    return [
        (int(model.solved_at[g * size:(g + 1) * size].max()), {key: values[g * size:(g + 1) * size] for key, values in facts.items()})
        for g in range(model.groups)
    ]  # fmt: skip


def write_cell(cfg: DictConfig, seeds: range, steps: int, facts: dict, inputs: int, threshold: float) -> dict:
    """One study's summary (or shard), as that study run alone writes it."""
    # What ran, for the report. (Not `seed`: the copies' seeds are first_seed.. above.)
    settings = {k: v for k, v in settings_of(resolved_config(cfg), inputs).items() if k != "seed"}
    outputs = [Path(path) for path in output_files(cfg)]
    if cfg.study.shards > 1:  # one shard of seeds: its facts, for gatelab.recipes.shards to merge
        return write_shard(cfg, seeds, steps, facts, settings, threshold, outputs[0])
    result = summarize_facts(cfg.name, cfg.data.gate, seeds, steps, threshold, facts)
    result["settings"] = settings
    return write_study(result, *outputs)


def copy_facts(model, datamodule, threshold: float) -> dict[str, list]:
    """What each trained copy did, from its end state (``SeedStudy.end_state``): when it first
    answered every row right, its final loss, whether it is solved, and how it failed."""
    model.cpu()
    weights, biases = model.end_state()
    x, y = (t.to(model.dtype) for t in datamodule.train_set)  # float64 under trainer.precision=64-true
    with torch.no_grad():
        y_hat = forward_with_cache(weights, biases, model.activations, x)[-1]
        final_loss = bce(y_hat, y)
        final_correct = all_right(y_hat, y).flatten()
        # The truth table's corners as each copy's last hidden layer sees them (the anatomy of failures).
        cache = forward_with_cache(weights, biases, model.activations, datamodule.x.to(model.dtype))
        hidden = cache[-2].expand(model.copies, *cache[-2].shape[-2:])  # no hidden layer: the inputs
    return facts_of(
        model.first_correct.cpu(), final_loss, final_correct, (datamodule.x, datamodule.y, hidden, cache[-1][..., 0]), threshold
    )
