"""Packed, memory-mappable motion stores and the normalisation statistics of the training split.

A store is a folder::

    frames.npy     (sum of T, 384) float32: every clip's raw frames, one after the other
    offsets.npy    (n + 1,) int64: clip i is frames[offsets[i]:offsets[i + 1]]
    ids.txt        clip ids, one per line
    captions.json  [[caption, ...], ...], 1 to 3 per clip
    paraphrases.json  optional: [[caption, ...], ...], each clip's training-only further
                   captions (the source's paraphrases.json; the train split only)

Stores keep the validated raw frames; `prepare_motion` (the temporal preprocessing) is
applied by whoever reads them, exactly as on a raw .npy file at inference, so a stored clip
and the same clip's file always give the same model input.
"""
from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from textmotion.errors import DataError
from textmotion.io import atomic_path, read_npy, split_lines
from textmotion.skeleton import MOTION_DIM

FRAMES, OFFSETS, IDS, CAPTIONS, PARAPHRASES = "frames.npy", "offsets.npy", "ids.txt", "captions.json", "paraphrases.json"
# Features whose training std is below this fraction of the mean std (constant features,
# e.g. a joint that never rotates, or only by noise) are divided by the floor instead, so
# they stay near 0 rather than blowing noise up to unit variance.
STD_FLOOR_RELATIVE = 1e-2
FRAME_DTYPE = np.dtype("<f4")


def prepare_motion(motion: np.ndarray, downsample: int = 1) -> np.ndarray:
    """Every `downsample`-th frame of a raw (T, 384) motion, float32 (a view when it can be)."""
    if int(downsample) != downsample or downsample < 1:
        raise ValueError(f"downsample must be a positive integer, got {downsample!r}")
    return np.asarray(motion[::int(downsample)], dtype=np.float32)


