"""`dvc status` tells the truth: every edit that can change a stage's results makes it name that
stage, and no other edit does.

Two checks, by class:
- for every stage and every job of its Hydra sweep, the config files Hydra composes are exactly
  the stage's params files (conf/hydra/, Hydra's own help and logging, excepted); the script it
  runs and the library are among its deps;
- a table of edits, one or more per class (value, comment, help text, unused option, defaults
  list, entry point, library, params.yaml), against the stages `dvc status` then names.
"""

from __future__ import annotations

import itertools
import shlex
from pathlib import Path

import pytest

from conftest import CONF, ROOT, make_clone

ENTRY_POINTS = {"src/train.py": "config", "src/study.py": "study"}  # Hydra apps and their primary config

# Keys of conf/config.yaml that the study stage does not depend on: they configure a single run
# (its seed and checkpoint files), and src/study.py reads none of them (its seeds are study.*).
NOT_READ_BY_STUDY = {"seed", "ckpt_path", "resume_path", "resume"}
# Nor does any stage depend on conf/config.yaml's defaults list: every stage names each group on its
# command line (params.yaml: choices), so the list reaches none of them. (Were a group of it not
# overridden, its file would be composed and not declared: the first test below fails.)
NOT_READ_BY_ANY_STAGE = {"defaults"}
# Keys the landscape does not read: its sweep list (hydra.sweeper) is the sweep by hand (the pipeline
# names its own nets), and study.lrs sets each study's learning rate.
NOT_READ_BY_PIPELINE = {"conf/landscape/xor.yaml": {"hydra"}, "conf/optimizer/sgd.yaml": {"lr"}}


def pipeline_stages() -> dict:
    """Every stage of dvc.yaml as DVC resolves it (foreach items, ${} templating)."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {stage.addressing: stage for stage in repo.index.stages}


def sweep_jobs(overrides: list[str]) -> list[list[str]]:
    """The jobs of a Hydra sweep: ``data=and,or`` is two jobs (lists in brackets are one value)."""
    choices = [[f"{o.split('=', 1)[0]}={v}" for v in o.split("=", 1)[1].split(",")] if "[" not in o else [o] for o in overrides]
    return [list(job) for job in itertools.product(*choices)]


def composed_config_files(config_name: str, overrides: list[str]) -> set[str]:
    """The files under conf/ that Hydra composes for one job (its defaults list), Hydra's own excepted."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl  # the defaults list, as --info defaults prints it
    from hydra._internal.utils import create_config_search_path
    from hydra.types import RunMode

    loader = ConfigLoaderImpl(config_search_path=create_config_search_path(str(CONF)))
    defaults = loader.compute_defaults_list(config_name=config_name, overrides=overrides, run_mode=RunMode.RUN).defaults
    files = {f"conf/{d.config_path}.yaml" for d in defaults}
    return {f for f in files if (ROOT / f).is_file() and not f.startswith("conf/hydra/")}


def params_of(stage) -> dict[str, list[str]]:
    from dvc.dependency.param import ParamsDependency

    return {d.def_path: list(d.params) for d in stage.deps if isinstance(d, ParamsDependency)}


def test_every_stage_depends_on_exactly_the_config_files_it_composes():
    stages = pipeline_stages()
    for name, stage in stages.items():
        args = shlex.split(stage.cmd.split("#")[0])
        declared = {path for path in params_of(stage) if path.startswith("conf/")}
        if name == "check":  # (it composes every Hydra stage's jobs: their files, and their params.yaml keys)
            others = [params_of(other) for other_name, other in stages.items() if other_name != "check"]
            assert declared == {path for params in others for path in params if path.startswith("conf/")}
            keys = {key.split(".")[0] for params in others for key in params.get("params.yaml", [])}
            assert keys <= set(params_of(stage)["params.yaml"]), keys
            continue
        if args[1] not in ENTRY_POINTS:  # generate, evaluate: argparse, no Hydra config
            assert not declared, name
            continue
        overrides = [a for a in args[2:] if a not in ("--multirun", "-m")]
        composed = set().union(*(composed_config_files(ENTRY_POINTS[args[1]], job) for job in sweep_jobs(overrides)))
        assert declared == composed, (
            f"{name}: declared but not composed {declared - composed}, composed but not declared {composed - declared}"
        )


