"""Atomic writes: complete file or the old one, with the mode a plain open() gives."""

import os

import pytest

from asdlab.core.atomic import atomic_write, atomic_write_text


def test_written_file_has_umask_mode_and_no_leftovers(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "sub" / "a.txt", "hello\r\n")
    finally:
        os.umask(old)
    f = tmp_path / "sub" / "a.txt"
    assert f.read_bytes() == b"hello\r\n"
    assert f.stat().st_mode & 0o777 == 0o644
    assert os.listdir(tmp_path / "sub") == ["a.txt"]


def test_failed_write_keeps_old_file(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"old")

    def boom(fh):
        fh.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(f, boom)
    assert f.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["a.bin"]


def test_temporary_name_carries_the_writers_pid(tmp_path):
    seen = []
    atomic_write(tmp_path / "a.bin", lambda fh: seen.extend(os.listdir(tmp_path)))
    assert len(seen) == 1 and seen[0].startswith(f".a.bin.{os.getpid()}.") and seen[0].endswith(".tmp")
    from asdlab.core.procs import writer_pid
    assert writer_pid(seen[0]) == os.getpid()


def test_sweep_removes_a_dead_writers_temporary_file_of_the_same_target_only(tmp_path):
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    dead = tmp_path / f".a.bin.{proc.pid}.abcdefgh.tmp"
    other = tmp_path / f".b.bin.{proc.pid}.abcdefgh.tmp"
    live = tmp_path / f".a.bin.{os.getppid()}.abcdefgh.tmp"
    for p in (dead, other, live):
        p.write_bytes(b"half")
    atomic_write(tmp_path / "a.bin", lambda fh: fh.write(b"x"), sweep=True)
    assert sorted(os.listdir(tmp_path)) == sorted(["a.bin", other.name, live.name])
