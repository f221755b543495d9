"""How a run learns, as pictures: an animated GIF and a key-frame strip from its snapshots.

Each run is one row of three synchronized panels:

- *input space*: the output's probability over the square (blue 0, red 1, white 0.5), its
  decision boundary (black), the four corners, and the line each first-layer hidden unit draws,
  ``w·x + b = 0`` (coloured);
- *hidden space*: the corners as the last hidden layer sees them (``gatelab.core.hidden_space``), with
  the output unit's probability and line there: XOR becoming linearly separable;
- *loss*: the training loss (and accuracy) against steps, ln 2 and ln 2 / 2 marked, with a cursor.

Frames are picked from the snapshots (``gatelab.snapshots``) evenly along the loss curve's length,
with steps and loss each scaled to the unit interval: a long flat plateau and a fast escape both
get their share, so frames crowd where the loss moves. Several runs (``mlp2/xor+mlp2-seed5/xor``)
are stacked and step together; a run that ended holds its last frame.

Matplotlib (Agg, blitting: ``FrameRenderer``) and Pillow only; the same snapshots give the same
bytes (no metadata, one palette).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from gatelab.core import snapshot_file
from gatelab.core.anatomy import classify, row_names
from gatelab.core.hidden_space import HiddenView, hidden_view, last_hidden
from gatelab.core.network import architecture, build_mlp, check_activation, check_hidden, linear_layers
from gatelab.core.solved import LN2, PLATEAU, UNDECIDED, is_solved, on_plateau, rows_right, solved_threshold
from gatelab.infra.errors import GatelabError
from gatelab.infra.files import atomic_write, reading
from gatelab.presentation.plots import HIGH, LOW, input_axis, probability_map, save_figure

FRAMES = 48  # per GIF; stacked runs share them (each GIF about 1 MB at most)
RESOLUTION = 81  # of the input square (gatelab.presentation.plots), coarser: per frame
DPI = 90
FRAME_MS, KEY_FRAME_MS, LAST_FRAME_MS = 90, 700, 2500
PALETTE_COLORS = 96
BANDS = [k / 10 for k in range(11)]
UNIT_COLORS = ("#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#1f77b4", "#d62728")


@dataclass
class Recording:
    """One run's snapshots, loaded: the net at every recorded step, and its loss and accuracy there."""

    path: Path
    steps: torch.Tensor  # [n]
    weights: torch.Tensor  # [n, parameters]
    hidden: list[int]
    activation: str
    x: torch.Tensor
    y: torch.Tensor
    config: dict
    loss: torch.Tensor = field(init=False)
    accuracy: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        losses, accuracies = [], []
        for i in range(len(self.steps)):
            with torch.no_grad():
                y_hat = self.net(i)(self.x)
            losses.append(torch.nn.functional.binary_cross_entropy(y_hat, self.y))
            accuracies.append(rows_right(y_hat, self.y).float().mean())
        self.loss, self.accuracy = torch.stack(losses), torch.stack(accuracies)

    def net(self, i: int) -> nn.Sequential:
        net = build_mlp(self.hidden, self.activation, in_features=self.x.shape[1])
        torch.nn.utils.vector_to_parameters(self.weights[i], net.parameters())
        return net

    @property
    def gate(self) -> str:
        return self.config.get("data", {}).get("gate", self.path.stem)

    @property
    def title(self) -> str:
        """``mlp2 on XOR, seed 777``: from the run's recorded config."""
        run = self.config.get("name", self.path.parent.name)
        gate = self.gate
        seed = self.config.get("seed")
        return f"{run} on {gate.upper()}" + (f", seed {seed}" if seed is not None else "")

    @property
    def solved_below(self) -> float | None:
        return self.config.get("solved_below")

    def solved(self, i: int) -> bool:
        """Solved at record ``i``, by the rule the run stopped by (gatelab.core.solved)."""
        threshold = math.inf if self.solved_below is None else solved_threshold(self.solved_below, len(self.y))
        return bool(is_solved(bool(self.accuracy[i] == 1), float(self.loss[i]), threshold))

    def at_step(self, step: int) -> int:
        """The last record at or before ``step`` (the run's last one after it ended)."""
        return max(int(torch.searchsorted(self.steps, step, right=True)) - 1, 0)