def test_every_stage_depends_on_every_value_of_its_config_files():
    """Whole files, compared by value; the only keys left out are the study's documented ones."""
    import yaml

    config_keys = set(yaml.safe_load((CONF / "config.yaml").read_text()))
    for name, stage in pipeline_stages().items():
        for path, keys in params_of(stage).items():
            if not path.startswith("conf/") or not keys:
                continue  # a whole file: every value
            if path in NOT_READ_BY_PIPELINE:
                assert set(keys) == set(yaml.safe_load((ROOT / path).read_text())) - NOT_READ_BY_PIPELINE[path], (name, keys)
                continue
            assert path == "conf/config.yaml", f"{name} depends on only some keys of {path}"
            runs_study = shlex.split(stage.cmd)[1] == "src/study.py"
            assert set(keys) == config_keys - NOT_READ_BY_ANY_STAGE - (NOT_READ_BY_STUDY if runs_study else set()), (name, keys)


def test_the_pipeline_chooses_what_a_run_by_hand_chooses():
    """params.yaml's choices (the pipeline's) are conf/config.yaml's defaults (a run by hand's), so
    that `python src/train.py` trains exactly what a stage trains."""
    import yaml

    defaults = {key: value for entry in yaml.safe_load((CONF / "config.yaml").read_text())["defaults"] if isinstance(entry, dict)
                for key, value in entry.items()}  # fmt: skip
    choices = yaml.safe_load((ROOT / "params.yaml").read_text())["choices"]
    assert choices == {group: defaults[group] for group in choices}


def test_every_stage_depends_on_the_code_it_runs():
    import modulefinder

    for name, stage in pipeline_stages().items():
        deps = {d.def_path for d in stage.deps}
        script = shlex.split(stage.cmd)[1]
        assert script in deps, (name, script)
        finder = modulefinder.ModuleFinder(path=[str(ROOT / "src")])
        finder.run_script(str(ROOT / script))  # every gatelab module it can import, also inside functions
        library = {Path(m.__file__).relative_to(ROOT).as_posix() for m in finder.modules.values() if m.__name__.startswith("gatelab")}
        assert library, name
        uncovered = {f for f in library if not ({f} | {p.as_posix() for p in Path(f).parents}) & deps}  # the file, or a folder of it
        assert not uncovered, (name, uncovered)


# --- the table of edits -----------------------------------------------------------------------------

TRAIN_MODELS = {"train@perceptron", "train@mlp2", "train@mlp4", "train@manual"}
DEEP = {"train-deep@sigmoid", "train-deep@tanh", "train-deep@relu"}
TRAINING = TRAIN_MODELS | DEEP | {"train-sixteen", "train-failing"}
DEEP_STUDIES = {"study-deep@1000", "study-deep@10001"}
STUDIES = {"study", "landscape-studies"} | DEEP_STUDIES
EVERY_TRAINING = TRAINING | STUDIES
NOTHING: set[str] = set()
# The check stage (dvc.yaml: every stage's settings, checked before any output is removed) reads
# every setting a stage composes, and the library: an edit that can change a run or a study names
# it too. An entry point's edit names its own stage only; the check's, the check only.
CHECK = {"check"}


def replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, f"{old!r} is no longer in the file: update the table"
        return text.replace(old, new, 1)

    return edit


def append(line: str):
    return lambda text: text + line + "\n"


