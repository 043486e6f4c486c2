"""The InterHuman source: the release of InterGen (Liang et al., 2024) as challenge clips.

The release layout read, as InterGen's own loader reads it (datasets/interhuman.py,
utils/preprocess.py of tr3e/InterGen)::

    motions_processed/person1/<id>.npy   (T, 492) per person, 30 fps: columns 0:66 are the
    motions_processed/person2/<id>.npy   22 SMPL body joint positions (of 62 joints), columns
                                         186:312 the 21 body joints' 6D local rotations
    annots/<id>.txt                      the captions, one per line (three per clip)
    train.txt val.txt test.txt           the splits, one id per line, at the root (where the
    ignore_list.txt                      loader reads them) or in split/ (as its README shows)

Each person's 192 values are exactly those two slices, as stored: z-up metres (InterGen
turns them y-up with (x, y, z) -> (x, z, -y) when it trains; here they stay as they are and
dataset.json says up_axis z). train and val ids are the dataset (val also in val.txt), test
ids become query groups; ignored ids and ids in no split are left out. Persons of unequal
length are cut to the shorter, more than three captions to the first three.
"""
from __future__ import annotations

from pathlib import Path
from typing import Generator

import numpy as np
from tqdm import tqdm

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.layout import MAX_CAPTIONS
from textmotion.sources.common import Clip, load_array, read_lines, resample

FPS = 30
POSITIONS = slice(0, sk.N_JOINTS * 3)
ROTATIONS = slice(62 * 3, 62 * 3 + (sk.N_JOINTS - 1) * 6)
PERSONS = ("person1", "person2")
SPLIT_FOLDERS = (".", "split")


def split_file(source: Path, name: str) -> Path | None:
    """The split list `name` at the release root or in split/, or None."""
    for folder in SPLIT_FOLDERS:
        if (source / folder / name).is_file():
            return source / folder / name
    return None


def read_splits(source: Path, ids: list[str]) -> tuple[dict[str, str], dict]:
    """Clip id → split for the ids that have files, and counts of what was left out."""
    lists = {split: split_file(source, f"{split}.txt") for split in ("train", "val", "test")}
    ignore_path = split_file(source, "ignore_list.txt")
    ignored = {clip for _, clip in read_lines(ignore_path, ids=True)} if ignore_path else set()
    if not any(lists.values()):
        return {clip: "train" for clip in ids if clip not in ignored}, {"ignored": len(ignored & set(ids)),
                                                                          "in_no_split": 0}
    known, splits = set(ids), {}
    for split, path in lists.items():
        for _, clip in read_lines(path, ids=True) if path else []:
            if clip in ignored:
                continue
            if clip not in known:
                raise DataError(path, f"id {clip!r} has no motions_processed/person1/{clip}.npy")
            if splits.setdefault(clip, split) != split:
                raise DataError(path, f"id {clip!r} is also in {splits[clip]}.txt")
    return splits, {"ignored": len(ignored & known), "in_no_split": len(known - set(splits) - ignored)}


def person_features(path: Path) -> np.ndarray:
    """One person's (T, 192): the positions and 6D rotations InterGen's loader cuts."""
    array = load_array(path)
    if array.ndim != 2 or array.shape[1] < ROTATIONS.stop:
        raise DataError(path, f"expected InterHuman's processed (T, 492) array (at least "
                              f"{ROTATIONS.stop} columns), got shape {array.shape}")
    return np.concatenate([array[:, POSITIONS], array[:, ROTATIONS]], axis=1)


def read_interhuman(source: Path, fps: float | None) -> tuple[Generator[Clip, None, None], dict]:
    """The clips of an InterHuman release folder (lazily) and the dataset.json entries."""
    person1 = source / "motions_processed" / PERSONS[0]
    if not person1.is_dir():
        raise DataError(person1, "folder not found (expected InterHuman's motions_processed/person1/)")
    ids = sorted(path.stem for path in person1.glob("*.npy"))
    splits, left_out = read_splits(source, ids)
    fps = fps or FPS
    counts = {"persons_cut_to_shorter": 0, "captions_dropped": 0}

    def clips() -> Generator[Clip, None, None]:
        with tqdm([clip for clip in ids if clip in splits], desc="interhuman", unit="clip") as bar:
            for clip_id in bar:
                paths = [source / "motions_processed" / person / f"{clip_id}.npy" for person in PERSONS]
                persons = [person_features(path) for path in paths]
                lengths = [len(person) for person in persons]
                n_frames = min(lengths)
                counts["persons_cut_to_shorter"] += len(set(lengths)) > 1
                annots = source / "annots" / f"{clip_id}.txt"
                captions = [caption for _, caption in read_lines(annots)]
                if not captions:
                    raise DataError(annots, "no caption")
                counts["captions_dropped"] += max(0, len(captions) - MAX_CAPTIONS)
                motion = np.concatenate([person[:n_frames] for person in persons], axis=1)
                yield Clip(clip_id, resample(motion, FPS, fps), captions[:MAX_CAPTIONS], splits[clip_id],
                           motion_file=paths[lengths.index(n_frames)], caption_file=annots)  # the shorter person

    info = {"source": "interhuman", "source_path": str(source), "fps": fps, "source_fps": FPS,
            "up_axis": "z", "left_out": left_out, "adjustments": counts}
    return clips(), info
