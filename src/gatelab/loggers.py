"""dvclive's Lightning logger, minus a per-epoch cost that does nothing for gatelab."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from dvclive.lightning import DVCLiveLogger

from gatelab.infra.compat import log_metrics_unsynced
from gatelab.infra.files import atomic_write_text


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
        log_metrics_unsynced(self, metrics, step)

    def forget_after(self, step: int) -> None:
        """Drop the curves' rows after ``step``: a resumed run goes on from its saved state at
        ``step``, and the rows the interrupted run wrote after that would appear twice."""
        for curve in Path(self.experiment.plots_dir, "metrics").rglob("*.tsv"):
            header, *rows = curve.read_text().splitlines()
            kept = [row for row in rows if int(float(row.split("\t")[0])) <= step]
            if len(kept) < len(rows):
                # Now, not with the run's results: the logger appends to it from here on.
                atomic_write_text(curve, "\n".join([header, *kept]) + "\n", alone=True)
