"""A seed study in shards merges to exactly the unsharded study; bad shard sets are refused; the
shards run as ordinary jobs of Hydra's launchers (the basic one, and submitit's local executor)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import run_cli


def run_shards(make_cfg, shards: int, *overrides: str) -> list[dict]:
    from gatelab.recipes.study import run_study

    return [run_study(make_cfg(*overrides, f"study.shards={shards}", f"study.shard={shard}", config="study")) for shard in range(shards)]


def merged(paths: list[Path], out: Path) -> dict:
    from gatelab.recipes.shards import merge
    from gatelab.recipes.summary import write_study

    result = merge(paths)
    return write_study(result, out / "merged.json", out / "merged.png")


SMALL = ("study.seeds=60", "trainer.max_steps=1500")


def test_shards_merge_to_the_unsharded_study_byte_for_byte(make_cfg, tmp_path):
    """Four shards of 50 seeds, and three uneven ones (66, 67, 67), against one run of 200: the same
    per-seed lists, counts, quantiles, failures and picture, byte for byte."""
    from gatelab.recipes.study import run_study

    common = ("model=mlp2", "data=xor", "study.seeds=200", "trainer.max_steps=3000")
    whole = run_study(make_cfg(*common, config="study"))
    assert 0 < whole["solved"] < 200 and whole["failures"]["merged"]  # solved and failed seeds: a real test
    for shards in (4, 3):
        parts = run_shards(make_cfg, shards, *common)
        assert [len(range(*p["seeds"])) for p in parts] == ([50] * 4 if shards == 4 else [66, 67, 67])
        result = merged([Path(p["json"]) for p in parts], tmp_path / f"merged-{shards}")
        assert Path(result["json"]).read_bytes() == Path(whole["json"]).read_bytes()
        assert Path(result["png"]).read_bytes() == Path(whole["png"]).read_bytes()


@pytest.fixture(scope="module")
def pristine_shards(tmp_path_factory) -> Path:
    """Three shards of one study, trained once for the module; each test damages its own copy."""
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from conftest import CONF
    from gatelab.core.gates import write_gate_csv
    from gatelab.recipes.study import run_study

    root = tmp_path_factory.mktemp("shards")
    write_gate_csv("xor", root / "data/xor.csv")
    for shard in range(3):
        overrides = [f"paths.data_dir={root / 'data'}", f"paths.out_dir={root / 'run'}", "trainer.enable_progress_bar=false",
                     *SMALL, "study.shards=3", f"study.shard={shard}"]  # fmt: skip
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            cfg = compose("study", overrides=overrides, return_hydra_config=True)
        HydraConfig.instance().set_config(cfg)
        run_study(cfg)
    return root / "run"


@pytest.fixture
def shard_set(pristine_shards, tmp_path) -> list[Path]:
    shutil.copytree(pristine_shards, tmp_path / "run")
    return sorted((tmp_path / "run").rglob("*.shard-*-of-3.json"))


def edit(path: Path, change) -> None:
    shard = json.loads(path.read_text())
    change(shard)
    path.write_text(json.dumps(shard))


@pytest.mark.parametrize(
    "damage, fragment",
    [
        ("missing", "3 shards expected, shard(s) 1 missing (failed or not run?)"),
        ("repeated", "3 shards expected, shard(s) 2 given twice"),
        ("truncated", "is not valid JSON"),
        ("other_setting", "are shards of runs with different settings (optimizer.lr: 1.0 -> 0.5)"),
        ("other_steps", "are shards of runs with different settings (trainer.max_steps: 1500 -> 10001)"),
        ("other_model", "shards of different studies"),
        ("other_gate", "shards of different studies"),
        ("other_count", "shards of different studies"),
        ("short", "does not hold the seeds 20..39 that shard 1 of 3 trains"),
        ("not_a_shard", "is not a study shard written by src/study.py"),
    ],
)
def test_a_bad_set_of_shards_is_refused_in_one_line(shard_set, tmp_path, damage, fragment):
    from gatelab.infra.errors import GatelabError

    paths = list(shard_set)
    if damage == "missing":
        paths.pop(1)
    elif damage == "repeated":
        paths.append(shutil.copy(paths[2], tmp_path / "copy.json"))
    elif damage == "truncated":
        paths[2].write_bytes(paths[2].read_bytes()[:-200])
    elif damage == "other_setting":
        edit(paths[2], lambda s: s["config"]["optimizer"].update(lr=0.5))
    elif damage == "other_steps":
        edit(paths[1], lambda s: s["config"]["trainer"].update(max_steps=10001))
    elif damage == "other_model":
        edit(paths[1], lambda s: s.update(model="mlp4"))
    elif damage == "other_gate":
        edit(paths[1], lambda s: s.update(gate="xnor"))
    elif damage == "other_count":
        edit(paths[1], lambda s: s.update(shards=4))
    elif damage == "short":
        edit(paths[1], lambda s: [values.pop() for values in s["per_seed"].values()])
    elif damage == "not_a_shard":
        edit(paths[0], lambda s: s.pop("format"))
    with pytest.raises(GatelabError) as refused:
        merged(paths, tmp_path / "out")
    assert fragment in str(refused.value) and "\n" not in str(refused.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_merge_shards_command(shard_set, tmp_path, without_lightning):
    """`python src/merge_shards.py <folder>` merges every study it finds there (never importing
    Lightning); a bad set is one line and exit 2, with nothing written."""
    folder = shard_set[0].parent.parent.parent  # <out>/study/mlp2/xor.shard-0-of-3.json -> <out>
    out = run_cli("src/merge_shards.py", str(folder), env=without_lightning)
    assert out.returncode == 0, out.stderr
    assert "mlp2 on xor: " in out.stdout and (folder / "study/mlp2/xor.json").is_file()
    assert (folder / "plots/study/mlp2/xor.png").is_file()

    shard_set[1].unlink()
    (folder / "study/mlp2/xor.json").unlink()
    out = run_cli("src/merge_shards.py", str(folder), "--out-dir", str(tmp_path / "elsewhere"))
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr
    assert "shard(s) 1 missing" in out.stderr and not (tmp_path / "elsewhere").exists()


@pytest.mark.slow
def test_a_sharded_study_on_submitit_local_merges_to_the_basic_launchers(tmp_path, data_dir):
    """The same sweep of shards on Hydra's basic launcher (one job after another) and on submitit's
    local executor (jobs as subprocesses, as on a SLURM cluster): each merged at the end of the sweep
    (gatelab.recipes.shards.MergeShards) into the same study, byte for byte."""
    sweep = ["model=mlp2", "data=xor", "study.seeds=40", "study.shards=2", "study.shard=range(2)", "trainer.max_steps=2000",
             f"paths.data_dir={data_dir}", "trainer.enable_progress_bar=false"]  # fmt: skip
    for launcher in ("basic", "submitit_local"):
        out = run_cli("src/study.py", "--multirun", f"hydra/launcher={launcher}", *sweep, f"hydra.sweep.dir={tmp_path}/{launcher}")
        assert out.returncode == 0, out.stderr[-3000:]
        assert "mlp2 on xor: " in out.stdout.splitlines()[-1] and "seeds solve it" in out.stdout.splitlines()[-1]
    for result in ("study/mlp2/xor.json", "plots/study/mlp2/xor.png"):
        assert (tmp_path / "basic" / result).read_bytes() == (tmp_path / "submitit_local" / result).read_bytes()
    assert list((tmp_path / "submitit_local").rglob("*.shard-1-of-2.json"))  # the second job's shard
    assert list((tmp_path / "submitit_local").rglob(".submitit/*"))  # ... run by submitit


@pytest.mark.slow
def test_a_failed_shard_job_fails_the_sweep_in_one_line(tmp_path, data_dir):
    """A job that fails on submitit comes back as a job holding its exception: the sweep ends with
    that error, in one line, and no study is merged from the shards that survived."""
    out = run_cli(
        "src/study.py", "--multirun", "hydra/launcher=submitit_local", "model=mlp4", "model.activation=relu",
        "optimizer.lr=1e20", "study.seeds=4", "study.shards=2", "study.shard=range(2)", f"paths.data_dir={data_dir}",
        f"hydra.sweep.dir={tmp_path}/sweep", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 2 and out.stderr.startswith("error: ") and out.stderr.count("\n") == 1, out.stderr[-2000:]
    assert "training diverged; lower optimizer.lr" in out.stderr
    assert not (tmp_path / "sweep/study").exists()


def test_the_slurm_config_composes_to_one_job_per_shard():
    """`+cluster=slurm` (conf/cluster/slurm.yaml, the one file a cluster user edits): Hydra's SLURM
    launcher, and study.shard swept over every shard of study.shards."""
    from hydra import compose, initialize_config_dir

    from conftest import CONF
    from gatelab.config.sweep import sweep_jobs

    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("study", overrides=["+cluster=slurm", "study.shards=5", "study.seeds=1000"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert cfg.hydra.launcher.gpus_per_node == 1 and cfg.trainer.accelerator == "gpu"
    jobs, swept = sweep_jobs(cfg)
    shards = [[o for o in job if o.startswith("study.shard=")] for job in jobs]
    assert swept == {"study.shard"} and shards == [[f"study.shard={i}"] for i in range(5)]