EDITS = [
    # (what, file, edit, the stages `dvc status` must name)
    ("the pipeline picks another optimizer", "params.yaml", replace("optimizer: sgd ", "optimizer: adam "),
     EVERY_TRAINING - {"landscape-studies"} | CHECK),  # (the landscape trains with SGD whatever: conf/landscape/xor.yaml)
    ("a run by hand picks another optimizer (the pipeline names its own)", "conf/config.yaml",
     replace("- optimizer: sgd", "- optimizer: adam"), NOTHING),
    ("noisy data for the XOR group (only the landscape picks data=xor)", "conf/data/xor.yaml",
     append("noise: 0.2\nsamples_per_corner: 20"), {"landscape-studies"} | CHECK),
    ("the study's entry point", "src/study.py", append("STUDY_EDITED = True"), STUDIES),
    ("the training entry point", "src/train.py", append("TRAIN_EDITED = True"), TRAINING),
    ("the evaluation entry point", "src/evaluate.py", append("EVALUATE_EDITED = True"), {"evaluate"}),
    ("the library", "src/gatelab/presentation/report.py", append("REPORT_EDITED = True"),
     EVERY_TRAINING | {"evaluate", "animate", "landscape", "explorer"} | CHECK),
    ("the truth tables", "src/gatelab/core/gates.py", append("GATES_EDITED = True"),
     EVERY_TRAINING | {"evaluate", "generate", "animate", "landscape", "explorer"} | CHECK),
    ("the landscape's entry point", "src/landscape.py", append("LANDSCAPE_EDITED = True"), {"landscape"}),
    ("the landscape's learning rates", "conf/landscape/xor.yaml", replace("lrs: [0.1, 0.3, 1, 3, 10]", "lrs: [0.3, 1, 3]"),
     {"landscape-studies"} | CHECK),
    ("the landscape's sweep by hand (the pipeline names its nets)", "conf/landscape/xor.yaml",
     replace('model.hidden: "[1],[2],', 'model.hidden: "[2],'), NOTHING),
    ("the landscape's size", "params.yaml", replace("landscape:\n  seeds: 1000", "landscape:\n  seeds: 500"), {"landscape-studies"} | CHECK),
    ("the landscape's nets", "params.yaml", replace('nets: "[8,8,8],[8,8],', 'nets: "[8,8],'), {"landscape-studies"} | CHECK),
    ("the animation's entry point", "src/animate.py", append("ANIMATE_EDITED = True"), {"animate"}),
    ("the explorer's entry point", "src/explore.py", append("EXPLORE_EDITED = True"), {"explorer"}),
    ("the explorer's page", "src/explorer/explorer.js", append("// a comment"), {"explorer"}),
    ("the snapshots' schedule", "conf/callbacks/default.yaml", replace("  every: 10", "  every: 20"), TRAINING | CHECK),
    ("the study's help text", "conf/hydra/help/study.yaml", replace("how fast", "how quickly"), NOTHING),
    ("train's help text", "conf/hydra/help/gatelab.yaml", replace("one logic gate", "a logic gate"), NOTHING),
    ("a comment in the study config", "conf/study.yaml", append("# a comment"), NOTHING),
    ("the cluster's settings (only +cluster=slurm reads them)", "conf/cluster/slurm.yaml", replace("timeout_min: 60", "timeout_min: 90"), NOTHING),
    ("a comment in a model", "conf/model/mlp4.yaml", append("# a comment changes no value"), NOTHING),
    ("a comment in the main config", "conf/config.yaml", replace("# the lab's torch.manual_seed(777)", "# the lab's seed"), NOTHING),
    ("a model's layers", "conf/model/mlp4.yaml", replace("hidden: [10, 10, 10]", "hidden: [10, 10]"), {"train@mlp4", "study"} | CHECK),
    ("the deep net's layers", "conf/model/deep.yaml", replace("hidden: [64, 32, 16]", "hidden: [64, 32]"), DEEP | DEEP_STUDIES | CHECK),
    ("the perceptron", "conf/model/perceptron.yaml", replace("activation: sigmoid", "activation: tanh"),
     {"train@perceptron", "train-sixteen", "study"} | CHECK),
    ("the seed", "conf/config.yaml", replace("seed: 777", "seed: 778"), TRAINING | CHECK),
    ("the solved rule", "conf/config.yaml", replace("solved_below: 0.05", "solved_below: 0.04"), EVERY_TRAINING | CHECK),
    ("the optimizer in use", "conf/optimizer/sgd.yaml", replace("lr: 1.0", "lr: 0.5"), EVERY_TRAINING - {"landscape-studies"} | CHECK),
    ("the optimizer's kind, for every stage", "conf/optimizer/sgd.yaml", replace("_target_: torch.optim.SGD", "_target_: torch.optim.ASGD"),
     EVERY_TRAINING | CHECK),
    ("an optimizer not in use", "conf/optimizer/adam.yaml", replace("lr: 0.01", "lr: 0.02"), NOTHING),
    ("early stopping", "conf/callbacks/default.yaml", replace("patience: 10", "patience: 20"), TRAINING | CHECK),
    ("the step budget", "conf/trainer/default.yaml", replace("max_steps: 10001", "max_steps: 5001"), EVERY_TRAINING | CHECK),
    ("every gate's data settings", "conf/data/gate.yaml", replace("split_seed: 0", "split_seed: 1"), EVERY_TRAINING | CHECK),
    ("the study's seeds", "conf/study.yaml", replace("first_seed: 0", "first_seed: 100"), STUDIES | CHECK),
    ("a logger not in use", "conf/logger/csv.yaml", append("flush_logs_every_n_steps: 10"), NOTHING),
    ("the curves' logger", "conf/logger/dvclive.yaml", replace("report: null", "report: md"), TRAINING | CHECK),
    ("where runs by hand go", "conf/paths/run.yaml", replace("runs/${now:%Y-%m-%d}/", "my-runs/${now:%Y-%m-%d}/"), NOTHING),
    ("where the pipeline writes", "conf/paths/pipeline.yaml", replace("dvclive_dir: dvclive", "dvclive_dir: curves"), EVERY_TRAINING | CHECK),
    ("the study's size", "params.yaml", replace("  seeds: 1000   # a rate", "  seeds: 500   # a rate"), {"study"} | CHECK),
    ("the gates", "params.yaml", replace("gates: and,or,nand,nor,xor,xnor", "gates: and,or,xor"),
     TRAIN_MODELS | {"study", "evaluate"} | CHECK),
    ("the deep net's study", "params.yaml", replace("deep_seeds: 20", "deep_seeds: 10"), DEEP_STUDIES | {"evaluate"} | CHECK),
    ("the sixteen functions' list", "params.yaml", replace("f0000,f0001,", "f0001,"), {"train-sixteen", "evaluate"} | CHECK),
    ("the failing seed shown", "params.yaml", replace("failing_seed: 5", "failing_seed: 8"), {"train-failing"} | CHECK),
    ("the runs animated", "params.yaml", replace("animations: mlp2/xor,", "animations: mlp4/xor,"), {"animate", "evaluate"} | CHECK),
    ("the study's models", "params.yaml", replace("models: perceptron,mlp2,mlp4,manual,manual_lab", "models: mlp2,manual"),
     {"study", "evaluate"} | CHECK),
    ("the check's entry point", "src/check_pipeline.py", append("CHECK_EDITED = True"), CHECK),
]  # fmt: skip


