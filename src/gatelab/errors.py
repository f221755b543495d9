"""User-facing errors: one actionable line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class GatelabError(Exception):
    """A mistake the user can fix (bad value, missing file, absent GPU). The message says how."""


#: Exit status for a user's mistake (argparse uses 2 for the same purpose).
USER_ERROR = 2


@contextmanager
def exit_on_user_error() -> Iterator[None]:
    """Turn a ``GatelabError`` (or a Lightning misconfiguration) into ``error: ...`` and exit 2."""
    try:
        yield
    except GatelabError as err:
        _die(str(err))
    except Exception as err:  # Lightning's MisconfigurationException, matched by name to stay import-free
        if type(err).__name__ != "MisconfigurationException":
            raise
        _die(str(err).strip().splitlines()[0])


def _die(message: str) -> None:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(USER_ERROR)
