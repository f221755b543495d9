"""Where a command may write (gatelab.config.places), by class of place, not by a list:

- the rule itself, over places a property-based generator (Hypothesis) draws from every class:
  the filesystem's root, the project's folder, its sources, the pipeline's outputs (by hand and
  as a DVC stage), another run's folder, the run's own folder, anywhere else;
- the commands: every entry point's output settings, Hydra's own folders included, pointed at
  each forbidden class: a one-line refusal, exit 2, and nothing written there, nor into ``/``;
- the lists the rule relies on match the project: dvc.yaml's outputs, git's tracked folders.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from conftest import ROOT, run_cli_batch
from gatelab.config.places import PIPELINE_OUTPUTS, RUN_RESULTS, SOURCES, check_write_places, project_root
from gatelab.infra.errors import GatelabError

BUDGET = int(os.environ.get("GATELAB_INVARIANT_EXAMPLES", "30"))
SEGMENT = st.sampled_from(["a", "mlp2", "xor.ckpt", "x y", "run-1", ".hidden", "deep/er", "models", "config.yaml"])
#: Each class of place: how to build one under (project, tmp), and whether a run by hand may write
#: a file there (a folder: the same, but for the root and the project's folder themselves).
CLASSES = ["root", "project", "source", "pipeline", "other_run", "own", "elsewhere"]


def place_of(kind: str, tail: list[str], project: Path, tmp: Path, top: str) -> Path:
    return {
        "root": Path("/"),
        "project": project,
        "source": project / top,
        "pipeline": project / top,
        "other_run": tmp / "other-run",
        "own": tmp / "own",
        "elsewhere": tmp / "elsewhere",
    }[kind].joinpath(*tail)


def refused_by_rule(kind: str, tail: list[str], is_folder: bool, dvc: bool) -> bool:
    """The rule, as the module's docstring states it, for a place of class ``kind``."""
    depth = len(Path(*tail).parts) if tail else 0
    directly_in = depth == 0 if is_folder else depth <= 1
    if kind == "root":
        return directly_in
    if kind == "project":  # (a tail into its sources or the pipeline's outputs is theirs)
        top = Path(*tail).parts[0] if tail else None
        return (directly_in and not dvc) or top in SOURCES or (top in PIPELINE_OUTPUTS and not dvc)
    if kind == "other_run":  # (its folder itself, or its result's places in it)
        return depth == 0 or Path(*tail).parts[0] in RUN_RESULTS
    return {"source": True, "pipeline": not dvc}.get(kind, False)


@settings(max_examples=max(BUDGET * 10, 200), deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(CLASSES),
    tail=st.lists(SEGMENT, max_size=3),
    is_folder=st.booleans(),
    dvc=st.booleans(),
    source=st.sampled_from(sorted(SOURCES)),
    pipeline=st.sampled_from(sorted(PIPELINE_OUTPUTS)),
    setting=st.sampled_from(["paths.models_dir", "ckpt_path", "hydra.run.dir", "--out-dir", "--json"]),
)
def test_a_place_is_refused_exactly_when_its_class_is_forbidden(tmp_path_factory, kind, tail, is_folder, dvc, source, pipeline, setting):
    project = project_root()
    assert project == ROOT  # (the checkout's package knows its project)
    tmp = tmp_path_factory.getbasetemp() / "places"
    (tmp / "other-run/.hydra").mkdir(parents=True, exist_ok=True)
    top = source if kind == "source" else pipeline
    if kind in ("source", "pipeline", "project") and not tail and not is_folder:
        tail = ["file"]  # (the folder itself, as a file, is another question: the place is taken)
    place = place_of(kind, tail, project, tmp, top)
    old = os.environ.pop("DVC_STAGE", None)
    if dvc:
        os.environ["DVC_STAGE"] = "train@mlp2"
    try:
        check_write_places({setting: (str(place), is_folder)}, own_folder=tmp / "own")
        refused = None
    except GatelabError as err:
        refused = str(err)
    finally:
        os.environ.pop("DVC_STAGE", None)
        if old is not None:
            os.environ["DVC_STAGE"] = old
    expected = refused_by_rule(kind, tail, is_folder, dvc)
    assert (refused is not None) == expected, (kind, place, is_folder, dvc, refused)
    if refused:
        assert refused.startswith(f"{setting}={place} ") and "\n" not in refused


