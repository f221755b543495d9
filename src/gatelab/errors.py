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
    """Turn a ``GatelabError`` (or a Lightning misconfiguration) into ``error: ...`` and exit 2."""
    try:
        yield
    except Exception as err:
        cause = user_error_in(err)
        if cause is None:
            raise
        _die(str(cause).strip().splitlines()[0])


def user_error_in(err: BaseException | None) -> BaseException | None:
    """The user's mistake behind ``err``, if any: Hydra's instantiate wraps errors raised in
    constructors, so look down the chain of causes. Lightning's MisconfigurationException is
    matched by name so that this module stays import-free."""
    while err is not None:
        if isinstance(err, GatelabError) or type(err).__name__ == "MisconfigurationException":
            return err
        err = err.__cause__
    return None


def _die(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR)
