"""Outputs, and the reading of .npy, JSON, CSV and text files, shared by every stage.

Outputs appear whole or not at all: each is written beside its final path under a temporary
name (`.<name>.<random>.tmp`), then renamed into place; what a killed run left beside a target
is cleaned up (or, for a swap cut short, put back) by the next write of that target. An
output path that exists with the wrong kind (a file where a folder goes, or the reverse) is an
error, never replaced. An OSError while writing (no space, read-only, file too large) names the
final path, not the temporary one; `errors.run_cli` turns it into one line.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from textmotion.errors import DataError

_UMASK = os.umask(0)
os.umask(_UMASK)


# --- inputs ---------------------------------------------------------------------------------

def read_json(path: str | Path, made_by: str | None = None) -> object:
    """A JSON file's content; DataError naming `path` when it is missing (saying which stage
    makes it, when one does) or not readable JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "file not found" + (f" (made by {made_by})" if made_by else "")) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(path, f"not readable JSON ({err})" + (f"; re-run {made_by}" if made_by else "")) from None


def split_lines(text: str) -> list[str]:
    """`text` cut at its line ends, `\\n` or `\\r\\n` only, without a final empty line.

    str.splitlines also cuts at a lone `\\r`, `\\v`, `\\f`, `\\x1c`-`\\x1e`, U+0085, U+2028 and
    U+2029, which a text may hold inside a line (a caption with U+2028 stays one caption).
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def is_one_line(text: str) -> bool:
    """Whether `text` holds no line end (nor a lone `\\r`, which some viewers show as one)."""
    return "\n" not in text and "\r" not in text


def parse_int(text: str) -> int | None:
    """`text` as an integer if it is one written in ASCII digits (an optional sign, nothing
    else), else None: how the CSV files' numbers (gt.csv, groups.csv, submissions) are read.

    int() and str.isdigit also take other digits ('٣', full-width '３'), and isdigit even
    superscripts ('²'), which int() then refuses.
    """
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4300): no number any file here holds
        return None


def read_csv_strings(path: str | Path) -> pd.DataFrame:
    """A CSV file as strings (no NA guessing, spaces after commas dropped); DataError naming
    `path` when it is missing or not a readable CSV. Callers check the header."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise DataError(path, f"not a readable CSV ({err})") from None


# --- outputs --------------------------------------------------------------------------------

