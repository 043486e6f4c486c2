"""The challenge data layout: the one reader, validator and writer every stage and source uses.

A dataset (a "root"), as any source writes it (the synthetic generator, an importer, the
challenge's own folder)::

    <root>/motions/<id>.npy    (T, 384) float, T >= 2, finite
    <root>/texts/<id>.txt      1 to 3 non-empty UTF-8 lines, one caption each
    <root>/train.txt           the ids, one per line (optional, see below)
    <root>/val.txt             optional: the ids (a subset of the dataset) held out for validation,
                               where the source has its own split; else preprocess draws one
    <root>/metadata.json       optional: {id: {"labels": [...], "signature": "..."}} per clip,
                               used to build hard negatives and to leave out candidates that
                               mean the same as the answer
    <root>/dataset.json        optional: {"fps": ..., "up_axis": "y" | "z", "source": ...}
    <root>/test_queries/       optional: held-out query groups (the query layout below) and
    <root>/test_gt.csv         their ground truth, scored by the predict stage
    <root>/extra_tests/<name>/ optional: further held-out query sets with their own clips (e.g.
    <root>/extra_tests/<name>_gt.csv  real captions), scored by predict as score_<name>
    <root>/wordings.json       optional: {wording: {id: [caption, ...]}}, the same clips described
                               in other words (e.g. phrasings never used in training), so the
                               val queries can be asked again in that wording
    <root>/paraphrases.json    optional: {id: [caption, ...]}, any number of further captions of
                               a clip, for training only (caption augmentation): preprocess keeps
                               those of the train split, and nothing evaluates on them

Every motion must have its caption file and the reverse, across the whole folders (a stray
file means a broken copy). When train.txt is absent, the dataset is every id that has both
files, in sorted order; when present, it is exactly the listed ids, in listed order, and an
id listed without files is an error. Ids are plain file names, never paths. Lines of text
files end at \\n or \\r\\n only (a U+2028 or a form feed is part of its line). A source may
add files of its own (the synthetic source keeps its specs/); nothing generic reads them.

Query batches (val and test)::

    <dir>/<query_id>/text.txt                    the query caption (one line)
    <dir>/<query_id>/motion_1.npy .. motion_N.npy  the candidates (no gaps, no leading zeros,
                                                 no other file but hidden ones)
    <dir>/wordings.csv                           optional: query_id,wording,text: each query
                                                 asked again in other words, same candidates
    gt.csv                                       query_id,correct (1-based candidate number)

Bad input raises DataError(path, problem). With skip_bad=True, read_dataset leaves out the
bad clips instead and records (path, reason) in Dataset.skipped; a missing folder, an
unreadable train.txt (or one that lists a path) or an empty result still fail.
"""
from __future__ import annotations

import math
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from textmotion.errors import DataError
from textmotion.io import (atomic_path, is_one_line, parse_int, read_csv_strings, read_json, read_npy,
                           split_lines, write_json)
from textmotion.skeleton import MOTION_DIM

MAX_CAPTIONS = 3
MIN_FRAMES = 2
TRAIN_LIST = "train.txt"
VAL_LIST = "val.txt"
METADATA = "metadata.json"
DATASET_INFO = "dataset.json"
TEST_QUERIES, TEST_GT = "test_queries", "test_gt.csv"
GROUP_CLIPS = "groups.csv"  # beside query folders a stage made: which clip each candidate is
GROUP_CLIP_COLUMNS = ["query_id", "candidate", "clip_id"]
CLIP_WORDINGS, QUERY_WORDINGS, PARAPHRASES = "wordings.json", "wordings.csv", "paraphrases.json"
EXTRA_TESTS = "extra_tests"
TEST_STAGING = ".test_clips"  # where a source writes its test clips once before linking them into groups
UP_AXES = ("y", "z")
QUERY_TEXT = "text.txt"
CANDIDATE_FILE = re.compile(r"motion_([1-9][0-9]*)\.npy")  # numbered from 1, no leading zeros
GT_QUERY_COLUMN = "query_id"
GT_ANSWER_COLUMNS = ("correct", "correct_candidate", "answer", "gt")  # accepted names, first is written


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
    check_finite(motion, path)
    return motion


