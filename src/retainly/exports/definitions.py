"""Saved audience exports (docs/exports.md): a name, a target, a source, the target's options, and
whether runs send only the changes (``incremental``) and run with `retainly run` (``scheduled``).

A **target** is a file format or a platform's API (``TARGETS``); it fixes the consent a customer
needs to be sent (email services: email consent; ad platforms: consent to advertising; generic
files: the one their ``consent`` option names) and the options it takes. A **source** is a saved
audience (``audience:<name>``) or the customers a playbook's export step handed to this export
(``playbook:<name>``). Options are checked when the export is saved, so a run never meets a bad one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from retainly.audiences import membership
from retainly.errors import ConflictError, InputError, NotFoundError
from retainly.exports.formats import COLUMNS, check_tags
from retainly.exports.normalise import check_country
from retainly.exports.platforms import MAILCHIMP_NEW_STATUSES
from retainly.playbooks import saved
from retainly.store.backends import Store

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONSENTS = ("email", "sms", "ads")
VK_HASHED = ("email_md5", "phone_md5")  # personal data leaves hashed where the platform takes hashes
REMOVALS = ("archive", "untag")
_COMMON = ("default_country",)
_FILE = ("folder",)
_API = ("base_url", "credentials_env")


@dataclass(frozen=True)
class Target:
    name: str
    platform: str | None  # how identifiers are normalised (retainly.exports.normalise); None: generic, as stored
    api: bool
    consent: str | None  # what a customer must have consented to; None: the export's `consent` option
    options: tuple[str, ...]
    required: tuple[str, ...] = ()
    credentials: str | None = None  # the environment variable holding the key, unless `credentials_env` names one
    help: str = ""


TARGETS = {target.name: target for target in (
    Target("mailchimp_csv", "mailchimp", False, "email", (*_COMMON, *_FILE, "tags"),
           help="Mailchimp's import CSV (Email Address, First Name, Last Name, Phone Number, Birthday, Tags)"),
    Target("mailchimp_api", "mailchimp", True, "email",
           (*_COMMON, *_API, "list_id", "tags", "status_if_new", "removal"), ("list_id",),
           "RETAINLY_MAILCHIMP_API_KEY", "Mailchimp Marketing API: members upserted by subscriber hash, in batches"),
    Target("unisender_csv", "unisender", False, "email", (*_COMMON, *_FILE, "list_ids", "tags"),
           help="Unisender's import columns (email, phone, Name, email_list_ids, tags) as a CSV"),
    Target("unisender_api", "unisender", True, "email", (*_COMMON, *_API, "list_ids", "tags"), ("list_ids",),
           "RETAINLY_UNISENDER_API_KEY", "Unisender importContacts, 500 rows a call"),
    Target("google_csv", "google", False, "ads", (*_COMMON, *_FILE),
           help="Google Ads Customer Match CSV: Email, Phone, First Name, Last Name SHA-256; Country, Zip in clear"),
    Target("meta_csv", "meta", False, "ads", (*_COMMON, *_FILE),
           help="Meta Custom Audiences file: every column SHA-256"),
    Target("meta_api", "meta", True, "ads", (*_COMMON, *_API, "audience_id"), ("audience_id",),
           "RETAINLY_META_ACCESS_TOKEN", "Meta Custom Audiences API: POST/DELETE /{audience_id}/users"),
    Target("vk_csv", "vk", False, "ads", (*_COMMON, *_FILE, "identifier"),
           help="VK Ads list: one MD5-hashed identifier a line, header id"),
    Target("csv", None, False, None, (*_FILE, "fields", "consent"), ("fields",),
           help="the chosen fields as they are stored, UTF-8 CSV"),
    Target("parquet", None, False, None, (*_FILE, "fields", "consent"), ("fields",),
           help="the chosen fields as they are stored, Parquet"),
)}


@dataclass(frozen=True)
class Export:
    name: str
    target: str
    source: str
    options: dict
    incremental: bool = True
    scheduled: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def spec(self) -> Target:
        return TARGETS[self.target]

    def consent(self) -> str:
        """What a customer must have consented to for this export: email, sms or ads."""
        return self.spec.consent or self.options.get("consent", "email")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InputError(f"`name` {name!r}: an export's name is letters, digits, '_' and '-' (at most 80), "
                         "starting with a letter or digit", parameter="name")
    return name


def check_target(target: str) -> Target:
    if target not in TARGETS:
        raise InputError(f"`target` {target!r} is not one retainly exports to; use one of {', '.join(TARGETS)}",
                         parameter="target")
    return TARGETS[target]


def parse_source(source: str) -> tuple[str, str]:
    """(``audience`` or ``playbook``, its name) of a source written ``audience:<name>`` or ``playbook:<name>``."""
    kind, _, name = str(source or "").partition(":")
    if kind not in ("audience", "playbook") or not name.strip():
        raise InputError(f"`source` {source!r}: write audience:<saved audience> or playbook:<playbook with an "
                         "export step>", parameter="source")
    return kind, name.strip()


def check_source(store: Store, source: str, export_name: str) -> str:
    """``source``, once what it names exists: the saved audience, or a playbook with a step exporting here."""
    kind, name = parse_source(source)
    if kind == "audience":
        membership.get(store, name)
        return f"audience:{name}"
    playbook = saved.get(store, name)
    if not any(step.action == "export" and step.export == export_name for step in playbook.steps):
        raise InputError(f"`source` {source!r}: playbook {name!r} has no step exporting to {export_name!r}; add a "
                         f'step {{"action": "export", "export": "{export_name}"}} with `retainly playbooks edit`',
                         parameter="source")
    return f"playbook:{name}"


def check_options(target: Target, options: dict | None) -> dict:
    """``options`` for ``target``, checked and in their stored form (lists as lists, ids as numbers)."""
    options = {key: value for key, value in (options or {}).items() if value is not None}
    unknown = sorted(set(options) - set(target.options))
    if unknown:
        raise InputError(f"`options`: {target.name} has no option {unknown[0]!r}; its options are "
                         f"{', '.join(target.options)}", parameter="options")
    missing = [key for key in target.required if key not in options]
    if missing:
        raise InputError(f"`options`: {target.name} needs the option {missing[0]!r} ({_HELP[missing[0]]})",
                         parameter="options")
    return {key: _OPTION_CHECKS[key](value, target) for key, value in sorted(options.items())}


def _text(key: str):
    def check(value, target: Target) -> str:
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"`options`: {key} = {value!r}; give {_HELP[key]}", parameter="options")
        return value.strip()
    return check


def _listed(value) -> list:
    return [part.strip() for part in value.split(",")] if isinstance(value, str) else list(value or [])


def _choice(key: str, choices: tuple[str, ...]):
    def check(value, target: Target) -> str:
        if value not in choices:
            raise InputError(f"`options`: {key} = {value!r}; use one of {', '.join(choices)} ({_HELP[key]})",
                             parameter="options")
        return value
    return check


def _fields(value, target: Target) -> list[str]:
    fields = _listed(value)
    unknown = [field for field in fields if field not in COLUMNS]
    if not fields or unknown or len(set(fields)) != len(fields):
        raise InputError(f"`options`: fields = {value!r}; name each of the fields to write once, from "
                         f"{', '.join(COLUMNS)} (customer: the shop's id; zip: the postal code)", parameter="options")
    return fields


def _list_ids(value, target: Target) -> list[int]:
    found = []
    for part in _listed(value):
        text = str(part).strip()
        if isinstance(part, bool) or not text.isdigit() or int(text) <= 0:
            raise InputError(f"`options`: list_ids = {value!r}; give Unisender list ids, positive whole numbers "
                             "separated by commas", parameter="options")
        found.append(int(text))
    if not found:
        raise InputError("`options`: list_ids is empty; give at least one Unisender list id", parameter="options")
    return found


def _tags(value, target: Target) -> list[str]:
    try:
        return list(check_tags(_listed(value)))
    except InputError as error:
        raise InputError(f"`options`: {error}", parameter="options") from None


def _country(value, target: Target) -> str:
    try:
        return check_country(value)
    except InputError as error:
        raise InputError(f"`options`: {error}", parameter="options") from None


def _url(value, target: Target) -> str:
    text = _text("base_url")(value, target)
    if not re.match(r"^https?://[^/\s]+", text):
        raise InputError(f"`options`: base_url = {value!r}; give an http:// or https:// address", parameter="options")
    return text.rstrip("/")


def _env(value, target: Target) -> str:
    if not isinstance(value, str) or not ENV_NAME.match(value):
        raise InputError(f"`options`: credentials_env = {value!r}; name an environment variable (letters, digits "
                         "and '_')", parameter="options")
    return value


_OPTION_CHECKS = {
    "default_country": _country, "folder": _text("folder"), "tags": _tags, "list_id": _text("list_id"),
    "status_if_new": _choice("status_if_new", MAILCHIMP_NEW_STATUSES), "removal": _choice("removal", REMOVALS),
    "list_ids": _list_ids, "audience_id": _text("audience_id"), "identifier": _choice("identifier", VK_HASHED),
    "fields": _fields, "consent": _choice("consent", CONSENTS), "base_url": _url, "credentials_env": _env,
}
_HELP = {
    "default_country": "the ISO country code phones without a country code belong to, e.g. US",
    "folder": "the folder files are written to", "tags": "tags, separated by commas",
    "list_id": "the Mailchimp audience id, from the audience's settings",
    "status_if_new": "the status a new member gets; an existing member keeps theirs",
    "removal": "archive members who leave, or untag them (remove the export's tags)",
    "list_ids": "Unisender list ids, separated by commas", "audience_id": "the Meta custom audience id",
    "identifier": "the one identifier a VK list holds", "fields": f"the fields to write, from {', '.join(COLUMNS)}",
    "consent": "the consent a customer needs to be written", "base_url": "the API's address",
    "credentials_env": "the environment variable holding the key",
}


# -- the store ----------------------------------------------------------------------------------
_COLUMNS = "name, target, source, options, incremental, scheduled, created_at, updated_at"


def _export(row) -> Export:
    return Export(row[0], row[1], row[2], json.loads(row[3]), bool(row[4]), bool(row[5]), row[6], row[7])


def get(store: Store, name: str) -> Export:
    row = store.fetchone(f"SELECT {_COLUMNS} FROM exports WHERE name = ?", (name,))
    if row is None:
        known = [n for (n,) in store.fetchall("SELECT name FROM exports ORDER BY name")]
        hint = f"saved ones: {', '.join(known)}" if known else "none is saved yet; add one with `retainly exports add`"
        raise NotFoundError(f"no export named {name!r} ({hint})", parameter="name")
    return _export(row)


def all_exports(store: Store) -> list[Export]:
    return [_export(row) for row in store.fetchall(f"SELECT {_COLUMNS} FROM exports ORDER BY name")]


def save(store: Store, export: Export, replace: bool = False) -> Export:
    """Save ``export`` (checked); ``replace`` changes a saved one, keeping who its target holds."""
    check_name(export.name)
    target = check_target(export.target)
    options = check_options(target, export.options)
    source = check_source(store, export.source, export.name)
    now = datetime.now().replace(microsecond=0)
    with store.transaction():
        found = store.fetchone("SELECT target FROM exports WHERE name = ?", (export.name,))
        if found is not None and not replace:
            raise ConflictError(f"an export named {export.name!r} exists; choose another name, or `replace` it",
                                parameter="name")
        if found is not None and found[0] != export.target:
            raise ConflictError(f"export {export.name!r} goes to {found[0]}, not {export.target}: its members are "
                                "that target's; save the new target under another name", parameter="target")
        values = (source, json.dumps(options, sort_keys=True), export.incremental, export.scheduled)
        if found is None:
            store.execute(f"INSERT INTO exports ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                          (export.name, export.target, *values, now, now))
        else:
            store.execute("UPDATE exports SET source = ?, options = ?, incremental = ?, scheduled = ?, updated_at = ? "
                          "WHERE name = ?", (*values, now, export.name))
    return get(store, export.name)


def delete(store: Store, name: str) -> int:
    """Remove an export with its runs and members; how many customers its target still held (retainly no
    longer removes them there)."""
    get(store, name)
    with store.transaction():
        held = int(store.fetchone("SELECT COUNT(*) FROM export_members WHERE export_name = ?", (name,))[0])
        store.execute("DELETE FROM export_changes WHERE run_id IN (SELECT run_id FROM export_runs "
                      "WHERE export_name = ?)", (name,))
        for table in ("export_members", "export_runs"):
            store.execute(f"DELETE FROM {table} WHERE export_name = ?", (name,))
        store.execute("DELETE FROM exports WHERE name = ?", (name,))
    return held
