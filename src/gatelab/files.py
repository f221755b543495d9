"""Atomic writes: a killed run leaves the previous file or none, never half of one.

Each file is written to a temporary name in its own folder and renamed into place; a rename
within one filesystem is atomic. (Lightning's own checkpoint "transaction" goes through the
system temp folder and ``shutil.move``, which is a copy when that is another filesystem.)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from gatelab.errors import GatelabError

UMASK = os.umask(0o022)
os.umask(UMASK)  # (reading the umask means setting it; this puts it back)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a killed writer
            if not writer_alive(stale):
                stale.unlink(missing_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
        os.close(fd)
    except OSError as err:
        raise GatelabError(f"cannot write {path}: {err.strerror or err}") from None
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~UMASK)  # mkstemp makes the file private; give it a normal file's mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def writer_alive(tmp: Path) -> bool:
    """Whether the process that writes temporary file ``tmp`` (``.<name>.<pid>.<random>.tmp``) still
    runs: another writer's file in progress is not stale."""
    pid = tmp.name.removeprefix(".").split(".")[-3]
    if not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"))


def check_writable(folder: str | os.PathLike) -> None:
    """Fail now, with the folder's name, rather than after training when the result can't be saved."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise GatelabError(f"cannot write to {folder}/: {err.strerror or err}; choose another paths.* folder") from None
