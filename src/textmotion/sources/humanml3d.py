"""The HumanML3D source (Guo et al., 2022): single-person clips with their text spans.

The release layout read, as EricGuo5513/HumanML3D writes it (motion_representation.py) and
text-to-motion's loader reads it (datasets/dataset.py)::

    new_joints/<id>.npy       (T, 22, 3) joint positions, y-up metres, floor at 0, 20 fps
    new_joint_vecs/<id>.npy   (T, 263) features of the same T frames: root data 4, joint
                              positions relative to the root 21 x 3, 6D local rotations of
                              joints 1..21 (first two matrix columns, as here) 21 x 6 at
                              columns 67:193, local velocities 22 x 3, foot contacts 4
    texts/<id>.txt            caption#tokens#start#end per line; start and end in seconds,
                              both 0 (or nan) for the whole clip
    train.txt val.txt test.txt  ids, one per line; M<id> is <id> mirrored left to right

Person A is the positions of new_joints and the rotations of new_joint_vecs, as stored;
person B follows the person-B policy (sources/common.py: absent). A caption whose span is
not the whole clip makes a clip of its own, frames int(start x 20) to int(end x 20) as the
loader cuts them, named <id>_<first>-<end>; captions of the same span share one clip (the
first three kept). A clip with no whole-clip caption is only its spans. A span (or a whole
clip) with fewer than two frames at the output rate, too short or past the end of its motion,
is left out, as the loader skips short spans: dataset.json counts them (`spans_too_short`)
and the import says on the console how many and the first caption file with one. A
mirrored M<id> takes the split of <id> wherever the release lists <id>, so a clip and its
mirror image are never on both sides of a split.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Generator

import numpy as np
from tqdm import tqdm

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.layout import MAX_CAPTIONS, MIN_FRAMES
from textmotion.sources.common import PERSON_B_POLICY, Clip, load_array, read_lines, resample, with_person_b

FPS = 20
VECTOR_DIM = 263
ROTATIONS = slice(4 + (sk.N_JOINTS - 1) * 3, 4 + (sk.N_JOINTS - 1) * 9)
MIRROR_PREFIX = "M"


def original_of(clip_id: str) -> str:
    return clip_id[len(MIRROR_PREFIX):] if clip_id.startswith(MIRROR_PREFIX) else clip_id


def read_splits(source: Path) -> dict[str, str]:
    """Clip id → split; a mirrored id goes where its original is listed."""
    listed: dict[str, str] = {}
    for split in ("train", "val", "test"):
        path = source / f"{split}.txt"
        if not path.is_file():
            raise DataError(path, "split list not found (HumanML3D's train.txt, val.txt, test.txt)")
        for _, clip_id in read_lines(path, ids=True):
            if listed.setdefault(clip_id, split) != split:
                raise DataError(path, f"id {clip_id!r} is also in {listed[clip_id]}.txt")
    return {clip_id: listed.get(original_of(clip_id), split) for clip_id, split in listed.items()}


def read_texts(path: Path) -> dict[tuple[float, float], list[str]]:
    """(start, end) in seconds → captions, in file order; (0, 0) is the whole clip."""
    spans: dict[tuple[float, float], list[str]] = {}
    for number, line in read_lines(path):
        fields = line.rsplit("#", 3)  # a caption may hold a "#" itself
        try:
            start, end = (float(value) for value in fields[2:4])
        except ValueError:
            start = end = math.inf
        if len(fields) != 4 or not fields[0].strip() or math.isinf(start) or math.isinf(end):
            raise DataError(path, f"line {number}: expected caption#tokens#start#end, got {line[:60]!r}")
        span = (0.0 if math.isnan(start) else start, 0.0 if math.isnan(end) else end)
        if span != (0.0, 0.0) and not 0.0 <= span[0] < span[1]:
            raise DataError(path, f"line {number}: span {start}..{end} s is not a time range")
        spans.setdefault(span, []).append(fields[0].strip())
    if not spans:
        raise DataError(path, "no caption")
    return spans


def frame_spans(path: Path, n_frames: int) -> dict[tuple[int, int], list[str]]:
    """(first, stop) frames → captions, cut as HumanML3D's loader cuts; (0, n_frames) is whole."""
    spans: dict[tuple[int, int], list[str]] = {}
    for (start, end), captions in read_texts(path).items():
        frames = (0, n_frames) if (start, end) == (0.0, 0.0) else (int(start * FPS), min(int(end * FPS), n_frames))
        spans.setdefault(frames, []).extend(captions)
    return spans


