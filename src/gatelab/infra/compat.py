"""Every place gatelab relies on a library's private API, undocumented behaviour or message text.

Each touchpoint names the version it was checked against; ``tests/test_compat.py`` exercises each
one against the installed library, so an upgrade that breaks one fails there by name, not as a
strange result somewhere else. This module imports none of these libraries at import time (it sits
in the lowest layer, below Lightning): it takes their objects as arguments, or imports inside the
function that needs them, where the function says why.

Checked against: torch 2.13.0, lightning 2.6.6, dvclive 3.49.1, hydra-core 1.3.8, submitit 1.5.
"""

from __future__ import annotations

import logging
import signal
import warnings

# --- Lightning 2.6.6 --------------------------------------------------------------------------


def count_optimizer_step(trainer) -> None:
    """Count one optimizer step for Lightning (``global_step``, ``max_steps``, checkpoints) in manual
    optimization, when the step was taken with the torch optimizer itself rather than through
    ``LightningOptimizer.step`` (three hooks per call: gatelab.models explains why). Lightning counts
    them in this private progress tracker."""
    progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    progress.increment_ready()
    progress.increment_completed()


#: Lightning's (and Inductor's) advice that does not apply to a 4-row, in-memory dataset, by the text
#: of the warning. Also applied to the test suite (tests/conftest.py), so there is one list.
QUIET_WARNINGS = (
    # The CPU is gatelab's choice, not an oversight: faster for a 4-row batch, and bit-reproducible.
    ".*GPU available but not used.*",
    # TF32 rounds matmul inputs to 10-bit mantissas: a compiled GPU study would no longer match the CPU's.
    ".*TensorFloat32 tensor cores for float32 matrix multiplication available but not enabled.*",
    ".*does not have many workers.*",  # the data is 4 rows in memory
    ".*configure_optimizers` returned `None`.*",  # the manual-backprop model has no optimizer
    ".*isinstance\\(treespec, LeafSpec\\)` is deprecated.*",  # Lightning vs. newer torch, harmless
    # Resuming mid-epoch: every batch is the same full batch, and Lightning counts the steps left.
    ".*your dataloader is not resumable.*",
    ".*Total length of `list` across ranks is zero.*",  # no validation set: the exact truth table
    ".*no `validation_step`. Skipping val loop.*",  # the seed study does not validate
)
#: Lightning's loggers that print, at INFO level, its "GPU available" and seed lines, and "Received
#: SIGTERM" (gatelab says so itself, in its one line: gatelab.recipes.training).
CHATTY_LOGGERS = (
    "lightning.pytorch.utilities.rank_zero",
    "lightning.pytorch.accelerators.cuda",
    "lightning.pytorch.trainer.connectors.signal_connector",
)


def quiet_lightning() -> None:
    """Silence the advice in QUIET_WARNINGS and CHATTY_LOGGERS."""
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def stopping_signal(err: BaseException) -> signal.Signals | None:
    """The signal that stopped a fit, if one did. Lightning turns SIGTERM (a cluster's preemption)
    into its ``SIGTERMException``, a SystemExit whose code is None, so that the process would exit
    with status 0 as if it had finished; and Ctrl+C (SIGINT) into ``sys.exit(1)``, raised while it
    handles the KeyboardInterrupt."""
    if type(err).__name__ == "SIGTERMException":
        return signal.SIGTERM
    if isinstance(err, KeyboardInterrupt) or (isinstance(err, SystemExit) and isinstance(err.__context__, KeyboardInterrupt)):
        return signal.SIGINT
    return None


def is_misconfiguration(err: BaseException) -> bool:
    """Lightning's MisconfigurationException (a user's mistake), by name: no Lightning import here."""
    return type(err).__name__ == "MisconfigurationException"


# --- dvclive 3.49.1 ---------------------------------------------------------------------------


def log_metrics_unsynced(logger, metrics, step: int | None) -> None:
    """What ``dvclive.lightning.DVCLiveLogger.log_metrics`` does, without its per-call sync (which
    rewrites the summary, gathers every file for DVC Studio and first calls ``inspect.stack()``):
    the Fabric logger's ``log_metrics`` that it extends, with ``sync=False``. dvclive reads step 0
    as "no step" (``if step:``) and would log it at its own step + 1: its step counter is set so
    that the next one is 0."""
    if step == 0:
        logger.experiment.step = -1
    fabric_logger = next(cls for cls in type(logger).__mro__ if cls.__module__ == "dvclive.fabric")
    fabric_logger.log_metrics(logger, metrics, step, sync=False)


