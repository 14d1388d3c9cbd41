"""Where a `source("...")` path points: next to the sourcing file, else in the installed dml_lib."""
from __future__ import annotations

from pathlib import Path

from .errors import DMLRuntimeError, SourcePosition


def resolve_source(path: str, base_dir: Path, position: SourcePosition) -> Path:
    """source() paths resolve relative to the sourcing file, then to the installed dml_lib."""
    from kerasdml import dml_lib

    candidate = Path(path)
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
    else:
        for root in (base_dir, dml_lib.ROOT):
            if (root / candidate).is_file():
                return root / candidate
    raise DMLRuntimeError(f"sourced file {path!r} not found (looked in {base_dir} and in the "
                          f"dml_lib at {dml_lib.ROOT})", position)
