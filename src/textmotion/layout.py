"""The challenge data layout: the one reader, validator and writer every stage uses.

Dataset (a "root")::

    <root>/motions/<id>.npy    (T, 384) float, T >= 2, finite
    <root>/texts/<id>.txt      1 to 3 non-empty UTF-8 lines, one caption each
    <root>/train.txt           the ids, one per line (optional, see below)
    <root>/specs/<id>.json     the clip's synthesis spec (generated data only, optional)
    <root>/dataset.json        {"fps": ...} and how it was made (generated data only, optional)

Every motion must have its caption file and the reverse, across the whole folders (a stray
file means a broken copy). When train.txt is absent, the dataset is every id that has both
files, in sorted order; when present, it is exactly the listed ids, in listed order, and an
id listed without files is an error.

Query batches (val and test)::

    <dir>/<query_id>/text.txt                    the query caption (one line)
    <dir>/<query_id>/motion_1.npy .. motion_N.npy  the candidates
    gt.csv                                       query_id,correct (1-based candidate number)

Bad input raises DataError(path, problem). With skip_bad=True, read_dataset leaves out the
bad clips instead and records (path, reason) in Dataset.skipped; a missing folder, an
unreadable train.txt or an empty result still fail.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from textmotion.errors import DataError
from textmotion.io import atomic_path
from textmotion.skeleton import MOTION_DIM

MAX_CAPTIONS = 3
MIN_FRAMES = 2
TRAIN_LIST = "train.txt"
DATASET_INFO = "dataset.json"
QUERY_TEXT = "text.txt"
CANDIDATE_FILE = re.compile(r"motion_(\d+)\.npy")
GT_COLUMNS = ["query_id", "correct"]


# --- single files -------------------------------------------------------------------------

def check_motion(motion: np.ndarray, path: str | Path) -> np.ndarray:
    """The motion as float32 if it is (T >= 2, 384) and finite; else DataError naming `path`."""
    if not isinstance(motion, np.ndarray) or motion.dtype.kind not in "fiu":
        kind = motion.dtype if isinstance(motion, np.ndarray) else type(motion).__name__
        raise DataError(path, f"expected a numeric array, got {kind}")
    if motion.ndim != 2:
        raise DataError(path, f"expected a 2-D array (T, {MOTION_DIM}), got shape {motion.shape}")
    if motion.shape[1] != MOTION_DIM:
        raise DataError(path, f"expected {MOTION_DIM} features per frame, got shape {motion.shape}")
    if motion.shape[0] < MIN_FRAMES:
        raise DataError(path, f"{motion.shape[0]} frame(s); at least {MIN_FRAMES} needed")
    motion = np.asarray(motion, dtype=np.float32)
    finite = np.isfinite(motion)
    if not finite.all():
        frame = int(np.argmin(finite.all(axis=1)))
        raise DataError(path, f"contains NaN or Inf values (first at frame {frame})")
    return motion


def load_motion(path: str | Path) -> np.ndarray:
    """A validated (T, 384) float32 motion; refuses pickled content."""
    try:
        motion = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except ValueError as err:
        if "object arrays" in str(err).lower():
            raise DataError(path, "holds pickled Python objects; only plain numeric .npy "
                                  "arrays are accepted") from None
        if "pickled data" in str(err).lower():  # what NumPy says of a file with no .npy header
            raise DataError(path, "not a readable .npy array (no NumPy header)") from None
        raise DataError(path, f"not a readable .npy array ({err})") from None
    except (OSError, EOFError) as err:
        raise DataError(path, f"not a readable .npy array ({err})") from None
    return check_motion(motion, path)


def check_captions(captions: Sequence[str], path: str | Path) -> list[str]:
    """The captions if there are 1 to 3, each a non-empty single line; else DataError."""
    captions = list(captions)
    if not captions:
        raise DataError(path, "no caption")
    if len(captions) > MAX_CAPTIONS:
        raise DataError(path, f"{len(captions)} captions; at most {MAX_CAPTIONS} allowed")
    for number, caption in enumerate(captions, start=1):
        if not isinstance(caption, str) or not caption.strip():
            raise DataError(path, f"caption {number} is blank")
        if len(caption.splitlines()) != 1:
            raise DataError(path, f"caption {number} spans several lines")
    return captions


def load_captions(path: str | Path) -> list[str]:
    """1 to 3 captions, one per line (UTF-8; surrounding whitespace and final blank lines dropped)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 (byte {err.start})") from None
    lines = [line.strip() for line in text.splitlines()]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DataError(path, "empty caption file")
    if "" in lines:
        raise DataError(path, f"blank line {lines.index('') + 1} between captions")
    return check_captions(lines, path)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """Hard-link `source` to `target` (same bytes, no extra disk), copying across filesystems."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


# --- dataset ------------------------------------------------------------------------------

def motion_path(root: str | Path, clip_id: str) -> Path:
    return Path(root) / "motions" / f"{clip_id}.npy"


def text_path(root: str | Path, clip_id: str) -> Path:
    return Path(root) / "texts" / f"{clip_id}.txt"


def spec_path(root: str | Path, clip_id: str) -> Path:
    return Path(root) / "specs" / f"{clip_id}.json"


def load_spec(root: str | Path, clip_id: str) -> dict | None:
    """The clip's synthesis spec, or None where the dataset has none (real data)."""
    path = spec_path(root, clip_id)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(path, f"not a readable JSON spec ({err})") from None


