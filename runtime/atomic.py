"""Writing a file or a folder so that readers see the old content or the new one, never a half
of it: the content goes to a hidden temporary beside the target (same folder, so the rename is
atomic), is flushed to disk, and is renamed over the target. A failure removes the temporary; a
killed writer leaves at most a hidden `.NAME.*.tmp` beside an intact target.

Files and folders get the permissions the process' umask gives newly created ones (0644 and
0755 under umask 022), as `open` and `mkdir` would; mkstemp/mkdtemp alone would give 0600/0700.

Every writer of the project goes through `atomic_file` / `atomic_folder`; a folder that cannot be
created is reported by `WriteError`, an OSError naming it.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
from typing import Iterator

_UMASK_LOCK = threading.Lock()


class WriteError(OSError):
    """A file or folder that cannot be written; the message names it and says why."""


def current_umask() -> int:
    with _UMASK_LOCK:  # reading the umask means setting it: keep other threads out
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def ensure_folder(folder: str | os.PathLike) -> str:
    """The folder, created with its parents when missing; WriteError naming it otherwise."""
    folder = os.path.abspath(os.fspath(folder))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise WriteError(f"cannot create the folder {folder}: a file of that name exists")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as error:
        raise WriteError(f"cannot create the folder {folder}: {error.strerror or error}") \
            from None
    return folder


def _temporary_name(target: str) -> tuple:
    folder, name = os.path.split(os.path.abspath(target))
    return ensure_folder(folder), f".{name}."


@contextlib.contextmanager
def atomic_file(target: str | os.PathLike) -> Iterator[str]:
    """Yields a temporary path to write `target`'s content to (by name: h5py, numpy and zipfile
    open it themselves); on leaving the block the content replaces `target`."""
    target = os.fspath(target)
    folder, prefix = _temporary_name(target)
    handle, temporary = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=folder)
    os.close(handle)
    try:
        yield temporary
        _sync(temporary)
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


@contextlib.contextmanager
def atomic_folder(target: str | os.PathLike) -> Iterator[str]:
    """Yields a temporary folder to fill; on leaving the block it replaces `target` (a folder,
    or nothing yet)."""
    target = os.path.abspath(os.fspath(target))
    if os.path.exists(target) and not os.path.isdir(target):
        raise WriteError(f"{target}: exists and is not a folder")
    try:
        folder, prefix = _temporary_name(target)
    except WriteError:
        ensure_folder(target)  # names the folder asked for, with the system's reason
        raise
    temporary = tempfile.mkdtemp(prefix=prefix, dir=folder)
    try:
        yield temporary
        for name in os.listdir(temporary):
            _sync(os.path.join(temporary, name))
        os.chmod(temporary, 0o777 & ~current_umask())
        _replace_folder(temporary, target)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def write_text(target: str | os.PathLike, text: str) -> None:
    with atomic_file(target) as temporary, open(temporary, "w") as handle:
        handle.write(text)


def _sync(path: str) -> None:
    if os.path.isfile(path):
        descriptor = os.open(path, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _replace_folder(temporary: str, target: str) -> None:
    """A folder cannot be renamed over a non-empty one: the old one steps aside first."""
    if not os.path.exists(target):
        os.rename(temporary, target)
        return
    old = tempfile.mkdtemp(prefix=f".{os.path.basename(target)}.old.", dir=os.path.dirname(target))
    os.rmdir(old)
    os.rename(target, old)
    os.rename(temporary, target)
    shutil.rmtree(old, ignore_errors=True)
