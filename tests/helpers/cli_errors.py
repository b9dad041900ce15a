"""The project's contract for bad input on a command line, as one assertion."""


def assert_one_error_line(result, *needles: str) -> None:
    """`result` (a finished `subprocess.run`) is a refusal: exit status 2, no traceback, and
    exactly one `error:` line on stderr, containing every needle."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
