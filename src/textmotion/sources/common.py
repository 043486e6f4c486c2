"""What the importers share: the person-B policy, resampling, and writing a source folder.

Person-B policy (single-person data in the two-person layout): the absent person is all
zeros for the 22 positions and the identity rotation ([1, 0, 0, 0, 1, 0]) for every 6D
value. Why not a still copy of person A or a standing bystander: either would invent a
second body the caption does not mention, with a distance and facing to person A that mean
nothing, and would differ from clip to clip. The absent person is the same constant in every
single-person clip, so the normaliser maps it to 0 and the encoder learns to ignore it; it is
a valid rotation (no NaN through Gram-Schmidt), and it is recognisable (all joints at one
point), so the renderer leaves it out (render.motion_positions).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from pybvh import rotations

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.groups import build_query_groups
from textmotion.io import atomic_dir
from textmotion.layout import (TEST_STAGING, VAL_LIST, check_captions, check_motion, read_id_list, write_clip,
                               write_dataset_info, write_id_list, write_test_set)

SPLITS = ("train", "val", "test")
IDENTITY_6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=np.float32)
PERSON_B_POLICY = "absent: zero positions and identity 6D rotations (textmotion/sources/common.py)"


@dataclass
class Clip:
    clip_id: str
    motion: np.ndarray   # (T, 384)
    captions: list[str]
    split: str           # one of SPLITS


def absent_person(n_frames: int) -> np.ndarray:
    """(T, 192) features of the absent person B of single-person data (module docstring)."""
    person = np.zeros((n_frames, sk.FEATURES_PER_PERSON), dtype=np.float32)
    person[:, sk.N_JOINTS * 3:] = np.tile(IDENTITY_6D, sk.N_JOINTS - 1)
    return person


def with_person_b(person_a: np.ndarray, person_b: np.ndarray | None = None) -> np.ndarray:
    """(T, 384) from person A's (T, 192) and person B's, or the absent person when None."""
    if person_b is None:
        person_b = absent_person(len(person_a))
    return np.concatenate([person_a, person_b], axis=1).astype(np.float32)


def resample(motion: np.ndarray, source_fps: float, target_fps: float) -> np.ndarray:
    """Motion features (T, k * 192) at `target_fps`: positions linearly interpolated, local
    rotations by quaternion slerp. New frames at 0, 1/fps, ... up to the clip's duration.
    The same rate returns the motion unchanged."""
    if source_fps == target_fps:
        return motion
    n_frames = len(motion)
    source_t = np.arange(n_frames) / source_fps
    target_t = np.arange(0.0, source_t[-1] + 1e-9, 1.0 / target_fps)
    right = np.clip(np.searchsorted(source_t, target_t, side="right"), 1, n_frames - 1)
    left = right - 1
    alpha = np.clip((target_t - source_t[left]) / (source_t[right] - source_t[left]), 0.0, 1.0)
    persons = np.asarray(motion, dtype=np.float64).reshape(n_frames, -1, sk.FEATURES_PER_PERSON)
    positions = persons[..., :sk.N_JOINTS * 3]
    positions = positions[left] + alpha[:, None, None] * (positions[right] - positions[left])
    quats = rotations.rotmat_to_quat(
        sk.rot6d_to_matrix(persons[..., sk.N_JOINTS * 3:].reshape(n_frames, -1, sk.N_JOINTS - 1, 6)))
    weights = np.broadcast_to(alpha[:, None, None], (len(target_t), *quats.shape[1:-1]))
    rot6d = sk.matrix_to_rot6d(rotations.quat_to_rotmat(rotations.quat_slerp(quats[left], quats[right],
                                                                              weights)))
    out = np.concatenate([positions, rot6d.reshape(len(target_t), persons.shape[1], -1)], axis=-1)
    return out.reshape(len(target_t), -1).astype(np.float32)


def load_array(path: Path) -> np.ndarray:
    """A numeric, finite array from a .npy file (no pickles), as float64; else DataError."""
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (ValueError, OSError, EOFError) as err:
        raise DataError(path, f"not a readable .npy array ({err})") from None
    if array.dtype.kind not in "fiu":
        raise DataError(path, f"expected a numeric array, got {array.dtype}")
    if not np.isfinite(array).all():
        raise DataError(path, "contains NaN or Inf values")
    return array.astype(np.float64)


def read_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line of a UTF-8 file, stripped (the reader of
    train.txt, layout.read_id_list); DataError when the file is missing or unreadable."""
    lines = read_id_list(path.parent, path.name)
    if lines is None:
        raise DataError(path, "file not found")
    return lines


