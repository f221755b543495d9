"""Shared helpers: the repository's paths, a composed Hydra config, generated truth tables."""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import gatelab  # noqa: F401  first: pins the CPU kernels before any test runs torch (gatelab/kernels.py)

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"


def git_status(repo: Path) -> str | None:
    out = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True)
    return out.stdout if out.returncode == 0 else None  # None: not a git checkout


def pytest_configure(config: pytest.Config) -> None:
    """The warnings gatelab silences in its commands (gatelab.infra.compat.QUIET_WARNINGS) are
    silenced in the tests too: one list, not a copy in pyproject.toml."""
    from gatelab.infra.compat import QUIET_WARNINGS

    for message in QUIET_WARNINGS:
        config.addinivalue_line("filterwarnings", f"ignore:{message}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n auto``, pyproject.toml), one worker builds ``reproduced`` (a cold
    pipeline, minutes) while the others run the tests that don't need it: so the test that builds
    it runs first, and the tests that copy it last, when it is there to copy."""

    def turn(item: pytest.Item) -> int:
        names = getattr(item, "fixturenames", ())
        return 0 if "reproduced" in names and "reproduced_copy" not in names else 2 if "reproduced_copy" in names else 1

    items.sort(key=turn)  # stable: within each turn, the usual order


@pytest.fixture(autouse=True, scope="session")
def _the_suite_leaves_the_repository_as_it_found_it():
    """`pytest` (the quick start's second command) must not change `git status`: tests write into
    temporary folders, and runs by hand into runs/ (git-ignored). Nor may anything it runs write
    into the filesystem's root (tests point outputs there on purpose: tests/test_places.py)."""
    before, root_before = git_status(ROOT), sorted(os.listdir("/"))
    yield
    assert git_status(ROOT) == before, "the test suite changed the repository's git status"
    assert sorted(os.listdir("/")) == root_before, "the test suite wrote into /"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    from gatelab.core.gates import FUNCTIONS, GATES, write_gate_csv

    for gate in [*GATES, *FUNCTIONS, "parity3", "parity4"]:
        write_gate_csv(gate, tmp_path / "data" / f"{gate}.csv")
    return tmp_path / "data"


@pytest.fixture
def make_cfg(tmp_path: Path, data_dir: Path):
    """Compose ``conf/`` the way ``src/train.py`` does (``config="study"``: ``src/study.py``),
    writing into ``tmp_path``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    def _make(*overrides: str, config: str = "config"):
        base = [
            f"paths.data_dir={data_dir}",
            f"paths.out_dir={tmp_path / 'run'}",
            f"paths.models_dir={tmp_path / 'models'}",
            f"paths.logs_dir={tmp_path / 'logs'}",
            f"paths.dvclive_dir={tmp_path / 'dvclive'}",
            f"paths.checkpoints_dir={tmp_path / 'checkpoints'}",  # not the checkout's checkpoints/
            "trainer.enable_progress_bar=false",
        ]
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose(config, overrides=[*base, *overrides], return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)  # resolves ${hydra:runtime.choices.model}
        return cfg

    return _make


TEST_OUTPUTS = Path(tempfile.mkdtemp(prefix="gatelab-test-outputs-"))  # one per worker process
atexit.register(shutil.rmtree, TEST_OUTPUTS, ignore_errors=True)

# A run by hand writes into its own folder under runs/ (conf/paths/run.yaml), and its resume
# checkpoints into checkpoints/; in tests those are temporary folders, unless the test chooses them.
# (Nothing a test runs writes into the repository, and tests running at once don't share files.)
RUN_NUMBER = itertools.count()
DEFAULT_OUTPUTS = {
    "src/train.py": ("hydra.run.dir=", "hydra.sweep.dir=", "paths.checkpoints_dir="),
    "src/study.py": ("hydra.run.dir=", "hydra.sweep.dir="),
    "src/evaluate.py": ("--out-dir",),
    "src/animate.py": ("--out-dir",),
    "src/generate.py": ("--out",),
}


def cli_args(args: tuple[str, ...]) -> list[str]:
    args = list(args)
    for option in DEFAULT_OUTPUTS.get(args[0] if args else "", ()):
        if not any(a.startswith(option) for a in args):
            folder = f"{TEST_OUTPUTS}/{next(RUN_NUMBER)}"
            args += [option + folder] if option.endswith("=") else [option, folder]
    return args


def run_cli(*args: str, cwd: Path = ROOT, env: dict | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command-line entry point as a user would, capturing its output. ``env`` adds to this
    process's environment; a value of None removes that variable."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env = {name: value for name, value in full_env.items() if value is not None}
    return subprocess.run([sys.executable, *cli_args(args)], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def without_lightning(tmp_path_factory) -> dict:
    """``run_cli``'s ``env`` for an entry point that promises not to import Lightning (animate,
    evaluate, landscape, merge_shards: it would add seconds to their start): `import lightning`
    fails there, as do its other two names."""
    blocker = tmp_path_factory.mktemp("without_lightning")
    for package in ("lightning", "pytorch_lightning", "lightning_fabric"):
        (blocker / package).mkdir()
        (blocker / package / "__init__.py").write_text('raise ImportError("this entry point must not import Lightning")\n')
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))}


def run_cli_batch(script: str, command_lines: list[list[str]], env: dict | None = None) -> list[subprocess.CompletedProcess]:
    """``run_cli(script, *args)`` for each ``args`` in ``command_lines``, all in one Python process
    (tests/cli_batch.py): exit status, stdout and stderr of each, as its own process would give them."""
    import json

    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env = {name: value for name, value in full_env.items() if value is not None}
    lines = [cli_args((script, *args))[1:] for args in command_lines]
    batch = subprocess.run(
        [sys.executable, "tests/cli_batch.py", script, json.dumps(lines)],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert batch.returncode == 0, batch.stderr[-3000:]
    results = json.loads(batch.stdout.strip().splitlines()[-1])
    return [subprocess.CompletedProcess([script, *args], r["returncode"], r["stdout"], r["stderr"]) for args, r in zip(lines, results)]


# --- a copy of the repository, for what `dvc repro` and the README's commands do to it ----------


def make_clone(repo: Path) -> Path:
    """The working tree's files (tracked and not ignored) in a fresh git repo, with no DVC cache."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, listed):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "snapshot")
    return repo


