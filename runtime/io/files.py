"""Files on disk: a path that is one file or a folder of part files, text reading, and the atomic
write of data plus its .mtd.

A folder of part files (SystemDS writes text over one HDFS block that way; Spark writes csv that
way) is read in name order, skipping names starting with "." or "_". Writes go through temporary
files beside the target (runtime/atomic.py), so a failure never leaves a half-written file.
"""
from __future__ import annotations

import os
import secrets
import shutil
from typing import Callable

from ..atomic import atomic_file, write_text
from ..errors import DMLRuntimeError


def data_files(path: str) -> list[str]:
    """The file, or a directory's part files in name order (SystemDS skips "." and "_" names)."""
    if not os.path.isdir(path):
        return [path]
    parts = sorted(name for name in os.listdir(path) if not name.startswith((".", "_")))
    files = [os.path.join(path, name) for name in parts]
    if not files:
        raise DMLRuntimeError(f"read({path!r}): the directory {path} has no part files")
    return files


def read_text_file(file: str) -> str:
    try:
        with open(file, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise DMLRuntimeError(f"malformed file {file}: not a text file (an HDF5 or binary "
                              "file? pass the right format=)") from None


def text_writer(text: str) -> Callable[[str], None]:
    def write(tmp_path: str) -> None:
        with open(tmp_path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return write


def write_with_metadata(path: str, write_data: Callable[[str], None], mtd_text: str | None) -> None:
    """Writes data and .mtd through temporary files beside them (runtime/atomic.py), so that a
    failure never leaves a half-written file under the real name."""
    try:
        with atomic_file(path) as data:
            write_data(data)
            remove_part_file_directory(path)
        # the .mtd goes last: metadata never describes data that is not there yet
        if mtd_text is not None:
            write_text(path + ".mtd", mtd_text)
        elif os.path.isfile(path + ".mtd"):
            os.remove(path + ".mtd")    # an earlier write's .mtd would describe another file
    except OSError as e:
        raise DMLRuntimeError(f"write({path!r}): {e}") from e


def temp_beside(path: str) -> str:
    """A fresh hidden name in path's directory (hidden: a part-file reader skips it).  Not
    created here: mkstemp would make it 0600, and the renamed file would keep that."""
    directory, name = os.path.split(os.path.abspath(path))
    return os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")


def remove_part_file_directory(path: str) -> None:
    """SystemDS overwrites an earlier output, which may be a directory of part files; we
    remove such a directory (files only), never one with subdirectories."""
    if not os.path.isdir(path):
        return
    entries = [os.path.join(path, name) for name in os.listdir(path)]
    if any(os.path.isdir(e) and not os.path.islink(e) for e in entries):
        raise DMLRuntimeError(f"write({path!r}): {path} is a directory with subdirectories; "
                              "not overwriting it")
    shutil.rmtree(path)
