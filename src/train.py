"""Train one model on one gate: ``python src/train.py model=mlp4 data=xor`` (``--help`` for more).

The same command, with ``--multirun`` over the gates, is what each ``dvc repro`` train stage runs.
"""

import os

import hydra
from omegaconf import DictConfig

from gatelab.errors import exit_on_user_error


@hydra.main(version_base="1.3", config_path="../conf", config_name="config")
def main(cfg: DictConfig) -> dict:
    with exit_on_user_error():
        from gatelab.training import format_summary, train  # imports Lightning: not paid by --help

        result = train(cfg)
    if result is not None:  # one line per run, from rank 0 of a multi-process (DDP) run
        print(format_summary(result))
    return result


if __name__ == "__main__":
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # let config errors reach us, to print them as one line
    with exit_on_user_error():
        main()
