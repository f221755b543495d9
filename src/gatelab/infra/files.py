"""Writing results safely: a killed run leaves the previous file or none, never half of one; the
files of one result appear together or not at all; two processes never write the same file at once;
and a place taken by something else is found before any work is done.

Each file is written to a temporary name in its own folder and renamed into place; a rename
within one filesystem is atomic. (Lightning's own checkpoint "transaction" goes through the
system temp folder and ``shutil.move``, which is a copy when that is another filesystem.)
"""

from __future__ import annotations

import contextvars
import fcntl  # (POSIX: gatelab runs on Linux and macOS)
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from gatelab.infra.errors import GatelabError

UMASK = os.umask(0o022)
os.umask(UMASK)  # (reading the umask means setting it; this puts it back)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object], alone: bool = False) -> Path:
    """Call ``write(tmp)`` to fill a temporary file beside ``path``, then rename it to ``path`` (at the
    end of the enclosing ``written_together`` block if there is one, unless ``alone``)."""
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
        pending = PENDING.get()
        if pending is None or alone:
            os.replace(tmp, path)
        else:  # one of a set of files: renamed into place with the others (written_together)
            if path in pending:
                pending.pop(path).unlink(missing_ok=True)
            pending[path] = tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


#: The files of the innermost ``written_together`` block, waiting to be renamed into place.
PENDING: contextvars.ContextVar[dict[Path, Path] | None] = contextvars.ContextVar("pending", default=None)


@contextmanager
def written_together() -> Iterator[None]:
    """Every ``atomic_write`` inside the block goes to its temporary file as usual, and all of them
    are renamed into place when the block ends without an error; after an error, none is. A result
    of several files (metrics, plots and report; a study's JSON and picture) is then never half
    written: the renames follow one another within microseconds, after all the work is done. A block
    inside another is part of it: the outer block's end renames its files too."""
    if PENDING.get() is not None:
        yield
        return
    pending: dict[Path, Path] = {}
    token = PENDING.set(pending)
    try:
        yield
    except BaseException:
        for tmp in pending.values():
            if not tmp.is_dir():  # (a staged folder is kept: a resumed run goes on in it)
                tmp.unlink(missing_ok=True)
        raise
    else:
        for path, tmp in pending.items():  # (in the order they came: a staged folder after its files)
            put_in_place(tmp, path)
    finally:
        PENDING.reset(token)


def replace_folder(staged: str | os.PathLike, path: str | os.PathLike) -> None:
    """Put folder ``staged`` in the place of folder ``path`` (replacing it whole) at the end of the
    enclosing ``written_together`` block, with the result's files; now if there is none. A result
    written as it goes (a run's curves) is staged in a folder beside its place, so that a killed
    rerun leaves the previous result's folder as it was."""
    staged, path = Path(staged), Path(path)
    if not staged.is_dir():
        return
    pending = PENDING.get()
    if pending is None:
        put_in_place(staged, path)
    else:
        pending[path] = staged


def put_in_place(tmp: Path, path: Path) -> None:
    """Rename ``tmp`` to ``path``. A folder can only be renamed over an empty one: an old one is
    first renamed aside (both renames within microseconds), then removed."""
    if not tmp.is_dir() or not path.exists():
        os.replace(tmp, path)
        return
    old = path.with_name(f".{path.name}.{os.getpid()}.old")
    os.replace(path, old)
    os.replace(tmp, path)
    shutil.rmtree(old, ignore_errors=True)


def staged_folder(path: str | os.PathLike) -> Path:
    """Where a folder written as it goes is staged until its result is complete: beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.partial")


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


def atomic_write_text(path: str | os.PathLike, text: str, alone: bool = False) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8", newline="\n"), alone=alone)


def check_writable(folder: str | os.PathLike) -> None:
    """Fail now, with the folder's name, rather than after training when the result can't be saved."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise GatelabError(f"cannot write to {folder}/: {err.strerror or err}; choose another folder") from None


