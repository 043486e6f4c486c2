"""Procedural motion: valid clips for every action, and every captioned attribute visible."""
from __future__ import annotations

import numpy as np
import pytest

from textmotion import skeleton as sk
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.motion import INTERACTION_MOTIONS, SOLO_MOTIONS, synthesize

FPS = 20
J = sk.JOINT


def make_spec(segments: list[dict], arrangement: str = "facing", distance: float = 2.0,
              heights=(1.74, 1.63)) -> dict:
    return {"persons": [{"height": h} for h in heights],
            "start": {"distance": distance, "arrangement": arrangement}, "segments": segments}


def default_segments(action: str, actor=0) -> list[dict]:
    attributes = {name: values[0] for name, values in vocab.attributes(action).items()}
    segments = [{"action": action, "actor": actor, **attributes}]
    if action in vocab.NEEDS_SEATED:
        segments.insert(0, {"action": "sit_down", "actor": actor})
    return segments


def joints(motion: np.ndarray, person: int) -> np.ndarray:
    """(T, 22, 3) positions of one person."""
    return sk.split_persons(motion)[person][:, :66].reshape(-1, 22, 3)


def facing(positions: np.ndarray) -> np.ndarray:
    """(T, 2) unit facing direction on the floor (x, z), from the hip line (left is +x)."""
    left = positions[:, J["left_hip"]] - positions[:, J["right_hip"]]
    direction = np.stack([-left[:, 2], left[:, 0]], axis=1)
    return direction / np.linalg.norm(direction, axis=1, keepdims=True)


def heading_change(positions: np.ndarray) -> float:
    """Unwrapped yaw change in degrees from the first to the last frame."""
    f = facing(positions)
    return float(np.degrees(np.unwrap(np.arctan2(f[:, 0], f[:, 1]))[[0, -1]] @ [-1, 1]))


def count_runs(mask: np.ndarray) -> int:
    """Number of distinct runs of True."""
    return int(np.sum(np.diff(mask.astype(int), prepend=0) == 1))


def synth(segments, seed=0, **spec_kwargs) -> np.ndarray:
    return synthesize(make_spec(segments, **spec_kwargs), np.random.default_rng(seed), FPS)


@pytest.mark.parametrize("action", sorted(vocab.ACTIONS))
def test_every_action_gives_a_valid_deterministic_clip(action):
    spec = make_spec(default_segments(action))
    motion = synthesize(spec, np.random.default_rng(7), FPS)
    assert motion.dtype == np.float32 and motion.ndim == 2 and motion.shape[1] == sk.MOTION_DIM
    assert np.isfinite(motion).all()
    assert 2.0 <= len(motion) / FPS <= 10.0
    np.testing.assert_array_equal(motion, synthesize(spec, np.random.default_rng(7), FPS))
    other = synthesize(spec, np.random.default_rng(8), FPS)
    assert other.shape != motion.shape or not np.allclose(other, motion)
    # Feet on the floor: the lowest foot joint touches y ~ 0 most of the time.
    for person in (0, 1):
        lowest = joints(motion, person)[:, [J["left_foot"], J["right_foot"]], 1].min(1)
        assert lowest.min() > -0.02 and np.median(lowest) < 0.06


def test_clip_length_is_clamped_and_durations_honoured():
    long = synth([{"action": "dance_facing", "actor": 0, "duration": 6.0},
                  {"action": "walk", "actor": 1, "direction": "forward", "speed": "slow",
                   "duration": 5.0},
                  {"action": "stretch", "actor": 0, "duration": 4.0}])
    assert len(long) <= 10 * FPS
    timed = synth([{"action": "wave", "actor": 0, "hand": "right", "duration": 3.0},
                   {"action": "shake_hands", "actor": 0, "duration": 4.0}])
    assert abs(len(timed) - 7 * FPS) <= 2
    short = synth([{"action": "kick", "actor": 0, "side": "left", "duration": 0.8}])
    assert len(short) >= 2 * FPS


@pytest.mark.parametrize("direction, expected", [("forward", 1), ("backward", -1)])
def test_walk_direction_follows_initial_facing(direction, expected):
    motion = synth([{"action": "walk", "actor": 0, "direction": direction, "speed": "normal"}],
                   arrangement="apart")
    body = joints(motion, 0)
    displacement = (body[-1, 0] - body[0, 0])[[0, 2]]
    along = displacement @ facing(body)[0]
    assert expected * along > 0.8
    assert abs(heading_change(body)) < 30
    still = joints(motion, 1)
    assert np.linalg.norm((still[-1, 0] - still[0, 0])[[0, 2]]) < 0.1  # the other one idles


