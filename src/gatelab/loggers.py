"""dvclive's Lightning logger, minus a per-epoch cost that does nothing for gatelab."""

from __future__ import annotations

from collections.abc import Mapping

from dvclive.fabric import DVCLiveLogger as FabricDVCLiveLogger
from dvclive.lightning import DVCLiveLogger


class EpochDVCLiveLogger(DVCLiveLogger):
    """``DVCLiveLogger`` that appends each epoch's values to its curves and writes the summary
    (``metrics.json``) once, at the end of the run.

    dvclive's own logger "syncs" after each epoch: it rewrites the summary and gathers every
    curve and parameter file for DVC Studio, even with no Studio configured, and first decides
    whether to do so with ``inspect.stack()``. Together about 10 ms per epoch: 20 % of the time
    of a whole epoch of mlp2 (bench/speed.py, P2). The curves themselves (``plots/metrics/*.tsv``)
    are appended as each value is logged either way, so ``dvc plots show`` sees a run as it goes.
    """

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, sync: bool | None = False) -> None:
        if step == 0:  # dvclive reads step 0 as "no step" (`if step:`) and would log at its step + 1
            self.experiment.step = -1
        FabricDVCLiveLogger.log_metrics(self, metrics, step, sync=False)  # skips the stack inspection too
