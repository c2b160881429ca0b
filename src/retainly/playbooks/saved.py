"""Playbooks as a shop has them: the built-in library, and the shop's own or edited copies
stored in ``playbooks`` with whether each is enabled.

A built-in that was never saved is listed from the library, disabled. Enabling, disabling or
editing one saves its definition (``builtin`` keeps the library name it came from), so a later
retainly with a changed library never changes what a shop has enabled underneath it.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import yaml

from retainly.errors import InputError, NotFoundError
from retainly.playbooks.definition import Playbook, from_json, to_json
from retainly.playbooks.library import builtins
from retainly.store.backends import Store


def all_playbooks(store: Store) -> list[Playbook]:
    """Every playbook: the saved ones with their enabled flag, then built-ins never saved (disabled)."""
    stored = {}
    for name, enabled, definition in store.fetchall("SELECT name, enabled, definition FROM playbooks ORDER BY name"):
        stored[name] = from_json({**json.loads(definition), "enabled": bool(enabled)}, f"stored playbook {name!r}")
    merged = {**{p.name: p for p in builtins()}, **stored}
    return [merged[name] for name in sorted(merged, key=lambda n: (-merged[n].priority, n))]


def get(store: Store, name: str) -> Playbook:
    found = {p.name: p for p in all_playbooks(store)}
    if name not in found:
        raise NotFoundError(f"no playbook named {name!r}; `retainly playbooks list` shows them")
    return found[name]


def enabled(store: Store) -> list[Playbook]:
    return [p for p in all_playbooks(store) if p.enabled]


def save(store: Store, playbook: Playbook, enabled: bool | None = None) -> Playbook:
    """Store ``playbook`` (its enabled flag unless ``enabled`` is given)."""
    flag = playbook.enabled if enabled is None else enabled
    shipped = {p.name for p in builtins()}
    with store.transaction():
        store.execute("DELETE FROM playbooks WHERE name = ?", (playbook.name,))
        store.execute("INSERT INTO playbooks (name, enabled, definition, builtin, updated_at) VALUES (?, ?, ?, ?, ?)",
                      (playbook.name, flag, json.dumps(to_json(playbook), sort_keys=True),
                       playbook.name if playbook.name in shipped else None, datetime.now()))
    return get(store, playbook.name)


def set_enabled(store: Store, names: list[str], flag: bool) -> list[Playbook]:
    """Enable or disable playbooks by name (``all`` for every one)."""
    chosen = [p.name for p in all_playbooks(store)] if names == ["all"] else names
    return [save(store, get(store, name), enabled=flag) for name in chosen]


def read_definition(path: str | Path) -> dict:
    """A playbook definition from a JSON, TOML or YAML file (the shape `playbooks show --json` prints)."""
    path = Path(path)
    if not path.exists():
        raise NotFoundError(f"playbook file {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix == ".json":
            return json.loads(text)
        if path.suffix == ".toml":
            import tomllib

            return tomllib.loads(text)
        if path.suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InputError(f"{path}: not valid {path.suffix[1:].upper()} ({str(exc).splitlines()[0]})") from None
    raise InputError(f"{path}: give a .json, .toml or .yaml file")
