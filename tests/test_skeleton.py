"""The skeleton: 6D rotations, FK, the 384-d layout, and agreement of positions and rotations."""
from __future__ import annotations

import numpy as np
import pytest

from textmotion import skeleton as sk
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.motion import synthesize


def random_rotations(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, 3, 3)))
    q *= np.sign(np.diagonal(r, axis1=1, axis2=2))[:, None, :]
    q[np.linalg.det(q) < 0, :, 0] *= -1
    return q


def rotation_about_x(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def test_layout_constants():
    assert len(sk.JOINT_NAMES) == len(sk.PARENTS) == sk.N_JOINTS == 22
    assert sk.FEATURES_PER_PERSON == 192 and sk.MOTION_DIM == 384
    assert all(parent < joint for joint, parent in enumerate(sk.PARENTS) if joint)


def test_rot6d_round_trip():
    rotations = random_rotations(np.random.default_rng(0), 50)
    rot6d = sk.matrix_to_rot6d(rotations)
    assert rot6d.shape == (50, 6)
    np.testing.assert_allclose(rot6d[:, :3], rotations[:, :, 0])
    np.testing.assert_allclose(sk.rot6d_to_matrix(rot6d), rotations, atol=1e-12)
    # Gram-Schmidt repairs a slightly perturbed (non-orthonormal) 6D vector into a rotation.
    repaired = sk.rot6d_to_matrix(rot6d + 0.01)
    np.testing.assert_allclose(repaired @ repaired.transpose(0, 2, 1),
                               np.repeat(np.eye(3)[None], 50, 0), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(repaired), 1.0)


def test_rest_skeleton_proportions():
    offsets = sk.rest_offsets(1.80)
    identity = np.eye(3)[None]
    positions = sk.forward_kinematics(np.array([[0, sk.pelvis_height(1.80), 0]]), identity,
                                      np.repeat(identity, 21, 0)[None], offsets)[0]
    feet = positions[[sk.JOINT["left_foot"], sk.JOINT["right_foot"]], 1]
    np.testing.assert_allclose(feet, sk.FOOT_CLEARANCE)  # standing on the floor
    assert 1.5 < positions[sk.JOINT["head"], 1] < 1.8
    assert positions[sk.JOINT["left_shoulder"], 0] > 0 > positions[sk.JOINT["right_shoulder"], 0]
    toes_forward = positions[sk.JOINT["left_foot"], 2] - positions[sk.JOINT["left_ankle"], 2]
    assert toes_forward > 0


def test_forward_kinematics_known_rotations():
    offsets = sk.rest_offsets(1.70)
    n = 2
    local = np.repeat(np.eye(3)[None, None], 21, 1).repeat(n, 0)
    knee = sk.JOINT["left_knee"]
    local[:, sk.JOINT["left_hip"] - 1] = rotation_about_x(-np.pi / 2)  # thigh straight forward
    root_rot = np.repeat(np.eye(3)[None], n, 0)
    root_pos = np.array([[0.0, 1.0, 0.0], [1.0, 1.0, 2.0]])
    positions = sk.forward_kinematics(root_pos, root_rot, local, offsets)
    thigh = positions[:, knee] - positions[:, sk.JOINT["left_hip"]]
    np.testing.assert_allclose(thigh, [[0, 0, 0.40]] * 2, atol=1e-12)
    np.testing.assert_allclose(positions[1] - positions[0], [[1.0, 0.0, 2.0]] * 22, atol=1e-12)
    # A yawed root turns the whole body: 90 degrees about y sends +z (facing) to +x.
    yaw = np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=float)
    turned = sk.forward_kinematics(root_pos[:1], yaw[None], local[:1], offsets)
    np.testing.assert_allclose(turned[0, knee] - turned[0, sk.JOINT["left_hip"]], [0.40, 0, 0],
                               atol=1e-12)


def test_pack_unpack_and_swap():
    rng = np.random.default_rng(1)
    positions = rng.normal(size=(5, 22, 3))
    local = random_rotations(rng, 5 * 21).reshape(5, 21, 3, 3)
    features = sk.pack_person(positions, local)
    assert features.shape == (5, 192) and features.dtype == np.float32
    unpacked_positions, unpacked_rots = sk.unpack_person(features)
    np.testing.assert_allclose(unpacked_positions, positions, atol=1e-6)
    np.testing.assert_allclose(unpacked_rots, local, atol=1e-5)
    motion = np.concatenate([features, features + 1], axis=1)
    person_a, person_b = sk.split_persons(motion)
    np.testing.assert_array_equal(person_b, features + 1)
    swapped = sk.swap_persons(motion)
    np.testing.assert_array_equal(sk.split_persons(swapped)[0], person_b)
    np.testing.assert_array_equal(sk.swap_persons(swapped), motion)


def solo_spec(action: str) -> dict:
    attributes = {name: values[-1] for name, values in vocab.attributes(action).items()}
    segments = [{"action": action, "actor": "both", **attributes}]
    if action in vocab.NEEDS_SEATED:
        segments.insert(0, {"action": "sit_down", "actor": "both"})
    return segments


@pytest.mark.parametrize("action", sorted(vocab.ACTIONS))
def test_positions_agree_with_rotations(action):
    segments = (solo_spec(action) if vocab.kind(action) == vocab.SOLO
                else [{"action": action, "actor": 1}])
    spec = {"persons": [{"height": 1.58}, {"height": 1.92}],
            "start": {"distance": 2.5, "arrangement": "facing"}, "segments": segments}
    motion = synthesize(spec, np.random.default_rng(3))
    for person in sk.split_persons(motion):
        stored = person[:, :66].reshape(-1, 22, 3)
        np.testing.assert_allclose(sk.positions_from_features(person), stored, atol=1e-4)