def load_recording(path: str | Path) -> Recording:
    """A snapshots file written by ``gatelab.snapshots.Snapshots``, or a one-line error."""
    path = Path(path)
    content = snapshot_file.load(path)
    with reading("snapshots file", path):
        steps, weights, net, data = (content[key] for key in ("steps", "weights", "net", "data"))
        if len(steps) < 2:
            raise GatelabError(f"{path} holds {len(steps)} snapshot(s); an animation needs at least two (a run of >= 1 step)")
        weights = weights.float()  # a trainer.precision=64-true run records float64; the pictures are float32's
        recording = Recording(path, steps, weights, list(net["hidden"]), net["activation"], data["x"].float(), data["y"].float(),
                              content.get("config") or {})  # fmt: skip
        check_recording(recording)
    if not torch.isfinite(recording.weights).all():
        raise GatelabError(f"{path} holds non-finite weights: the run diverged")
    return recording


def check_recording(recording: Recording) -> None:
    """The shapes and kinds a drawing relies on (ValueError if not): steps increasing, one row of
    weights per step of the net's size, a known activation, a truth table's points and labels."""
    steps, weights, x, y = recording.steps, recording.weights, recording.x, recording.y
    try:
        check_hidden(recording.hidden), check_activation(recording.activation)
    except GatelabError as err:  # (said of a setting: here it is the file's)
        raise ValueError(str(err)) from None
    sizes = [x.shape[1] if x.dim() == 2 else -1, *recording.hidden, 1]
    parameters = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    if steps.dim() != 1 or steps.dtype.is_floating_point or not bool((steps.diff() > 0).all()):
        raise ValueError("steps must be increasing whole numbers")
    if (
        weights.shape != (len(steps), parameters)
        or x.dim() != 2
        or y.shape not in ((len(x),), (len(x), 1))
        or not isinstance(recording.config, dict)
    ):
        raise ValueError("weights, points and labels are not of the recorded net's shapes")


def picture_name(runs: Sequence[str]) -> str:
    """The pictures' name, without extension: ``mlp2/xor`` for one run, ``mlp2-xor+mlp4-xor`` for
    runs stacked in one GIF."""
    return runs[0] if len(runs) == 1 else "+".join(run.replace("/", "-") for run in runs)


# ----------------------------------------------------------------------------------------------
# Which frames


def frames_along_the_curve(steps: torch.Tensor, loss: torch.Tensor, count: int) -> list[int]:
    """Indices of up to ``count`` records spaced evenly along the curve (step, loss), both scaled to
    [0, 1]: where the loss falls fast, frames are close in steps; on a plateau, far apart. The
    first and last records are always in."""
    s = steps.double() / max(float(steps[-1] - steps[0]), 1.0)
    spread = float(loss.max() - loss.min())
    scaled = loss.double() / spread if spread > 0 else torch.zeros_like(s)
    length = torch.cat([torch.zeros(1, dtype=torch.double), torch.hypot(s.diff(), scaled.diff()).cumsum(0)])
    targets = torch.linspace(0, float(length[-1]), count, dtype=torch.double)
    chosen = torch.searchsorted(length, targets).clamp(max=len(steps) - 1)
    return sorted({0, len(steps) - 1, *chosen.tolist()})