def read_dataset_info(root: str | Path) -> dict:
    """The optional dataset.json of a generated dataset ({} when absent)."""
    path = Path(root) / DATASET_INFO
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(path, f"not readable JSON ({err})") from None


def read_train_list(root: str | Path) -> list[tuple[int, str]] | None:
    """(line number, id) of each non-blank line of train.txt, or None if there is none."""
    path = Path(root) / TRAIN_LIST
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 (byte {err.start})") from None
    return [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()]


def _file_ids(folder: Path, suffix: str) -> set[str]:
    with os.scandir(folder) as entries:
        return {entry.name[:-len(suffix)] for entry in entries
                if entry.name.endswith(suffix) and not entry.name.startswith(".")}


@dataclass
class Dataset:
    """A validated dataset in the challenge layout (captions held in memory, motions on disk)."""
    root: Path
    ids: list[str]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    fps: float | None = None
    _captions: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def motion(self, clip_id: str) -> np.ndarray:
        return load_motion(self.motion_path(clip_id))

    def captions(self, clip_id: str) -> list[str]:
        return self._captions[clip_id]

    def spec(self, clip_id: str) -> dict | None:
        return load_spec(self.root, clip_id)

    def motion_path(self, clip_id: str) -> Path:
        return motion_path(self.root, clip_id)


