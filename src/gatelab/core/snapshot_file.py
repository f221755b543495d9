"""The snapshots file: what ``gatelab.snapshots.Snapshots`` writes when a fit ends, and what
``gatelab.presentation.animation`` and the report read back.

Kept apart from the callback, which is a Lightning ``Callback``: reading the file must not import
Lightning (``src/animate.py`` and ``src/evaluate.py`` don't; tests/test_animation.py checks).
"""

from __future__ import annotations

from pathlib import Path

import torch

from gatelab.infra.errors import GatelabError

FORMAT = 1  # bumped when the file's layout changes
KEYS = ("format", "steps", "weights", "net", "data")


def save(content: dict, path: Path) -> None:
    """``torch.save`` through a file object: given a path, torch names the archive inside after the
    file, here a random temporary name, and the same snapshots would differ byte for byte."""
    with open(path, "wb") as file:
        torch.save(content, file)


def load(path: Path) -> dict:
    """The file's content (``KEYS``, and the run's ``config``), or a one-line error."""
    if not path.is_file():
        raise GatelabError(f"no snapshots at {path}: train the run first (its snapshots go to paths.snapshots_dir)")
    try:
        content = torch.load(path, weights_only=True)
    except Exception:  # not a torch archive, or truncated
        content = None
    if not isinstance(content, dict) or not all(key in content for key in KEYS):
        raise GatelabError(f"{path} is not a gatelab snapshots file (written by gatelab.snapshots.Snapshots)")
    if content["format"] != FORMAT:
        raise GatelabError(f"{path} has snapshots format {content['format']}, this gatelab reads {FORMAT}: train the run again")
    return content
