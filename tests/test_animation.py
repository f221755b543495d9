"""Watching a run learn: the snapshots a run records (gatelab.snapshots), where the hidden layer puts
the corners (gatelab.core.hidden_space), the frames and pictures made of them (gatelab.presentation.animation,
src/animate.py), and the step-counting progress bar (gatelab.progress)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
import yaml
from PIL import Image

from conftest import ROOT, run_cli
from gatelab.core.gates import truth_table, write_gate_csv
from gatelab.core.hidden_space import hidden_view, last_hidden
from gatelab.core.network import build_mlp, linear_layers
from gatelab.core.reference import train_plain
from gatelab.presentation.animation import FRAMES, frames_along_the_curve, key_frames, load_recording, story

LN2 = math.log(2)
GIF_LIMIT = 1_500_000  # bytes: the issue's budget per committed GIF


def snapshots_of(result: dict, tmp_path: Path) -> Path:
    return tmp_path / "run" / "snapshots" / result["model"] / f"{result['gate']}.pt"


# --- the snapshots --------------------------------------------------------------------------------


def test_snapshots_follow_their_schedule_and_hold_the_net_of_each_step(make_cfg, tmp_path):
    from gatelab.recipes.training import train

    # 95 steps: batches of 50 and 45 steps, so the schedule crosses a batch and ends off it.
    result = train(make_cfg("trainer.max_steps=95", "callbacks.early_stopping=null", "callbacks.snapshots.every=10"))
    content = torch.load(snapshots_of(result, tmp_path), weights_only=True)

    assert content["steps"].tolist() == [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
    assert content["config"]["seed"] == 777 and content["config"]["data"]["gate"] == "xor"
    x, y = truth_table("xor")
    for k, step in enumerate(content["steps"].tolist()):  # record k is the net after `step` updates
        plain, _ = train_plain(x, y, [2], steps=step)
        assert torch.equal(content["weights"][k], torch.nn.utils.parameters_to_vector(plain.parameters())), step
    final = torch.load(result["checkpoint"], weights_only=True)["state_dict"]
    assert torch.equal(content["weights"][-1], torch.cat([w.flatten() for w in final.values()]))


def test_snapshots_leave_the_run_unchanged(make_cfg, tmp_path):
    from gatelab.recipes.training import train

    watched = train(make_cfg("trainer.max_steps=400", "callbacks.snapshots.every=1"))
    watched_weights = torch.load(watched["checkpoint"], weights_only=True)["state_dict"]
    unwatched = train(make_cfg("trainer.max_steps=400", "callbacks.snapshots=null"))
    unwatched_weights = torch.load(unwatched["checkpoint"], weights_only=True)["state_dict"]

    assert watched["steps"] == unwatched["steps"] and watched["loss"] == unwatched["loss"]
    for name in watched_weights:
        assert torch.equal(watched_weights[name], unwatched_weights[name]), name
    assert len(torch.load(snapshots_of(watched, tmp_path), weights_only=True)["steps"]) == 401  # every step, and 0


def test_the_same_run_writes_the_same_snapshots_file_byte_for_byte(make_cfg, tmp_path):
    from gatelab.recipes.training import train

    files = []
    for _ in range(2):
        result = train(make_cfg("trainer.max_steps=100"))
        files.append(snapshots_of(result, tmp_path).read_bytes())
    assert files[0] == files[1]  # (torch.save names its archive after the file: a temporary one here)


# --- hidden space ---------------------------------------------------------------------------------


def net_from_seed(hidden: list[int], seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    return build_mlp(hidden)


def output_logits(net: torch.nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    output = linear_layers(net)[-1]
    with torch.no_grad():
        return output(last_hidden(net, x)).flatten()


def test_two_hidden_units_are_drawn_as_they_are():
    x, _ = truth_table("xor")
    net = net_from_seed([2], 3)
    view = hidden_view(net, x)
    first = linear_layers(net)[0]
    with torch.no_grad():
        assert torch.allclose(view.points, torch.sigmoid(first(x)))
    assert view.exact and view.axes == ("h1", "h2")


@pytest.mark.parametrize("hidden", [[], [1], [2], [10, 10, 10], [64, 32, 16]])
@pytest.mark.parametrize("seed", [0, 777])
def test_the_output_units_line_is_exact_in_every_hidden_view(hidden, seed):
    """Whatever the projection, sigmoid(weight · point + bias) is the net's output at each corner."""
    x, _ = truth_table("xor")
    net = net_from_seed(hidden, seed)
    view = hidden_view(net, x)
    assert view.points.shape == (4, 2)
    assert torch.allclose(view.points @ view.weight + view.bias, output_logits(net, x), atol=1e-5)


