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
