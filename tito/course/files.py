"""Reading and writing course files: one decoding policy, one atomic write.

Module files, notebooks and generated package files are UTF-8. They are read as bytes and
decoded here, never with the platform's default encoding (cp1252 on many Windows machines)
and never with newline translation, so a file with CRLF line ends reads back exactly and an
export's undo restores the same bytes. A UTF-8 byte-order mark (Notepad writes one) is dropped.

Writes go to a temporary file beside the target, are flushed to disk, then `os.replace`d into
place: a crash or a full disk leaves the old file or the new one, never half of either. The
temporary name starts with a dot and contains `.tito-tmp`, so it is never imported as a module
and a release never copies it. A file written by another library (a zip, an XML tree) goes
the same way through `replacing`. Files in a scratch folder that is itself moved into place or
thrown away need no such care: `write_text` writes them with the same encoding, no more.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tito.course.errors import TitoError

ENCODING = "utf-8"
TEMP_MARK = ".tito-tmp"
# Windows refuses to replace a file another process holds open (an editor, a virus scanner
# taking a look); such a hold is usually gone within a moment, so a replace is retried briefly.
REPLACE_ATTEMPTS = 10
REPLACE_PAUSE = 0.05


def read_text(path: Path, *, what: str = "The file", failure: str | None = None) -> str:
    """The text of a UTF-8 file, line ends as written; a problem is one TitoError naming it.

    `failure`, when given, is the caller's own sentence for every problem but a missing file,
    without its end: " (<the error>)." is added (grading says "The instructor's X cannot be
    read", a submission "X cannot be read as UTF-8 text").
    """
    try:
        return decode(Path(path).read_bytes())
    except FileNotFoundError:
        raise TitoError(f"{what} {path} does not exist.") from None
    except (OSError, UnicodeDecodeError) as error:
        if failure is not None:
            raise TitoError(f"{failure} ({error}).") from None
        raise _read_error(path, what, error) from None


def _read_error(path: Path, what: str, error: OSError | UnicodeDecodeError) -> TitoError:
    if isinstance(error, IsADirectoryError):
        return TitoError(f"{what} {path} is a folder, not a file.")
    if isinstance(error, UnicodeDecodeError):
        return TitoError(
            f"{what} {path} is not UTF-8 text (byte {error.start}: {error.reason}).",
            hint="Save it as UTF-8 in your editor and try again.",
        )
    return TitoError(f"{what} {path} cannot be read ({error.strerror or error}).")


def read_json(path: Path, *, what: str = "The file", failure: str | None = None) -> Any:
    """A UTF-8 JSON file, parsed; problems as `read_text` words them, bad JSON likewise."""
    text = read_text(path, what=what, failure=failure)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        start = failure if failure is not None else f"{what} {path} cannot be read"
        raise TitoError(f"{start} ({error}).") from None


def decode(data: bytes) -> str:
    """Bytes of a course file as text: UTF-8, a leading byte-order mark dropped."""
    return data.decode("utf-8-sig")


def write_atomic(path: Path, text: str | bytes) -> None:
    """Replace `path` with `text` (UTF-8) in one step; its folder is created if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _swap_in(write_temporary(path, text), path)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that wants a file name (zipfile, XML).

    Leaving the block normally flushes it to disk and replaces `path` with it; an error
    removes it and leaves `path` as it was. The folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = write_temporary(path, b"")
    try:
        yield temporary
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
    except BaseException:
        _remove(temporary)
        raise
    _swap_in(temporary, path)


def _swap_in(temporary: Path, path: Path) -> None:
    """`replace` `path` with `temporary`; if that fails, `temporary` is removed."""
    try:
        replace(temporary, path)
    except BaseException:
        _remove(temporary)
        raise


def _remove(temporary: Path) -> None:
    with contextlib.suppress(OSError):
        temporary.unlink()


def write_text(path: Path, text: str) -> None:
    """Write `text` as UTF-8, line ends as given, no temporary file: only for scratch folders
    (a release being staged, a grading sandbox) that are moved into place whole or dropped."""
    Path(path).write_bytes(text.encode(ENCODING))


def write_temporary(path: Path, text: str | bytes) -> Path:
    """Write `text` to a new temporary file beside `path`, flushed to disk; return its path.

    The file keeps `path`'s permission bits when `path` exists. Written as bytes, so Windows
    does not turn LF into CRLF.
    """
    data = text.encode(ENCODING) if isinstance(text, str) else text
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_MARK, dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            shutil.copymode(path, temporary)
        else:
            # mkstemp makes the file readable by its owner only; a new file gets the usual bits.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(temporary, 0o666 & ~umask)
    except BaseException:
        _remove(temporary)
        raise
    return temporary


def replace(source: Path, target: Path) -> None:
    """`os.replace`, retried for a moment while Windows reports the target as in use."""
    for attempt in range(REPLACE_ATTEMPTS):
        try:
            os.replace(source, target)
            return
        except PermissionError:
            if os.name != "nt" or attempt == REPLACE_ATTEMPTS - 1:
                raise
            time.sleep(REPLACE_PAUSE)


def sync_folder(folder: Path) -> None:
    """fsync a folder so renames in it survive a crash; a no-op where folders cannot be opened
    (Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)
