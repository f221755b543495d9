"""Train S seeds of one model on one gate at once, and report how often it solves the gate.

    python src/study.py model=mlp2 data=xor study.seeds=1000      (``--help`` for more)

The same command, with ``--multirun`` over models and gates, is what the ``study`` stage runs.
"""

import os

import hydra
from omegaconf import DictConfig

from gatelab.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="study")
def main(cfg: DictConfig) -> dict:
    with exit_on_user_error():
        from gatelab.shards import format_shard
        from gatelab.study import format_study, run_study  # imports Lightning: not paid by --help

        result = run_study(cfg)
    for study in result if isinstance(result, list) else [result]:  # (study.lrs: one per learning rate)
        print(format_shard(study) if "shard" in study else format_study(study))
    return result


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let config errors reach us, to print them as one line
    with exit_on_user_error():
        main()
