"""User-facing errors: one actionable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from gatelab.infra.compat import failed_submitit_job, first_line, hydra_message, is_misconfiguration


class GatelabError(Exception):
    """A mistake the user can fix (bad value, missing file, absent GPU). The message says how."""


class Diverged(GatelabError):
    """Training blew up (NaN outputs, overflowing updates): the learning rate is too large."""


class Stopped(GatelabError):
    """A signal stopped the run (a cluster's preemption, Ctrl+C): the command exits with the
    conventional status 128 + the signal's number (143 for SIGTERM, 130 for SIGINT), never 0."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.exit_status = 128 + signum


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
        raise SystemExit(getattr(user_error_in(err), "exit_status", USER_ERROR)) from None


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
    return failed_submitit_job(err) or hydra_message(err)


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user's mistake behind ``err``, if any: Hydra's instantiate wraps errors raised in
    constructors, so look down the chain of causes."""
    while err is not None:
        if isinstance(err, GatelabError) or is_misconfiguration(err):
            return err
        err = err.__cause__
    return None