def git(repo: Path, *args: str) -> str:
    return run(repo, "git", *args).stdout


def run(repo: Path, *cmd: str, check: bool = True, capture: bool = True) -> subprocess.CompletedProcess:
    """``cmd`` in ``repo`` with this venv's `python` and `dvc`. ``capture=False`` for a command that
    leaves daemons behind (`dvc queue start`): they would hold a captured output open, and us waiting."""
    bin_dir = str(Path(sys.executable).parent)  # the stages' `python` and `dvc` are this venv's
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "GIT_AUTHOR_NAME": "test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "test", "GIT_COMMITTER_EMAIL": "test@example.com",
        "DVC_NO_ANALYTICS": "1",
    }  # fmt: skip
    streams = {"capture_output": True} if capture else {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    # 40 minutes: a cold `dvc repro` (7 min alone on the 2-core machine) beside the rest of the suite.
    out = subprocess.run(cmd, cwd=repo, env=env, text=True, timeout=2400, **streams)
    out.stdout, out.stderr = out.stdout or "", out.stderr or ""
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    return out


def files_under(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def reproduced(tmp_path_factory) -> Path:
    """A fresh copy of the repository after a cold `dvc repro` (its generated results and dvc.lock
    removed first). Built once per test run, also when pytest-xdist runs the tests in several
    workers: they share it through a file lock (xdist's documented pattern), and a worker that
    needs it while another builds it waits. Read it only; a test that runs git or dvc in it takes
    ``reproduced_copy``."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # this run's folder, shared by its workers (each has a popen-gw<n> in it)
    repo, done, failed = base / "reproduced" / "repo", base / "reproduced.done", base / "reproduced.failed"
    with FileLock(str(base / "reproduced.lock")):
        if failed.exists():  # one worker's failure is every worker's: not a cold pipeline per worker
            pytest.fail(f"the cold `dvc repro` failed (in another worker):\n{failed.read_text()}")
        if not done.exists():
            try:
                make_clone(repo)
                for generated in ("metrics", "reports", "plots", "dvclive", "study", "dvc.lock"):
                    path = repo / generated
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                run(repo, "dvc", "repro")
            except BaseException as err:
                failed.write_text(str(err)[-6000:] or repr(err))
                raise
            done.touch()
    return repo


@pytest.fixture
def reproduced_copy(reproduced: Path, tmp_path: Path) -> Path:
    """A copy of ``reproduced`` of the test's own, with its DVC cache: git and dvc commands in it
    leave the other tests' copies alone, whatever runs at the same time."""
    repo = tmp_path / "repo"
    shutil.copytree(reproduced, repo, symlinks=True)
    return repo
