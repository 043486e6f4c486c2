"""Show any motion standing up: find its up axis from the skeleton, and the turn to y-up
(applied by `render.motion_positions`, which the GIFs, figures and the web player all use).

Generated data is y-up, InterHuman is z-up, and a gallery need not say which. The up axis is
read from the bodies themselves: the world axis along which the head sits above the pelvis,
on average over frames and both persons.
"""
from __future__ import annotations

import numpy as np

from textmotion import skeleton as sk

AXES = "xyz"


def _positions(motion: np.ndarray) -> np.ndarray:
    """(T, 384) → (T, 2, 22, 3) joint positions of both persons."""
    return np.stack([person[:, :sk.N_JOINTS * 3].reshape(len(motion), sk.N_JOINTS, 3)
                     for person in sk.split_persons(np.asarray(motion, dtype=np.float64))], axis=1)


def dominant_axis(vectors: np.ndarray) -> np.ndarray:
    """The signed world axis (3,) closest to the mean of (..., 3) vectors."""
    mean = vectors.reshape(-1, 3).mean(axis=0)
    axis = int(np.argmax(np.abs(mean)))
    up = np.zeros(3)
    up[axis] = 1.0 if mean[axis] >= 0 else -1.0
    return up


def up_vector(motion: np.ndarray) -> np.ndarray:
    """The signed world axis (3,) pointing from pelvis to head, e.g. (0, 0, 1) for z-up data."""
    positions = _positions(motion)
    return dominant_axis(positions[..., sk.JOINT["head"], :] - positions[..., sk.JOINT["pelvis"], :])


def rotation_to_y_up(up: np.ndarray) -> np.ndarray:
    """A proper rotation (3, 3) taking the signed axis `up` to +y (identity when it is +y)."""
    x = np.array([0.0, 0.0, 1.0]) if abs(up[0]) == 1.0 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, up, np.cross(x, up)])  # rows: the new x, y, z axes in the old frame
