"""The one atomic-write helper every writer uses: old content or new, never half; the umask's
permissions; a clear error for a folder that cannot be created."""
from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from kerasdml.runtime.api import run_string
from kerasdml.runtime.atomic import WriteError, atomic_file, atomic_folder, write_text


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_file_gets_the_umasks_permissions(tmp_path, umask_022):
    write_text(tmp_path / "a.txt", "new")
    assert (tmp_path / "a.txt").read_text() == "new"
    assert _mode(tmp_path / "a.txt") == 0o644


def test_a_folder_gets_the_umasks_permissions_and_replaces_the_old_one(tmp_path, umask_022):
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_folder(target) as temporary:
        write_text(os.path.join(temporary, "new.txt"), "new")
    assert sorted(os.listdir(target)) == ["new.txt"]
    assert _mode(target) == 0o755
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # nothing left beside it


def test_dml_write_and_checkpoint_files_get_the_same_permissions(tmp_path, umask_022):
    from kerasdml.compiler.training import checkpoint
    run_string(f'M = matrix(1, rows=2, cols=2)\nwrite(M, "{tmp_path}/m.csv", format="csv")')
    checkpoint.write(tmp_path / "ck.h5", checkpoint.Checkpoint({"W": np.ones((2, 2))}))
    assert _mode(tmp_path / "m.csv") == _mode(tmp_path / "m.csv.mtd") == 0o644
    assert _mode(tmp_path / "ck.h5") == 0o644


def test_a_failure_keeps_the_old_content_and_removes_the_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_file(target) as temporary:
        with open(temporary, "w") as handle:
            handle.write("half")
        raise RuntimeError("stopped")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_writer_killed_mid_write_leaves_the_old_content(tmp_path):
    target = tmp_path / "big.bin"
    target.write_bytes(b"old")
    script = textwrap.dedent(f"""
        import sys, time
        from kerasdml.runtime.atomic import atomic_file
        with atomic_file({str(target)!r}) as temporary:
            with open(temporary, "wb") as handle:
                handle.write(b"x" * 1_000_000)
                handle.flush()
                print("writing", flush=True)
                time.sleep(60)
    """)
    writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert writer.stdout.readline().strip() == b"writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert target.read_bytes() == b"old"
    left = [p.name for p in tmp_path.iterdir() if p.name != "big.bin"]
    assert all(name.startswith(".big.bin.") and name.endswith(".tmp") for name in left)


def test_a_folder_that_cannot_be_created_is_named(tmp_path):
    (tmp_path / "file").write_text("a file, not a folder")
    with pytest.raises(WriteError, match=f"cannot create the folder {tmp_path}/file/sub"):
        write_text(tmp_path / "file" / "sub" / "a.txt", "x")
