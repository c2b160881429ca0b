"""The whole exception tree of retainly.

    RetainlyError                      every error retainly raises on purpose        (500)
    ├── InputError(ValueError)         bad user input: a file, a row, a parameter    (422)
    │   ├── FileFormatError            a file that cannot be read as the format it claims
    │   └── MappingError               a preset or mapping file that does not fit the data
    ├── NotFoundError(LookupError)     a customer, order, preset or file that does not exist (404)
    ├── ConflictError                  the request clashes with what the store holds (409)
    ├── StoreError(RuntimeError)       the store cannot be opened or is in the wrong state (500)
    │   ├── SchemaVersionError         the store's schema is older or newer than this retainly (409)
    │   └── StoreBusyError             another command holds the store; try again   (503)
    ├── ImportAborted(RuntimeError)    a strict import stopped at its first bad row  (422)
    └── ConvergenceError(RuntimeError) a model fit that did not reach a trustworthy optimum (422)

Every message names what is at fault (file, line, column, value) and the way out. A message
about a parameter names it in backticks, as the core spells it (`as_of`, `bins`, `model`),
and the error carries it as ``parameter``: each shell re-spells those names its own way (the
CLI as its flags, the API as its fields) with ``spelled``. ``http_status`` is the status the
API answers with. The shells turn these into messages; nothing else catches them.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_NAME_IN_BACKTICKS = re.compile(r"`([a-z_][a-z0-9_]*)`")


class RetainlyError(Exception):
    """Base of every error retainly raises on purpose."""

    http_status = 500

    def __init__(self, message: str = "", *, parameter: str | None = None):
        super().__init__(message)
        self.parameter = parameter

    def spelled(self, spell: Callable[[str], str | None]) -> str:
        """The message with each backticked parameter name re-spelled by ``spell`` (None: leave it)."""

        def respell(match: re.Match) -> str:
            name = spell(match.group(1))
            return match.group(0) if name is None else name

        return _NAME_IN_BACKTICKS.sub(respell, str(self))


class InputError(RetainlyError, ValueError):
    """Bad user input: a file, a row or a parameter value."""

    http_status = 422


class FileFormatError(InputError):
    """A file that cannot be read as the format it claims to be."""


class MappingError(InputError):
    """A preset or mapping file that does not fit the data."""


class NotFoundError(RetainlyError, LookupError):
    """Something named by the user does not exist."""

    http_status = 404


class ConflictError(RetainlyError):
    """The request clashes with what the store already holds."""

    http_status = 409


class StoreError(RetainlyError, RuntimeError):
    """The store cannot be opened or is in the wrong state."""


class SchemaVersionError(StoreError):
    """The store's schema version does not match this retainly."""

    http_status = 409


class StoreBusyError(StoreError):
    """Another command is writing to the store; trying again later will work."""

    http_status = 503


class ImportAborted(RetainlyError, RuntimeError):
    """A strict import stopped at its first bad row; the store is unchanged."""

    http_status = 422


class ConvergenceError(RetainlyError, RuntimeError):
    """A model fit that did not reach a trustworthy optimum; the message says what to try."""

    http_status = 422