# --- Hydra 1.3.8 ------------------------------------------------------------------------------

#: Hydra's own sweeper, the one whose jobs gatelab.config.sweep lists before they run.
BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def sweep_job_overrides(arguments: list[str]) -> tuple[list[list[str]], set[str]]:
    """Each job's overrides, in the order Hydra's basic sweeper runs them (its own static method
    ``split_arguments``), and the keys swept. Imported here, not at the top: Hydra's internals."""
    # Here, not at the top: this module sits below the configuration layer, which alone calls this.
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parsed = OverridesParser.create().parse_overrides(arguments)
    batches = BasicSweeper.split_arguments(parsed, None)
    swept = {override.get_key_element() for override in parsed if override.is_sweep_override()}
    return [list(job) for batch in batches for job in batch], swept


def set_hydra_config(config) -> None:
    """Make ``config`` the one that ``${hydra:...}`` interpolations resolve against (Hydra keeps it in
    a process-wide singleton, which its launcher sets for each job)."""
    from hydra.core.hydra_config import HydraConfig  # (here, as in sweep_job_overrides)

    HydraConfig.instance().set_config(config)


def hydra_message(err: BaseException) -> str | None:
    """One line for Hydra's (or OmegaConf's) own config errors, from their message text, e.g. "Could
    not find 'model/mlp9'; available options in 'model': manual, mlp2, mlp4, perceptron"; None when
    ``err`` is not one of them."""
    kind = type(err).__name__
    if kind == "InstantiationException" and err.__cause__ is not None:  # a constructor refused a value
        key = next((line.split(":", 1)[1].strip() for line in str(err).splitlines() if line.startswith("full_key:")), "")
        cause = first_line(err.__cause__)
        return f"{key}: {cause}" if key else cause
    if kind == "OverrideParseException":
        return f"cannot parse the override {err.override!r}: {first_line(err)}"
    if not type(err).__module__.startswith(("hydra.", "omegaconf.")):
        return None
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if "Config search path:" in lines:  # Hydra's debugging detail, not the user's problem
        lines = lines[: lines.index("Config search path:")]
    if not lines:
        return kind
    headline = lines[0].removeprefix("In 'config': ")
    options_at = next((i for i, line in enumerate(lines) if line.startswith("Available options in")), None)
    if options_at is not None:
        options = ", ".join(lines[options_at + 1 :])
        return f"{headline}; available options in {lines[options_at].split(' in ', 1)[1]} {options}"
    key = getattr(err.__cause__, "full_key", None)
    if key and "not in struct" in str(err.__cause__):
        return f"'{key}' is not a setting; `python src/train.py --help` lists them"
    return headline


# --- submitit 1.5 (hydra-submitit-launcher 1.2.0) ---------------------------------------------


def failed_submitit_job(err: BaseException) -> str | None:
    """A submitit job that exited without a result (``UncompletedJobError``), with the job's own error
    line (from its error stream, which submitit quotes) when it printed one; None for other errors."""
    if type(err).__name__ != "UncompletedJobError":
        return None
    lines = str(err).splitlines()
    job = lines[0].split(" with path")[0] if lines else "a job"
    reason = next((line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error: ")), None)
    return f"{job} failed: {reason}" if reason else f"{job} failed; its log is in the sweep's .submitit/ folder"


# --- torch 2.13.0 -----------------------------------------------------------------------------


def is_overflowing_update(err: BaseException) -> bool:
    """torch.optim's RuntimeError when an update overflows float ("... without overflow")."""
    return isinstance(err, RuntimeError) and "without overflow" in str(err)


def is_nan_bce_input(err: BaseException) -> bool:
    """``binary_cross_entropy``'s RuntimeError for outputs outside [0, 1] (NaN among them)."""
    return isinstance(err, RuntimeError) and "between 0 and 1" in str(err)


def is_compiler_failure(err: BaseException) -> bool:
    """``torch._dynamo.exc.BackendCompilerFailed`` or a subclass (Inductor raises its own,
    ``InductorError``): the compiled step could not be built (a machine without a C++ compiler, for
    one). By name, as isinstance would: importing torch._dynamo costs seconds."""
    return any(cls.__name__ == "BackendCompilerFailed" and cls.__module__ == "torch._dynamo.exc" for cls in type(err).__mro__)


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