@pytest.fixture(scope="module")
def status_clone(tmp_path_factory) -> Path:
    """A copy of the working tree whose dvc.lock is the committed one (no outputs needed: only
    what `dvc status` says about dependencies is compared)."""
    return make_clone(tmp_path_factory.mktemp("status") / "repo")


def changed_deps(repo: Path) -> dict[str, str]:
    """Per stage (by name), what `dvc status` says about its dependencies (outputs, absent here, aside)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        status = dvc.status()
    return {
        stage.rsplit(":", 1)[-1]: repr([entry["changed deps"] for entry in entries if isinstance(entry, dict) and "changed deps" in entry])
        + repr([entry for entry in entries if isinstance(entry, str)])  # "changed command", "always changed"
        for stage, entries in status.items()
    }


@pytest.mark.parametrize("what, path, edit, expected", EDITS, ids=[row[0] for row in EDITS])
@pytest.mark.slow
def test_an_edit_makes_dvc_status_name_exactly_the_stages_it_can_change(status_clone, what, path, edit, expected):
    before = changed_deps(status_clone)
    file = status_clone / path
    original = file.read_text()
    try:
        file.write_text(edit(original))
        after = changed_deps(status_clone)
    finally:
        file.write_text(original)
    named = {stage for stage in after.keys() | before.keys() if after.get(stage) != before.get(stage)}
    assert named == expected, f"{what}: named {sorted(named)}, expected {sorted(expected)}"


def test_the_edit_table_covers_every_config_file():
    """A new config file gets a row: each file under conf/ (but Hydra's own) is edited above."""
    edited = {path for _, path, _, _ in EDITS}
    configs = {p.relative_to(ROOT).as_posix() for p in CONF.rglob("*.yaml") if "conf/hydra/" not in p.as_posix()}
    untested = (
        configs
        - edited
        - {
            "conf/data/and.yaml",
            "conf/data/or.yaml",
            "conf/data/nand.yaml",
            "conf/data/nor.yaml",
            "conf/data/xnor.yaml",
            "conf/model/mlp2.yaml",
            "conf/model/manual.yaml",
            "conf/model/manual_lab.yaml",
            "conf/callbacks/none.yaml",
            "conf/callbacks/study.yaml",
            "conf/logger/none.yaml",
        }
    )  # fmt: skip  (the same class as an edited file: a gate group, a model, an empty or display-only group)
    assert not untested, untested
