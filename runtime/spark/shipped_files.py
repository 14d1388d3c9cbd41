"""The data files of a shipped package (the DML grammar, dml_lib's .dml sources) made readable
on an executor that imports kerasdml from the zip the driver added with addPyFile: Python
imports from a zip, but the parser and source() read files, and the native kernels' library
cannot be loaded from a zip, so the zip is extracted once per process and those locations
point into the extracted copy."""
from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

_EXTRACTED: dict[str, Path] = {}


def _zip_of(path: Path) -> Path | None:
    for parent in path.parents:
        if parent.suffix == ".zip" and parent.is_file():
            return parent
    return None


def make_package_files_readable() -> None:
    """No-op where kerasdml is installed as files (the driver, a local[n] run from a venv)."""
    from kerasdml import dml_lib
    from kerasdml.runtime import parser

    archive = _zip_of(parser.GRAMMAR_FILE)
    if archive is None or parser.GRAMMAR_FILE.is_file():
        return
    if str(archive) not in _EXTRACTED:
        target = Path(tempfile.mkdtemp(prefix="kerasdml-files-"))
        with zipfile.ZipFile(archive) as files:
            files.extractall(target, [n for n in files.namelist() if not n.endswith(".py")])
        _EXTRACTED[str(archive)] = target
    root = _EXTRACTED[str(archive)] / "kerasdml"
    parser.GRAMMAR_FILE = root / "runtime" / "dml.lark"
    dml_lib.ROOT = root / "dml_lib"
    _use_extracted_kernels(root / "runtime" / "local")


def _use_extracted_kernels(folder: Path) -> None:
    from ..local import native

    found = sorted(folder.glob("_kernels*.so"))
    if found and native.SHIPPED_LIBRARY is None:
        native.use_library_file(str(found[0]))
