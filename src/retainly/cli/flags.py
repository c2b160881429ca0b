"""The flags of the command that ran, to re-spell the core's parameter names in error messages.

The core names a parameter in backticks as the Python API spells it (`by`, `as_of`); the CLI
prints the flag that sets it (--by, --as-of), or an argument's metavar (KIND). A name that the
command does not take stays as written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import typer
from typer.core import TyperGroup


def flag_speller(app: typer.Typer, argv: Sequence[str]) -> Callable[[str], str | None]:
    """``spell`` for ``RetainlyError.spelled``: a parameter name → its flag in the command ``argv`` runs."""
    flags = command_flags(app, argv)
    return flags.get


def command_flags(app: typer.Typer, argv: Sequence[str]) -> dict[str, str]:
    """Parameter name → flag (or argument metavar) of the groups and command that ``argv`` invokes.

    The command's own names win over its groups' (the global --db) when both have one.
    """
    flags: dict[str, str] = {}
    for command in invoked(app, argv):
        flags.update(_flags_of(command))
    return flags


def invoked(app: typer.Typer, argv: Sequence[str]) -> list:
    """The root group, any subgroups and the command ``argv`` names, outermost first."""
    command = typer.main.get_command(app)
    chain = [command]
    args = list(argv)
    while isinstance(command, TyperGroup) and args:
        name = _next_command_name(command, args)
        if name is None:
            break
        sub = command.get_command(typer.Context(command), name)
        if sub is None:
            break
        chain.append(sub)
        command = sub
    return chain


def _next_command_name(group: TyperGroup, args: list[str]) -> str | None:
    """Pop the group's own options (``--db URL``, ``--db=URL``) off ``args``, then the command name."""
    takes_value = {opt for param in group.params if param.param_type_name == "option" and not param.is_flag
                   for opt in param.opts}
    while args:
        token = args.pop(0)
        if token == "--":
            return args.pop(0) if args else None
        if not token.startswith("-") or token == "-":
            return token
        if token in takes_value and args:
            args.pop(0)  # the option's value
    return None


def _flags_of(command) -> dict[str, str]:
    flags = {}
    for param in command.params:
        if param.name is None:
            continue
        if param.param_type_name == "argument":
            flags[param.name] = param.metavar or param.name.upper()
            continue
        long = [opt for opt in param.opts if opt.startswith("--")]
        if long:
            flags[param.name] = long[0]
    return flags


def db_first(argv: Sequence[str]) -> list[str]:
    """``argv`` with a ``--db URL`` given after the command moved to the front, where the root reads it.

    `retainly summary --db shop.duckdb` then runs as `retainly --db shop.duckdb summary`, for
    every command and subcommand. Tokens after ``--`` are arguments and stay where they are.
    The store given twice with two different values is refused rather than one silently winning.
    """
    args = list(argv)
    end = args.index("--") if "--" in args else len(args)
    stores: list[str] = []
    rest: list[str] = []
    i = 0
    while i < end:
        token = args[i]
        if token == "--db":
            if i + 1 >= end:
                raise typer.BadParameter("it needs the store's URL or a .duckdb path after it", param_hint="'--db'")
            stores.append(args[i + 1])
            i += 2
            continue
        if token.startswith("--db="):
            stores.append(token[len("--db="):])
        else:
            rest.append(token)
        i += 1
    if len(set(stores)) > 1:
        raise typer.BadParameter(f"given twice ({', '.join(stores)}); name one store", param_hint="'--db'")
    return [*(["--db", stores[0]] if stores else []), *rest, *args[end:]]
