"""Decision boundaries: what a trained net answers over the whole unit square, as pictures.

Matplotlib with the Agg backend (no display), imported here only: training never pays for it.
PNGs are reduced to a 64-colour palette (a sixth of the size, no visible difference) and carry
no version metadata, so the same results give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from gatelab.core.solved import LN2
from gatelab.infra.files import atomic_write

# Inputs from -0.25 to 1.25: the four corners sit inside the picture, not on its edge. (The
# animations' frames use the same square, more coarsely: gatelab.presentation.animation.)
LOW, HIGH, RESOLUTION = -0.25, 1.25, 151
CMAP = "RdBu_r"  # blue: answers 0, red: answers 1, white: 0.5 (undecided)
PALETTE_COLORS = 64


def input_axis(resolution: int = RESOLUTION) -> torch.Tensor:
    """``resolution`` evenly spaced inputs from LOW to HIGH: each axis of the pictures' square."""
    return torch.linspace(LOW, HIGH, resolution)


def probability_map(net: Callable[[torch.Tensor], torch.Tensor], resolution: int = RESOLUTION) -> torch.Tensor:
    """The net's output on a ``resolution x resolution`` grid over the square (row 0 is x2 = LOW)."""
    axis = input_axis(resolution)
    x2, x1 = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        return net(torch.stack([x1.flatten(), x2.flatten()], dim=1)).reshape(resolution, resolution)


def draw_boundary(ax, probs: torch.Tensor, x: torch.Tensor, y: torch.Tensor, title: str) -> None:
    """The probability map, its 0.5 contour (the decision boundary) and the truth table's points."""
    extent = (LOW, HIGH, LOW, HIGH)
    ax.imshow(probs.numpy(), origin="lower", extent=extent, cmap=CMAP, vmin=0, vmax=1, interpolation="bilinear")
    if probs.min() < 0.5 < probs.max():
        axis = input_axis().numpy()
        ax.contour(axis, axis, probs.numpy(), levels=[0.5], colors="black", linewidths=1.2)
    labels = y.flatten().numpy()
    for label, marker in ((0, "o"), (1, "s")):
        points = x[labels == label].numpy()
        ax.scatter(
            points[:, 0],
            points[:, 1],
            marker=marker,
            s=60,
            c="white" if label == 0 else "black",
            edgecolors="black",
            linewidths=1.5,
            zorder=3,
        )
    ax.set(xlim=(LOW, HIGH), ylim=(LOW, HIGH), xticks=[0, 1], yticks=[0, 1], title=title)
    ax.title.set_fontsize(9)
    ax.tick_params(labelsize=7, length=2)


def save_figure(fig, path: str | Path, colors: int = PALETTE_COLORS) -> Path:
    # matplotlib and Pillow here, not at the top: a second or more to import, and training (which
    # imports this module for the seed study's picture) mostly draws nothing.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    image = Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
    image = image.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    return atomic_write(path, lambda tmp: image.save(tmp, format="png", optimize=True))


def boundary_png(probs: torch.Tensor, x: torch.Tensor, y: torch.Tensor, title: str, path: str | Path) -> Path:
    """One run's decision boundary, 240 x 240 pixels."""
    from matplotlib.figure import Figure  # (see save_figure: imported when drawing)

    fig = Figure(figsize=(3, 3), dpi=80, layout="constrained")
    draw_boundary(fig.add_subplot(), probs, x, y, title)
    return save_figure(fig, path)


def boundary_grid(
    cells: dict[tuple[str, str], tuple[torch.Tensor, torch.Tensor, torch.Tensor, str]],
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    path: str | Path,
) -> Path:
    """Decision boundaries in a grid, ``cells[row, column] = (probs, x, y, caption)``."""
    from matplotlib.figure import Figure  # (see save_figure: imported when drawing)

    fig = Figure(figsize=(1.9 * len(columns), 1.9 * len(rows) + 0.4), dpi=80, layout="constrained")
    fig.suptitle(title, fontsize=11)
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            draw_boundary(axes[i][j], *cells[row, column])
    return save_figure(fig, path)


def study_png(result: dict, path: str | Path) -> Path:
    """A seed study in two histograms: when the copies first answer every row right, and the
    final loss of those that did not solve the gate (ln 2 marked: the plateau)."""
    from matplotlib.figure import Figure  # (see save_figure: imported when drawing)

    per_seed = result["per_seed"]
    fig = Figure(figsize=(7, 2.6), dpi=80, layout="constrained")
    fig.suptitle(f"{result['model']} on {result['gate']}: {result['solved']} of {result['seeds']} seeds solve it", fontsize=11)
    when, where = fig.subplots(1, 2)
    reached = [step for step, ok in zip(per_seed["first_correct"], per_seed["solved"]) if ok]
    when.hist(reached, bins=30, range=(0, max(result["steps"], 1)), color="#4c78a8")
    when.set(title="solved seeds: first step with every row right", xlabel="step", ylabel="seeds")
    failed = [loss for loss, ok in zip(per_seed["final_loss"], per_seed["solved"]) if not ok]
    where.hist(failed, bins=30, range=(0, 0.8), color="#e45756")
    for loss, label in ((LN2, "ln 2: 0.5 everywhere"), (LN2 / 2, "ln 2/2: one pair merged")):
        where.axvline(loss, color="black", linestyle="--", linewidth=0.8)
        where.text(loss, 0.97, f" {label}", transform=where.get_xaxis_transform(), fontsize=6, va="top")
    where.set(title=f"final loss of the {len(failed)} failures", xlabel="loss", ylabel="seeds")
    for ax in (when, where):
        ax.title.set_fontsize(9)
        ax.tick_params(labelsize=7)
    return save_figure(fig, path)
