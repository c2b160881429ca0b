"""The `retainly` command: a thin shell over ``Workspace``.

Errors end here: a ``RetainlyError`` (or a usage mistake) prints one line and exits 1;
anything unexpected prints one line too, and the traceback only with RETAINLY_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Optional

import typer
from typer.exceptions import TyperException

from retainly.cli.flags import db_first, flag_speller
from retainly.cli.output import OutputError, finish_output, show_progress, silence_stdout
from retainly.cli.tables import visible
from retainly.errors import RetainlyError
from retainly.workspace import Workspace

app = typer.Typer(
    name="retainly",
    help="Turn a shop's order history into retained customers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)
db_app = typer.Typer(help="Inspect and upgrade the store's schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


class _State:
    db: str | None = None


state = _State()


@app.callback()
def _global(
    url: Annotated[Optional[str], typer.Option(
        "--db", help="Store URL (duckdb:///file.duckdb, duckdb:////abs/file.duckdb, postgresql://user@host:port/db) "
        "or a .duckdb path, before or after the command. Default: $RETAINLY_DATABASE_URL, else ./retainly.duckdb.",
        metavar="URL")] = None,
) -> None:
    """Turn a shop's order history into retained customers.

    Example: retainly --db shop.duckdb import orders online_retail_II.csv.gz --preset online-retail-ii
    """
    state.db = url  # named `url` as the core names it (Workspace.open(url)), so its errors re-spell it as --db


def open_workspace(url: str | None = None, *, create: bool = False, read_only: bool = False) -> Workspace:
    """The store named by --db (or ``url``), reporting each derived result it computes on a terminal.

    Only the commands that bring data in ``create`` a store: any other refuses a mistyped --db
    instead of making an empty store. Commands that store nothing open it ``read_only``, so
    several can run at once on a DuckDB store."""
    return Workspace.open(url or state.db, create=create, read_only=read_only, progress=show_progress)


# Commands register themselves on `app` when their modules are imported.
from retainly.cli import commands  # noqa: E402,F401  (import for side effect)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    args = sys.argv[1:] if argv is None else argv
    try:
        args = db_first(args)  # --db may follow the command too
        app(args=args, prog_name="retainly", standalone_mode=False)
        finish_output()
    except RetainlyError as exc:  # parameter names in backticks become the flags of the command that ran
        _fail(exc.spelled(flag_speller(app, args)))
    except OutputError as exc:  # stdout is gone: a closed pipe ends quietly, anything else says so
        silence_stdout()
        if isinstance(exc.cause, BrokenPipeError):
            sys.exit(1)
        _fail(f"cannot write the output: {exc}")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        _fail("interrupted; nothing was changed by the unfinished step")
    except TyperException as exc:  # usage mistakes: unknown option, missing argument, bad value
        ctx = getattr(exc, "ctx", None)
        hint = f"; see `{ctx.command_path} --help`" if ctx is not None else ""
        _fail(f"{exc.format_message().rstrip('.')}{hint}")
    except KeyboardInterrupt:
        _fail("interrupted; nothing was changed by the unfinished step")
    except Exception as exc:  # noqa: BLE001 - the one place that turns surprises into a message
        if os.environ.get("RETAINLY_DEBUG"):
            traceback.print_exc()
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        _fail(f"unexpected {type(exc).__name__}: {detail} (run again with RETAINLY_DEBUG=1 for details and report it)")


def _fail(message: str) -> None:
    # Plain text, one line: scripts and tests match it exactly. Control characters from data
    # (a file name with an escape code) are shown escaped, never sent to the terminal.
    sys.stderr.write(f"error: {visible(message)}\n")
    sys.exit(1)