def key_frames(recording: Recording) -> dict[str, int]:
    """The strip's moments, as record indices: ``start``; ``plateau`` (the middle of the records on
    ln 2, if any); where the loss falls fastest after the plateau, if it falls by more than PLATEAU
    in one record (``escape`` when the run ends solved, else ``drop``); the end, ``solved`` or ``end``."""
    loss, last = recording.loss, len(recording.steps) - 1
    keys = {"start": 0}
    flat = on_plateau(loss).nonzero().flatten().tolist()
    plateau = flat[len(flat) // 2] if flat else None
    if plateau is not None and 0 < plateau < last:
        keys["plateau"] = plateau
    after = plateau if plateau is not None else 0
    drops = loss[after:-1] - loss[after + 1 :]
    if len(drops) and float(drops.max()) > PLATEAU:
        escape = after + 1 + int(drops.argmax())
        if escape < last:
            keys["escape" if recording.solved(last) else "drop"] = escape
    keys["solved" if recording.solved(last) else "end"] = last
    return keys


def end_state(recording: Recording, i: int) -> str:
    """``solved``, or how the net failed (gatelab.core.anatomy): ``10+11 merged``, ``on the ln 2 plateau``."""
    if recording.solved(i):
        return "solved"
    net = recording.net(i)
    with torch.no_grad():
        outputs = net(recording.x).flatten()
    kind, _ = classify(last_hidden(net, recording.x), outputs, recording.y.flatten(), float(recording.loss[i]), row_names(recording.x))
    return {"plateau": "on the ln 2 plateau", "other": "not solved"}.get(kind, f"{kind} merged")


def phase(recording: Recording, i: int) -> str:
    """What the caption says the net is doing at record ``i``, if it is something to name."""
    if recording.solved(i):
        return "solved"
    if on_plateau(float(recording.loss[i])):
        return "on the ln 2 plateau: 0.5 everywhere"
    return end_state(recording, i) if i == len(recording.steps) - 1 else ""


# ----------------------------------------------------------------------------------------------
# Drawing


def line_in_box(w: torch.Tensor, b: float, low: tuple[float, float], high: tuple[float, float]):
    """Two points of the line ``w·p + b = 0`` spanning the box, or None when w is 0."""
    w1, w2 = float(w[0]), float(w[1])
    if abs(w2) >= abs(w1) and w2 != 0:
        xs = (low[0], high[0])
        return xs, tuple(-(b + w1 * v) / w2 for v in xs)
    if w1 != 0:
        ys = (low[1], high[1])
        return tuple(-(b + w2 * v) / w1 for v in ys), ys
    return None


def hidden_limits(recording: Recording, frames: Sequence[int], views: dict[int, HiddenView]):
    """Fixed axes for a run's hidden panel: a sigmoid's or tanh's range when exact, else the data's."""
    if views[frames[0]].exact and recording.activation in ("sigmoid", "tanh") and recording.hidden:
        lo = 0.0 if recording.activation == "sigmoid" else -1.0
        return (lo - 0.1, lo - 0.1), (1.1, 1.1)
    if views[frames[0]].exact and not recording.hidden:
        return (LOW, LOW), (HIGH, HIGH)
    points = torch.cat([views[i].points for i in frames])
    lo, hi = points.min(dim=0).values, points.max(dim=0).values
    pad = (hi - lo).clamp_min(0.2) * 0.12
    return tuple((lo - pad).tolist()), tuple((hi + pad).tolist())


def probability_bands(ax, xs: torch.Tensor, ys: torch.Tensor, probs: torch.Tensor):
    """The output's probability in ten bands (blue 0, white 0.5, red 1): flat colours read as
    levels and keep the GIFs small."""
    return ax.contourf(xs.numpy(), ys.numpy(), probs.numpy(), levels=BANDS, cmap="RdBu_r", vmin=0, vmax=1, zorder=0)


class RunRow:
    """One run's panels in a figure, redrawn for any of its records: input and hidden space, and the
    loss when a third place is given (``specs``: two or three subplot specs)."""

    def __init__(self, fig, specs, recording: Recording, frames: Sequence[int], last_step: int):
        self.recording = recording
        self.views = {i: hidden_view(recording.net(i), recording.x) for i in frames}
        self.low, self.high = hidden_limits(recording, frames, self.views)
        self.axes = [fig.add_subplot(spec) for spec in specs]
        self.drawn: list = []  # the artists redrawn for each frame (filled contours, boundary)
        self.input_panel(self.axes[0])
        self.hidden_panel(self.axes[1], self.views[frames[0]])
        self.curve = self.loss_panel(self.axes[2], last_step) if len(specs) > 2 else None
        for ax in self.axes:
            ax.tick_params(labelsize=7)
            ax.xaxis.label.set_fontsize(7)
            ax.yaxis.label.set_fontsize(7)

    def input_panel(self, ax) -> None:
        recording = self.recording
        units = recording.hidden[0] if recording.hidden else 0
        self.unit_lines = [ax.plot([], [], color=UNIT_COLORS[k % len(UNIT_COLORS)], lw=1.8, ls=(0, (4, 2)))[0] for k in range(units)]
        self.corner_markers(ax, recording.x, recording.y.flatten())
        ax.set(xlim=(LOW, HIGH), ylim=(LOW, HIGH), xticks=[0, 1], yticks=[0, 1], xlabel="x1", ylabel="x2")
        ax.set_title("input space: output, boundary" + (", hidden units' lines" if units else ""), fontsize=8)

    def hidden_panel(self, ax, view: HiddenView) -> None:
        recording = self.recording
        if not recording.hidden:  # the perceptron: nothing moves the corners
            ax.axis("off")
            ax.text(0.5, 0.5, "no hidden layer:\nthe output unit has to separate\nthe corners where they are,\nwith one line "
                    "(the input panel)", ha="center", va="center", fontsize=8, transform=ax.transAxes)  # fmt: skip
            return
        self.output_line = ax.plot([], [], color="black", lw=1.4)[0]
        self.hidden_points = self.corner_markers(ax, recording.x, recording.y.flatten())
        names = row_names(recording.x)
        # Each corner's label on its own side of its point (00 lower left ... 11 upper right), so
        # that corners the hidden layer merges stay readable.
        self.hidden_labels = [ax.annotate(name, (0, 0), textcoords="offset points", fontsize=7,
                                          xytext=(7 if name[0] == "1" else -7, 5 if name[-1] == "1" else -5),
                                          ha="left" if name[0] == "1" else "right", va="bottom" if name[-1] == "1" else "top")
                              for name in names]  # fmt: skip
        ax.set(xlim=(self.low[0], self.high[0]), ylim=(self.low[1], self.high[1]), xlabel=view.axes[0], ylabel=view.axes[1])
        if view.exact:
            ax.set_title("hidden space: the corners, the output's line", fontsize=8)
        else:
            ax.set_title(f"last hidden layer ({recording.hidden[-1]} units), projected", fontsize=8)
        if view.exact and recording.hidden == [2]:  # h1, h2 are the units whose lines have these colours
            ax.xaxis.label.set_color(UNIT_COLORS[0])
            ax.yaxis.label.set_color(UNIT_COLORS[1])

    def loss_panel(self, ax, last_step: int):
        import matplotlib.ticker  # (matplotlib when drawing: evaluate reads stories without it)

        recording = self.recording
        steps, loss = recording.steps.numpy(), recording.loss.numpy()
        ax.plot(steps, loss, color="#bbbbbb", lw=1.2)
        self.loss_so_far = ax.plot([], [], color="#222222", lw=1.6)[0]
        accuracy = ax.twinx()
        self.accuracy_so_far = accuracy.plot([], [], color="#e8a33d", lw=1.2, drawstyle="steps-post")[0]
        accuracy.set(ylim=(-0.05, 1.05), yticks=[0, 0.5, 1])
        accuracy.set_ylabel("accuracy", color="#c07f12", fontsize=7)
        accuracy.tick_params(labelsize=7, colors="#c07f12")
        for level, label in ((LN2, "ln 2: 0.5 everywhere"), (LN2 / 2, "ln 2 / 2: one pair merged")):
            ax.axhline(level, color="black", ls="--", lw=0.7)
            ax.text(last_step, level, label + " ", fontsize=6.5, ha="right", va="bottom")
        self.cursor = ax.axvline(0, color="#d62728", lw=1)
        self.dot = ax.plot([], [], "o", color="#d62728", ms=4)[0]
        ax.set(xlim=(0, last_step), ylim=(0, max(0.8, float(loss.max()) * 1.05)), xlabel="step", ylabel="loss")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5, integer=True))
        ax.set_title("training loss (black) and accuracy (orange)", fontsize=8)
        return ax

    @staticmethod
    def corner_markers(ax, x: torch.Tensor, y: torch.Tensor):
        markers = []
        for label, marker in ((0, "o"), (1, "s")):
            points = x[y == label]
            markers.append(ax.scatter(points[:, 0], points[:, 1], marker=marker, s=46, c="white" if label == 0 else "black",
                                      edgecolors="black", linewidths=1.3, zorder=3))  # fmt: skip
        return markers

    def draw(self, i: int) -> None:
        recording = self.recording
        net = recording.net(i)
        inputs = self.axes[0]
        axis = input_axis(RESOLUTION)
        probs = probability_map(net, RESOLUTION)
        for artist in self.drawn:
            artist.remove()
        self.drawn = [probability_bands(inputs, axis, axis, probs)]
        if (probs - 0.5).abs().max() >= UNDECIDED:  # else "0.5 everywhere": no boundary worth drawing
            self.drawn.append(inputs.contour(axis.numpy(), axis.numpy(), probs.numpy(), levels=[0.5], colors="black", linewidths=1.4))
        if self.unit_lines:
            first = linear_layers(net)[0]
            for line, w, b in zip(self.unit_lines, first.weight.detach(), first.bias.detach()):
                ends = line_in_box(w, float(b), (LOW, LOW), (HIGH, HIGH))
                line.set_data(*(ends or ((), ())))

        if recording.hidden:
            self.draw_hidden(self.views[i])
        if self.curve is None:
            return
        steps = recording.steps[: i + 1].numpy()
        self.loss_so_far.set_data(steps, recording.loss[: i + 1].numpy())
        self.accuracy_so_far.set_data(steps, recording.accuracy[: i + 1].numpy())
        step, loss = int(recording.steps[i]), float(recording.loss[i])
        self.cursor.set_xdata([step, step])
        self.dot.set_data([step], [loss])

    def draw_hidden(self, view: HiddenView) -> None:
        h_axis = [torch.linspace(self.low[k], self.high[k], RESOLUTION) for k in range(2)]
        v_grid, u_grid = torch.meshgrid(h_axis[1], h_axis[0], indexing="ij")
        output = torch.sigmoid(view.weight[0] * u_grid + view.weight[1] * v_grid + view.bias)
        self.drawn.append(probability_bands(self.axes[1], *h_axis, output))
        ends = line_in_box(view.weight, view.bias, self.low, self.high)
        self.output_line.set_data(*(ends or ((), ())))
        y = self.recording.y.flatten()
        for marker, label in zip(self.hidden_points, (0, 1)):
            marker.set_offsets(view.points[y == label].numpy())
        for text, point in zip(self.hidden_labels, view.points.tolist()):
            text.xy = point

    def caption(self, i: int, ended: bool = False) -> str:
        r = self.recording
        right = round(float(r.accuracy[i]) * len(r.y))
        words = phase(r, i)
        state = f"step {int(r.steps[i])}, loss {float(r.loss[i]):.3f}, {right}/{len(r.y)} rows right"
        if ended:
            state += " (ended)"
        return f"{r.title}: {state}" + (f" · {words}" if words else "")