def test_the_pipelines_places_are_dvc_yamls_outputs_and_the_sources_are_gits():
    """PIPELINE_OUTPUTS holds the top folder of every output dvc.yaml declares (and the pipeline's
    resume states and CSV logs, which no stage declares); SOURCES holds every other folder git tracks."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        declared = {Path(out.def_path).parts[0] for stage in repo.index.stages for out in stage.outs}
    assert declared <= PIPELINE_OUTPUTS and PIPELINE_OUTPUTS - declared == {"checkpoints", "logs"}, declared
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    folders = {Path(name).parts[0] for name in tracked if len(Path(name).parts) > 1}
    assert folders <= SOURCES | PIPELINE_OUTPUTS, folders - SOURCES - PIPELINE_OUTPUTS


def test_a_runs_result_is_what_a_run_by_hand_writes_in_its_folder():
    """RUN_RESULTS (what, in another run's folder, is its result) names every folder conf/paths/run.yaml
    puts in a run's folder, its config.yaml and Hydra's record, and the side tools' folders."""
    import yaml

    paths = yaml.safe_load((ROOT / "conf/paths/run.yaml").read_text())["paths"]
    in_run = {value.split("/", 1)[1] for value in paths.values() if value.startswith("${.out_dir}/")}
    assert in_run | {".hydra", "metrics", "reports"} == RUN_RESULTS  # (evaluate's --out-dir: metrics/, plots/, reports/)


# --- the commands ------------------------------------------------------------------------------

#: Each entry point's settings that name where it writes: (setting, a folder?).
OUTPUT_SETTINGS = {
    "src/train.py": [("paths.out_dir", True), ("paths.models_dir", True), ("paths.dvclive_dir", True), ("ckpt_path", False),
                     ("paths.checkpoints_dir", True), ("callbacks.snapshots.path", False), ("paths.run_config", False),
                     ("hydra.run.dir", True)],
    "src/study.py": [("paths.study_dir", True), ("paths.plots_dir", True), ("hydra.run.dir", True)],
}  # fmt: skip
FORBIDDEN = ["root", "project", "source", "pipeline", "other_run"]


def forbidden_place(kind: str, is_folder: bool, tmp: Path, pick: int) -> str:
    """A place of forbidden class ``kind`` (relative to the project, as a user types it, when in it)."""
    name = f"gatelab-test-{pick}"
    return {
        "root": "/" if is_folder else f"/{name}.out",
        "project": "." if is_folder else f"{name}.out",
        "source": ["src", "conf", "tests", "docs"][pick % 4] + f"/{name}",
        "pipeline": sorted(PIPELINE_OUTPUTS)[pick % len(PIPELINE_OUTPUTS)] + f"/{name}",
        "other_run": str(tmp / "other-run" / ("study" if is_folder else "models") / name),
    }[kind]


def drawn_cases() -> list[tuple[str, str, bool, str, int]]:
    drawn: list = []

    @settings(max_examples=BUDGET, derandomize=True, phases=[Phase.generate], database=None,
              suppress_health_check=list(HealthCheck), deadline=None)  # fmt: skip
    @given(st.sampled_from(sorted(OUTPUT_SETTINGS)).flatmap(
        lambda script: st.tuples(st.just(script), st.sampled_from(OUTPUT_SETTINGS[script]), st.sampled_from(FORBIDDEN),
                                 st.integers(0, 50))))  # fmt: skip
    def draw(case):
        script, (setting, is_folder), kind, pick = case
        drawn.append((script, setting, is_folder, kind, pick))

    draw()
    return list(dict.fromkeys(drawn))


def listing(folder: Path) -> set[str]:
    return set(os.listdir(folder))


def digest_of_project() -> dict[str, str]:
    """Every file of the project but the scratch places (runs/, outputs/) and git's own: what a run
    by hand must leave as it found it."""
    skip = {"runs", "outputs", ".git", ".venv", ".hypothesis", ".pytest_cache", "node_modules", "__pycache__"}
    return {
        str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest()
        for top in ROOT.iterdir() if top.name not in skip
        for p in ([top] if top.is_file() else top.rglob("*")) if p.is_file() and not skip & set(p.relative_to(ROOT).parts)
    }  # fmt: skip


@pytest.mark.slow
def test_every_output_setting_pointed_at_a_forbidden_place_is_refused_and_writes_nothing(tmp_path, data_dir):
    (tmp_path / "other-run/.hydra").mkdir(parents=True)
    cases = drawn_cases()
    root_before, project_before = listing(Path("/")), digest_of_project()
    broken = []
    for script in OUTPUT_SETTINGS:
        mine = [c for c in cases if c[0] == script]
        base = [f"paths.data_dir={data_dir}", "trainer.max_steps=5", "trainer.enable_progress_bar=false",
                "study.seeds=2" if script == "src/study.py" else "seed=1"]  # fmt: skip
        lines = [[*base, f"{setting}={forbidden_place(kind, is_folder, tmp_path, pick)}"] for _, setting, is_folder, kind, pick in mine]
        lines.append([*base, f"hydra.run.dir={tmp_path}/afterwards-{script[4:-3]}"])  # (and then a good command runs)
        *outs, afterwards = run_cli_batch(script, lines, env={"DVC_STAGE": None})
        for case, line, out in zip(mine, lines, outs):
            shown = " ".join(line[-1:])
            if out.returncode != 2 or out.stderr.count("\n") != 1 or not out.stderr.startswith("error: "):
                broken.append(f"{script} {shown} ({case[3]}): exit {out.returncode}: {out.stderr[-400:]!r}")
        if afterwards.returncode != 0:
            broken.append(f"{script}: a good command failed afterwards: {afterwards.stderr[-400:]!r}")
    assert not broken, "\n".join(broken)
    assert listing(Path("/")) == root_before, "a command wrote into /"
    assert digest_of_project() == project_before, "a command changed the project"
    assert not any((tmp_path / "other-run").rglob("gatelab-test-*")), "a command wrote into another run's folder"


@pytest.mark.slow
@pytest.mark.parametrize("kind", FORBIDDEN)
def test_the_side_tools_refuse_forbidden_places_before_reading_anything(tmp_path, kind):
    """Each tool's output options, at each forbidden class, are refused first (their inputs here
    do not even exist): in one line, naming the option."""
    (tmp_path / "other-run/.hydra").mkdir(parents=True)
    folder, file = forbidden_place(kind, True, tmp_path, 1), forbidden_place(kind, False, tmp_path, 2)
    missing = str(tmp_path / "missing")
    commands = {
        "src/generate.py": [["--out", folder, "xor"]],
        "src/merge_shards.py": [[missing, "--out-dir", folder]],
        "src/landscape.py": [[missing, "--json", file, "--png", str(tmp_path / "l.png")]],
        "src/animate.py": [["mlp2/xor", "--snapshots-dir", missing, "--out-dir", folder]],
        "src/evaluate.py": [["--models", "mlp2", "--gates", "xor", "--models-dir", missing, "--out-dir", folder]],
    }
    root_before, project_before = listing(Path("/")), digest_of_project()
    for script, lines in commands.items():
        for line, out in zip(lines, run_cli_batch(script, lines, env={"DVC_STAGE": None})):
            option = next(a for a in line if a.startswith("--out") or a == "--json")
            assert out.returncode == 2 and out.stderr.count("\n") == 1, (script, line, out.stderr)
            assert out.stderr.startswith(f"error: {option}="), (script, line, out.stderr)
    assert listing(Path("/")) == root_before
    assert digest_of_project() == project_before


@pytest.mark.slow
def test_hydra_changing_the_working_folder_is_refused_before_it_makes_a_folder(tmp_path, data_dir):
    out = run_cli_batch("src/train.py", [[f"paths.data_dir={data_dir}", "hydra.job.chdir=true", f"hydra.run.dir={tmp_path}/run"]])[0]
    assert out.returncode == 2 and out.stderr.startswith("error: hydra.job.chdir=true is not supported"), out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("config", ["config", "study"])
@pytest.mark.parametrize("logger", ["dvclive", "csv"])
def test_a_run_by_hand_writes_nothing_the_pipeline_owns(config, logger):
    """A hand run's every output, its resume state included, lies outside the pipeline's places (as
    composed by default, paths=run): so a run by hand during `dvc repro` can never hold a lock a stage
    needs, nor replace its files."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from gatelab.config.layout import output_places
    from gatelab.infra.compat import set_hydra_config

    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config, overrides=[f"logger={logger}"], return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = str(ROOT / "runs/2026-01-01/00-00-00_mlp2_xor")  # (as the launcher sets it)
    set_hydra_config(cfg)
    places = output_places(cfg)
    assert "paths.checkpoints_dir" in places and "paths.models_dir" in places
    for setting, (value, _) in places.items():
        place = (ROOT / value).resolve()
        assert place.is_relative_to(ROOT) and place.relative_to(ROOT).parts[0] not in PIPELINE_OUTPUTS, (setting, value)
