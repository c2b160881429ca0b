"""Read an input file's bytes, refusing anything that is not a regular file.

A named pipe waits forever for a writer, `/dev/zero` never ends, a folder or a socket has no
content to import: each is refused with what it is, before a byte is read. The file is
opened without blocking and checked on the open descriptor, so nothing can swap it in
between; standard input is read only through a regular file (`/dev/stdin` redirected from
one), never from a pipe.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from retainly.errors import FileFormatError, NotFoundError

_WHAT = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_INSTEAD = "save the export to a file and import that file"


def read_source(path: Path) -> bytes:
    """The bytes of the regular file at ``path``; see the module docstring."""
    name = str(path)
    if name == "-":
        raise FileFormatError(f"-: reading standard input is not supported; {_INSTEAD}")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise _open_error(path, exc) from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise FileFormatError(f"{name}: is a folder; name the export files inside it")
        raise FileFormatError(f"{name}: {_link_to(path)}{_what(mode)}, not a regular file; {_INSTEAD}")
    os.set_blocking(descriptor, True)
    with os.fdopen(descriptor, "rb") as handle:
        return handle.read()


def _what(mode: int) -> str:
    return next((what for test, what in _WHAT if test(mode)), "a special file")


def _link_to(path: Path) -> str:
    return f"links to {os.readlink(path)}, which is " if path.is_symlink() else "is "


def _open_error(path: Path, exc: OSError) -> Exception:
    name = str(path)
    if exc.errno == errno.ELOOP:
        return FileFormatError(f"{name}: symbolic link loop (the link leads back to itself); point it at the export file")
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        if path.is_symlink():
            return NotFoundError(f"{name}: links to {os.readlink(path)}, which does not exist; "
                                 "point the link at the export file")
        return NotFoundError(f"{name}: no such file; check the path")
    if exc.errno == errno.ENXIO:  # opening a Unix socket
        return FileFormatError(f"{name}: is a socket, not a regular file; {_INSTEAD}")
    return FileFormatError(f"{name}: cannot be opened ({exc.strerror}); check the path and the file's permissions")