def check_out_dir(out: str | Path, force: bool) -> Path:
    """A CLI's --out folder as a Path, checked writable; a non-empty existing one is an error
    unless `force` (nothing the user had is replaced silently)."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise DataError(out, "exists and is not empty; pass --force to replace it")
    check_writable(folders=[out])
    return out


def check_writable(*files: str | Path, folders: Iterable[str | Path] = ()) -> None:
    """Before heavy work: DataError naming the first output that could not be written.

    Refused: a path that exists with the wrong kind, a parent that is a file, and a folder in
    which no file can be created (read-only file system, no permission, no free inode). Each
    check creates and removes one empty file in the nearest existing folder; nothing is left.
    """
    for path, folder in [(Path(f), False) for f in files] + [(Path(d), True) for d in folders]:
        _check_kind(path, folder)
        parent = _existing_parent(path)
        try:
            fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
            os.close(fd)
            os.remove(probe)
        except OSError as err:
            raise DataError(path, f"cannot be written: {parent}: {err.strerror}") from None


def _check_kind(path: Path, folder: bool) -> None:
    if folder and (path.exists() or path.is_symlink()) and not path.is_dir():
        raise DataError(path, "exists and is not a folder; move it away (an output folder goes here)")
    if not folder and path.is_dir():
        raise DataError(path, "is a folder; an output file goes here")


def _existing_parent(path: Path) -> Path:
    """The nearest existing ancestor of `path`; DataError if it is not a folder."""
    parent = path.absolute().parent
    while not (parent.exists() or parent.is_symlink()):
        parent = parent.parent
    if not parent.is_dir():
        raise DataError(path, f"cannot be created: {parent} is a file, not a folder")
    return parent


def _make_parent(path: Path) -> None:
    _existing_parent(path)
    path.parent.mkdir(parents=True, exist_ok=True)


def _remove_temporaries(path: Path) -> None:
    """Remove what killed writes of `path` left beside it (tempfile's 8 random characters)."""
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    for entry in path.parent.iterdir():
        if pattern.fullmatch(entry.name):
            _remove(entry)


def _finish_interrupted_swap(path: Path) -> None:
    """A folder swap killed between its two renames left the previous folder as `.<name>.old`:
    put it back when `path` is missing, else remove it."""
    old = path.with_name(f".{path.name}.old")
    if old.exists() and not path.exists():
        old.rename(path)
    elif old.exists() or old.is_symlink():
        _remove(old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _named(err: OSError, tmp: Path, target: Path) -> OSError:
    """`err` naming the path the user asked for instead of the temporary one (or of none)."""
    if err.filename is None or Path(str(err.filename)).name.startswith(f".{target.name}."):
        return type(err)(err.errno, err.strerror, str(target))
    try:
        inside = Path(os.path.abspath(err.filename)).relative_to(os.path.abspath(tmp))
    except ValueError:  # about another path (an input, say): as it is
        return err
    return type(err)(err.errno, err.strerror, str(target / inside))


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary file path in the target's folder; rename it onto `path` on success."""
    path = Path(path)
    _check_kind(path, folder=False)
    _make_parent(path)
    _remove_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _named(err, path, path) from None
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual mode
        os.replace(tmp, path)
    except OSError as err:
        raise _named(err, Path(tmp), path) from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


@contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside `path`; on success it replaces the folder `path` whole."""
    path = Path(path)
    _check_kind(path, folder=True)
    _make_parent(path)
    _finish_interrupted_swap(path)
    _remove_temporaries(path)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as err:
        raise _named(err, path, path) from None
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_UMASK)
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            path.rename(old)
            tmp.rename(path)
            shutil.rmtree(old)
        else:
            tmp.rename(path)
    except OSError as err:
        raise _named(err, tmp, path) from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, obj: object) -> None:
    """Write `obj` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n", encoding="utf-8")


# --- reading ----------------------------------------------------------------------------------

def read_npy(path: str | Path, mmap_mode: str | None = None) -> np.ndarray:
    """The array of a .npy file, never unpickling; DataError naming `path` when it is not one.

    The header's shape and dtype are checked against the file's size before any data is read,
    so a header that claims more than the file holds is an error, not an allocation.
    """
    try:
        _check_npy_size(path)
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except ValueError as err:
        if "object arrays" in str(err).lower():
            raise DataError(path, "holds pickled Python objects; only plain numeric .npy arrays "
                                  "are accepted") from None
        raise DataError(path, f"not a readable .npy array ({err})") from None
    except EOFError:
        raise DataError(path, "not a readable .npy array (truncated)") from None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from None


def _check_npy_size(path: str | Path) -> None:
    """DataError unless the file starts with a .npy header whose shape and dtype need exactly
    the bytes that follow it (an object array is left to np.load, which refuses it)."""
    with open(path, "rb") as file:
        if file.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
            raise DataError(path, "not a .npy array (no NumPy header)")
        file.seek(0)
        version = np.lib.format.read_magic(file)
        read_header = (np.lib.format.read_array_header_1_0 if version[0] == 1
                       else np.lib.format.read_array_header_2_0)  # 3.0 differs only in text encoding
        shape, _, dtype = read_header(file)
        if dtype.hasobject:
            return
        needed = math.prod(shape) * dtype.itemsize
        held = os.fstat(file.fileno()).st_size - file.tell()
    if held != needed:
        raise DataError(path, f"not a readable .npy array (its header says shape {shape} of {dtype}, "
                              f"{needed} bytes; the file holds {held} bytes of data)")
