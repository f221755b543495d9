"""The seed study: S copies trained as one batched model behave exactly like S single runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from conftest import run_cli
from gatelab.core.gates import truth_table
from gatelab.recipes.batched import NOT_YET, SeedStudy, initial_weights, running_copies

SEEDS = [0, 1, 2, 777]


@pytest.mark.parametrize("inputs", [2, 4])
@pytest.mark.parametrize("model", ["perceptron", "mlp2", "mlp4", "manual", "deep"])
def test_each_copy_starts_from_the_weights_its_seed_gives_a_single_run(make_cfg, model, inputs):
    import lightning as L
    from hydra.utils import instantiate

    cfg = make_cfg(f"model={model}")
    seeds = [*SEEDS, 2**32 - 1]  # the largest seed Lightning takes
    weights, biases = initial_weights(cfg.model.hidden, cfg.model.activation, inputs=inputs, seeds=seeds)
    for i, seed in enumerate(seeds):
        L.seed_everything(seed, verbose=False)  # exactly what a single run does before building
        single = instantiate(cfg.model, inputs=inputs)
        layers = [m for m in single.net if isinstance(m, torch.nn.Linear)]
        for k, layer in enumerate(layers):
            assert torch.equal(weights[k][i], layer.weight) and torch.equal(biases[k][i, 0], layer.bias)


def plain_run(x, y, hidden, seed, steps, lr=1.0):
    """One seed in the lab's plain loop: final weights, final loss, first step with every row right."""
    from gatelab.core.reference import train_plain

    net, _ = train_plain(x, y, hidden, seed=seed, steps=0, lr=lr)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    first_correct = -1
    for step in range(steps):
        optimizer.zero_grad()
        y_hat = net(x)
        if first_correct < 0 and bool(((y_hat > 0.5) == (y > 0.5)).all()):
            first_correct = step
        torch.nn.functional.binary_cross_entropy(y_hat, y).backward()
        optimizer.step()
    with torch.no_grad():
        return net, torch.nn.functional.binary_cross_entropy(net(x), y).item(), first_correct


def fit_study(study: SeedStudy, steps: int, gate: str = "xor", threads: int = 1, precision: str = "32-true") -> SeedStudy:
    import lightning as L
    from torch.utils.data import DataLoader

    from gatelab.data import RepeatedFullBatch

    threads_before = torch.get_num_threads()
    torch.set_num_threads(threads)
    x, y = truth_table(gate)
    trainer = L.Trainer(
        max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, deterministic=True, precision=precision,
    )  # fmt: skip
    try:
        trainer.fit(study, DataLoader(RepeatedFullBatch(x, y, 2), batch_size=None))
    finally:
        torch.set_num_threads(threads_before)
    return study


def sgd(params):
    return torch.optim.SGD(params, lr=1.0)


@pytest.mark.parametrize(
    "hidden, manual, compiled",
    [
        ([], False, False), ([2], False, False), ([10, 10, 10], False, False), ([2], True, False), ([2], False, True),
        pytest.param([], False, True, marks=pytest.mark.slow), pytest.param([10, 10, 10], False, True, marks=pytest.mark.slow),
    ],
)  # fmt: skip
def test_batched_training_follows_each_seeds_single_run(hidden, manual, compiled):
    """perceptron, mlp2, mlp4, manual, and the compiled step (study.compile): weights to 1e-6 after
    600 steps (the compiled step: 4e-6; it rounds differently, and on mlp4 drifts 1.7e-6 from the
    single run where the uncompiled study drifts 0.8e-6), the same first step at 100 % accuracy, for
    every seed."""
    optimizer = None if manual else sgd
    study = SeedStudy(hidden, "sigmoid", SEEDS, optimizer=optimizer, manual_lr=1.0 if manual else None, threshold=0.0, compiled=compiled)
    fit_study(study, 600)
    x, y = truth_table("xor")
    tolerance = 4e-6 if compiled else 1e-6
    for i, seed in enumerate(SEEDS):
        net, _, first_correct = plain_run(x, y, hidden, seed, steps=600)
        layers = [m for m in net if isinstance(m, torch.nn.Linear)]
        for k, layer in enumerate(layers):
            assert torch.allclose(study.weights[k][i], layer.weight, atol=tolerance, rtol=0), (seed, k)
            assert torch.allclose(study.biases[k][i, 0], layer.bias, atol=tolerance, rtol=0), (seed, k)
        assert study.first_correct[i] == first_correct, seed


