"""The check stage's command (src/check_pipeline.py) stopped halfway: one line, no note."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_ctrl_c_during_the_check_ends_in_one_line_with_status_130_and_writes_no_note(tmp_path):
    """Ctrl+C reaches the whole process group (the check and its checking processes): the check ends
    as a stopped run does, and the note that lets the other stages run is not written."""
    note = tmp_path / "pipeline.txt"
    check = subprocess.Popen(
        [sys.executable, "src/check_pipeline.py", "--note", str(note)], cwd=ROOT, env={**os.environ, "DVC_STAGE": "check"},
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    time.sleep(6)  # (on the 2-core machine: composing the configs; earlier, importing: stopped the same way)
    os.killpg(check.pid, signal.SIGINT)
    out, err = check.communicate(timeout=120)
    assert check.returncode == 130, err[-2000:]
    assert err.strip().splitlines() == ["error: stopped by SIGINT before every setting was checked; nothing written: run it again"]
    assert not note.exists() and "checked the settings" not in out