def test_a_wide_layer_is_projected_along_the_output_weights_and_across_them():
    x, _ = truth_table("xor")
    net = net_from_seed([10, 10, 10], 777)
    view, h = hidden_view(net, x), last_hidden(net, x)
    w = linear_layers(net)[-1].weight.detach()[0]
    assert not view.exact and view.weight[1] == 0  # the output's line is vertical: u = -b / |w|
    assert torch.allclose(view.points[:, 0], h @ w / w.norm(), atol=1e-6)
    # The second axis is orthogonal to w: moving a point along w changes u only.
    moved = h + 0.3 * w / w.norm()
    assert torch.allclose((moved - h) @ (w / w.norm()), torch.full((4,), 0.3), atol=1e-6)
    assert view.points[3, 1] >= view.points[0, 1]  # a fixed sign: corner 11 not below corner 00


# --- frames and key frames ------------------------------------------------------------------------


def test_frames_crowd_where_the_loss_moves():
    steps = torch.arange(0, 3001, 10)
    loss = torch.full((len(steps),), LN2)
    drop = (steps >= 2000) & (steps <= 2100)
    loss[drop] = LN2 - (LN2 - 0.05) * (steps[drop] - 2000) / 100
    loss[steps > 2100] = 0.05
    frames = frames_along_the_curve(steps, loss, 40)

    assert frames[0] == 0 and frames[-1] == len(steps) - 1 and frames == sorted(set(frames))
    assert len(frames) <= 42
    in_drop = sum(2000 <= int(steps[i]) <= 2100 for i in frames)
    on_plateau = sum(int(steps[i]) < 2000 for i in frames)
    assert in_drop >= 10  # a thirtieth of the steps, a quarter or more of the frames
    assert on_plateau >= 10  # the plateau is shown too
    assert in_drop / 100 > 5 * on_plateau / 2000  # frames per step: many times denser in the drop


@pytest.fixture(scope="module")
def lesson_run(tmp_path_factory) -> Path:
    """mlp2 on XOR from seed 777, trained by hand as a user would: its snapshots file."""
    out = tmp_path_factory.mktemp("lesson")
    write_gate_csv("xor", out / "data/xor.csv")  # (a fresh clone has no data/ before `dvc repro`)
    done = run_cli("src/train.py", f"hydra.run.dir={out}", f"paths.data_dir={out}/data", "trainer.enable_progress_bar=false")
    assert done.returncode == 0, done.stderr
    return out / "snapshots/mlp2/xor.pt"


def test_key_frames_are_the_start_the_plateau_the_escape_and_the_solved_net(lesson_run):
    recording = load_recording(lesson_run)
    keys = key_frames(recording)
    assert list(keys) == ["start", "plateau", "escape", "solved"]
    steps = [int(recording.steps[i]) for i in keys.values()]
    assert steps == sorted(steps) and steps[0] == 0 and steps[-1] == int(recording.steps[-1])
    assert abs(float(recording.loss[keys["plateau"]]) - LN2) < 0.01
    assert 0.05 < float(recording.loss[keys["escape"]]) < LN2 - 0.01
    assert recording.solved(keys["solved"])

    told = story(recording)
    assert told["end"] == "solved" and told["architecture"] == "2-2-1" and told["gate"] == "xor"
    x, y = truth_table("xor")
    names = ["".join(str(int(v)) for v in row.tolist()) for row in x]
    classes = [sorted(n for n, t in zip(names, y.flatten().tolist()) if t == label) for label in (0, 1)]
    assert [sorted(side) for side in told["output_sides"]] == classes  # one line separates them in hidden space