def read_dataset(root: str | Path, skip_bad: bool = False) -> Dataset:
    """Read and validate every clip of a challenge-layout folder (see the module docstring)."""
    root = Path(root)
    for folder in (root / "motions", root / "texts"):
        if not folder.is_dir():
            raise DataError(folder, "folder not found (expected the challenge layout: "
                                    "motions/<id>.npy, texts/<id>.txt, train.txt)")
    skipped: list[tuple[str, str]] = []

    def reject(path: str | Path, problem: str) -> None:
        if not skip_bad:
            raise DataError(path, problem)
        skipped.append((str(path), problem))

    motion_ids = _file_ids(root / "motions", ".npy")
    text_ids = _file_ids(root / "texts", ".txt")
    for clip_id in sorted(motion_ids - text_ids):
        reject(motion_path(root, clip_id), f"motion without caption file texts/{clip_id}.txt")
    for clip_id in sorted(text_ids - motion_ids):
        reject(text_path(root, clip_id), f"caption file without motion motions/{clip_id}.npy")
    paired = motion_ids & text_ids

    listed = read_train_list(root)
    if listed is None:
        ids = sorted(paired)
    else:
        ids, first_line = [], {}
        for number, clip_id in listed:
            if clip_id in first_line:
                reject(root / TRAIN_LIST, f"duplicate id {clip_id!r} (lines {first_line[clip_id]} "
                                          f"and {number})")
                continue
            first_line[clip_id] = number
            if clip_id in paired:
                ids.append(clip_id)
            elif clip_id not in motion_ids | text_ids:  # (a half-present clip is reported above)
                reject(root / TRAIN_LIST, f"id {clip_id!r} (line {number}) has no files "
                                          f"motions/{clip_id}.npy, texts/{clip_id}.txt")

    valid, captions = [], {}
    for clip_id in ids:
        try:
            captions[clip_id] = load_captions(text_path(root, clip_id))
            load_motion(motion_path(root, clip_id))
        except DataError as err:
            reject(err.path, err.problem)
            captions.pop(clip_id, None)
            continue
        valid.append(clip_id)
    if not valid:
        raise DataError(root, "no valid clips" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return Dataset(root, valid, skipped, read_dataset_info(root).get("fps"), captions)


def write_clip(root: str | Path, clip_id: str, motion: np.ndarray, captions: Sequence[str],
               spec: dict | None = None) -> None:
    """Write one clip's files (validated first) into a challenge-layout folder."""
    root = Path(root)
    path = motion_path(root, clip_id)
    motion = check_motion(motion, path)
    captions = check_captions(captions, text_path(root, clip_id))
    for folder in ("motions", "texts") + (("specs",) if spec is not None else ()):
        (root / folder).mkdir(parents=True, exist_ok=True)
    np.save(path, motion)
    text_path(root, clip_id).write_text("\n".join(c.strip() for c in captions) + "\n",
                                        encoding="utf-8")
    if spec is not None:
        spec_path(root, clip_id).write_text(json.dumps(spec) + "\n", encoding="utf-8")


def write_train_list(root: str | Path, ids: Iterable[str]) -> None:
    (Path(root) / TRAIN_LIST).write_text("".join(f"{clip_id}\n" for clip_id in ids), encoding="utf-8")


# --- query batches and ground truth -------------------------------------------------------

@dataclass(frozen=True)
class QueryBatch:
    query_id: str
    text: str
    motion_paths: list[Path]  # candidate 1 first


def _query_order(name: str) -> tuple:
    return (0, int(name), "") if name.isdigit() else (1, 0, name)


def write_query_batches(out_dir: str | Path, groups, motion_paths: dict[str, str | Path]) -> None:
    """One folder per group: its caption in text.txt, its candidates as motion_1..N.npy.

    `groups` are QueryGroup-like (query_id, caption, candidates). Candidate files are hard
    links to `motion_paths[clip]` where possible: a clip is a candidate in many groups.
    """
    out_dir = Path(out_dir)
    for group in groups:
        folder = out_dir / group.query_id
        folder.mkdir(parents=True)
        (folder / QUERY_TEXT).write_text(group.caption.strip() + "\n", encoding="utf-8")
        for number, clip_id in enumerate(group.candidates, start=1):
            link_or_copy(motion_paths[clip_id], folder / f"motion_{number}.npy")


def read_query_batches(directory: str | Path) -> list[QueryBatch]:
    """Every <query_id>/ folder (numeric ids in numeric order); candidate files are checked
    for presence and numbering here, their content when loaded (load_motion)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(directory, "query folder not found")
    folders = sorted((entry for entry in directory.iterdir()
                      if entry.is_dir() and not entry.name.startswith(".")),
                     key=lambda entry: _query_order(entry.name))
    batches = []
    for folder in folders:
        captions = load_captions(folder / QUERY_TEXT)
        if len(captions) != 1:
            raise DataError(folder / QUERY_TEXT, f"expected one query caption, got {len(captions)} lines")
        numbers = sorted(int(match.group(1)) for name in os.listdir(folder)
                         if (match := CANDIDATE_FILE.fullmatch(name)))
        if not numbers:
            raise DataError(folder, "no candidate files motion_<n>.npy")
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        if missing or numbers[0] != 1:
            raise DataError(folder, f"candidates must be numbered motion_1..motion_{numbers[-1]}.npy "
                                    f"without gaps; missing motion_{(missing or [1])[0]}.npy")
        batches.append(QueryBatch(folder.name, captions[0],
                                  [folder / f"motion_{n}.npy" for n in numbers]))
    if not batches:
        raise DataError(directory, "no query folders (<query_id>/text.txt, motion_<n>.npy)")
    return batches


def write_gt(path: str | Path, groups) -> None:
    """gt.csv: query_id,correct (the correct candidate's 1-based number), atomically."""
    frame = pd.DataFrame({"query_id": [g.query_id for g in groups],
                          "correct": [int(g.correct) for g in groups]})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_gt(path: str | Path) -> dict[str, int]:
    """Query id → correct candidate number, in file order."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise DataError(path, f"not a readable CSV ({err})") from None
    if [c.strip() for c in frame.columns] != GT_COLUMNS:
        raise DataError(path, f"header must be {','.join(GT_COLUMNS)}, got {','.join(frame.columns)}")
    gt: dict[str, int] = {}
    for line, (query_id, correct) in enumerate(frame.itertuples(index=False), start=2):
        query_id, correct = query_id.strip(), correct.strip()
        if not query_id:
            raise DataError(path, f"line {line}: empty query_id")
        if query_id in gt:
            raise DataError(path, f"line {line}: duplicate query_id {query_id!r}")
        if not correct.isdigit() or int(correct) < 1:
            raise DataError(path, f"line {line}: correct must be a candidate number >= 1, "
                                  f"got {correct!r}")
        gt[query_id] = int(correct)
    if not gt:
        raise DataError(path, "no rows")
    return gt
