"""What the sources share: the person-B policy, resampling, and writing a source folder.

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
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generator, Sequence

import numpy as np
from pybvh import rotations

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.groups import QueryGroup, build_query_groups, reword_groups
from textmotion.io import atomic_dir, read_npy
from textmotion.layout import (TEST_QUERIES, TEST_STAGING, VAL_LIST, check_captions, check_finite, check_motion,
                               read_id_list, read_text_lines, write_clip, write_clip_wordings, write_dataset_info,
                               write_id_list, write_metadata, write_paraphrases, write_query_wordings, write_test_set)

SPLITS = ("train", "val", "test")
IDENTITY_6D = np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0], dtype=np.float32)
PERSON_B_POLICY = "absent: zero positions and identity 6D rotations (textmotion/sources/common.py)"


@dataclass
class Clip:
    """One clip as a source yields it to write_source. Metadata, and each wording, a source
    gives for every clip or for none."""
    clip_id: str
    motion: np.ndarray   # (T, 384)
    captions: list[str]
    split: str           # one of SPLITS
    motion_file: Path    # the source files a bad motion or bad captions are reported against
    caption_file: Path
    metadata: dict | None = None  # {"labels": [...], "signature": str}: for hard negatives (layout.read_metadata)
    wordings: dict[str, list[str]] = field(default_factory=dict)  # wording name → the clip described in it
    paraphrases: list[str] = field(default_factory=list)  # further captions, for training only


@dataclass(frozen=True)
class QueryGrouping:
    """How a source's test clips become query groups (groups.build_query_groups), drawn from
    np.random.default_rng(seed). Test clips with metadata make hard groups: at least
    `hard_fraction` of the other candidates share a label with the query clip, and none has
    its signature; without metadata, clips with the same caption are left out of each
    other's candidates (same_caption_clips)."""
    n_candidates: int
    seed: int | tuple[int, ...]
    n_queries: int | None = None  # None: each test caption a query once
    hard_fraction: float = 0.0


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
    The same rate, or fewer than two frames (nothing to interpolate), returns the motion unchanged."""
    if source_fps == target_fps or len(motion) < 2:
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
    """A numeric, finite array from a .npy file (io.read_npy: no pickles, header checked
    against the file size), as float64; else DataError."""
    array = read_npy(path)
    if array.dtype.kind not in "fiu":
        raise DataError(path, f"expected a numeric array, got {array.dtype}")
    check_finite(array, path)
    return array.astype(np.float64)


def read_lines(path: Path, ids: bool = False) -> list[tuple[int, str]]:
    """(line number, text) of each non-blank line of a UTF-8 file, stripped (layout's reader:
    lines end at \\n or \\r\\n only); with `ids`, a list of ids, where one that is a path is an
    error (layout.read_id_list). DataError when the file is missing or unreadable."""
    lines = read_id_list(path.parent, path.name) if ids else read_text_lines(path)
    if lines is None:
        raise DataError(path, "file not found")
    return lines


def same_caption_clips(ids: Sequence[str], captions: dict[str, list[str]]) -> dict[str, set[str]]:
    """Caption → every clip with that caption (case and spacing aside): any of them but the
    query would be a right answer too, so query groups leave them out of that caption's
    candidates (build_query_groups never makes the query a candidate of its own)."""
    def key(caption: str) -> str:
        return " ".join(caption.lower().split())
    holders: dict[str, set[str]] = {}
    for clip in ids:
        for caption in captions[clip]:
            holders.setdefault(key(caption), set()).add(clip)
    return {caption: holders[key(caption)] for clip in ids for caption in captions[clip]}


def write_source(out: Path, source: Path, clips: Generator[Clip, None, None], info: dict,
                 grouping: QueryGrouping | None, write_own_files: Callable[[Path], None] | None = None) -> dict:
    """Write a source's clips as a dataset folder, atomically; return its dataset.json.

    train and val clips go to motions/ and texts/ and are listed in train.txt, the val ones
    also in val.txt, with their metadata (metadata.json), other wordings (wordings.json) and
    paraphrases (paraphrases.json) where the source gives them; test clips become held-out
    query groups as `grouping` says (None: the source has no test clips), with their ground
    truth and their queries in the other wordings (test_queries/ with its wordings.csv,
    test_gt.csv). `write_own_files(root)` then adds the source's own files to the folder.
    `info` (source, fps, up_axis, ...) is completed with the split sizes, frame counts and
    the test groups' report. Each clip is checked before it is written, a problem naming its
    source file (never the temporary output); on any error `clips` is closed, so that its
    progress bar ends its line before the error's.
    """
    ids: dict[str, list[str]] = {split: [] for split in SPLITS}
    test_paths, test_captions, frames, seen = {}, {}, [], set()
    metadata: dict[str, dict] = {}
    wordings: dict[str, dict[str, list[str]]] = {}
    paraphrases: dict[str, list[str]] = {}
    with atomic_dir(out) as root, closing(clips):
        staging = root / TEST_STAGING
        for clip in clips:
            if clip.clip_id in seen:
                raise DataError(source, f"two clips are both named {clip.clip_id!r}")
            seen.add(clip.clip_id)
            motion = check_motion(clip.motion, clip.motion_file)
            captions = check_captions(clip.captions, clip.caption_file)
            if clip.split == "test":
                staging.mkdir(exist_ok=True)
                path = staging / f"{clip.clip_id}.npy"
                np.save(path, motion)
                test_paths[clip.clip_id] = path
                test_captions[clip.clip_id] = captions
            else:
                write_clip(root, clip.clip_id, motion, captions)
                if clip.paraphrases:
                    paraphrases[clip.clip_id] = check_captions(clip.paraphrases, clip.caption_file, at_most=None)
            if clip.metadata is not None:
                metadata[clip.clip_id] = clip.metadata
            for name, worded in clip.wordings.items():
                wordings.setdefault(name, {})[clip.clip_id] = check_captions(worded, clip.caption_file)
            ids[clip.split].append(clip.clip_id)
            frames.append(len(clip.motion))
        dataset_ids = ids["train"] + ids["val"]
        if not dataset_ids:
            raise DataError(source, "no train or val clip to import")
        write_id_list(root, dataset_ids)
        if ids["val"]:
            write_id_list(root, ids["val"], VAL_LIST)
        if metadata:
            write_metadata(root, _of(metadata, dataset_ids))
        if wordings:
            write_clip_wordings(root, {name: _of(worded, dataset_ids) for name, worded in wordings.items()})
        if paraphrases:
            write_paraphrases(root, paraphrases)
        test_report = None
        if len(ids["test"]) >= 2:
            groups, test_report = _test_groups(source, ids["test"], test_captions,
                                               _of(metadata, ids["test"]) if metadata else None, grouping)
            write_test_set(root, groups, test_paths)
            if wordings:
                write_query_wordings(root / TEST_QUERIES, reword_groups(
                    groups, test_captions, {name: _of(worded, ids["test"]) for name, worded in wordings.items()}))
        shutil.rmtree(staging, ignore_errors=True)
        if write_own_files is not None:
            write_own_files(root)
        info = {**info, "clips": {split: len(ids[split]) for split in SPLITS},
                "frames": {"total": int(sum(frames)), "min": int(min(frames)), "max": int(max(frames))},
                "test_queries": test_report}
        write_dataset_info(root, info)
    return info


def _of(by_clip: dict[str, object], chosen: list[str]) -> dict:
    """The entries of the `chosen` clips, in their order."""
    return {clip: by_clip[clip] for clip in chosen}


def _test_groups(source: Path, ids: list[str], captions: dict[str, list[str]], metadata: dict[str, dict] | None,
                 grouping: QueryGrouping) -> tuple[list[QueryGroup], dict]:
    """The test clips' query groups as `grouping` says, and their report."""
    n_queries = sum(len(c) for c in captions.values()) if grouping.n_queries is None else grouping.n_queries
    try:
        return build_query_groups(ids, captions, metadata, n_queries, grouping.n_candidates, grouping.hard_fraction,
                                  np.random.default_rng(grouping.seed),
                                  None if metadata is not None else same_caption_clips(ids, captions))
    except ValueError as err:  # every test clip has the captions, or the signature, of another
        raise DataError(source, f"test split: {err}") from None


def summary_line(out: Path, info: dict) -> str:
    """One line saying what an import wrote."""
    clips = info["clips"]
    tests = info["test_queries"]
    return (f"wrote {clips['train'] + clips['val']} clips ({clips['val']} in val.txt) at {info['fps']:g} fps, "
            f"up axis {info['up_axis']}, to {out}"
            + (f"; {tests['n_groups']} test queries from {clips['test']} held-out clips" if tests else ""))