ROW_HEIGHT, ROW_WIDTH = 3.3, 11.0  # inches


def row_figure(rows: int):
    from matplotlib.figure import Figure  # (matplotlib when drawing: evaluate reads stories without it)

    fig = Figure(figsize=(ROW_WIDTH, ROW_HEIGHT * rows), dpi=DPI)
    grid = fig.add_gridspec(rows, 3, width_ratios=[1, 1, 1.75], left=0.05, right=0.95, bottom=0.14 / rows,
                            top=1 - 0.13 / rows, wspace=0.3, hspace=0.55)  # fmt: skip
    return fig, grid


def changing_artists(fig) -> list:
    """What a frame repaints, in the order a full draw paints it: everything inside each axes' frame
    (its children but the background patch, the axes and ticks with their labels, and the title;
    the spines where Axes.draw draws them), then the figure's texts (the captions). The decorations
    left out are painted once, under everything: right here, where ticks point out and no grid
    crosses the panels (test_animation.py compares every frame with a full draw)."""
    artists = []
    for ax in fig.axes:
        decorations = {ax.patch, ax.xaxis, ax.yaxis, ax.title}
        framed = ax.axison and ax.get_frame_on()
        inside = [a for a in ax.get_children() if a not in decorations and (framed or a not in ax.spines.values())]
        artists += sorted(inside, key=lambda a: a.get_zorder())  # stable, as Axes.draw sorts them
    return artists + list(fig.texts)


