"""Printing results: Rich tables for people, JSON and CSV for machines."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from retainly.results import plain

# soft_wrap: long lines (paths, rejected values) stay whole instead of breaking at 80 columns.
console = Console(soft_wrap=True)
if not console.is_terminal:
    # Piped or captured output: wide tables stay whole instead of squeezing into 80 columns.
    console.width = max(console.width, 200)
errors = Console(stderr=True)


def _plain(value):
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    return value


def print_json(data) -> None:
    """JSON on stdout; results as their fields, exact decimals as numbers, NaN and infinities as
    null (strict JSON)."""
    sys.stdout.write(json.dumps(_finite(plain(data)), default=_plain, indent=2, allow_nan=False) + "\n")


def _finite(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value


def print_csv(rows: Sequence) -> None:
    rows = plain(list(rows))
    if not rows:
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _plain(v) for k, v in row.items()})


def print_record(title: str, record) -> None:
    """One object (a dict or a result) as a two-column table."""
    record = plain(record)
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in record.items():
        text = _human(value)
        # Numbers line up on the right; sentences (a model's reason) read from the left.
        table.add_row(key.replace("_", " "), Text(text, justify="left") if len(text) > 40 else text)
    console.print(table)


def print_rows(title: str, rows: Sequence) -> None:
    rows = plain(list(rows))
    table = Table(title=title, title_justify="left")
    if not rows:
        console.print(f"{title}: none")
        return
    for key in rows[0]:
        table.add_column(key.replace("_", " "))
    for row in rows:
        table.add_row(*(_human(v) for v in row.values()))
    console.print(table)


def _human(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dict):
        return ", ".join(f"{k} {_human(v)}" for k, v in value.items()) or "—"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value)


def show_progress(message: str) -> None:
    """One line per step the core reports (a derived result computed on the way), on a terminal only."""
    if errors.is_terminal:
        errors.print(f"[dim]{message}…[/dim]", highlight=False)


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
        task = progress.add_task(title, total=len(known), phase="")
        seen: list[str] = []

        def step(name: str) -> None:
            if seen:
                progress.advance(task)
            seen.append(name)
            if name not in known:
                known.append(name)
                progress.update(task, total=len(known))
            progress.update(task, phase=name)

        yield step
        progress.update(task, completed=len(known))
