"""Every document the code and docs cite lies inside the repository, down to spec sections."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What is scanned: the library, configs, tools, tests and every document.
SCANNED = ["gnnpose_jax", "convert_weights", "configs", "benchmarks", "tests", "docs",
           "README.md", "BENCHMARKS.md", "train.py", "evaluate.py"]

#: Notes that once lived outside the repository; their content is docs/spec/ now.
OUTSIDE_NOTES = re.compile(r"\b(?:METHOD|METRICS|PT21|DETECTOR|HRNET|DESIGN|STYLE)\.md\b")
#: A path into the folder beside the checkout, other than the optional sample data.
OUTSIDE_PATH = re.compile(r"shared/(?!data/posetrack18_samples\b)|/work/")
#: A cited document, and a cited spec section (`docs/spec/method.md §2`, `... §2-3`).
DOC = re.compile(r"docs/[\w/.-]*?\.md\b")
SPEC_SECTION = re.compile(r"(docs/spec/\w+\.md) §(\d+)(?:-(\d+))?")
#: A bare section reference inside a spec file: to that file's own sections.
OWN_SECTION = re.compile(r"(?<![\w.]\.md )§(\d+)(?:-(\d+))?")
HEADING = re.compile(r"^## (\d+)\. ", re.MULTILINE)


def _texts() -> dict[str, str]:
    """Every .py and .md file under SCANNED but this one (its patterns would match themselves)."""
    files = []
    for name in SCANNED:
        path = ROOT / name
        files += [path] if path.is_file() else sorted(path.rglob("*"))
    return {
        f.relative_to(ROOT).as_posix(): f.read_text(encoding="utf-8")
        for f in files
        if f.suffix in (".py", ".md") and "__pycache__" not in f.parts
        and f != Path(__file__).resolve()
    }


TEXTS = _texts()


def _sections(doc: str) -> list[int]:
    """The numbers of a document's `## N.` headings, in order."""
    return [int(n) for n in HEADING.findall((ROOT / doc).read_text(encoding="utf-8"))]


def _line(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def test_the_scan_sees_the_code_and_the_spec():
    assert "gnnpose_jax/tracking/tracker.py" in TEXTS
    assert {"docs/spec/method.md", "docs/spec/metrics.md", "docs/spec/pt21.md",
            "docs/spec/detector.md", "docs/spec/hrnet.md"} <= set(TEXTS)


def test_nothing_names_notes_or_paths_outside_the_repository():
    found = [
        f"{name}:{_line(text, m.start())}: {m.group(0)}"
        for name, text in TEXTS.items()
        for pattern in (OUTSIDE_NOTES, OUTSIDE_PATH)
        for m in pattern.finditer(text)
    ]
    assert found == []


def test_cited_documents_exist():
    missing = [
        f"{name}:{_line(text, m.start())}: {m.group(0)}"
        for name, text in TEXTS.items()
        for m in DOC.finditer(text)
        if not (ROOT / m.group(0)).is_file()
    ]
    assert missing == []


@pytest.mark.parametrize("doc", sorted(d for d in TEXTS if d.startswith("docs/spec/")))
def test_spec_sections_are_numbered_from_one(doc):
    numbers = _sections(doc)
    assert numbers == list(range(1, len(numbers) + 1)) and numbers


def test_cited_spec_sections_exist():
    bad = []
    for name, text in TEXTS.items():
        refs = [(m.group(1), m) for m in SPEC_SECTION.finditer(text)]
        if name.startswith("docs/spec/"):
            refs += [(name, m) for m in OWN_SECTION.finditer(text)]
        for doc, m in refs:
            numbers = [int(g) for g in m.groups() if g and g.isdigit()]
            if not (ROOT / doc).is_file() or not set(numbers) <= set(_sections(doc)):
                bad.append(f"{name}:{_line(text, m.start())}: {m.group(0)}")
    assert bad == []


def test_the_checks_catch_what_they_are_for():
    """The patterns flag an outside note, an outside path and a missing section."""
    assert OUTSIDE_NOTES.search("see METHOD.md section 2")
    assert OUTSIDE_PATH.search("/shared/notes.md")
    assert not OUTSIDE_PATH.search("../shared/data/posetrack18_samples/videos")
    refs = SPEC_SECTION.findall("docs/spec/method.md §2-3 and docs/spec/hrnet.md §9")
    assert refs == [("docs/spec/method.md", "2", "3"), ("docs/spec/hrnet.md", "9", "")]
    assert 9 not in _sections("docs/spec/hrnet.md")
    assert OWN_SECTION.findall("rules of §2 and docs/spec/pt21.md §4") == [("2", "")]
