"""The 22-joint HumanML3D/SMPL skeleton, forward kinematics and the 384-d frame layout.

Conventions: y is up, metres, floor at y = 0; a person in the rest pose faces +z and their
left is +x. Per frame and person 192 values: 22 x 3 global joint positions, then 21 x 6D
local rotations of joints 1..21 relative to their parent, where 6D is the first two columns
of the rotation matrix (R[:, 0] then R[:, 1]). Person A's 192 values, then person B's.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist",
)
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)
N_JOINTS = 22
JOINT = {name: i for i, name in enumerate(JOINT_NAMES)}
FEATURES_PER_PERSON = N_JOINTS * 3 + (N_JOINTS - 1) * 6
MOTION_DIM = 2 * FEATURES_PER_PERSON

# Offsets from the parent in the rest pose (arms hanging down), for a person 1.70 m tall.
_REST_OFFSETS_170 = np.array([
    [0.0, 0.0, 0.0],        # pelvis (placed by the root trajectory)
    [0.09, -0.06, 0.0],     # left_hip
    [-0.09, -0.06, 0.0],    # right_hip
    [0.0, 0.11, -0.01],     # spine1
    [0.0, -0.40, 0.0],      # left_knee
    [0.0, -0.40, 0.0],      # right_knee
    [0.0, 0.13, 0.0],       # spine2
    [0.0, -0.40, -0.02],    # left_ankle
    [0.0, -0.40, -0.02],    # right_ankle
    [0.0, 0.06, 0.01],      # spine3
    [0.0, -0.05, 0.13],     # left_foot
    [0.0, -0.05, 0.13],     # right_foot
    [0.0, 0.21, -0.01],     # neck
    [0.08, 0.12, 0.0],      # left_collar
    [-0.08, 0.12, 0.0],     # right_collar
    [0.0, 0.10, 0.04],      # head
    [0.10, 0.03, 0.0],      # left_shoulder
    [-0.10, 0.03, 0.0],     # right_shoulder
    [0.0, -0.27, 0.0],      # left_elbow
    [0.0, -0.27, 0.0],      # right_elbow
    [0.0, -0.25, 0.0],      # left_wrist
    [0.0, -0.25, 0.0],      # right_wrist
])
# Height of the foot joints (balls of the feet) above the floor when standing.
FOOT_CLEARANCE = 0.02


def rest_offsets(height: float) -> np.ndarray:
    """Bone offsets (22, 3) of a person `height` metres tall (uniformly scaled template)."""
    return _REST_OFFSETS_170 * (height / 1.70)


def pelvis_height(height: float) -> float:
    """Pelvis height above the floor of a person `height` metres tall standing in the rest pose."""
    leg = [JOINT["left_hip"], JOINT["left_knee"], JOINT["left_ankle"], JOINT["left_foot"]]
    return FOOT_CLEARANCE - rest_offsets(height)[leg, 1].sum()


def matrix_to_rot6d(matrix: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 6): first column then second column."""
    return np.concatenate([matrix[..., :, 0], matrix[..., :, 1]], axis=-1)


def rot6d_to_matrix(rot6d: np.ndarray) -> np.ndarray:
    """(..., 6) -> (..., 3, 3) by Gram-Schmidt on the two stored columns."""
    a, b = rot6d[..., :3], rot6d[..., 3:]
    x = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b - (x * b).sum(-1, keepdims=True) * x
    y = b / np.linalg.norm(b, axis=-1, keepdims=True)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=-1)


def forward_kinematics(root_pos: np.ndarray, root_rot: np.ndarray, local_rots: np.ndarray,
                       offsets: np.ndarray) -> np.ndarray:
    """Global joint positions (T, 22, 3).

    root_pos (T, 3), root_rot (T, 3, 3) global pelvis orientation, local_rots (T, 21, 3, 3)
    for joints 1..21 relative to their parent, offsets (22, 3) or (T, 22, 3).
    """
    n_frames = len(root_pos)
    offsets = np.broadcast_to(offsets, (n_frames, N_JOINTS, 3))
    global_rots = np.empty((n_frames, N_JOINTS, 3, 3))
    positions = np.empty((n_frames, N_JOINTS, 3))
    global_rots[:, 0], positions[:, 0] = root_rot, root_pos
    for joint in range(1, N_JOINTS):
        parent = PARENTS[joint]
        global_rots[:, joint] = global_rots[:, parent] @ local_rots[:, joint - 1]
        positions[:, joint] = positions[:, parent] + np.einsum(
            "tij,tj->ti", global_rots[:, parent], offsets[:, joint])
    return positions


def pack_person(positions: np.ndarray, local_rots: np.ndarray) -> np.ndarray:
    """(T, 22, 3) positions + (T, 21, 3, 3) local rotations -> (T, 192) float32."""
    n_frames = len(positions)
    return np.concatenate([positions.reshape(n_frames, -1),
                           matrix_to_rot6d(local_rots).reshape(n_frames, -1)],
                          axis=1).astype(np.float32)


def unpack_person(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 192) -> positions (T, 22, 3), local rotations (T, 21, 3, 3)."""
    n_frames = len(features)
    positions = features[:, :N_JOINTS * 3].reshape(n_frames, N_JOINTS, 3)
    rot6d = features[:, N_JOINTS * 3:].reshape(n_frames, N_JOINTS - 1, 6)
    return positions, rot6d_to_matrix(rot6d.astype(np.float64))


def split_persons(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 384) -> person A (T, 192), person B (T, 192)."""
    return motion[:, :FEATURES_PER_PERSON], motion[:, FEATURES_PER_PERSON:]


def swap_persons(motion: np.ndarray) -> np.ndarray:
    """Exchange persons A and B (a motion's meaning does not depend on their order)."""
    person_a, person_b = split_persons(motion)
    return np.concatenate([person_b, person_a], axis=-1)


def _kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rotations (T, 3, 3) that best map source vectors (T, K, 3) onto target (T, K, 3)."""
    covariance = np.einsum("tki,tkj->tij", target, source)
    u, _, vt = np.linalg.svd(covariance)
    sign = np.sign(np.linalg.det(u @ vt))
    u[:, :, -1] *= sign[:, None]
    return u @ vt


def positions_from_features(features: np.ndarray) -> np.ndarray:
    """Recompute (T, 22, 3) positions from one person's stored data alone.

    Uses the stored pelvis position, the stored local rotations, bone lengths measured on the
    stored positions, the template's rest directions, and the pelvis orientation recovered
    by a Kabsch fit of the pelvis' children. Agreement with the stored positions shows the
    two halves of the representation describe the same motion.
    """
    positions, local_rots = unpack_person(features.astype(np.float64))
    parents = np.array(PARENTS[1:])
    lengths = np.linalg.norm(positions[:, 1:] - positions[:, parents], axis=-1).mean(0)
    directions = _REST_OFFSETS_170[1:] / np.linalg.norm(_REST_OFFSETS_170[1:], axis=-1,
                                                        keepdims=True)
    offsets = np.vstack([np.zeros(3), directions * lengths[:, None]])
    children = [1, 2, 3]  # hips and spine1 hang directly off the pelvis
    root_rot = _kabsch(np.broadcast_to(offsets[children], (len(positions), 3, 3)),
                       positions[:, children] - positions[:, :1])
    return forward_kinematics(positions[:, 0], root_rot, local_rots, offsets)
