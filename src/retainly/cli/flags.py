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
