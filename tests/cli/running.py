"""Running the `retainly` command in-process, as a shell would: the exit code it ends with."""

import contextlib
import io

from retainly.cli.app import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as done:
        return done.code
    return 0


def captured(argv: list[str]) -> tuple[int, str, str]:
    """Run ``retainly argv`` in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run(argv)
    return code, out.getvalue(), err.getvalue()
