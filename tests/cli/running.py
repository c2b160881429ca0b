"""Running the `retainly` command in-process, as a shell would: the exit code it ends with."""

from retainly.cli.app import main


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as done:
        return done.code
    return 0
