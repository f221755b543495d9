"""Every command the README and docs/ show, run in order in a reproduced copy of the repository,
leaves `git status` and `dvc status` as they were, or changes them exactly as the page says.

The commands are read from README.md and then from the docs/ pages in the order the README lists
them (``pages_in_order``): runs by hand first, then the pipeline's, the experiments last. Runs by
hand write only into runs/ (git-ignored); `dvc exp run` in the workspace changes the `-S` file,
dvc.lock and the pipeline's results, and `git checkout . && dvc checkout` puts them back; queued
experiments leave the workspace alone.

The commands run in parts (``readme_parts``), each in a copy of its own, so that pytest-xdist's
workers share them out: a part starts where the commands before it have left nothing behind that
later ones need (the experiments are their own parts).
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

import pytest

from conftest import ROOT, git, run

# Commands the README or docs/ show that this test does not run, and why.
NOT_RUN = {
    "python3 -m venv": "the quick start itself: CI runs it on a fresh clone (.ci/run)",
    "pip install -e '.[cluster]'": "installs a package (the test extra has it: CI installs it)",
    "+cluster=slurm": "needs a SLURM cluster (tests/test_shards.py composes its config)",
    "src/merge_shards.py runs/<date>/<time>": "a placeholder for a sweep's folder (tests/test_shards.py runs it)",
    "+landscape=xor study.seeds=1000": "the full landscape, about 14 minutes on 2 cores (tests/test_landscape.py runs it small)",
    "src/landscape.py runs/<date>/<time>": "a placeholder for a sweep's folder (tests/test_landscape.py runs it)",
}

# Commands that end with a one-line error on a machine like CI's, as docs/using.md says they do.
EXPECTED_ERRORS = {
    "trainer.accelerator=gpu": "no GPU found on this machine",  # (on a machine with a GPU it trains)
    "resume=true": "there is no interrupted run to resume",  # the run before it was not interrupted here
}

# Commands that start a part (a run of them, like the two `--queue` lines, starts one): the
# pipeline's commands after the runs by hand, and each kind of experiment.
PART_STARTS = ("dvc repro", "dvc exp run -S", "dvc exp run --queue")

# What `dvc exp run` in the workspace may change (docs/pipeline.md lists it).
EXPERIMENT_CHANGES = ("dvc.lock", "metrics/", "plots/", "dvclive/", "study/", "reports/")


def pages_in_order() -> list[Path]:
    """README.md, then the pages of docs/ in the order of the README's list of them (its section
    "Documentation"): runs by hand before the pipeline, whose experiments come last."""
    readme = (ROOT / "README.md").read_text()
    listed = readme[readme.index("\n## Documentation\n") :].split("\n## ")[1]
    pages = re.findall(r"^- \[[^\]]*\]\((docs/[\w.-]+\.md)\)", listed, re.M)
    return [ROOT / "README.md", *(ROOT / page for page in dict.fromkeys(pages))]


def readme_commands() -> list[str]:
    """The commands in the bash blocks of the README and docs/, in order (continuation lines joined,
    comments dropped)."""
    commands = []
    for page in pages_in_order():
        for block in re.findall(r"```bash\n(.*?)```", page.read_text(), re.S):
            for line in block.replace("\\\n", " ").splitlines():
                command = re.split(r"\s+# ", " " + line)[0].strip()  # a comment starts with "# " after a space
                if command and not command.startswith("#"):
                    commands.append(" ".join(command.split()))
    return commands


def readme_parts() -> list[list[str]]:
    """The commands of the README and docs/ that this test runs, in order, cut before each run of
    PART_STARTS."""
    parts, previous = [[]], ""
    for command in readme_commands():
        if any(skipped in command for skipped in NOT_RUN):
            continue
        start = next((prefix for prefix in PART_STARTS if command.startswith(prefix)), None)
        if start and not previous.startswith(start):
            parts.append([])
        parts[-1].append(command)
        previous = command
    return parts


def test_the_readme_shows_the_commands_this_test_knows():
    commands = readme_commands()
    assert len(commands) > 30
    for skipped in NOT_RUN:
        assert any(skipped in command for command in commands), f"neither the README nor docs/ shows {skipped!r} any more"


def test_every_page_with_commands_is_read():
    """Every page of docs/ is read (the README lists it), so a command shown anywhere is run."""
    assert sorted(pages_in_order()[1:]) == sorted((ROOT / "docs").glob("*.md"))


def status(repo: Path) -> tuple[list[str], dict]:
    """What `git status --porcelain` and `dvc status` say."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return git(repo, "status", "--porcelain").splitlines(), dvc.status()