def check_output_places(files: list[str], folders: list[str] = (), create_folders: bool = True) -> None:
    """Fail before any work when the place of an output file is a folder (or the place of an output
    folder a file), or a folder on the way is a file, or (``create_folders``: creating them to see)
    the folders cannot be written."""
    for place, want_folder in [*((Path(f), False) for f in files), *((Path(f), True) for f in folders)]:
        if place.exists() and place.is_dir() != want_folder:
            kind, wanted = ("a file", "a folder") if want_folder else ("a folder" if place.is_dir() else "not a file", "a file")
            raise GatelabError(f"{place} is {kind}, where this run writes {wanted}; move it away or choose another name= or paths.*")
        for parent in place.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise GatelabError(f"{parent} is a file, where this run needs a folder (for {place}); choose another paths.*")
                break
    for folder in {Path(f).parent for f in files} | {Path(f) for f in folders} if create_folders else ():
        check_writable(folder)


@contextmanager
def sole_writer(paths: list[str | os.PathLike], command: str) -> Iterator[None]:
    """Hold a lock on each output path for the block, so that a second process writing the same
    files (the same run started twice, two sweeps' jobs of one name and gate, a run on another
    cluster node) is refused in one line instead of mixing its files with the first one's.

    The lock of ``<folder>/<name>`` is ``<folder>/.<name>.lock``: beside what it protects, on its
    filesystem, so that every process that can reach the outputs sees it, whatever its temp folder
    (a lock in ``$TMPDIR`` is private to one machine, often to one job). It is removed when the
    block ends (a killed writer's stale lock file holds no lock: the next writer takes it over)."""
    held: list[tuple[Path, int]] = []
    try:
        for path in paths:
            held.append(lock_beside(Path(path), command))
        yield
    finally:
        for lock, fd in reversed(held):
            lock.unlink(missing_ok=True)  # (while still holding it: see lock_beside)
            os.close(fd)


def lock_beside(path: Path, command: str) -> tuple[Path, int]:
    """Take the lock beside ``path`` without waiting: its file and open descriptor."""
    lock = path.parent / f".{path.name}.lock"
    while True:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~UMASK)
        except OSError as err:
            raise GatelabError(f"cannot write {path}: {err.strerror or err}; choose another paths.* folder") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise GatelabError(
                f"another {command} is writing {path} right now; wait for it to end, or write elsewhere (another name= or paths.*)"
            ) from None
        # A writer that was done removed the lock file between our open and our lock: we would hold
        # a lock on a file nobody else opens. Take the one now at that path instead.
        try:
            if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                return lock, fd
        except FileNotFoundError:
            pass
        os.close(fd)


def first_process() -> bool:
    """Whether this is the process that writes a run's files: every process but the first of a
    multi-process (DDP) run was started by Lightning, or a cluster's launcher, with a rank > 0."""
    return all(os.environ.get(rank, "0") == "0" for rank in ("RANK", "LOCAL_RANK", "NODE_RANK"))


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise GatelabError(f"{path} not found; run 'dvc repro' (or the command that writes it) first")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise GatelabError(f"{path} is not valid JSON; rerun the command that writes it") from None


#: What reading a damaged file's content raises: a key missing, a value of the wrong type or shape.
DAMAGE = (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError, OverflowError, RuntimeError)


@contextmanager
def reading(what: str, path: str | os.PathLike) -> Iterator[None]:
    """Interpret the content of ``path`` (a ``what``) inside the block. A file that parses but is
    damaged, or written by something else (a value missing, of another type or shape), ends in one
    line naming it, whichever step of the interpretation finds it, rather than a traceback."""
    try:
        yield
    except DAMAGE as err:
        detail = str(err).strip().splitlines()[0][:120] if str(err).strip() else ""
        raise GatelabError(
            f"{path} is not a whole {what} ({type(err).__name__}{': ' + detail if detail else ''}); rerun the command that writes it"
        ) from None


def write_json(path: str | Path, data: dict) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