@pytest.mark.parametrize("direction, sign", [("left", 1), ("right", -1)])
def test_walk_left_right_turn_towards_that_side(direction, sign):
    motion = synth([{"action": "walk", "actor": 1, "direction": direction, "speed": "normal"}],
                   arrangement="apart")
    body = joints(motion, 1)
    start_facing = facing(body)[0]
    start_left = np.array([start_facing[1], -start_facing[0]])
    displacement = (body[-1, 0] - body[0, 0])[[0, 2]]
    assert displacement @ start_left * sign > 0.8
    assert abs(heading_change(body) - 90 * sign) < 30


def test_fast_walk_covers_more_ground_than_slow():
    def distance(speed):
        body = joints(synth([{"action": "walk", "actor": 0, "direction": "forward",
                              "speed": speed, "duration": 3.0}]), 0)
        return np.linalg.norm((body[-1, 0] - body[0, 0])[[0, 2]])
    slow, normal, fast = distance("slow"), distance("normal"), distance("fast")
    assert slow * 1.3 < normal and normal * 1.2 < fast


def test_run_is_faster_than_a_normal_walk():
    def distance(action, **attributes):
        body = joints(synth([{"action": action, "actor": 0, "direction": "forward",
                              "duration": 3.0, **attributes}]), 0)
        return np.linalg.norm((body[-1, 0] - body[0, 0])[[0, 2]])
    assert distance("run") > 1.5 * distance("walk", speed="normal")


@pytest.mark.parametrize("hand", ["left", "right", "both"])
@pytest.mark.parametrize("action", ["wave", "raise_arms"])
def test_the_named_hand_goes_up_and_the_other_stays_down(action, hand):
    body = joints(synth([{"action": action, "actor": 0, "hand": hand}]), 0)
    for side in ("left", "right"):
        above = body[:, J[f"{side}_wrist"], 1] - body[:, J["head"], 1]
        if hand in (side, "both"):
            assert above.max() > 0.0, side
        else:
            assert above.max() < -0.4, side


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("action", ["jump", "hop"])
def test_jump_and_hop_counts_are_distinct_airborne_phases(action, count):
    attributes = {"count": count} if action == "jump" else {"count": count, "side": "left"}
    body = joints(synth([{"action": action, "actor": 0, **attributes}]), 0)
    lowest = body[:, [J["left_foot"], J["right_foot"], J["left_ankle"], J["right_ankle"]], 1]
    airborne = lowest.min(1) > lowest.min(1).min() + 0.06
    assert count_runs(airborne) == count


