"""Output paths refused before any work (gnnpose_jax.paths): an output that is an input (the
same path, a symbolic or a hard link), two outputs of one file, names too long to create."""

import os

import pytest

from gnnpose_jax.atomic import TEMPORARY_NAME_EXTRA, atomic_file
from gnnpose_jax.cli import check_writable
from gnnpose_jax.errors import OutputError
from gnnpose_jax.paths import check_distinct, check_name_lengths, name_max, same_file


def test_same_file_sees_through_relative_paths_and_links(tmp_path, monkeypatch):
    target = tmp_path / "dets.json"
    target.write_text("[]")
    (tmp_path / "sym.json").symlink_to(target)
    os.link(target, tmp_path / "hard.json")
    (tmp_path / "other.json").write_text("[]")
    monkeypatch.chdir(tmp_path)
    assert same_file("dets.json", target)
    assert same_file(tmp_path / "sub/../dets.json", target)
    assert same_file("sym.json", target) and same_file("hard.json", target)
    assert not same_file("other.json", target)  # same content, another file
    assert not same_file("new.json", target) and same_file("new.json", tmp_path / "new.json")


def test_check_distinct_refuses_an_output_that_is_an_input_or_another_output(tmp_path):
    dets = tmp_path / "dets.json"
    dets.write_text("[]")
    os.link(dets, tmp_path / "hard.json")
    with pytest.raises(OutputError, match=r"--output .*hard.json: is also the input "
                                          r"--detections .*dets.json"):
        check_distinct([("--output", tmp_path / "hard.json")], [("--detections", dets)])
    with pytest.raises(OutputError, match=r"--render .*x.mp4 and --output .*x.mp4: name the "
                                          r"same file"):
        check_distinct([("--render", tmp_path / "x.mp4"), ("--output", tmp_path / "x.mp4")])
    check_distinct([("--output", tmp_path / "pred.json"), ("--render", tmp_path / "x.mp4"),
                    ("--config", None)], [("--detections", dets), ("--hrnet", None)])


def test_names_over_the_limit_are_refused_with_room_for_the_temporary(tmp_path):
    limit = name_max(tmp_path)
    longest = "a" * (limit - TEMPORARY_NAME_EXTRA - 5) + ".json"
    check_name_lengths(tmp_path / longest, "--output")
    with atomic_file(tmp_path / longest) as tmp:  # its temporary sibling fits too
        tmp.write_text("{}")
    assert (tmp_path / longest).read_text() == "{}"
    with pytest.raises(OutputError, match=rf"--output .*: a name of {limit - 3} bytes .*at most "
                                          rf"{limit - TEMPORARY_NAME_EXTRA} bytes"):
        check_name_lengths(tmp_path / ("b" * (limit - 8) + ".json"), "--output")
    with pytest.raises(OutputError, match=rf"--out .*: a name of 256 bytes .*at most {limit} "):
        check_writable(tmp_path / ("c" * 256) / "x.json", "--out")  # a folder name too
    assert list(tmp_path.iterdir()) == [tmp_path / longest]
