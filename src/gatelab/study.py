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

from gatelab.anatomy import classify_failures, describe
from gatelab.config import check_config, is_manual, study_json, study_png
from gatelab.files import sole_writer, written_together
from gatelab.metrics import write_json
from gatelab.report import settings_of
from gatelab.training import check_accelerator, instantiate_callbacks, quiet_lightning, resolved_config, shown_path


def run_study(cfg: DictConfig) -> dict:
    """Train ``cfg.study.seeds`` copies of ``cfg.model`` on ``cfg.data``, write and return the summary."""
    check_config(cfg)  # the study's settings too (gatelab.config.check_study)
    check_accelerator(cfg.trainer)
    study = cfg.study
    out_json, out_png = Path(study_json(cfg)), Path(study_png(cfg))
    manual = is_manual(cfg)

    from gatelab.batched import SeedStudy

    quiet_lightning()
    torch.set_num_threads(cfg.torch_threads)
    datamodule = instantiate(cfg.data)
    seeds = range(study.first_seed, study.first_seed + study.seeds)
    model = SeedStudy(
        cfg.model.hidden, cfg.model.activation, seeds,
        optimizer=None if manual else instantiate(cfg.optimizer), manual_lr=cfg.optimizer.lr if manual else None,
        manual_rule=cfg.model.get("rule", "exact"),
        inputs=datamodule.inputs, steps_per_batch=cfg.steps_per_batch, threshold=cfg.solved_below,
    )  # fmt: skip
    callbacks = instantiate_callbacks(cfg)
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=False, enable_checkpointing=False)
    with sole_writer([out_json, out_png], "seed study"):
        trainer.fit(model, datamodule=datamodule)
        return summarize_and_write(cfg, model, datamodule, trainer.global_step, seeds, out_json, out_png)


def summarize_and_write(
    cfg: DictConfig, model, datamodule, steps: int, seeds: range, out_json: Path, out_png: Path
) -> dict:  # fmt: skip
    """What the trained copies did (``summarize_study``), written as JSON and a picture, together."""
    from gatelab.backprop import bce, forward_with_cache

    model.cpu()
    x, y = (t.to(model.dtype) for t in datamodule.train_set)  # float64 under trainer.precision=64-true
    with torch.no_grad():
        y_hat = model(x)
        final_loss = bce(y_hat, y)
        final_correct = ((y_hat > 0.5) == (y > 0.5)).all(dim=1).flatten()
        # The truth table's corners as each copy's last hidden layer sees them (the anatomy of failures).
        cache = forward_with_cache(list(model.weights), list(model.biases), model.activations, datamodule.x.to(model.dtype))
        hidden = cache[-2].expand(model.copies, *cache[-2].shape[-2:])  # no hidden layer: the inputs
    result = summarize_study(
        name=cfg.name, gate=cfg.data.gate, seeds=seeds, steps=steps, threshold=cfg.solved_below,
        first_correct=model.first_correct.cpu(), final_loss=final_loss, final_correct=final_correct,
        corners=(datamodule.x, datamodule.y, hidden, cache[-1][..., 0]),
    )  # fmt: skip
    # What ran, for the report. (Not `seed`: the copies' seeds are first_seed.. above.)
    result["settings"] = {k: v for k, v in settings_of(resolved_config(cfg), datamodule.inputs).items() if k != "seed"}
    from gatelab import plots

    with written_together():  # the JSON and its picture appear together, or neither
        write_json(out_json, result)
        plots.study_png(result, out_png)
    return {**result, "json": shown_path(out_json), "png": shown_path(out_png)}


def quantiles(values: torch.Tensor) -> dict | None:
    if not len(values):
        return None
    q = torch.quantile(values.double(), torch.tensor([0.1, 0.5, 0.9], dtype=torch.double), interpolation="lower")
    return {"p10": int(q[0]), "median": int(q[1]), "p90": int(q[2])}


def summarize_study(
    name: str, gate: str, seeds: range, steps: int, threshold: float,
    first_correct: torch.Tensor, final_loss: torch.Tensor, final_correct: torch.Tensor,
    corners: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor],
) -> dict:  # fmt: skip
    """``corners``: the truth table ``(x, y)``, and each copy's last hidden layer ``[S, rows, units]``
    and output ``[S, rows]`` on it."""
    solved = final_correct & (final_loss < threshold)
    x, y, hidden, outputs = corners
    kinds, failures = classify_failures(hidden, outputs, x, y, final_loss, ~solved)
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
        "failures": failures,  # where the failed copies end (gatelab.anatomy)
        "per_seed": {
            "first_correct": first_correct.tolist(),  # -1: never
            "final_loss": [round(v, 6) for v in final_loss.tolist()],
            "solved": solved.tolist(),
            "failure": kinds,  # null: solved
        },
    }


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
