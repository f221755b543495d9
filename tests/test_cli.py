"""The four entry points answer on the command line (quick: none of these imports Lightning)."""

from __future__ import annotations

import pytest

from conftest import ROOT, run_cli


def test_generate_by_hand_writes_into_runs_data_and_the_pipeline_into_its_own_folder(tmp_path):
    out = run_cli(str(ROOT / "src/generate.py"), "parity6", cwd=tmp_path)  # a user in their own checkout
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "wrote 1 truth table to runs/data/"
    assert (tmp_path / "runs/data/parity6.csv").read_text().count("\n") == 1 + 2**6
    out = run_cli("src/generate.py", "--out", str(tmp_path / "data"))
    assert out.returncode == 0 and len(list((tmp_path / "data").glob("*.csv"))) == 24


@pytest.mark.parametrize(
    "script, words",
    [
        ("src/train.py", ["paths: pipeline, run", "runs/<date>/<time>_<name>_<gate>/"]),
        ("src/study.py", ["paths: pipeline, run", "study.seeds", "runs/<date>/<time>_<name>_<gate>/study/"]),
        ("src/evaluate.py", ["--out-dir", "runs/"]),
        ("src/generate.py", ["--out", "runs/data"]),
    ],
)
def test_every_entry_point_explains_itself_and_where_it_writes(script, words):
    out = run_cli(script, "--help")
    assert out.returncode == 0, out.stderr
    for word in words:
        assert word in out.stdout, (script, word)
