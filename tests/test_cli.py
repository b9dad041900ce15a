"""Command-line plumbing (gnnpose_jax.cli): one-line errors with exit status 2, output paths
refused before any work, the inference flags, and the console scripts (each answers --help)."""

import argparse
import importlib
import os
import sys
from pathlib import Path

import pytest

from gnnpose_jax.cli import add_inference_arguments, check_writable, program, run_cli
from gnnpose_jax.errors import DataError, OutputError


def test_run_cli_turns_project_errors_into_one_line_and_status_2(capsys):
    def fails():
        raise DataError("x.json: frame 3: bad keypoints")

    with pytest.raises(SystemExit) as info:
        run_cli(fails)
    assert info.value.code == 2
    assert capsys.readouterr().err == "error: x.json: frame 3: bad keypoints\n"
    for returned, status in ((None, 0), (0, 0), (3, 3)):
        with pytest.raises(SystemExit) as info:
            run_cli(lambda returned=returned: returned)
        assert info.value.code == status
    with pytest.raises(ValueError):  # anything else is a bug: its traceback shows
        run_cli(lambda: int("x"))


def test_check_writable_refuses_what_cannot_be_written(tmp_path):
    check_writable(tmp_path / "new" / "deeper" / "out.json", "--output")  # parents are made
    check_writable(tmp_path / "renders", "--render", folder=True)
    (tmp_path / "file").write_text("")
    (tmp_path / "out.json").mkdir()
    with pytest.raises(OutputError, match=r"--output .*out.json: is a folder; expected a file"):
        check_writable(tmp_path / "out.json", "--output")
    with pytest.raises(OutputError, match="is a file; expected a folder"):
        check_writable(tmp_path / "file", "--render", folder=True)
    with pytest.raises(OutputError, match=r"file is a file, not a folder"):
        check_writable(tmp_path / "file" / "out.json", "--output")
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(OutputError, match="permission denied"):
            check_writable(locked / "out.json", "--output")


def test_inference_flags_take_positive_integers(capsys):
    parser = argparse.ArgumentParser()
    add_inference_arguments(parser)
    args = parser.parse_args([])
    assert (args.batch_size, args.max_tracks, args.flip_test) == (8, 16, False)
    args = parser.parse_args(["--batch-size", "3", "--max-tracks", "2", "--flip-test"])
    assert (args.batch_size, args.max_tracks, args.flip_test) == (3, 2, True)
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit):
            parser.parse_args(["--batch-size", bad])
        assert f"expected a positive integer, got '{bad}'" in capsys.readouterr().err


#: Each console script, a flag its --help must list, and its module as `python -m` names it.
SCRIPTS = {
    "gnnpose-train": ("--config.KEY=VALUE", "gnnpose_jax.train"),
    "gnnpose-evaluate": ("--per-sequence", "gnnpose_jax.evaluate"),
    "gnnpose-track": ("--detections", "gnnpose_jax.track"),
    "gnnpose-detect": ("--conf", "gnnpose_jax.detect"),
    "gnnpose-convert": ("--input-size", "convert_weights"),
}


def _console_scripts() -> dict[str, str]:
    """name -> "module:function" of pyproject.toml's [project.scripts]."""
    text = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    section = text.split("[project.scripts]\n", 1)[1].split("\n[", 1)[0]
    pairs = (line.split("=", 1) for line in section.splitlines() if "=" in line)
    return {name.strip(): target.strip().strip('"') for name, target in pairs}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_every_console_script_answers_help(script, monkeypatch, capsys):
    target = _console_scripts()[script]
    module_name, function = target.split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function))
    flag, run_as = SCRIPTS[script]
    monkeypatch.setattr(sys, "argv", [f"/venv/bin/{script}", "--help"])
    with pytest.raises(SystemExit) as info:
        module.cli()
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert flag in text
    # The usage line names the command as it was started.
    assert f"{script} " in text and f"python -m {run_as}" in text


def test_console_scripts_are_exactly_the_commands():
    assert set(_console_scripts()) == set(SCRIPTS)


def test_program_names_the_command_as_started(monkeypatch):
    package = Path(program.__code__.co_filename).parent
    for argv0, name in (("/venv/bin/gnnpose-track", "gnnpose-track"),
                        ("evaluate.py", "evaluate.py"),
                        (str(package / "track.py"), "python -m gnnpose_jax.track"),
                        (str(package.parent / "convert_weights" / "__main__.py"),
                         "python -m convert_weights")):
        monkeypatch.setattr(sys, "argv", [argv0])
        assert program() == name