def wait_for_the_queue(repo: Path) -> None:
    deadline = time.time() + 1200
    while time.time() < deadline:
        queue = run(repo, "dvc", "queue", "status").stdout
        if "Queued" not in queue and "Running" not in queue:
            assert "Failed" not in queue, queue
            return
        time.sleep(3)
    raise AssertionError("the queue did not finish")


def test_the_parts_are_the_readme_commands_in_order():
    parts = readme_parts()
    assert [c for part in parts for c in part] == [c for c in readme_commands() if not any(s in c for s in NOT_RUN)]
    assert len(parts) == 4 and all(parts)  # by hand, the pipeline, an experiment in the workspace, queued ones
    assert parts[0][0] == "python src/train.py" and parts[1][0] == "dvc repro"
    assert [part[0].split(" -S")[0] for part in parts[2:]] == ["dvc exp run", "dvc exp run --queue"]


@pytest.mark.slow
@pytest.mark.parametrize("part", range(len(readme_parts())), ids=lambda n: f"part{n + 1}")
def test_every_readme_command_leaves_the_repository_as_the_readme_says(reproduced_copy: Path, part: int):
    repo = reproduced_copy
    git(repo, "commit", "--allow-empty", "-qm", "a second commit, for the README's `dvc plots diff HEAD~1`")
    assert status(repo)[0] == [], "the copy must start clean"
    clean = status(repo)
    try:
        run_in_order(repo, readme_parts()[part], clean)
    finally:
        run(repo, "dvc", "queue", "stop", check=False)  # a failed command must not leave workers running


def run_in_order(reproduced: Path, commands: list[str], clean: tuple) -> None:
    for command in commands:
        daemons = command.startswith("dvc queue start")  # its workers outlive it
        out = run(reproduced, "bash", "-c", command, check=False, capture=not daemons)
        expected_error = next((e for pattern, e in EXPECTED_ERRORS.items() if pattern in command), None)
        if expected_error and out.returncode != 0:
            assert out.returncode == 2 and expected_error in out.stderr, (command, out.stderr[-2000:])
            assert len(out.stderr.strip().splitlines()) == 1, (command, out.stderr)
        else:
            assert out.returncode == 0, f"{command}\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        if daemons:
            wait_for_the_queue(reproduced)
            run(reproduced, "dvc", "queue", "stop", check=False)  # idle workers may linger (a user's too, harmlessly)

        changed, dvc_status = status(reproduced)
        if command.startswith("dvc exp run -S"):  # in the workspace: the README says what changes
            changed_files = [line[3:] for line in changed]
            edited = shlex.split(command)[-1].split(":")[0]
            assert all(f == edited or f.startswith(EXPERIMENT_CHANGES) for f in changed_files), (command, changed)
            assert "dvc.lock" in changed_files and dvc_status == {}, (command, dvc_status)
            check_the_experiment_describes_itself(reproduced, command)
        else:
            assert (changed, dvc_status) == clean, f"{command} changed the repository: {changed} {dvc_status}"


def check_the_experiment_describes_itself(repo: Path, command: str) -> None:
    """The README's experiment changes the learning rate: the report must say the new one."""
    lr = re.search(r"lr=([0-9.]+)", command)
    if lr:
        report = (repo / "reports/summary.md").read_text()
        assert f"(lr {float(lr.group(1)):g})" in report and "(lr 1)" not in report, report[:2000]
