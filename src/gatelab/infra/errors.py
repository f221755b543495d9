"""User-facing errors: one actionable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import errno
import os
import signal
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
    except BrokenPipeError:
        # Whoever read our output went away (`| head -1`): end quietly, as a Unix tool killed by
        # SIGPIPE would (status 141), without Python's "Exception ignored" at shutdown.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        raise SystemExit(128 + signal.SIGPIPE) from None
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
    """One line for a user's mistake, or the machine's (a full disk); None when ``err`` is not one."""
    cause = user_error_in(err)
    if cause is not None:
        return first_line(cause)
    return failed_submitit_job(err) or hydra_message(err) or environment_message(err)


#: What the machine, not the code, can make a write fail with, and what to do about it.
ENVIRONMENT_ERRNOS = {
    errno.ENOSPC: "free some space, or write elsewhere (paths.*, --out-dir)",
    errno.EDQUOT: "free some of your quota, or write elsewhere (paths.*, --out-dir)",
    errno.EFBIG: "a file-size limit (ulimit -f) stops it: raise it, or write elsewhere",
    errno.EROFS: "write elsewhere (paths.*, --out-dir): runs by hand go to runs/ by default",
    errno.EACCES: "write elsewhere (paths.*, --out-dir), or make it writable",
    errno.EPERM: "write elsewhere (paths.*, --out-dir), or make it writable",
    errno.ENAMETOOLONG: "choose a shorter name or folder",
}


#: SQLite's words for the same (DVC keeps its state in SQLite; dvclive opens it at a run's start).
SQLITE_DISK_ERRORS = ("disk I/O error", "database or disk is full", "readonly database", "unable to open database")


def environment_message(err: BaseException | None) -> str | None:
    """One line for an OSError of the machine's making, wherever it was raised (gatelab's writes,
    Lightning's, dvclive's), found down the chain of causes."""
    while err is not None:
        if isinstance(err, OSError) and err.errno in ENVIRONMENT_ERRNOS:
            where = f" {err.filename}" if err.filename else ""
            return f"cannot write{where}: {err.strerror or err}; {ENVIRONMENT_ERRNOS[err.errno]}"
        if type(err).__module__ == "sqlite3" and any(s in str(err) for s in SQLITE_DISK_ERRORS):  # (DVC's state, via dvclive)
            return f"cannot write DVC's state (.dvc/tmp): {err}; free some space, raise a file-size limit (ulimit -f), or make it writable"
        err = err.__cause__ or err.__context__
    return None


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user's mistake behind ``err``, if any: Hydra's instantiate wraps errors raised in
    constructors, so look down the chain of causes."""
    while err is not None:
        if isinstance(err, GatelabError) or is_misconfiguration(err):
            return err
        err = err.__cause__
    return None
