"""Train one model on one gate: ``python src/train.py model=mlp4 data=xor`` (``--help`` for more).

The same command, with ``--multirun`` over the gates, is what each ``dvc repro`` train stage runs.
"""

import os

import hydra
from omegaconf import DictConfig

from gatelab.infra.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    with exit_on_user_error():
        # Imported here, not at the top: --help (which Hydra answers before this function) pays for
        # neither torch nor Lightning, and every setting is checked before the recipe's ~9 s Lightning
        # import, so that a mistake is refused at once.
        from gatelab.config.checks import check_config

        check_config(cfg, create_folders=False)
        # The recipe, and Lightning with it, only now.
        from gatelab.recipes.training import format_summary, train

        result = train(cfg)
        if result is not None:  # one line per run, from rank 0 of a multi-process (DDP) run
            print(format_summary(result))
    return result


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let config errors reach us, to print them as one line
    with exit_on_user_error():
        main()