def check_finite(array: np.ndarray, path: str | Path) -> None:
    """DataError naming `path` and the first frame (index along the first axis, from 0) that
    holds a NaN or Inf value, if any does."""
    if not np.isfinite(array).all():
        frames = np.atleast_1d(array)
        finite = np.isfinite(frames).reshape(len(frames), -1).all(axis=1)
        raise DataError(path, f"contains NaN or Inf values (first at frame {int(np.argmin(finite))})")


def load_motion(path: str | Path) -> np.ndarray:
    """A validated (T, 384) float32 motion; refuses pickled content."""
    return check_motion(read_npy(path), path)


def check_captions(captions: Sequence[str], path: str | Path, at_most: int | None = MAX_CAPTIONS) -> list[str]:
    """The captions if there are 1 to `at_most` (None: any number), each a non-empty single
    line; else DataError."""
    captions = list(captions)
    if not captions:
        raise DataError(path, "no caption")
    if at_most is not None and len(captions) > at_most:
        raise DataError(path, f"{len(captions)} captions; at most {at_most} allowed")
    for number, caption in enumerate(captions, start=1):
        if not isinstance(caption, str) or not caption.strip():
            raise DataError(path, f"caption {number} is blank")
        if not is_one_line(caption):
            raise DataError(path, f"caption {number} spans several lines")
    return captions


def load_captions(path: str | Path) -> list[str]:
    """1 to 3 captions, one per line (UTF-8; lines end at \\n or \\r\\n only; surrounding
    whitespace and final blank lines dropped)."""
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
    lines = [line.strip() for line in split_lines(text)]
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


def _read_optional_object(path: Path, shape: str = "") -> dict | None:
    """The file's JSON object, or None where the source did not write it; DataError when it
    holds something else (`shape` says what the object should look like)."""
    if not path.exists():
        return None
    content = read_json(path)
    if not isinstance(content, dict):
        raise DataError(path, f"expected a JSON object {shape}".rstrip())
    return content


def _caption_list(captions: object, path: Path, where: str, at_most: int | None = MAX_CAPTIONS) -> list[str]:
    """A JSON file's list of captions for `where` (e.g. "clip '00001'"), checked by check_captions."""
    if not isinstance(captions, list):
        raise DataError(path, f"{where}: expected a list of captions")
    return check_captions(captions, f"{path} ({where})", at_most)


def read_dataset_info(root: str | Path) -> dict:
    """The optional dataset.json ({} when absent), its fps and up axis checked."""
    path = Path(root) / DATASET_INFO
    info = _read_optional_object(path)
    if info is None:
        return {}
    fps = info.get("fps")
    if fps is not None and (isinstance(fps, bool) or not isinstance(fps, (int, float)) or not math.isfinite(fps)
                            or fps <= 0):
        raise DataError(path, f"fps must be a positive number, got {fps!r}")
    if info.get("up_axis", "y") not in UP_AXES:
        raise DataError(path, f"up_axis must be one of {', '.join(UP_AXES)}, got {info['up_axis']!r}")
    return info


def write_dataset_info(root: str | Path, info: dict) -> None:
    """dataset.json: at least the source's name and fps; `up_axis` defaults to y."""
    write_json(Path(root) / DATASET_INFO, info)


def read_metadata(root: str | Path, ids: Iterable[str]) -> dict[str, dict] | None:
    """Per-clip metadata ({"labels": [...], "signature": str}) of every id, or None when the
    dataset has no metadata.json. A file that misses one of `ids` is an error."""
    path = Path(root) / METADATA
    metadata = _read_optional_object(path, "{id: {labels, signature}}")
    if metadata is None:
        return None
    out = {}
    for clip_id in ids:
        entry = metadata.get(clip_id)
        if entry is None:
            raise DataError(path, f"no entry for clip {clip_id!r}")
        labels, signature = (entry.get("labels"), entry.get("signature")) if isinstance(entry, dict) else (None, None)
        if not (isinstance(labels, list) and all(isinstance(x, str) for x in labels)
                and isinstance(signature, str)):
            raise DataError(path, f"clip {clip_id!r}: expected {{\"labels\": [str, ...], \"signature\": str}}")
        out[clip_id] = {"labels": labels, "signature": signature}
    return out


