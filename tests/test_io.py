"""Atomic outputs: wrong kinds refused, killed runs cleaned up, write errors naming the target;
check_writable; read_npy; line and integer parsing; run_cli's one line."""
from __future__ import annotations

import errno
import io
import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from textmotion.errors import DataError
from textmotion.io import atomic_dir, atomic_path, check_writable, is_one_line, parse_int, read_npy, split_lines
from textmotion.layout import load_motion
from textmotion.sources.common import load_array


def test_atomic_dir_replaces_a_folder_whole(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["new.txt"]


def test_output_of_the_wrong_kind_is_refused_and_kept(tmp_path):
    (tmp_path / "out").write_text("a file where a folder goes")
    with pytest.raises(DataError, match="out: exists and is not a folder"):
        with atomic_dir(tmp_path / "out"):
            pass
    assert (tmp_path / "out").read_text() == "a file where a folder goes"
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match="folder: is a folder; an output file goes here"):
        with atomic_path(tmp_path / "folder"):
            pass
    with pytest.raises(DataError, match=r"out/x.json: cannot be created: .*out is a file"):
        with atomic_path(tmp_path / "out" / "x.json"):
            pass
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "out"]


def test_leftovers_of_a_killed_run_are_removed(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / ".out.k2j_x9a1.tmp").mkdir()           # a killed atomic_dir
    (tmp_path / ".out.json.abcdefgh.tmp").write_text("")  # a killed atomic_path of another target
    (tmp_path / ".out.old").mkdir()                     # a swap killed after both renames
    with atomic_dir(tmp_path / "out") as tmp:
        (tmp / "a").write_text("a")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.json.abcdefgh.tmp", "out"]
    with atomic_path(tmp_path / "out.json") as tmp:
        tmp.write_text("{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.json"]


def test_a_swap_killed_between_its_renames_is_put_back(tmp_path):
    (tmp_path / ".out.old").mkdir()
    (tmp_path / ".out.old" / "previous").write_text("good")
    with pytest.raises(RuntimeError):
        with atomic_dir(tmp_path / "out"):
            raise RuntimeError("the new run fails too")
    assert (tmp_path / "out" / "previous").read_text() == "good"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_write_errors_name_the_target_not_the_temporary(tmp_path):
    with pytest.raises(OSError) as raised:
        with atomic_dir(tmp_path / "out") as tmp:
            raise OSError(errno.ENOSPC, "No space left on device", str(tmp / "train" / "frames.npy"))
    assert raised.value.errno == errno.ENOSPC
    assert raised.value.filename == str(tmp_path / "out" / "train" / "frames.npy")
    with pytest.raises(OSError) as raised:
        with atomic_path(tmp_path / "a.csv"):
            raise OSError(errno.EFBIG, "File too large")  # write() names no file
    assert raised.value.filename == str(tmp_path / "a.csv")
    assert list(tmp_path.iterdir()) == []


def test_check_writable(tmp_path):
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    check_writable(tmp_path / "new" / "deeper" / "x.csv", folders=[tmp_path / "dir", tmp_path / "other"])
    with pytest.raises(DataError, match="file: exists and is not a folder"):
        check_writable(folders=[tmp_path / "file"])
    with pytest.raises(DataError, match="dir: is a folder"):
        check_writable(tmp_path / "dir")
    with pytest.raises(DataError, match=r"file/sub/x.csv: cannot be created: .*file is a file"):
        check_writable(tmp_path / "file" / "sub" / "x.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]  # nothing created


def test_check_writable_refuses_a_read_only_file_system(tmp_path):
    mount = tmp_path / "ro"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(mount)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a read-only tmpfs here (needs root)")
    try:
        with pytest.raises(DataError, match="ro/out: cannot be written: .*Read-only file system"):
            check_writable(folders=[mount / "out"])
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_read_npy_never_advises_unpickling(tmp_path):
    np.save(tmp_path / "ok.npy", np.arange(3))
    assert read_npy(tmp_path / "ok.npy").tolist() == [0, 1, 2]
    (tmp_path / "random.npy").write_bytes(bytes(range(256)))
    with pytest.raises(DataError, match=r"random.npy: not a .npy array \(no NumPy header\)$"):
        read_npy(tmp_path / "random.npy")
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="holds pickled Python objects"):
        read_npy(tmp_path / "objects.npy")
    (tmp_path / "short.npy").write_bytes((tmp_path / "ok.npy").read_bytes()[:-8])
    with pytest.raises(DataError, match="short.npy: not a readable .npy array"):
        read_npy(tmp_path / "short.npy")
    with pytest.raises(DataError, match="absent.npy: file not found"):
        read_npy(tmp_path / "absent.npy")


def npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": descr, "fortran_order": False, "shape": shape})
    return header.getvalue()


def test_read_npy_checks_the_header_against_the_file_size_before_reading(tmp_path):
    """A header that claims 100,000,000 frames is an error, not a 143 GiB allocation; so is data
    beyond what the header describes. The dataset's and the importers' readers are this one."""
    huge = tmp_path / "huge.npy"
    huge.write_bytes(npy_header((100_000_000, 384)) + bytes(3 * 384 * 4))
    problem = ("not a readable .npy array (its header says shape (100000000, 384) of float32, "
               "153600000000 bytes; the file holds 4608 bytes of data)")
    for reader in (read_npy, load_motion, load_array, partial(read_npy, mmap_mode="r")):
        with pytest.raises(DataError) as err:
            reader(huge)
        assert (err.value.path, err.value.problem) == (str(huge), problem)
    longer = tmp_path / "longer.npy"
    longer.write_bytes(npy_header((2, 384)) + bytes(3 * 384 * 4))
    with pytest.raises(DataError, match=r"longer.npy: .*shape \(2, 384\) of float32, 3072 bytes; the file "
                                        r"holds 4608 bytes of data\)$"):
        read_npy(longer)
    ok = tmp_path / "ok.npy"
    ok.write_bytes(npy_header((2, 384)) + np.ones((2, 384), np.float32).tobytes())
    assert load_motion(ok).shape == (2, 384)


def test_lines_end_at_newline_only():
    text = "one\u2028line\r\nform\ffeed\x85\nlone\rreturn\n"
    assert split_lines(text) == ["one\u2028line", "form\ffeed\x85", "lone\rreturn"]
    assert split_lines("") == [] and split_lines("a") == ["a"] and split_lines("a\n\n") == ["a", ""]
    assert is_one_line("a\u2028b\x0c") and not is_one_line("a\nb") and not is_one_line("a\rb")


@pytest.mark.parametrize("text, value", [
    ("7", 7), ("007", 7), ("+3", 3), ("-3", -3), ("²", None), ("٣", None), ("３", None), ("1_000", None),
    (" 1", None), ("--3", None), ("", None), ("1.0", None),
])
def test_parse_int_takes_ascii_digits_only(text, value):
    assert parse_int(text) == value


CLI = """
import resource, sys
from textmotion.errors import run_cli
from textmotion.io import atomic_path
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
def main():
    with atomic_path(sys.argv[1]) as tmp, open(tmp, "wb") as f:
        f.write(bytes(5000))
run_cli(main)
"""


def test_run_cli_turns_a_file_size_limit_into_one_line(tmp_path):
    src = Path(__file__).resolve().parents[1] / "src"
    run = subprocess.run([sys.executable, "-c", CLI, str(tmp_path / "big.bin")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(src)})
    assert run.returncode == 1  # not killed by SIGXFSZ
    assert run.stderr == f"error: {tmp_path / 'big.bin'}: File too large\n"
    assert list(tmp_path.iterdir()) == []