class FrameRenderer:
    """Renders a figure's frames by blitting (matplotlib's technique for fast animation): the
    decorations, which never change, are drawn once; each frame restores them and repaints what is
    inside the axes, in a full draw's order. Ticks, labels and titles were most of a full draw: a
    frame costs about a fifth of one, and its pixels are a full draw's (the committed GIFs did not
    change; tests/test_pipeline.py compares them byte for byte)."""

    def __init__(self, fig):
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # (when drawing, as above)

        self.fig, self.canvas = fig, FigureCanvasAgg(fig)
        for artist in changing_artists(fig):
            artist.set_animated(True)  # left out of the full draw below
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(fig.bbox)

    def render(self):
        """The figure as it is now, as an RGB image."""
        from PIL import Image  # (when drawing, as above)

        self.canvas.restore_region(self.background)
        renderer = self.canvas.get_renderer()
        for artist in changing_artists(self.fig):  # frames add artists (the contours): listed afresh
            artist.draw(renderer)
        return Image.frombuffer("RGBA", self.canvas.get_width_height(), self.canvas.buffer_rgba()).convert("RGB")


def animate(recordings: Sequence[Recording], path: str | Path, frames_per_run: int = FRAMES) -> Path:
    """One GIF: the runs stacked, stepping together through the union of their chosen frames."""
    share = frames_per_run // len(recordings)  # stacked runs share the frames (and the GIF's size)
    chosen = [frames_along_the_curve(r.steps, r.loss, share) for r in recordings]
    times = sorted({int(r.steps[i]) for r, frames in zip(recordings, chosen) for i in frames})
    shown = [[r.at_step(t) for t in times] for r in recordings]
    last_step = max(int(r.steps[-1]) for r in recordings)
    fig, grid = row_figure(len(recordings))
    rows = [
        RunRow(fig, [grid[k, c] for c in range(3)], r, sorted(set(indices)), last_step)
        for k, (r, indices) in enumerate(zip(recordings, shown))
    ]
    captions = [fig.text(0.5, 1 - (k + 0.02) / len(rows), "", ha="center", va="top", fontsize=10) for k in range(len(rows))]
    keys = set(key_frames(recordings[0]).values()) if len(recordings) == 1 else set()
    frame = FrameRenderer(fig)
    images, durations = [], []
    for t, time in enumerate(times):
        for row, caption, indices in zip(rows, captions, shown):
            i = indices[t]
            row.draw(i)
            caption.set_text(row.caption(i, ended=time > int(row.recording.steps[-1])))
        images.append(frame.render())
        durations.append(KEY_FRAME_MS if shown[0][t] in keys and len(recordings) == 1 else FRAME_MS)
    durations[0], durations[-1] = KEY_FRAME_MS, LAST_FRAME_MS
    return save_gif(images, durations, path)


