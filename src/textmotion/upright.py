"""Show any motion standing up: find its up axis from the skeleton and turn it to y-up.

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


def up_vector(motion: np.ndarray) -> np.ndarray:
    """The signed world axis (3,) pointing from pelvis to head, e.g. (0, 0, 1) for z-up data."""
    positions = _positions(motion)
    mean = (positions[..., sk.JOINT["head"], :] - positions[..., sk.JOINT["pelvis"], :]).mean(axis=(0, 1))
    axis = int(np.argmax(np.abs(mean)))
    up = np.zeros(3)
    up[axis] = 1.0 if mean[axis] >= 0 else -1.0
    return up


def rotation_to_y_up(up: np.ndarray) -> np.ndarray:
    """A proper rotation (3, 3) taking the signed axis `up` to +y (identity when it is +y)."""
    x = np.array([0.0, 0.0, 1.0]) if abs(up[0]) == 1.0 else np.array([1.0, 0.0, 0.0])
    return np.stack([x, up, np.cross(x, up)])  # rows: the new x, y, z axes in the old frame


def y_up(motion: np.ndarray) -> np.ndarray:
    """The motion (T, 384) turned so that its up axis is +y.

    Only the global positions change: the 6D rotations are local to each parent joint, so a
    change of world frame leaves them as they are.
    """
    rotation = rotation_to_y_up(up_vector(motion))
    if np.array_equal(rotation, np.eye(3)):
        return np.asarray(motion, dtype=np.float32)
    turned = np.array(motion, dtype=np.float32)
    for person in range(2):
        start = person * sk.FEATURES_PER_PERSON
        block = turned[:, start:start + sk.N_JOINTS * 3].reshape(len(turned), sk.N_JOINTS, 3)
        turned[:, start:start + sk.N_JOINTS * 3] = (block @ rotation.T).reshape(len(turned), -1)
    return turned


def y_up_positions(motion: np.ndarray) -> np.ndarray:
    """(T, 2, 22, 3) joint positions, y-up, the lowest joint of the clip on the floor (y = 0)."""
    positions = _positions(y_up(motion))
    positions[..., 1] -= positions[..., 1].min()
    return positions
