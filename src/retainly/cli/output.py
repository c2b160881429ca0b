"""Printing results: tables for people, JSON and CSV for machines, and what happens when printing fails.

Nothing a command prints is read as Rich markup or emoji codes, and control characters in
data are shown escaped (see ``tables.visible``): a customer named ``[/b]`` or a file name
holding a terminal escape code prints as written. Tables never cut a number (``tables``).
CSV cells that a spreadsheet would run as a formula are neutralised (``csv_cells``).
A failure to write stdout is an ``OutputError``; after a change is saved, ``after_commit``
turns any failure to print its report into a warning, so the exit code still says "saved".
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from retainly.cli import tables
from retainly.cli.tables import visible
from retainly.csv_cells import neutralise_cell
from retainly.results import plain
from retainly.results.base import cell, json_text


class OutputError(Exception):
    """Writing to stdout failed (a full disk, a closed pipe): what was printed may be incomplete."""

    def __init__(self, cause: OSError):
        super().__init__(cause.strerror or str(cause))
        self.cause = cause


class _Stdout:
    """The current sys.stdout (tests and captures swap it), turning a failed write into an ``OutputError``."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except OSError as exc:
            raise OutputError(exc) from exc

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except OSError as exc:
            raise OutputError(exc) from exc

    def __getattr__(self, name):
        return getattr(sys.stdout, name)


class _PlainConsole(Console):
    """A console for data: strings are shown as written, control characters escaped, never markup."""

    def render_str(self, text: str, **options) -> Text:
        return super().render_str(visible(text), **{**options, "markup": False, "emoji": False, "highlight": False})


_stdout = _Stdout()
# soft_wrap: long lines (paths, rejected values) stay whole instead of breaking at 80 columns.
console = _PlainConsole(file=_stdout, soft_wrap=True, markup=False, emoji=False, highlight=False)
if not console.is_terminal:
    # Piped or captured output: wide tables stay whole instead of squeezing into 80 columns.
    console.width = max(console.width, 200)
errors = Console(stderr=True)


def print_json(data) -> None:
    """JSON on stdout; results as their fields, exact decimals as numbers, NaN and infinities as
    null (strict JSON)."""
    _stdout.write(json_text(data, indent=2) + "\n")


def print_csv(rows: Sequence, columns: Sequence[str] = ()) -> None:
    """Rows as CSV with a header: every key any row has, in order of appearance (missing cells empty);
    ``columns`` when there are no rows (nothing at all without them).

    Text that a spreadsheet would run as a formula gets a leading apostrophe; numbers stay numbers."""
    rows = plain(list(rows))
    if not rows and not columns:
        return
    writer = csv.DictWriter(_stdout, fieldnames=[neutralise_cell(key) for key in _keys(rows) or columns])
    writer.writeheader()
    for row in rows:
        writer.writerow({neutralise_cell(k): neutralise_cell(cell(v)) for k, v in row.items()})


def _keys(rows: list[dict]) -> list[str]:
    # From every row, not the first only: a model that failed has no metrics, the next one has.
    return list(dict.fromkeys(key for row in rows for key in row))


def say(message: str) -> None:
    """One line of text on stdout, shown as written."""
    console.print(Text(visible(message)))


def print_record(title: str, record) -> None:
    """One object (a dict or a result) as a two-column table."""
    record = plain(record)
    columns = [tables.column("", [key.replace("_", " ") for key in record], style="bold"),
               tables.column("", list(record.values()), record=True)]
    _print_table(title, columns, show_header=False)


def print_rows(title: str, rows: Sequence) -> None:
    """Rows as a table whose columns are every key any row has; a table too wide is printed in parts."""
    rows = plain(list(rows))
    if not rows:
        say(f"{title}: none")
        return
    columns = [tables.column(key.replace("_", " "), [row.get(key) for row in rows]) for key in _keys(rows)]
    _print_table(title, columns)


def _print_table(title: str, columns: list[tables.Column], show_header: bool = True) -> None:
    width = console.width
    sizes = tables.widths(columns, width)
    if sizes is not None:
        console.print(tables.render(title, columns, sizes, show_header))
        return
    split = tables.parts(columns, width) if show_header else None
    if split is None:
        for line in tables.blocks(title, columns, show_header):
            console.print(line)
        return
    for number, part in enumerate(split, 1):
        console.print(tables.render(f"{title} (part {number} of {len(split)})", part, tables.widths(part, width)))


def warn(message: str) -> None:
    """One line on stderr, prefixed ``warning:``."""
    sys.stderr.write(f"warning: {visible(message)}\n")


def silence_stdout() -> None:
    """Point stdout at the null device after it failed, so that Python's last flush cannot fail again."""
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured output (tests): nothing to redirect
        return
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, descriptor)
    os.close(null)


def finish_output() -> None:
    """Flush stdout, so that a failure to write it is reported here and not at Python's exit."""
    _stdout.flush()


@contextmanager
def after_commit(saved: str) -> Iterator[None]:
    """Print the report of a change already committed (``saved`` names it: "import #3 of orders.csv").

    If printing fails, the change still stands: a one-line warning goes to stderr and the
    command goes on (its exit code stays 0)."""
    try:
        yield
        finish_output()
    except Exception as exc:  # noqa: BLE001 - whatever broke the report, the data is saved
        if isinstance(exc, OutputError):
            silence_stdout()
        reason = str(exc) if isinstance(exc, OutputError) else f"{type(exc).__name__}: {_first_line(exc)}"
        warn(f"{saved} is saved, but its report could not be printed ({reason})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


def show_progress(message: str) -> None:
    """One line per step the core reports (a derived result computed on the way), on a terminal only."""
    if errors.is_terminal:
        errors.print(Text(f"{visible(message)}…", style="dim"))


@contextmanager
def phases(title: str, names: Sequence[str], quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A progress bar over named phases; yields ``step(name)`` to call as each phase starts."""
    # Off when stderr is not a terminal (pipes, CI logs): a bar there is only noise.
    if quiet or not errors.is_terminal:
        yield lambda _name: None
        return
    progress = Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[phase]}"),
        TimeElapsedColumn(), console=errors, transient=True,
    )
    known = list(names)
    with progress:
        # The columns read markup: a file name like "[/x].csv" must be escaped to show as written.
        task = progress.add_task(escape(visible(title)), total=len(known), phase="")
        seen: list[str] = []

        def step(name: str) -> None:
            if seen:
                progress.advance(task)
            seen.append(name)
            if name not in known:
                known.append(name)
                progress.update(task, total=len(known))
            progress.update(task, phase=escape(visible(name)))

        yield step
        progress.update(task, completed=len(known))
