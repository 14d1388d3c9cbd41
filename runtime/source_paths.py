"""Where a `source("...")` path points: next to the sourcing file, else next to the main program
or in the working directory, else in the installed dml_lib."""
from __future__ import annotations

from pathlib import Path

from .errors import DMLRuntimeError, SourcePosition


def resolve_source(path: str, base_dir: Path, position: SourcePosition,
                   program_dirs: tuple[Path, ...] = ()) -> Path:
    """source() paths resolve relative to the sourcing file, then to `program_dirs`, then to the
    installed dml_lib (also as "scripts/nn/...", SystemDS's name for it). SystemDS resolves every
    relative path, also in a sourced file, against the process' working directory: a library in
    lib/ sources its helpers as "lib/sub/x.dml", which the main program's directory (and the
    working directory) find."""
    from kerasdml import dml_lib

    candidate = Path(path)
    if candidate.is_absolute():
        if candidate.is_file():
            return candidate
    else:
        roots = list(dict.fromkeys((base_dir, *program_dirs)))
        for root in (*roots, dml_lib.ROOT):
            if (root / candidate).is_file():
                return root / candidate
        # SystemDS's jar holds its library under scripts/ and finds "scripts/nn/..." there as
        # well as "nn/..." (its own scripts and tests source the long form); dml_lib is that
        # library without the scripts/ folder.
        if candidate.parts[:1] == ("scripts",) and (dml_lib.ROOT / Path(*candidate.parts[1:])).is_file():
            return dml_lib.ROOT / Path(*candidate.parts[1:])
    looked = ", ".join(str(root) for root in dict.fromkeys((base_dir, *program_dirs)))
    raise DMLRuntimeError(f"sourced file {path!r} not found (looked in {looked} and in the "
                          f"dml_lib at {dml_lib.ROOT})", position)
