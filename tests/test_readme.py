"""The README tells the truth: its results are the committed ones, its quick start is CI's command."""

from conftest import ROOT


def test_readme_shows_the_committed_results():
    readme = (ROOT / "README.md").read_text()
    report = (ROOT / "reports/summary.md").read_text()
    table_lines = [line for line in report.splitlines() if line.startswith("|")]
    assert len(table_lines) == 3 * (2 + 4)  # three grids: header, rule and 4 models each
    section = readme[readme.index("<!-- results:") : readme.index("<!-- end of results -->")]
    assert [line for line in section.splitlines() if line.startswith("|")] == table_lines


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.endswith("&& pytest"))
    assert command in (ROOT / ".ci/run").read_text().splitlines()