@pytest.mark.slow
def test_the_study_command_reports_solve_rate_steps_and_failures(tmp_path, data_dir):
    out = run_cli(
        "src/study.py", "model=mlp2", "data=xor", "study.seeds=40", "trainer.max_steps=3000",
        f"paths.data_dir={data_dir}", f"paths.out_dir={tmp_path}", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads((tmp_path / "study/mlp2/xor.json").read_text())
    per_seed = result["per_seed"]
    assert result["seeds"] == len(per_seed["final_loss"]) == 40 and result["first_seed"] == 0
    assert result["solved"] == sum(per_seed["solved"]) and result["solve_rate"] == result["solved"] / 40
    assert 0 < result["solved"] < 40  # with the lab's settings some seeds of mlp2 miss XOR
    failures = [loss for loss, ok in zip(per_seed["final_loss"], per_seed["solved"]) if not ok]
    counted = result["failures"]
    assert counted["plateau"] + counted["other"] + sum(counted["merged"].values()) == len(failures)
    assert [k is None for k in per_seed["failure"]] == per_seed["solved"]
    assert counted["merged"]  # mlp2's failures on XOR merge two corners of different classes
    assert "merged" in out.stdout and "local minimum" not in out.stdout
    reached = sorted(s for s in per_seed["first_correct"] if s >= 0)
    assert result["steps_to_100"]["median"] in reached and result["steps_to_100"]["p10"] <= result["steps_to_100"]["p90"]
    for loss, ok in zip(per_seed["final_loss"], per_seed["solved"]):
        assert ok == (loss < 0.05)  # 4 rows: below 0.05 every row is right
    assert f"mlp2 on xor: {result['solved']}/40 seeds solve it" in out.stdout
    from PIL import Image

    assert Image.open(tmp_path / "plots/study/mlp2/xor.png").size == (560, 208)


@pytest.mark.slow
def test_a_compiled_copy_trains_the_same_whatever_copies_share_its_batch():
    """The compiled step is built for each study's number of copies; a copy's arithmetic must not
    depend on it, or the shards of a compiled study (each its own size) would not merge to the
    whole study: bit for bit, copies 3..9 of 24 train as 7 copies alone do, on a 2-3-3-1 tanh net
    over Adam's update too."""

    def adam(params):
        return torch.optim.Adam(params, lr=0.05)

    whole = fit_study(SeedStudy([3, 3], "tanh", range(24), optimizer=adam, compiled=True), 300)
    part = fit_study(SeedStudy([3, 3], "tanh", range(3, 10), optimizer=adam, compiled=True), 300)
    for mine, theirs in zip([*part.end_weights, *part.end_biases, *part.weights], [*whole.end_weights, *whole.end_biases, *whole.weights]):
        assert torch.equal(mine, theirs[3:10])
    assert torch.equal(part.first_correct, whole.first_correct[3:10])
    assert torch.equal(part.solved_at, whole.solved_at[3:10])


@pytest.mark.slow
@pytest.mark.parametrize(
    "hidden, activation, copies, threads, precision",
    [
        ([2], "sigmoid", 13, 1, "32-true"), ([4], "relu", 13, 1, "32-true"), ([3], "tanh", 13, 1, "64-true"),
        ([2], "sigmoid", 10_003, 2, "32-true"), ([], "sigmoid", 10_003, 2, "64-true"),
        ([8, 8], "sigmoid", 13, 1, "32-true"), ([10, 10, 10], "tanh", 13, 1, "64-true"), ([3, 5, 2], "relu", 13, 1, "32-true"),
        ([10, 10, 10], "sigmoid", 5_003, 2, "32-true"),  # (two chunks of copies: copies_last_step.steps_by_chunk)
    ],
)  # fmt: skip
def test_a_fused_step_trains_a_copy_the_same_whatever_shares_its_batch_and_at_any_thread_count(
    hidden, activation, copies, threads, precision
):
    """The fused steps (gatelab.core.scalar_step, copies_last_step) are each one program for any number
    of copies, their loops over them vectorized, with a remainder, and split between threads: bit for
    bit, the last 8 of ``copies`` (across a vector's edge, into the remainder) train on ``threads``
    threads as those 8 copies alone do on one."""
    whole = fit_study(SeedStudy(hidden, activation, range(copies), optimizer=sgd, compiled=True), 300, threads=threads, precision=precision)
    part = fit_study(SeedStudy(hidden, activation, range(copies - 8, copies), optimizer=sgd, compiled=True), 300, precision=precision)
    assert whole.scalar == part.scalar and whole.copies_last == part.copies_last != whole.scalar
    mine_all = [*part.end_weights, *part.end_biases, part.first_correct, part.solved_at]
    theirs_all = [*whole.end_weights, *whole.end_biases, whole.first_correct, whole.solved_at]
    mine_all, theirs_all = [*mine_all, *part.weights], [*theirs_all, *whole.weights]
    for mine, theirs in zip(mine_all, theirs_all):
        assert torch.equal(mine, theirs[copies - 8 :])
    # A copy stops training where its own run stops: the fused step leaves it out from then on.
    stopped = whole.solved_at < whole.global_step
    for now, end in zip([*whole.weights, *whole.biases], [*whole.end_weights, *whole.end_biases]):
        assert torch.equal(now[stopped], end[stopped])


def test_the_fused_step_trains_the_running_copies_and_never_one_alone():
    """A stopped copy is left out of the fused step (gatelab.recipes.batched.running_copies); one copy
    alone would compile the step again for its size, so a stopped one keeps it company."""
    assert running_copies(torch.tensor([NOT_YET, 40, NOT_YET, NOT_YET])).tolist() == [0, 2, 3]
    assert running_copies(torch.tensor([50, 40, NOT_YET, 70])).tolist() == [0, 2]
    assert running_copies(torch.tensor([50, 40, 60])).tolist() == [0, 1]
    assert running_copies(torch.tensor([NOT_YET] * 3)).tolist() == [0, 1, 2]


@pytest.mark.slow
@pytest.mark.parametrize(
    "seeds, overrides",
    [
        (1000, ["model=mlp2"]),
        (1000, ["model=mlp2", "model.hidden=[4]", "model.activation=tanh", "study.lrs=[0.5,2]"]),
        (10_000, ["model=mlp2"]),  # (from SCALAR_FROM copies: the scalar program, not the copies-last step)
    ],
    ids=["mlp2", "2-4-1-tanh-two-rates", "mlp2-scalar-program"],
)  # fmt: skip
def test_the_compiled_studys_verdicts_are_the_eager_studys_for_every_copy(tmp_path, data_dir, seeds, overrides):
    """The fast steps round apart from the eager reference (study.compile=false), and a net's training
    grows a last-bit difference: over 1000 seeds (the copies-last step) or 10,000 (the scalar program)
    and 5000 steps every copy still gets the same verdict (solved or not, how it failed), its first
    fully right step within 1, and its final loss within 2e-3 (the worst measured: 1.2e-3, a tanh copy
    at rate 2 that ends solved either way)."""
    results = {}
    for compiled in ("true", "false"):
        out = run_cli(
            "src/study.py", f"study.seeds={seeds}", *overrides, "data=xor", "trainer.max_steps=5000", f"study.compile={compiled}",
            f"paths.data_dir={data_dir}", f"paths.out_dir={tmp_path / compiled}", "trainer.enable_progress_bar=false",
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        results[compiled] = sorted((tmp_path / compiled / "study").rglob("xor.json"))
    assert len(results["true"]) == len(results["false"]) == (2 if any("study.lrs" in o for o in overrides) else 1)
    for fast_file, eager_file in zip(results["true"], results["false"]):
        fast, eager = (json.loads(f.read_text())["per_seed"] for f in (fast_file, eager_file))
        assert fast["solved"] == eager["solved"] and fast["failure"] == eager["failure"], fast_file
        assert all(abs(a - b) <= 1 for a, b in zip(fast["first_correct"], eager["first_correct"])), fast_file
        assert all(abs(a - b) <= 2e-3 for a, b in zip(fast["final_loss"], eager["final_loss"])), fast_file


def study_files(tmp_path, data_dir, name, *overrides) -> list[Path]:
    out = run_cli(
        "src/study.py", *overrides, "data=xor", "trainer.max_steps=5000", f"paths.data_dir={data_dir}",
        f"paths.out_dir={tmp_path / name}", "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    return sorted((tmp_path / name / "study").rglob("xor.json"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "overrides",
    [["model=mlp4"], ["model=mlp2", "model.hidden=[8,8,8]", "study.lrs=[0.3,3]"]],
    ids=["mlp4", "2-8-8-8-1-two-rates"],
)
def test_a_deep_nets_compiled_study_strays_from_float64_no_further_than_the_eager_study(tmp_path, data_dir, overrides):
    """Deep nets amplify rounding chaotically while they sit on a plateau: 2-8-8-8-1 at rate 3, 300
    seeds, 5000 steps, eager in float32 against eager in float64: 274 of 300 copies first answer every
    row right at another step, by up to 319 steps (measured). So a deep net's fast step is held to the
    eager float32 study's own standard. Against the float64 study: every copy solved or not as the
    eager study has it, and no more copies with another failure kind (1 % slack) or another first
    fully right step (5 % slack) than the eager study has."""
    seeds = ["study.seeds=300", *overrides]
    fast = study_files(tmp_path, data_dir, "fast", *seeds, "study.compile=true")
    eager = study_files(tmp_path, data_dir, "eager", *seeds, "study.compile=false")
    exact = study_files(tmp_path, data_dir, "float64", *seeds, "study.compile=false", "+trainer.precision=64-true")
    assert len(fast) == len(eager) == len(exact) == (2 if len(overrides) > 1 else 1)
    for fast_file, eager_file, exact_file in zip(fast, eager, exact):
        f, e, x = (json.loads(path.read_text())["per_seed"] for path in (fast_file, eager_file, exact_file))
        copies = len(x["solved"])
        assert f["solved"] == e["solved"], fast_file
        assert strays(f, x, "failure") <= strays(e, x, "failure") + copies // 100, fast_file
        assert strays(f, x, "first_correct", apart=1) <= strays(e, x, "first_correct", apart=1) + copies // 20, fast_file


def strays(run: dict, reference: dict, key: str, apart: int = 0) -> int:
    """How many copies' ``key`` differs from the reference's (integers: by more than ``apart``)."""
    return sum(abs(a - b) > apart if isinstance(a, int) else a != b for a, b in zip(run[key], reference[key]))


@pytest.mark.slow
def test_a_sweep_of_studies_two_processes_at_a_time_writes_what_one_process_writes(tmp_path, data_dir):
    """The pipeline's study stages run their jobs two at a time, each in its own process (dvc.yaml:
    Hydra's joblib launcher). Each job is one study on one thread, so every file a job writes is the
    one it writes when one process runs the jobs in turn (Hydra's basic launcher): the same bytes."""
    written = {}
    for launcher in ("basic", "joblib"):
        sweep = tmp_path / launcher
        out = run_cli(
            "src/study.py", "--multirun", "model=perceptron,mlp2,manual", "data=xor,and", "study.seeds=30", "trainer.max_steps=800",
            f"paths.data_dir={data_dir}", "trainer.enable_progress_bar=false", f"hydra/launcher={launcher}",
            *(["hydra.launcher.n_jobs=2"] if launcher == "joblib" else []), f"hydra.sweep.dir={sweep}",
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.count(" seeds solve it") == 6
        written[launcher] = {
            f.relative_to(sweep): f.read_bytes() for f in sweep.glob("*/*/**/*") if f.is_file() and ".hydra" not in f.parts
        }
    assert len([f for f in written["basic"] if f.suffix == ".json"]) == 6 and len(written["basic"]) >= 12
    assert written["joblib"] == written["basic"]


@pytest.mark.slow
def test_a_diverging_compiled_study_stops_with_the_uncompiled_message():
    """The fused loss does not refuse NaN outputs as torch's BCE does: the batch's check must."""
    from gatelab.infra.errors import Diverged

    study = SeedStudy([10, 10, 10], "relu", range(4), optimizer=lambda p: torch.optim.SGD(p, lr=1e20), compiled=True)
    with pytest.raises(Diverged, match="training diverged; lower optimizer.lr"):
        fit_study(study, 200)


@pytest.mark.slow
def test_more_compiled_studies_than_dynamos_recompile_limit_run_in_one_process():
    """A --multirun of studies runs them in one process: the 9th compiled study of a new size would hit
    dynamo's recompile limit (8) and stop. Each compiles afresh, and trains as it would alone."""
    import torch._dynamo

    alone = fit_study(SeedStudy([2], "sigmoid", range(3), optimizer=sgd, compiled=True), 60)
    for copies in range(4, 4 + torch._dynamo.config.recompile_limit + 1):
        fit_study(SeedStudy([2], "sigmoid", range(copies), optimizer=sgd, compiled=True), 10)
    again = fit_study(SeedStudy([2], "sigmoid", range(3), optimizer=sgd, compiled=True), 60)
    assert all(torch.equal(a, b) for a, b in zip([*alone.weights, *alone.biases], [*again.weights, *again.biases]))


@pytest.mark.parametrize(
    "optimizer",
    ["optimizer=sgd", "optimizer=adam", "+optimizer.momentum=0.9", "+optimizer.weight_decay=0.01"],
)
def test_study_compile_auto_is_one_choice_per_study(make_cfg, optimizer):
    """auto compiles autograd studies of FUSED_COMPILE_FROM copies or more (seeds x learning rates)
    under plain SGD (the fused steps, compiled once per net in a process), COMPILE_FROM under any
    other optimizer, and nothing else; every shard of a study makes its study's choice; true and
    false are obeyed."""
    from gatelab.config.planning import COMPILE_FROM, FUSED_COMPILE_FROM, study_compiles

    def make_study_cfg(*overrides: str):
        return make_cfg(optimizer, *overrides, config="study")

    limit = FUSED_COMPILE_FROM if optimizer == "optimizer=sgd" else COMPILE_FROM
    for seeds, lrs in [(limit - 1, None), (limit, None), (limit // 2, "[1,3]"), (limit // 2 - 1, "[1,3]")]:
        copies = seeds * (2 if lrs else 1)
        overrides = [f"study.seeds={seeds}", *([f"study.lrs={lrs}"] if lrs else [])]
        for shards in (1, 1000):
            for shard in {0, shards - 1}:
                cfg = make_study_cfg(*overrides, f"study.shards={shards}", f"study.shard={shard}")
                assert study_compiles(cfg) == (copies >= limit), (seeds, lrs, shards, shard)
        for choice in (True, False):
            assert study_compiles(make_study_cfg(*overrides, f"study.compile={str(choice).lower()}")) is choice
    assert not study_compiles(make_cfg("model=manual", f"study.seeds={COMPILE_FROM}", config="study"))


def test_a_small_net_takes_the_scalar_program_by_the_size_of_its_whole_study(make_cfg):
    """From SCALAR_FROM copies of the whole study (seeds x learning rates) the scalar program, below it
    the copies-last step: every shard of a study trains by the same step, so shards merge exactly."""
    from gatelab.config.planning import SCALAR_FROM, study_takes_scalar_step

    for seeds, lrs in [(SCALAR_FROM - 1, None), (SCALAR_FROM, None), (SCALAR_FROM // 2, "[1,3]"), (SCALAR_FROM // 2 - 1, "[1,3]")]:
        copies = seeds * (2 if lrs else 1)
        for shards in (1, 1000):
            for shard in {0, shards - 1}:
                overrides = [
                    f"study.seeds={seeds}",
                    *([f"study.lrs={lrs}"] if lrs else []),
                    f"study.shards={shards}",
                    f"study.shard={shard}",
                ]
                assert study_takes_scalar_step(make_cfg(*overrides, config="study")) == (copies >= SCALAR_FROM), overrides


@pytest.mark.slow
def test_a_study_that_cannot_compile_says_so_in_one_line_and_writes_nothing(tmp_path, data_dir):
    """No C++ compiler (here: a CXX that does not exist, and no compiled code cached to fall back on)."""
    out = run_cli(
        "src/study.py", "study.seeds=8", "study.compile=true", "trainer.max_steps=100", f"paths.data_dir={data_dir}",
        f"paths.out_dir={tmp_path}/out", "trainer.enable_progress_bar=false",
        env={"CXX": str(tmp_path / "no-such-compiler"), "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "cache")},
    )  # fmt: skip
    assert out.returncode == 2 and out.stderr.startswith("error: torch.compile could not build the study's step"), out.stderr[-2000:]
    assert out.stderr.strip().endswith("set study.compile=false") and out.stderr.count("\n") == 1, out.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any(p.is_file() for p in (tmp_path / "out").rglob("*"))


@pytest.mark.slow
def test_a_study_gives_single_runs_results_for_the_same_seeds(tmp_path, data_dir, make_cfg):
    """Through both commands: the study's per-seed final loss equals each seed's single run."""
    from gatelab.recipes.training import train

    out = run_cli(
        "src/study.py", "model=manual", "data=xnor", "study.seeds=3", "study.first_seed=776",
        "trainer.max_steps=400", f"paths.data_dir={data_dir}", f"paths.out_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    per_seed = json.loads((tmp_path / "study/manual/xnor.json").read_text())["per_seed"]
    for i, seed in enumerate([776, 777, 778]):
        single = train(make_cfg("model=manual", "data=xnor", f"seed={seed}", "callbacks=none", "trainer.max_steps=400"))
        assert per_seed["final_loss"][i] == pytest.approx(single["loss"], abs=2e-6), seed


STUDIED_WITH_EARLY_STOPPING = {
    "mlp2 on xor (4 rows: solved below solved_below)": ["model=mlp2", "data=xor"],
    # 16 rows: a run is solved below ln 2 / 16 = 0.0433, under solved_below = 0.05 (gatelab.core.solved)
    "4-8-1 tanh on parity4 (16 rows: solved below ln 2 / 16)": ["model=mlp2", "model.hidden=[8]", "model.activation=tanh", "data=gate",
                                                                "data.gate=parity4", "trainer.max_steps=3000"],
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("overrides", STUDIED_WITH_EARLY_STOPPING.values(), ids=STUDIED_WITH_EARLY_STOPPING)
def test_a_study_copy_ends_where_its_own_early_stopped_run_ends(tmp_path, data_dir, make_cfg, overrides):
    """Each copy ends where its single run, early stopping on (the default callbacks), stops: the
    same verdict, and for a solved seed the same final loss (so the same stopping step: the loss
    still falls by more than 1e-6 per step there); the study trains until its last copy's run stops."""
    from gatelab.recipes.training import train

    seeds = [0, 1, 2, 3]
    out = run_cli(
        "src/study.py", *overrides, f"study.seeds={len(seeds)}", f"paths.data_dir={data_dir}", f"paths.out_dir={tmp_path}",
        "trainer.enable_progress_bar=false",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    study = json.loads(next((tmp_path / "study").rglob("*.json")).read_text())
    singles = [train(make_cfg(*overrides, f"seed={seed}", f"name=single-{seed}")) for seed in seeds]
    rows = len(truth_table(singles[0]["gate"])[0])
    assert study["threshold"] == pytest.approx(min(0.05, math.log(2) / rows))
    for i, single in enumerate(singles):
        solved = single["accuracy"] == 1.0 and single["loss"] < study["threshold"]
        assert study["per_seed"]["solved"][i] == solved, (seeds[i], single)
        if solved:
            assert study["per_seed"]["final_loss"][i] == pytest.approx(single["loss"], abs=2e-6), (seeds[i], single)
    if all(study["per_seed"]["solved"]):
        assert study["steps"] == max(single["steps"] for single in singles)


BAD_STUDY_SETTINGS = [
    ("study.seeds=0", "study.seeds must be a positive integer"),
    ("model=manual optimizer=adam", "use optimizer=sgd"),
    ("study.seedz=3", "'study.seedz' is not a setting"),
    ("trainer.strategy=ddp trainer.devices=2", "the seed study trains its copies in one process"),
    ("model=manual study.lrs=[1,3]", "takes one: set optimizer.lr"),
    ("study.compile=maybe", "study.compile must be auto, true or false"),
    ("study.compile=1", "study.compile must be auto, true or false"),  # 1 == True, but not a choice
    ("study.compile=null", "study.compile must be auto, true or false"),
    ("model=manual study.compile=true", "study.compile=true compiles autograd's step"),
    ("data.noise=0.1", "the seed study trains on the exact truth table"),
    ("data.samples_per_corner=5", "the seed study trains on the exact truth table"),
]


@pytest.fixture(scope="module")
def bad_study_runs(tmp_path_factory) -> list:
    """src/study.py with each bad setting (one process for all: tests/cli_batch.py)."""
    from conftest import run_cli_batch
    from gatelab.core.gates import GATES, write_gate_csv

    data = tmp_path_factory.mktemp("data")
    for gate in GATES:
        write_gate_csv(gate, data / f"{gate}.csv")
    lines = [[*override.split(), f"paths.data_dir={data}", f"paths.out_dir={tmp_path_factory.mktemp('out')}"]
             for override, _ in BAD_STUDY_SETTINGS]  # fmt: skip
    return run_cli_batch("src/study.py", lines)


@pytest.mark.parametrize("override, fragment", BAD_STUDY_SETTINGS)
@pytest.mark.slow
def test_bad_study_settings_are_one_line(bad_study_runs, override, fragment):
    out = bad_study_runs[[o for o, _ in BAD_STUDY_SETTINGS].index(override)]
    assert out.returncode == 2 and fragment in out.stderr and len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.slow
def test_a_double_precision_study_gives_the_default_verdicts(tmp_path, data_dir):
    results = []
    for precision in ("32-true", "64-true"):
        out = run_cli(
            "src/study.py", "model=mlp2", "data=xor", "study.seeds=20", "trainer.max_steps=2000", f"+trainer.precision={precision}",
            f"paths.data_dir={data_dir}", f"paths.out_dir={tmp_path / precision}", "trainer.enable_progress_bar=false",
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-2000:]
        results.append(json.loads((tmp_path / precision / "study/mlp2/xor.json").read_text()))
    assert results[0]["per_seed"]["solved"] == results[1]["per_seed"]["solved"]
    assert results[0]["per_seed"]["failure"] == results[1]["per_seed"]["failure"]
