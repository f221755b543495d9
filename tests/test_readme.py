"""The README tells the truth: its results are the committed report, its quick start is CI's command."""

from conftest import ROOT


def report_as_embedded() -> str:
    """reports/summary.md from its first section on, as the README shows it: one heading level
    down, and picture paths relative to the repository root."""
    report = (ROOT / "reports/summary.md").read_text()
    body = report[report.index("\n## ") + 1 :]
    return body.replace("## ", "### ").replace("](../plots/", "](plots/")


def test_readme_embeds_the_committed_report():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- results:")
    section = readme[readme.index("\n", start) + 1 : readme.index("<!-- end of results -->")]
    assert section.strip() == report_as_embedded().strip()


def test_readme_pictures_exist():
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if line.startswith("!["):
            path = line[line.index("](") + 2 : line.index(")", line.index("]("))]
            assert (ROOT / path).is_file(), path


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.endswith("&& pytest"))
    assert command in (ROOT / ".ci/run").read_text().splitlines()
