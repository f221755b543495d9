"""The README and docs/ tell the truth: the results they show are the committed report's, every
page is linked and every link leads somewhere, and the quick start's test command is CI's."""

import re
from pathlib import Path

from conftest import ROOT

README = ROOT / "README.md"
REPORT = ROOT / "reports/summary.md"
# A passage copied from the report, between these two lines (tests/test_readme.py keeps it equal).
EXCERPT = re.compile(r"^<!-- excerpt of reports/summary\.md[^\n]*-->\n(.*?)^<!-- end of excerpt -->$", re.S | re.M)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")  # [text](target) and ![alt](target)


def pages() -> list[Path]:
    """README.md and every page of docs/."""
    return [README, *sorted((ROOT / "docs").glob("*.md"))]


def report_as_the_readme_shows_it() -> str:
    """reports/summary.md as the README shows its passages: headings one level down (the README's
    own sections are at level 2), picture paths relative to the repository root."""
    lines = REPORT.read_text().splitlines()
    return "\n".join(("#" + line if line.startswith("#") else line).replace("](../plots/", "](plots/") for line in lines)


def tables(text: str) -> list[str]:
    """Each markdown table in text: a run of lines starting with '|'."""
    return ["\n".join(run) for run in re.findall(r"((?:^\|.*\n?)+)", text, re.M) for run in [run.rstrip("\n").splitlines()]]


def prose(text: str) -> str:
    """text without its fenced code blocks and code spans, where [x](y) is not a link."""
    return re.sub(r"`[^`]+`", "", re.sub(r"^```.*?^```", "", text, flags=re.S | re.M))


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings: lower case, punctuation dropped, spaces to dashes."""
    slugs, seen = set(), {}
    for heading in re.findall(r"^#{1,6} (.+)$", re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        slugs.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return slugs


def relative_links(page: Path) -> list[tuple[Path, str]]:
    """(file, anchor) for every link of page that is not a web address, resolved from page's folder."""
    links = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        links.append(((page.parent / path).resolve() if path else page, anchor))
    return links


def test_the_readme_shows_the_report_word_for_word():
    readme, report = README.read_text(), report_as_the_readme_shows_it()
    excerpts = EXCERPT.findall(readme)
    assert excerpts, "the README shows no excerpt of reports/summary.md"
    for excerpt in excerpts:  # each a run of whole lines of the report, unchanged
        assert "\n" + excerpt.strip("\n") + "\n" in "\n" + report + "\n", excerpt[:300]
    shown = "\n".join(excerpts)
    assert tables(report)[0] in tables(shown), "the README must show the report's first table"
    results = readme[readme.index("\n## Results\n") : readme.index("\n## ", readme.index("\n## Results\n") + 1)]
    assert not tables(EXCERPT.sub("", results)), "every table of the README's results is an excerpt of the report"
    assert "](reports/summary.md)" in results, "the results link to the whole report"


def test_pictures_exist():
    for page in pages():
        for target in re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", prose(page.read_text())):
            assert (page.parent / target).is_file(), f"{page.relative_to(ROOT)}: {target}"


def test_every_relative_link_leads_somewhere():
    for page in pages():
        for path, anchor in relative_links(page):
            assert path.exists(), f"{page.relative_to(ROOT)}: {path} does not exist"
            if anchor and path.suffix == ".md":
                assert anchor in anchors(path), f"{page.relative_to(ROOT)}: {path.relative_to(ROOT)} has no heading #{anchor}"


def test_the_readme_links_every_page_of_docs():
    linked = {path for path, _ in relative_links(README)}
    for page in pages()[1:]:
        assert page.resolve() in linked, f"the README does not link {page.relative_to(ROOT)}"


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 300, "the README leads with the lesson; the rest goes to docs/"


def test_ci_runs_the_readme_test_command():
    command = next(line for line in README.read_text().splitlines() if line.endswith("&& pytest"))
    assert command in (ROOT / ".ci/run").read_text().splitlines()