def test_blitted_frames_are_pixel_for_pixel_full_draws(lesson_run, make_cfg, tmp_path, monkeypatch):
    """FrameRenderer repaints only what changes; every frame must still be what a full draw of the
    figure gives. A perceptron (its hidden panel has no axes) stacked on mlp2: every kind of panel."""
    import numpy as np

    from gatelab.presentation import animation
    from gatelab.recipes.training import train

    differing = []

    class CheckedRenderer(animation.FrameRenderer):
        def render(self):
            blitted = super().render()
            changing = animation.changing_artists(self.fig)
            for artist in changing:
                artist.set_animated(False)
            self.canvas.draw()  # a full draw, everything included
            full = Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba()).convert("RGB")
            for artist in changing:
                artist.set_animated(True)
            differing.append(int((np.asarray(blitted) != np.asarray(full)).any(axis=2).sum()))
            return blitted

    monkeypatch.setattr(animation, "FrameRenderer", CheckedRenderer)
    perceptron = snapshots_of(train(make_cfg("model=perceptron", "trainer.max_steps=200")), tmp_path)
    animation.animate([load_recording(perceptron), load_recording(lesson_run)], tmp_path / "both.gif", frames_per_run=12)
    assert len(differing) >= 6 and differing == [0] * len(differing), differing


# --- src/animate.py -------------------------------------------------------------------------------


@pytest.mark.slow
def test_animate_draws_the_same_pictures_twice_within_the_size_budget(lesson_run, tmp_path, without_lightning):
    pictures = []
    for out, env in ((tmp_path / "a", None), (tmp_path / "b", without_lightning)):  # and it never imports Lightning
        done = run_cli("src/animate.py", str(lesson_run), f"{lesson_run}+{lesson_run}", "--out-dir", str(out), env=env)
        assert done.returncode == 0, done.stderr
        pictures.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()})
    assert pictures[0] == pictures[1]  # byte for byte
    assert set(pictures[0]) == {"mlp2/xor.gif", "mlp2/xor-strip.png", "mlp2-xor+mlp2-xor.gif"}
    for name, content in pictures[0].items():
        image = Image.open(tmp_path / "a" / name)
        if name.endswith(".gif"):
            assert 10 <= image.n_frames <= FRAMES + 2 and len(content) <= GIF_LIMIT, (name, image.n_frames, len(content))
    assert Image.open(tmp_path / "a/mlp2-xor+mlp2-xor.gif").height == 2 * Image.open(tmp_path / "a/mlp2/xor.gif").height


@pytest.mark.slow
def test_animate_refuses_what_is_not_a_snapshots_file_in_one_line(lesson_run, tmp_path):
    checkpoint = lesson_run.parent.parent.parent / "models/mlp2/xor.ckpt"
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(lesson_run.read_bytes()[:200])
    out = tmp_path / "out"
    for run, fragment in [
        (str(tmp_path / "missing.pt"), "no snapshots at"),
        (str(checkpoint).replace(".ckpt", ".pt"), "no snapshots at"),
        (str(truncated), "is not a gatelab snapshots file"),
        ("mlp2", "neither a snapshots file (.pt) nor <name>/<gate>"),
        ("mlp2/xor/extra", "neither a snapshots file (.pt) nor <name>/<gate>"),
        (f"{lesson_run}+{tmp_path / 'missing.pt'}", "no snapshots at"),
    ]:
        done = run_cli("src/animate.py", str(lesson_run), run, "--out-dir", str(out))
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
        assert fragment in done.stderr
        assert not out.exists()  # every run is checked before anything is drawn


def test_the_committed_animations_are_the_configured_ones_within_budget():
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    folder = ROOT / "plots/animations"
    expected = set()
    for item in params["animations"].split(","):
        runs = item.split("+")
        name = runs[0] if len(runs) == 1 else "+".join(r.replace("/", "-") for r in runs)
        expected |= {f"{name}.gif"} | ({f"{name}-strip.png"} if len(runs) == 1 else set())
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert found == expected
    for name in found:
        if name.endswith(".gif"):
            assert (folder / name).stat().st_size <= GIF_LIMIT, name


# --- the progress bar -----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_progress_bar_counts_steps_and_ends_where_the_summary_does(tmp_path, data_dir):
    done = run_cli("src/train.py", f"hydra.run.dir={tmp_path}", f"paths.data_dir={data_dir}", "model=mlp4")
    assert done.returncode == 0, done.stderr
    # Lightning's bars write to stdout, as does the summary line.
    states = re.findall(r"step:.*?(\d+)/(\d+) \[.*?loss=([\d.]+), acc=([\d.]+)\]", done.stdout)
    summary = re.search(r"(\d+) steps, loss ([\d.]+), accuracy ([\d.]+)", done.stdout)
    assert states and summary, done.stdout[-1000:]
    shown, total, loss, accuracy = states[-1]
    assert total == "10001"
    assert (shown, loss, accuracy) == summary.groups()
    assert len({n for n, *_ in states}) > 3  # it moved on the way, not only at the end