def save_gif(images, durations: Sequence[int], path: str | Path) -> Path:
    """Frames sharing one palette (taken from the first, middle and last frames: no flicker), saved
    with no metadata. Pillow stores only each frame's changed rectangle."""
    from PIL import Image  # (when drawing, as above)

    samples = [images[0], images[len(images) // 2], images[-1]]
    sheet = Image.new("RGB", (images[0].width, images[0].height * len(samples)))
    for k, image in enumerate(samples):
        sheet.paste(image, (0, k * image.height))
    palette = sheet.quantize(PALETTE_COLORS, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    frames = [image.quantize(palette=palette, dither=Image.Dither.NONE) for image in images]
    return atomic_write(path, lambda tmp: frames[0].save(tmp, format="gif", save_all=True, append_images=frames[1:],
                                                         duration=list(durations), loop=0, optimize=False))  # fmt: skip


def strip(recording: Recording, path: str | Path) -> Path:
    """A PNG of the key frames (start, plateau, escape, the end): input and hidden space for each,
    over the whole loss curve with the key frames marked."""
    from matplotlib.figure import Figure  # (matplotlib when drawing: evaluate reads stories without it)

    keys = key_frames(recording)
    frames = list(keys.values())
    fig = Figure(figsize=(2.5 * len(frames), 7.0), dpi=DPI)
    fig.suptitle(f"{recording.title}: how it learns", fontsize=11)
    grid = fig.add_gridspec(3, len(frames), height_ratios=[1, 1, 0.8], left=0.07, right=0.97, bottom=0.08, top=0.88,
                            hspace=0.55, wspace=0.35)  # fmt: skip
    last_step = int(recording.steps[-1])
    curve = fig.add_subplot(grid[2, :])
    curve.plot(recording.steps.numpy(), recording.loss.numpy(), color="#222222", lw=1.4)
    for level in (LN2, LN2 / 2):
        curve.axhline(level, color="black", ls="--", lw=0.7)
    for name, i in keys.items():
        step, loss = int(recording.steps[i]), float(recording.loss[i])
        curve.plot([step], [loss], "o", color="#d62728", ms=5)
        late = step > 0.8 * last_step  # label to the left, and the two last ones apart
        curve.annotate(name, (step, loss), textcoords="offset points", xytext=(-4 if late else 4, 6 if name in ("solved", "end") else 16),
                       ha="right" if late else "left", fontsize=8)  # fmt: skip
    curve.set(xlim=(0, last_step), ylim=(0, max(0.8, float(recording.loss.max()) * 1.05)), xlabel="step", ylabel="loss")
    curve.set_title("training loss; ln 2 and ln 2 / 2 dashed", fontsize=8)
    curve.tick_params(labelsize=7)
    for column, (name, i) in enumerate(keys.items()):
        sub = grid[0:2, column].subgridspec(2, 1, hspace=0.45)
        row = KeyFrame(fig, sub, recording, i, last_step)
        state = f" ({end_state(recording, i)})" if name == "end" else ""
        row.axes[0].set_title(f"{name}{state}: step {int(recording.steps[i])}\nloss {float(recording.loss[i]):.3f}", fontsize=8)
    return save_figure(fig, path, colors=PALETTE_COLORS)  # smooth colour fields need the full palette


class KeyFrame(RunRow):
    """A key frame: its input and hidden panels, one above the other (the strip has one loss curve)."""

    def __init__(self, fig, spec, recording: Recording, i: int, last_step: int):
        super().__init__(fig, [spec[0], spec[1]], recording, [i], last_step)
        self.axes[1].set_title("")
        self.draw(i)


# ----------------------------------------------------------------------------------------------
# What the report says about a run, read off its snapshots


def story(recording: Recording) -> dict:
    """The moments of a run the report names: its plateau, when every row was first right, how it
    ended, and which corners end on each side of the output's line in the hidden layer."""
    loss, steps, last = recording.loss, recording.steps, len(recording.steps) - 1
    flat = on_plateau(loss).nonzero().flatten().tolist()
    all_right = (recording.accuracy == 1).nonzero().flatten().tolist()
    net = recording.net(last)
    view = hidden_view(net, recording.x)
    side = (view.points @ view.weight + view.bias > 0).tolist()
    names = row_names(recording.x)
    return {
        "title": recording.title,
        "gate": recording.gate,
        "architecture": architecture(recording.x.shape[1], recording.hidden),
        "every": int(steps[1] - steps[0]),
        "plateau": [int(steps[flat[0]]), int(steps[flat[-1]])] if flat else None,
        "all_right_at": int(steps[all_right[0]]) if all_right else None,
        "steps": int(steps[-1]),
        "final_loss": float(loss[-1]),
        "end": end_state(recording, last),
        "output_sides": [[n for n, s in zip(names, side) if not s], [n for n, s in zip(names, side) if s]],
    }
