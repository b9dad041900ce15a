"""docs/code_map.md against the files on disk: every module has a line, and a test file of its own
or a row in the table of where it is tested, whose test files exist and reach it."""

import ast
import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CODE_MAP = ROOT / "docs" / "code_map.md"
ENTRY_SCRIPTS = ("train.py", "evaluate.py", "convert_weights/__main__.py")
TABLE = "Where each module is tested"


def _modules() -> list[str]:
    """Every module of the package and every entry script, as repository paths."""
    package = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "gnnpose_jax").rglob("*.py")
                     if p.name != "__init__.py")
    return package + list(ENTRY_SCRIPTS)


def _own_test(module: str) -> Path:
    """The mirrored test file: tests/P/test_M.py, or tests/P/test_S.py for a subpackage S."""
    parts = Path(module).with_suffix("").parts
    inner = parts[1:] if parts[0] == "gnnpose_jax" else parts
    folder, name = inner[:-1], inner[-1]
    if len(folder) > 1:
        folder, name = folder[:1], folder[1]
    return ROOT.joinpath("tests", *folder, f"test_{name}.py")


def _sections() -> dict[str, str]:
    """The map's text per `## ` heading."""
    parts = re.split(r"^## (.*)$", CODE_MAP.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def _table() -> dict[str, list[str]]:
    """Module -> the test files of the 'Where each module is tested' table."""
    section = _sections()[TABLE]
    rows = re.findall(r"^\| `([^`]+)` \| (.*) \|$", section, flags=re.M)
    return {module: re.findall(r"`(tests/[^`]+\.py)`", cell) for module, cell in rows}


def _file_of(name: str) -> Path | None:
    """The repository file of a dotted module name, if it is ours."""
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


@functools.cache
def _imports(path: Path) -> tuple[Path, ...]:
    """Our files that `path` imports directly (a package's `__init__` included)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            for i in range(1, name.count(".") + 2):
                file = _file_of(".".join(name.split(".")[:i]))
                if file is not None:
                    found.append(file)
    return tuple(found)


def _reached(starts: list[Path]) -> set[Path]:
    """Our files that `starts` import, directly or through the files they import."""
    seen, todo = set(), list(starts)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_imports(path))
    return seen


@functools.cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _mentioned(module: str, test: Path) -> bool:
    """Whether a test names the module as a command: `-m` name or script path."""
    dotted = module.removesuffix(".py").removesuffix("/__main__").replace("/", ".")
    text = _text(test)
    return re.search(rf"{re.escape(dotted)}\b", text) is not None or module in text


@functools.cache
def _covered_by(test: Path) -> frozenset[Path]:
    """What `test` imports, and what the commands it runs import."""
    commands = [ROOT / m for m in _modules() if _mentioned(m, test)]
    return frozenset(_reached([test, *commands]))


def _reaches(test: Path, module: str) -> bool:
    """Whether `test` imports `module`, or runs a command that does (or is it)."""
    return ROOT / module in _covered_by(test)


def test_every_module_has_a_line_in_its_section():
    sections = _sections()
    del sections[TABLE]
    for module in _modules():
        parts = Path(module).parts
        if parts[0] == "gnnpose_jax" and len(parts) > 2:  # in its package's section
            text = next(body for head, body in sections.items() if f"`{parts[1]}/`" in head)
            pattern = rf"`([\w/]*/)?{re.escape(parts[-1])}`"
        else:  # a top-level module or an entry script, anywhere
            text = "".join(sections.values())
            pattern = rf"`(gnnpose_jax/)?{re.escape(module.removeprefix('gnnpose_jax/'))}`"
        assert re.search(pattern, text), f"{module}: not in the map"


def test_the_table_lists_exactly_the_modules_without_a_test_file():
    table = _table()
    assert table, "no table rows found"
    without = {m for m in _modules() if not _own_test(m).is_file()}
    assert set(table) - set(_modules()) == set(), "rows for modules that do not exist"
    assert without - set(table) == set(), "modules with neither a test file nor a row"
    assert set(table) - without == set(), "rows for modules that have a test file of their own"


def test_the_tables_test_files_exist_and_reach_their_module():
    for module, tests in _table().items():
        assert tests, f"{module}: no test file named"
        for name in tests:
            test = ROOT / name
            assert test.is_file(), f"{module}: {name} does not exist"
            assert _reaches(test, module), f"{module}: {name} neither imports it nor runs it"


def test_the_rule_and_the_checks_agree_on_known_cases():
    assert _own_test("gnnpose_jax/data/posetrack/read.py") == ROOT / "tests/data/test_posetrack.py"
    assert _own_test("gnnpose_jax/atomic.py") == ROOT / "tests/test_atomic.py"
    assert _own_test("gnnpose_jax/models/hrnet.py") == ROOT / "tests/models/test_hrnet.py"
    tracker = ROOT / "tests/tracking/test_tracker.py"
    assert _reaches(tracker, "gnnpose_jax/tracking/oks.py")
    assert not _reaches(tracker, "gnnpose_jax/training/loop.py")
    pt21_cli = ROOT / "tests/cli/test_evaluate_pt21_cli.py"
    assert _mentioned("evaluate.py", pt21_cli) and not _mentioned("evaluate.py", tracker)
    report = "gnnpose_jax/evaluation/pt21_report.py"
    assert ROOT / report not in _reached([pt21_cli]) and _reaches(pt21_cli, report)  # by command
