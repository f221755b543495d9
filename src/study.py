"""Train S seeds of one model on one gate at once, and report how often it solves the gate.

    python src/study.py model=mlp2 data=xor study.seeds=1000      (``--help`` for more)

The same command, with ``--multirun`` over models and gates, is what the ``study`` stage runs.
"""

import os

import hydra
from omegaconf import DictConfig

from gatelab.infra.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="study")
def main(cfg: DictConfig) -> dict:
    with exit_on_user_error():
        # Imported here, not at the top: --help (which Hydra answers before this function) pays for
        # neither torch nor Lightning, and every setting is checked before the recipe's ~9 s Lightning
        # import, so that a mistake is refused at once.
        from gatelab.config.checks import check_config

        check_config(cfg, create_folders=False)
        # The recipe, and Lightning with it, only now.
        from gatelab.recipes.shards import format_shard
        from gatelab.recipes.study import run_study
        from gatelab.recipes.summary import format_study

        result = run_study(cfg)
        for study in result if isinstance(result, list) else [result]:  # (study.lrs: one per learning rate)
            print(format_shard(study) if "shard" in study else format_study(study))
    return result


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let config errors reach us, to print them as one line
    with exit_on_user_error():
        main()