def write_metadata(root: str | Path, metadata: dict[str, dict]) -> None:
    write_json(Path(root) / METADATA, metadata)


def read_clip_wordings(root: str | Path, ids: Iterable[str]) -> dict[str, dict[str, list[str]]]:
    """wordings.json: wording name → id → 1 to 3 captions, for every one of `ids` ({} when absent)."""
    path = Path(root) / CLIP_WORDINGS
    wordings = _read_optional_object(path, "{wording: {id: [caption, ...]}}")
    if wordings is None:
        return {}
    out: dict[str, dict[str, list[str]]] = {}
    for name, by_clip in wordings.items():
        if not isinstance(by_clip, dict):
            raise DataError(path, f"wording {name!r}: expected an object {{id: [caption, ...]}}")
        out[name] = {}
        for clip_id in ids:
            if clip_id not in by_clip:
                raise DataError(path, f"wording {name!r}: no captions for clip {clip_id!r}")
            out[name][clip_id] = _caption_list(by_clip[clip_id], path, f"wording {name!r}, clip {clip_id!r}")
    return out


def write_clip_wordings(root: str | Path, wordings: dict[str, dict[str, list[str]]]) -> None:
    write_json(Path(root) / CLIP_WORDINGS, wordings)


def read_paraphrases(root: str | Path, ids: Iterable[str]) -> dict[str, list[str]]:
    """paraphrases.json: id → its training-only captions, for those of `ids` that have some
    ({} when absent). An id the dataset does not have is an error (a file of another dataset)."""
    path = Path(root) / PARAPHRASES
    paraphrases = _read_optional_object(path, "{id: [caption, ...]}")
    if paraphrases is None:
        return {}
    ids = list(ids)
    unknown = sorted(set(paraphrases) - set(ids))
    if unknown:
        raise DataError(path, f"{len(unknown)} ids not in the dataset, e.g. {unknown[0]!r}")
    return {clip_id: _caption_list(paraphrases[clip_id], path, f"clip {clip_id!r}", at_most=None)
            for clip_id in ids if clip_id in paraphrases}


def write_paraphrases(root: str | Path, paraphrases: dict[str, list[str]]) -> None:
    write_json(Path(root) / PARAPHRASES, paraphrases)


def is_plain_name(name: str) -> bool:
    """Whether `name` (an id) names a file inside its folder, not a path: no '/', '\\' or NUL,
    not '.' or '..'."""
    return not {"/", "\\", "\0"} & set(name) and name not in (".", "..")


def read_id_list(root: str | Path, name: str = TRAIN_LIST) -> list[tuple[int, str]] | None:
    """(line number, id) of each non-blank line of train.txt (or val.txt), or None if absent;
    an id that is a path (../motions/00002) is an error."""
    path = Path(root) / name
    listed = read_text_lines(path)
    for number, clip_id in listed or []:
        if not is_plain_name(clip_id):
            raise DataError(path, f"id {clip_id!r} (line {number}) is a path; ids are plain file names")
    return listed