def person_features(source: Path, clip_id: str) -> np.ndarray:
    """Person A's (T, 192): new_joints positions and new_joint_vecs' 6D rotations."""
    joints_path = source / "new_joints" / f"{clip_id}.npy"
    vecs_path = source / "new_joint_vecs" / f"{clip_id}.npy"
    joints, vecs = load_array(joints_path), load_array(vecs_path)
    if joints.ndim != 3 or joints.shape[1:] != (sk.N_JOINTS, 3):
        raise DataError(joints_path, f"expected (T, {sk.N_JOINTS}, 3) joint positions, got shape {joints.shape}")
    if vecs.ndim != 2 or vecs.shape[1] != VECTOR_DIM:
        raise DataError(vecs_path, f"expected HumanML3D's (T, {VECTOR_DIM}) features, got shape {vecs.shape}")
    if len(vecs) != len(joints):
        raise DataError(vecs_path, f"{len(vecs)} frames but new_joints/{clip_id}.npy has {len(joints)}")
    return np.concatenate([joints.reshape(len(joints), -1), vecs[:, ROTATIONS]], axis=1)


def read_humanml3d(source: Path, fps: float | None) -> tuple[Generator[Clip, None, None], dict]:
    """The clips of a HumanML3D folder (lazily) and the dataset.json entries."""
    joints_dir = source / "new_joints"
    if not joints_dir.is_dir():
        raise DataError(joints_dir, "folder not found (expected HumanML3D's new_joints/, new_joint_vecs/, texts/)")
    splits = read_splits(source)
    available = {path.stem for path in joints_dir.glob("*.npy")}
    ids = sorted(set(splits) & available)
    fps = fps or FPS
    counts = {"listed_without_motion": len(set(splits) - available), "span_clips": 0,
              "spans_too_short": 0, "captions_dropped": 0}
    too_short: list[Path] = []  # the caption file of each span left out, in order

    def clips() -> Generator[Clip, None, None]:
        with tqdm(ids, desc="humanml3d", unit="motion") as bar:
            for clip_id in bar:
                person = person_features(source, clip_id)
                texts = source / "texts" / f"{clip_id}.txt"
                for (first, stop), captions in frame_spans(texts, len(person)).items():
                    motion = resample(with_person_b(person[first:stop]), FPS, fps)
                    if len(motion) < MIN_FRAMES:
                        counts["spans_too_short"] += 1
                        too_short.append(texts)
                        continue
                    whole = (first, stop) == (0, len(person))
                    counts["span_clips"] += not whole
                    counts["captions_dropped"] += max(0, len(captions) - MAX_CAPTIONS)
                    yield Clip(clip_id if whole else f"{clip_id}_{first}-{stop}", motion, captions[:MAX_CAPTIONS],
                               splits[clip_id], motion_file=source / "new_joints" / f"{clip_id}.npy",
                               caption_file=texts)
        if too_short:
            print(f"left out {len(too_short)} caption span(s) with fewer than {MIN_FRAMES} frames at {fps:g} fps "
                  f"(too short, or past the end of the motion); the first in {too_short[0]}")

    info = {"source": "humanml3d", "source_path": str(source), "fps": fps, "source_fps": FPS, "up_axis": "y",
            "person_b": PERSON_B_POLICY,
            "adjustments": counts}
    return clips(), info
