"""User-facing errors: one actionable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class GatelabError(Exception):
    """A mistake the user can fix (bad value, missing file, absent GPU). The message says how."""


class Diverged(GatelabError):
    """Training blew up (NaN outputs, overflowing updates): the learning rate is too large."""


#: Exit status for a user's mistake (argparse uses 2 for the same purpose).
USER_ERROR = 2


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a user's mistake into ``error: <one line>`` on stderr and exit status 2.

    Mistakes are a ``GatelabError`` (also when Hydra's instantiate wrapped it), Lightning's
    MisconfigurationException, and Hydra's own config errors: unknown option or key, unparsable
    override, a value a constructor refused. Hydra prints the latter itself over several lines
    unless ``HYDRA_FULL_ERROR=1`` lets them reach us. Anything else is a bug: its traceback shows.
    """
    try:
        yield
    except Exception as err:
        message = describe_user_error(err)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(USER_ERROR) from None


def exit_from_hydra_callback(err: Exception, context: str = "") -> None:
    """End the command as ``exit_on_user_error`` would, from inside a Hydra callback: Hydra turns a
    callback's exceptions into warnings and goes on, but not SystemExit. Not a user's mistake: raise it."""
    message = describe_user_error(err)
    if message is None:
        raise err
    print(f"error: {context}{message}", file=sys.stderr)
    raise SystemExit(USER_ERROR) from None


def describe_user_error(err: BaseException) -> str | None:
    """One line for a user's mistake; None when ``err`` is not one."""
    cause = user_error_in(err)
    if cause is not None:
        return first_line(cause)
    kind = type(err).__name__
    if kind == "InstantiationException" and err.__cause__ is not None:
        key = next((line.split(":", 1)[1].strip() for line in str(err).splitlines() if line.startswith("full_key:")), "")
        return f"{key}: {first_line(err.__cause__)}" if key else first_line(err.__cause__)
    if kind == "UncompletedJobError":  # submitit: a job of the sweep ended without a result
        return failed_job(err)
    if kind == "OverrideParseException":
        return f"cannot parse the override {err.override!r}: {first_line(err)}"
    if type(err).__module__.startswith(("hydra.", "omegaconf.")):
        return hydra_message(err)
    return None


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user's mistake behind ``err``, if any: Hydra's instantiate wraps errors raised in
    constructors, so look down the chain of causes. Lightning's MisconfigurationException is
    matched by name so that this module stays import-free."""
    while err is not None:
        if isinstance(err, GatelabError) or type(err).__name__ == "MisconfigurationException":
            return err
        err = err.__cause__
    return None


def failed_job(err: BaseException) -> str:
    """A submitit job that exited without a result, with the job's own error line (from its error
    stream, which submitit quotes) when it printed one."""
    lines = str(err).splitlines()
    job = lines[0].split(" with path")[0] if lines else "a job"
    reason = next((line.removeprefix("error: ") for line in reversed(lines) if line.startswith("error: ")), None)
    return f"{job} failed: {reason}" if reason else f"{job} failed; its log is in the sweep's .submitit/ folder"


def first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def hydra_message(err: BaseException) -> str:
    """Hydra's multi-line message on one line, e.g. "Could not find 'model/mlp9'; available
    options in 'model': manual, mlp2, mlp4, perceptron"."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    if "Config search path:" in lines:  # Hydra's debugging detail, not the user's problem
        lines = lines[: lines.index("Config search path:")]
    if not lines:
        return type(err).__name__
    headline = lines[0].removeprefix("In 'config': ")
    options_at = next((i for i, line in enumerate(lines) if line.startswith("Available options in")), None)
    if options_at is not None:
        options = ", ".join(lines[options_at + 1 :])
        return f"{headline}; available options in {lines[options_at].split(' in ', 1)[1]} {options}"
    key = getattr(err.__cause__, "full_key", None)
    if key and "not in struct" in str(err.__cause__):
        return f"'{key}' is not a setting; `python src/train.py --help` lists them"
    return headline