def same_caption_clips(ids: Sequence[str], captions: dict[str, list[str]]) -> dict[str, set[str]]:
    """Caption → the other clips with the same caption (case and spacing aside): they would be
    right answers too, so query groups leave them out of that caption's candidates."""
    def key(caption: str) -> str:
        return " ".join(caption.lower().split())
    holders: dict[str, set[str]] = {}
    for clip in ids:
        for caption in captions[clip]:
            holders.setdefault(key(caption), set()).add(clip)
    return {caption: holders[key(caption)] - {clip} for clip in ids for caption in captions[clip]}


def write_source(out: Path, source: Path, clips: Iterable[Clip], info: dict, n_candidates: int,
                 seed: int) -> dict:
    """Write imported clips as a dataset folder, atomically; return its dataset.json.

    train and val clips go to motions/ and texts/ and are listed in train.txt, the val ones
    also in val.txt; test clips become held-out query groups of at most `n_candidates`
    (each test caption a query once) with their ground truth (test_queries/, test_gt.csv).
    `info` (source, fps, up_axis, ...) is completed with the split sizes and frame counts.
    """
    ids: dict[str, list[str]] = {split: [] for split in SPLITS}
    test_paths, test_captions, frames, seen = {}, {}, [], set()
    with atomic_dir(out) as root:
        staging = root / TEST_STAGING
        for clip in clips:
            if clip.clip_id in seen:
                raise DataError(source, f"two clips are both named {clip.clip_id!r}")
            seen.add(clip.clip_id)
            if clip.split == "test":
                staging.mkdir(exist_ok=True)
                path = staging / f"{clip.clip_id}.npy"
                np.save(path, check_motion(clip.motion, path))
                test_paths[clip.clip_id] = path
                test_captions[clip.clip_id] = check_captions(clip.captions, path)
            else:
                write_clip(root, clip.clip_id, clip.motion, clip.captions)
            ids[clip.split].append(clip.clip_id)
            frames.append(len(clip.motion))
        if not ids["train"] + ids["val"]:
            raise DataError(source, "no train or val clip to import")
        write_id_list(root, ids["train"] + ids["val"])
        if ids["val"]:
            write_id_list(root, ids["val"], VAL_LIST)
        test_report = None
        if len(ids["test"]) >= 2:
            n_queries = sum(len(captions) for captions in test_captions.values())
            groups, test_report = build_query_groups(
                ids["test"], test_captions, None, n_queries, n_candidates, 0.0,
                np.random.default_rng(seed), same_caption_clips(ids["test"], test_captions))
            write_test_set(root, groups, test_paths)
        shutil.rmtree(staging, ignore_errors=True)
        info = {**info, "clips": {split: len(ids[split]) for split in SPLITS},
                "frames": {"total": int(sum(frames)), "min": int(min(frames)), "max": int(max(frames))},
                "test_queries": test_report}
        write_dataset_info(root, info)
    return info


def summary_line(out: Path, info: dict) -> str:
    """One line saying what an import wrote."""
    clips = info["clips"]
    tests = info["test_queries"]
    return (f"wrote {clips['train'] + clips['val']} clips ({clips['val']} in val.txt) at {info['fps']:g} fps, "
            f"up axis {info['up_axis']}, to {out}"
            + (f"; {tests['n_groups']} test queries from {clips['test']} held-out clips" if tests else ""))