class MotionStore:
    """A packed store opened read-only: `.motion(i)` is a view into the memory-mapped frames."""

    def __init__(self, directory: Path, ids: list[str], captions: list[list[str]],
                 frames: np.ndarray, offsets: np.ndarray, paraphrases: list[list[str]] | None = None):
        self.directory = directory
        self.ids = ids
        self.captions = captions
        self.paraphrases = paraphrases or [[] for _ in ids]
        self.frames = frames
        self.offsets = offsets
        self.lengths = np.diff(offsets)

    def __len__(self) -> int:
        return len(self.ids)

    def motion(self, index: int) -> np.ndarray:
        return self.frames[self.offsets[index]:self.offsets[index + 1]]

    @staticmethod
    def write(directory: str | Path, ids: Sequence[str], motions: Sequence[np.ndarray],
              captions: Sequence[Sequence[str]], paraphrases: Sequence[Sequence[str]] | None = None) -> None:
        """Pack the clips into `directory` (created; the caller makes it atomic); `paraphrases`
        (one list per clip) only where some clip has any.

        frames.npy is written clip by clip with ordinary writes (no second copy of all frames in
        memory, and no memory map, whose writes die by SIGBUS when the disk fills up).
        """
        ids, captions = list(ids), [list(c) for c in captions]
        if not len(ids) == len(motions) == len(captions):
            raise ValueError(f"{len(ids)} ids, {len(motions)} motions, {len(captions)} caption lists")
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        offsets = np.concatenate([[0], np.cumsum([len(m) for m in motions])]).astype(np.int64)
        with open(directory / FRAMES, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": np.lib.format.dtype_to_descr(FRAME_DTYPE),
                                                     "fortran_order": False,
                                                     "shape": (int(offsets[-1]), MOTION_DIM)})
            for clip_id, motion in zip(ids, motions):
                if motion.ndim != 2 or motion.shape[1] != MOTION_DIM:
                    raise ValueError(f"clip {clip_id}: shape {motion.shape}, expected (T, {MOTION_DIM})")
                f.write(np.ascontiguousarray(motion, dtype=FRAME_DTYPE).data)
        np.save(directory / OFFSETS, offsets)
        (directory / IDS).write_text("".join(f"{clip_id}\n" for clip_id in ids), encoding="utf-8")
        (directory / CAPTIONS).write_text(json.dumps(captions, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        if paraphrases is not None and any(paraphrases):
            if len(paraphrases) != len(ids):
                raise ValueError(f"{len(ids)} ids, {len(paraphrases)} paraphrase lists")
            (directory / PARAPHRASES).write_text(json.dumps([list(p) for p in paraphrases], ensure_ascii=False)
                                                 + "\n", encoding="utf-8")

    @classmethod
    def open(cls, directory: str | Path) -> "MotionStore":
        directory = Path(directory)
        for name in (FRAMES, OFFSETS, IDS, CAPTIONS):
            if not (directory / name).is_file():
                raise DataError(directory / name, "missing: not a motion store (made by the preprocess stage)")
        offsets = read_npy(directory / OFFSETS)
        if offsets.ndim != 1 or len(offsets) == 0 or offsets.dtype.kind not in "iu":
            raise DataError(directory / OFFSETS, f"expected a 1-D integer array, got {offsets.dtype} "
                                                 f"of shape {offsets.shape}")
        frames = read_npy(directory / FRAMES, mmap_mode="r" if offsets[-1] > 0 else None)
        try:
            ids = split_lines((directory / IDS).read_text(encoding="utf-8"))
            captions = json.loads((directory / CAPTIONS).read_text(encoding="utf-8"))
            paraphrases = (json.loads((directory / PARAPHRASES).read_text(encoding="utf-8"))
                           if (directory / PARAPHRASES).exists() else None)
        except (OSError, ValueError) as err:
            raise DataError(directory, f"unreadable motion store ({err})") from None
        _check_caption_lists(captions, directory / CAPTIONS)
        consistent = (frames.ndim == 2 and frames.shape[1] == MOTION_DIM
                      and len(offsets) == len(ids) + 1 == len(captions) + 1 and offsets[0] == 0
                      and offsets[-1] == len(frames) and bool(np.all(np.diff(offsets) >= 0)))
        if not consistent:
            raise DataError(directory, f"inconsistent motion store: frames {frames.shape}, "
                                       f"{len(offsets)} offsets, {len(ids)} ids, {len(captions)} captions")
        if paraphrases is not None:
            _check_caption_lists(paraphrases, directory / PARAPHRASES, len(ids))
        return cls(directory, ids, captions, frames, offsets, paraphrases)


def _check_caption_lists(value: object, path: Path, n: int | None = None) -> None:
    """DataError unless `value` is a JSON list (of `n` items) of lists of strings."""
    if not (isinstance(value, list) and (n is None or len(value) == n)
            and all(isinstance(item, list) and all(isinstance(text, str) for text in item) for item in value)):
        raise DataError(path, f"expected a JSON list of {'' if n is None else f'{n} '}caption lists (lists of strings)")


@dataclass
class NormStats:
    """Per-feature mean and (floored) std over every frame of the training split."""
    mean: np.ndarray  # (384,) float32
    std: np.ndarray   # (384,) float32

    @classmethod
    def fit(cls, store: MotionStore, downsample: int = 1) -> "NormStats":
        """Statistics of the frames the model sees: prepare_motion(clip, downsample)."""
        if len(store) == 0:
            raise DataError(store.directory, "empty store: no frames to fit normalisation on")
        clips = [prepare_motion(store.motion(i), downsample) for i in range(len(store))]
        count = sum(len(clip) for clip in clips)
        mean = sum(clip.sum(axis=0, dtype=np.float64) for clip in clips) / count
        variance = sum(np.square(clip - mean).sum(axis=0) for clip in clips) / count
        std = np.sqrt(variance)
        floor = STD_FLOOR_RELATIVE * std.mean() if std.mean() > 0 else 1.0
        return cls(mean.astype(np.float32), np.maximum(std, floor).astype(np.float32))

    def apply(self, motion: np.ndarray) -> np.ndarray:
        return (np.asarray(motion, dtype=np.float32) - self.mean) / self.std

    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, mean=self.mean, std=self.std)

    @classmethod
    def load(cls, path: str | Path) -> "NormStats":
        try:
            with np.load(path, allow_pickle=False) as data:
                mean, std = data["mean"], data["std"]
        except FileNotFoundError:
            raise DataError(path, "file not found (made by the preprocess stage)") from None
        except (ValueError, EOFError, zipfile.BadZipFile):  # NumPy's ValueError advises unpickling
            raise DataError(path, "not a readable .npz archive of normalisation statistics") from None
        except KeyError as err:
            raise DataError(path, f"not normalisation statistics (no array {err})") from None
        except OSError as err:
            raise DataError(path, f"cannot read: {err.strerror or err}") from None
        if mean.shape != (MOTION_DIM,) or std.shape != (MOTION_DIM,) or not np.all(std > 0):
            raise DataError(path, f"expected mean and positive std of shape ({MOTION_DIM},)")
        return cls(mean.astype(np.float32), std.astype(np.float32))