def read_text_lines(path: Path) -> list[tuple[int, str]] | None:
    """(line number, text) of each non-blank line of a UTF-8 file, stripped (lines end at \\n
    or \\r\\n only), or None if the file is absent."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 (byte {err.start})") from None
    return [(number, line.strip()) for number, line in enumerate(split_lines(text), start=1)
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
    info: dict = field(default_factory=dict)
    _captions: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def motion(self, clip_id: str) -> np.ndarray:
        return load_motion(self.motion_path(clip_id))

    def captions(self, clip_id: str) -> list[str]:
        return self._captions[clip_id]

    @property
    def fps(self) -> float | None:
        return self.info.get("fps")

    @property
    def up_axis(self) -> str:
        return self.info.get("up_axis", "y")

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

    listed = read_id_list(root)
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
    return Dataset(root, valid, skipped, read_dataset_info(root), captions)


def read_val_ids(root: str | Path, ids: Sequence[str]) -> list[str] | None:
    """The source's own val split (val.txt), restricted to the valid `ids`; None without one.

    An id of val.txt that is not in the dataset (listed in train.txt; without train.txt, having
    a file in motions/ or texts/) is an error; one of the dataset that read_dataset skipped as
    bad (`ids` leaves it out) is left out.
    """
    listed = read_id_list(root, VAL_LIST)
    if listed is None:
        return None
    root = Path(root)
    train = read_id_list(root)
    dataset = ({clip_id for _, clip_id in train} if train is not None
               else _file_ids(root / "motions", ".npy") | _file_ids(root / "texts", ".txt"))
    known, chosen = set(ids), []
    for number, clip_id in listed:
        if clip_id not in dataset:
            raise DataError(root / VAL_LIST, f"id {clip_id!r} (line {number}) is not in the dataset"
                                             + (f" (not listed in {TRAIN_LIST})" if train is not None else ""))
        if clip_id in known and clip_id not in chosen:
            chosen.append(clip_id)
    return chosen


def write_clip(root: str | Path, clip_id: str, motion: np.ndarray, captions: Sequence[str]) -> None:
    """Write one clip's files (validated first) into a challenge-layout folder."""
    root = Path(root)
    path = motion_path(root, clip_id)
    motion = check_motion(motion, path)
    captions = check_captions(captions, text_path(root, clip_id))
    for folder in ("motions", "texts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    np.save(path, motion)
    text_path(root, clip_id).write_text("\n".join(c.strip() for c in captions) + "\n",
                                        encoding="utf-8")


def write_id_list(root: str | Path, ids: Iterable[str], name: str = TRAIN_LIST) -> None:
    """train.txt (or val.txt): one id per line."""
    (Path(root) / name).write_text("".join(f"{clip_id}\n" for clip_id in ids), encoding="utf-8")


# --- query batches and ground truth -------------------------------------------------------

@dataclass(frozen=True)
class QueryBatch:
    query_id: str
    text: str
    motion_paths: list[Path]  # candidate 1 first


def _query_order(name: str) -> tuple:
    number = parse_int(name)
    return (0, number, "") if number is not None else (1, 0, name)


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
    for presence and numbering here (any other file but hidden ones is an error: a stray
    motion_05.npy would shift every candidate after it), their content when loaded (load_motion)."""
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
        numbers = []
        for name in sorted(os.listdir(folder)):
            match = CANDIDATE_FILE.fullmatch(name)
            if match:
                numbers.append(int(match.group(1)))
            elif name != QUERY_TEXT and not name.startswith("."):
                raise DataError(folder / name, f"unexpected file: a query folder holds only {QUERY_TEXT} and "
                                               f"motion_1.npy .. motion_<N>.npy (numbers without leading zeros)")
        numbers.sort()
        if not numbers:
            raise DataError(folder, "no candidate files motion_<n>.npy")
        missing = sorted(set(range(1, numbers[-1] + 1)) - set(numbers))
        if missing:
            raise DataError(folder, f"candidates must be numbered motion_1..motion_{numbers[-1]}.npy "
                                    f"without gaps; missing motion_{missing[0]}.npy")
        batches.append(QueryBatch(folder.name, captions[0],
                                  [folder / f"motion_{n}.npy" for n in numbers]))
    if not batches:
        raise DataError(directory, "no query folders (<query_id>/text.txt, motion_<n>.npy)")
    return batches


def write_gt(path: str | Path, groups) -> None:
    """gt.csv: query_id,correct (the correct candidate's 1-based number), atomically."""
    frame = pd.DataFrame({GT_QUERY_COLUMN: [g.query_id for g in groups],
                          GT_ANSWER_COLUMNS[0]: [int(g.correct) for g in groups]})
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def read_gt(path: str | Path, n_candidates: dict[str, int] | None = None) -> dict[str, int]:
    """Query id → correct candidate number, in file order.

    The header is query_id and one of GT_ANSWER_COLUMNS. With `n_candidates` (query id →
    its number of candidates), an answer outside 1..N is an error naming the line.
    """
    frame = read_csv_strings(path)
    columns = [c.strip() for c in frame.columns]
    if len(columns) != 2 or columns[0] != GT_QUERY_COLUMN or columns[1] not in GT_ANSWER_COLUMNS:
        raise DataError(path, f"header must be {GT_QUERY_COLUMN},<answer> with <answer> one of "
                              f"{', '.join(GT_ANSWER_COLUMNS)}; got {','.join(frame.columns)}")
    gt: dict[str, int] = {}
    for line, (query_id, correct) in enumerate(frame.itertuples(index=False), start=2):
        query_id, correct = query_id.strip(), correct.strip()
        if not query_id:
            raise DataError(path, f"line {line}: empty query_id")
        if not is_plain_name(query_id):
            raise DataError(path, f"line {line}: query_id {query_id!r} is a path; ids are plain file names")
        if query_id in gt:
            raise DataError(path, f"line {line}: duplicate query_id {query_id!r}")
        answer = parse_int(correct)
        if answer is None or answer < 1:
            raise DataError(path, f"line {line}: {columns[1]} must be a candidate number >= 1, "
                                  f"got {correct!r}")
        if n_candidates is not None and query_id in n_candidates and answer > n_candidates[query_id]:
            raise DataError(path, f"line {line}: answer {answer} for query {query_id!r}, which has "
                                  f"{n_candidates[query_id]} candidates")
        gt[query_id] = answer
    if not gt:
        raise DataError(path, "no rows")
    return gt


def write_group_clips(directory: str | Path, groups) -> None:
    """groups.csv beside the query folders: query_id,candidate,clip_id for every candidate."""
    rows = [(g.query_id, number, clip) for g in groups for number, clip in enumerate(g.candidates, start=1)]
    with atomic_path(Path(directory) / GROUP_CLIPS) as tmp:
        pd.DataFrame(rows, columns=GROUP_CLIP_COLUMNS).to_csv(tmp, index=False)


def read_group_clips(directory: str | Path) -> dict[str, list[str]]:
    """groups.csv: query id → its candidates' clip ids, candidate 1 first."""
    path = Path(directory) / GROUP_CLIPS
    frame = read_csv_strings(path)
    if list(frame.columns) != GROUP_CLIP_COLUMNS:
        raise DataError(path, f"header must be {','.join(GROUP_CLIP_COLUMNS)}; got {','.join(frame.columns)}")
    numbered: dict[str, dict[int, str]] = {}
    for line, (query_id, candidate, clip_id) in enumerate(frame.itertuples(index=False), start=2):
        number = parse_int(candidate)
        if number is None or number < 1:
            raise DataError(path, f"line {line}: candidate must be a number >= 1, got {candidate!r}")
        for column, value in (("query_id", query_id), ("clip_id", clip_id)):
            if not is_plain_name(value):
                raise DataError(path, f"line {line}: {column} {value!r} is a path; ids are plain file names")
        numbered.setdefault(query_id, {})[number] = clip_id
    for query_id, clips in numbered.items():
        if sorted(clips) != list(range(1, len(clips) + 1)):
            raise DataError(path, f"query {query_id!r}: candidates are not numbered 1..{len(clips)}")
    return {query_id: [clips[n] for n in range(1, len(clips) + 1)] for query_id, clips in numbered.items()}


def write_query_wordings(directory: str | Path, wordings: dict[str, dict[str, str]]) -> None:
    """wordings.csv beside the query folders: query_id,wording,text."""
    rows = [(query_id, name, text.strip()) for name, texts in wordings.items() for query_id, text in texts.items()]
    with atomic_path(Path(directory) / QUERY_WORDINGS) as tmp:
        pd.DataFrame(rows, columns=["query_id", "wording", "text"]).to_csv(tmp, index=False)


def read_query_wordings(directory: str | Path, query_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Wording name → query id → text, each wording covering every query ({} when absent)."""
    path = Path(directory) / QUERY_WORDINGS
    if not path.exists():
        return {}
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as err:
        raise DataError(path, f"not a readable CSV ({err})") from None
    if list(frame.columns) != ["query_id", "wording", "text"]:
        raise DataError(path, f"header must be query_id,wording,text; got {','.join(frame.columns)}")
    wordings: dict[str, dict[str, str]] = {}
    for line, (query_id, name, text) in enumerate(frame.itertuples(index=False), start=2):
        if not text.strip() or not is_one_line(text):
            raise DataError(path, f"line {line}: the text must be one non-empty line")
        wordings.setdefault(name, {})[query_id] = text
    for name, texts in wordings.items():
        if set(texts) != set(query_ids):
            missing = sorted(set(query_ids) - set(texts), key=_query_order)
            raise DataError(path, f"wording {name!r} does not cover the queries exactly "
                                  f"(missing {missing[:3]}, {len(set(texts) - set(query_ids))} unknown)")
    return wordings


def reworded(batches: Sequence[QueryBatch], texts: dict[str, str]) -> list[QueryBatch]:
    """The same queries and candidates, asked with `texts` (query id → text)."""
    return [QueryBatch(batch.query_id, texts[batch.query_id], batch.motion_paths) for batch in batches]


def read_scored_queries(queries: str | Path, gt_path: str | Path) -> tuple[list[QueryBatch], dict[str, int]]:
    """Query batches and their ground truth, checked against each other (same query ids,
    every answer within its query's candidates)."""
    batches = read_query_batches(queries)
    gt = read_gt(gt_path, {batch.query_id: len(batch.motion_paths) for batch in batches})
    if set(gt) != {batch.query_id for batch in batches}:
        missing = sorted({b.query_id for b in batches} - set(gt), key=_query_order)
        extra = sorted(set(gt) - {b.query_id for b in batches}, key=_query_order)
        raise DataError(gt_path, f"its query ids differ from the query folders in {queries} "
                                 f"(missing {missing[:3]}, unknown {extra[:3]})")
    return batches, gt


def find_test_set(root: str | Path) -> tuple[Path, Path] | None:
    """(test_queries/, test_gt.csv) of a dataset root, or None when its source has no test set."""
    queries, gt = Path(root) / TEST_QUERIES, Path(root) / TEST_GT
    if not queries.exists() and not gt.exists():
        return None
    for path in (queries, gt):
        if not path.exists():
            raise DataError(path, f"missing: a test set needs both {TEST_QUERIES}/ and {TEST_GT}")
    return queries, gt


def write_test_set(root: str | Path, groups, motion_paths: dict[str, str | Path], name: str | None = None) -> None:
    """A source's held-out test set inside its root: test_queries/ and test_gt.csv, or the
    extra test set `name` (extra_tests/<name>/ and extra_tests/<name>_gt.csv)."""
    queries, gt = ((Path(root) / TEST_QUERIES, Path(root) / TEST_GT) if name is None
                   else (Path(root) / EXTRA_TESTS / name, Path(root) / EXTRA_TESTS / f"{name}_gt.csv"))
    write_query_batches(queries, groups, motion_paths)
    write_gt(gt, groups)


def find_extra_test_sets(root: str | Path) -> dict[str, tuple[Path, Path]]:
    """name → (queries, gt.csv) of each extra test set of a dataset root."""
    folder = Path(root) / EXTRA_TESTS
    if not folder.is_dir():
        return {}
    found = {}
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and not entry.name.startswith("."):
            gt = folder / f"{entry.name}_gt.csv"
            if not gt.exists():
                raise DataError(gt, f"missing: the ground truth of the extra test set {entry.name}/")
            found[entry.name] = (entry, gt)
    return found
