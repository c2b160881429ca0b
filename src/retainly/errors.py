"""The whole exception tree of retainly.

    RetainlyError                      every error retainly raises on purpose
    ├── InputError(ValueError)         bad user input: a file, a row, an option value
    │   ├── FileFormatError            a file that cannot be read as the format it claims
    │   └── MappingError               a preset or mapping file that does not fit the data
    ├── NotFoundError(LookupError)     a customer, order, preset or file that does not exist
    ├── StoreError(RuntimeError)       the store cannot be opened or is in the wrong state
    │   └── SchemaVersionError         the store's schema is older or newer than this retainly
    ├── ImportAborted(RuntimeError)    ``--strict`` import stopped at its first bad row
    └── ConvergenceError(RuntimeError) a model fit that did not reach a trustworthy optimum

Every message names what is at fault (file, line, column, value) and the way out.
The shells (CLI, API) turn these into one-line messages; nothing else catches them.
"""

from __future__ import annotations


class RetainlyError(Exception):
    """Base of every error retainly raises on purpose."""


class InputError(RetainlyError, ValueError):
    """Bad user input: a file, a row or an option value."""


class FileFormatError(InputError):
    """A file that cannot be read as the format it claims to be."""


class MappingError(InputError):
    """A preset or mapping file that does not fit the data."""


class NotFoundError(RetainlyError, LookupError):
    """Something named by the user does not exist."""


class StoreError(RetainlyError, RuntimeError):
    """The store cannot be opened or is in the wrong state."""


class SchemaVersionError(StoreError):
    """The store's schema version does not match this retainly."""


class ImportAborted(RetainlyError, RuntimeError):
    """A ``--strict`` import stopped at its first bad row; the store is unchanged."""


class ConvergenceError(RetainlyError, RuntimeError):
    """A model fit that did not reach a trustworthy optimum; the message says what to try."""