def test_hop_stands_on_the_named_foot():
    for side, other in (("left", "right"), ("right", "left")):
        body = joints(synth([{"action": "hop", "actor": 0, "side": side, "count": 2}]), 0)
        lifted = body[:, J[f"{other}_foot"], 1] - body[:, J[f"{side}_foot"], 1]
        assert np.median(lifted[len(body) // 4: 3 * len(body) // 4]) > 0.1


@pytest.mark.parametrize("count", [1, 2, 3])
def test_squat_count(count):
    body = joints(synth([{"action": "squat", "actor": 0, "count": count}]), 0)
    pelvis = body[:, 0, 1]
    assert count_runs(pelvis < pelvis.max() - 0.25) == count


@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("side", ["left", "right"])
def test_punch_count_and_side(side, count):
    other = "right" if side == "left" else "left"
    body = joints(synth([{"action": "punch", "actor": 0, "side": side, "count": count}]), 0)
    reach = {s: np.einsum("tk,tk->t", (body[:, J[f"{s}_wrist"]] - body[:, 0])[:, [0, 2]],
                          facing(body)) for s in (side, other)}
    extended = reach[side] > 0.45
    assert count_runs(extended) == count
    assert reach[other].max() < 0.4


@pytest.mark.parametrize("side", ["left", "right"])
def test_kick_raises_the_named_foot_forward(side):
    other = "right" if side == "left" else "left"
    body = joints(synth([{"action": "kick", "actor": 0, "side": side}]), 0)
    assert body[:, J[f"{side}_foot"], 1].max() > 0.5
    assert body[:, J[f"{other}_foot"], 1].max() < 0.15


def test_stand_up_as_first_segment_starts_seated():
    body = joints(synth([{"action": "stand_up", "actor": 1}]), 1)
    assert body[0, 0, 1] < 0.65 * body[-1, 0, 1]


def test_sit_down_ends_seated_and_stand_up_rises():
    motion = synth([{"action": "sit_down", "actor": 0}, {"action": "stand_up", "actor": 0}])
    pelvis = joints(motion, 0)[:, 0, 1]
    standing = pelvis[0]
    assert pelvis.min() < 0.65 * standing
    assert abs(pelvis[-1] - standing) < 0.05
    seated = joints(synth([{"action": "sit_down", "actor": 1}]), 1)
    knee = seated[-1, [J["left_knee"], J["right_knee"]], 1].mean()
    assert abs(seated[-1, 0, 1] - knee) < 0.12  # thighs about horizontal


@pytest.mark.parametrize("action, degrees", [("turn_around", 180), ("spin", 360)])
def test_turn_around_and_spin(action, degrees):
    body = joints(synth([{"action": action, "actor": 0}]), 0)
    assert abs(abs(heading_change(body)) - degrees) < 25
    assert np.linalg.norm((body[-1, 0] - body[0, 0])[[0, 2]]) < 0.3  # on the spot


def test_bow_pitches_the_torso_forward_and_back():
    body = joints(synth([{"action": "bow", "actor": 0}]), 0)
    lean = np.einsum("tk,tk->t", (body[:, J["neck"]] - body[:, 0])[:, [0, 2]], facing(body))
    assert lean.max() > 0.25 and abs(lean[-1]) < 0.1


def test_clap_brings_the_hands_together_repeatedly():
    body = joints(synth([{"action": "clap", "actor": 0}]), 0)
    gap = np.linalg.norm(body[:, J["left_wrist"]] - body[:, J["right_wrist"]], axis=1)
    assert count_runs(gap < 0.12) >= 3


def test_stretch_raises_both_arms_overhead_then_to_the_sides():
    body = joints(synth([{"action": "stretch", "actor": 0}]), 0)
    overhead = body[:, [J["left_wrist"], J["right_wrist"]], 1].min(1) > body[:, J["head"], 1]
    spread = np.linalg.norm(body[:, J["left_wrist"]] - body[:, J["right_wrist"]], axis=1)
    assert overhead.any() and spread.max() > 1.2


def pelvis_gap(motion: np.ndarray) -> np.ndarray:
    return np.linalg.norm((joints(motion, 0)[:, 0] - joints(motion, 1)[:, 0])[:, [0, 2]], axis=1)


@pytest.mark.parametrize("arrangement", ["facing", "apart", "side_by_side", "one_behind"])
@pytest.mark.parametrize("action", ["shake_hands", "high_five"])
def test_right_hands_meet(action, arrangement):
    motion = synth([{"action": action, "actor": 0}], arrangement=arrangement, distance=3.0)
    a, b = joints(motion, 0), joints(motion, 1)
    gap = np.linalg.norm(a[:, J["right_wrist"]] - b[:, J["right_wrist"]], axis=1)
    meet = int(np.argmin(gap))
    assert gap[meet] < 0.15
    if action == "high_five":
        assert a[meet, J["right_wrist"], 1] > a[meet, J["head"], 1]
        assert b[meet, J["right_wrist"], 1] > b[meet, J["head"], 1]


def test_hug_brings_the_persons_together():
    motion = synth([{"action": "hug", "actor": 0}], arrangement="apart", distance=3.0)
    assert pelvis_gap(motion).min() < 0.5
    a, b = joints(motion, 0), joints(motion, 1)
    gap = pelvis_gap(motion)
    hugged = int(np.median(np.flatnonzero(gap < gap.min() + 0.02)))  # middle of the embrace
    # A's hands reach behind B's back, beyond B's spine as seen from A.
    to_b = (b[hugged, 0] - a[hugged, 0])[[0, 2]]
    to_b /= np.linalg.norm(to_b)
    for side in ("left", "right"):
        assert (a[hugged, J[f"{side}_wrist"]] - b[hugged, J["spine3"]])[[0, 2]] @ to_b > 0.0


def test_push_sends_the_other_back():
    motion = synth([{"action": "push", "actor": 1}], distance=2.5)
    gap = pelvis_gap(motion)
    closest = int(np.argmin(gap))
    assert gap[closest] < 0.9 and gap[-1] > gap[closest] + 0.5
    pushed = joints(motion, 0)
    assert np.linalg.norm((pushed[-1, 0] - pushed[closest, 0])[[0, 2]]) > 0.5


def test_pull_drags_the_other_along():
    motion = synth([{"action": "pull", "actor": 0}], distance=2.0)
    a, b = joints(motion, 0), joints(motion, 1)
    grip = np.linalg.norm(a[:, J["right_wrist"]] - b[:, J["right_wrist"]], axis=1)
    held = np.flatnonzero(grip < 0.15)
    assert len(held) > FPS  # the puller holds the other's hand/wrist for over a second
    first, last = held[0], held[-1]
    puller_move = (a[last, 0] - a[first, 0])[[0, 2]]
    pulled_move = (b[last, 0] - b[first, 0])[[0, 2]]
    assert np.linalg.norm(pulled_move) > 0.8
    assert puller_move @ pulled_move > 0  # both go the same way...
    assert puller_move @ facing(a)[first] < -0.5  # ...the puller walking backward


@pytest.mark.parametrize("action", ["follow", "chase"])
def test_follow_and_chase(action):
    motion = synth([{"action": action, "actor": 1}], arrangement="facing", distance=2.0)
    leader, follower = joints(motion, 0), joints(motion, 1)
    leader_move = (leader[-1, 0] - leader[0, 0])[[0, 2]]
    assert np.linalg.norm(leader_move) > 1.5
    # In the end both head the same way, the follower behind the leader.
    heading = facing(leader)[-1]
    assert facing(follower)[-1] @ heading > 0.7
    assert (leader[-1, 0] - follower[-1, 0])[[0, 2]] @ heading > 0.2
    if action == "chase":
        assert np.linalg.norm(leader_move) > 3.0
        gap = pelvis_gap(motion)
        assert gap[-1] < gap[len(gap) // 3]


def test_walk_side_by_side():
    motion = synth([{"action": "walk_side_by_side", "actor": 0}], arrangement="one_behind",
                   distance=2.0)
    a, b = joints(motion, 0), joints(motion, 1)
    heading = facing(a)[-1]
    assert facing(b)[-1] @ heading > 0.9
    offset = (b[-1, 0] - a[-1, 0])[[0, 2]]
    assert abs(offset @ heading) < 0.3 and 0.4 < np.linalg.norm(offset) < 1.2
    assert np.linalg.norm((a[-1, 0] - a[0, 0])[[0, 2]]) > 1.0


@pytest.mark.parametrize("action", ["bow_to_each_other", "wave_at_each_other", "dance_facing"])
def test_facing_interactions_turn_the_persons_towards_each_other(action):
    motion = synth([{"action": action, "actor": 0}], arrangement="apart", distance=2.0)
    a, b = joints(motion, 0), joints(motion, 1)
    middle = len(motion) * 2 // 3
    to_b = (b[middle, 0] - a[middle, 0])[[0, 2]]
    to_b /= np.linalg.norm(to_b)
    assert facing(a)[middle] @ to_b > 0.8 and facing(b)[middle] @ -to_b > 0.8
    if action == "wave_at_each_other":
        for body in (a, b):
            assert (body[:, J["right_wrist"], 1] - body[:, J["head"], 1]).max() > 0


def test_punch_dodge_aims_at_the_head_and_the_other_leans_away():
    motion = synth([{"action": "punch_dodge", "actor": 0}], distance=2.0)
    a, b = joints(motion, 0), joints(motion, 1)
    head_before = b[0, J["head"]]  # the puncher walks up; the other waits
    fist_to_head = np.linalg.norm(a[:, J["right_wrist"]] - head_before, axis=1)
    strike = int(np.argmin(fist_to_head))
    assert fist_to_head[strike] < 0.2
    guard_to_head = np.linalg.norm(a[:, J["left_wrist"]] - head_before, axis=1)
    assert guard_to_head.min() > fist_to_head[strike] + 0.1  # with the named (right) fist
    head_forward = (b[:, J["head"]] - b[:, 0])[:, [0, 2]] @ facing(b)[0]
    assert head_forward[strike] < head_forward[0] - 0.1  # the dodger's head goes back


def test_push_puts_both_hands_on_the_others_chest():
    motion = synth([{"action": "push", "actor": 0}], distance=2.0)
    a, b = joints(motion, 0), joints(motion, 1)
    for side in ("left", "right"):
        to_chest = np.linalg.norm(a[:, J[f"{side}_wrist"]] - b[:, J["spine3"]], axis=1)
        assert to_chest.min() < 0.25, side


def test_a_longer_walk_keeps_its_pace():
    def distance(duration):
        body = joints(synth([{"action": "walk", "actor": 0, "direction": "forward",
                              "speed": "normal", "duration": duration}]), 0)
        return np.linalg.norm((body[-1, 0] - body[0, 0])[[0, 2]])
    assert distance(6.0) > 1.7 * distance(3.0)


def test_every_action_has_exactly_one_registered_motion():
    assert SOLO_MOTIONS.keys() | INTERACTION_MOTIONS.keys() == vocab.ACTIONS.keys()
    assert not SOLO_MOTIONS.keys() & INTERACTION_MOTIONS.keys()
    assert all(vocab.kind(action) == vocab.SOLO for action in SOLO_MOTIONS)
