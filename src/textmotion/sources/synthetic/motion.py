"""Procedural two-person motion from a clip spec, built from joint rotations through FK.

Each person is animated as Euler-angle tracks per joint (local, relative to the parent),
a root trajectory on the floor (x, z), a yaw and an airborne lift. Forward kinematics then
gives the global positions, so the stored positions and rotations agree exactly.

Angle conventions (radians, local to the parent; the rest pose has the arms hanging down):
hip x < 0 swings the thigh forward, knee x > 0 bends it; shoulder x < 0 raises the arm
forward/up, shoulder z > 0 (left) / < 0 (right) raises it sideways, shoulder y turns it
across the body (left < 0, right > 0); elbow x < 0 bends the forearm forward; spine x > 0
leans forward. Yaw psi faces the direction (sin psi, 0, cos psi); +pi/2 is a left turn.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from textmotion import skeleton as sk
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.spec import postures

J = sk.JOINT
# Mirror factor for sideways (z) and across-body (y) rotations of a limb.
MIRROR = {"left": 1.0, "right": -1.0}
FOOT_JOINTS = [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]]
MIN_CLIP_S, MAX_CLIP_S = 2.0, 10.0
WALK_SPEED = {"slow": 0.55, "normal": 1.1, "fast": 1.7}   # m/s
STEP_RATE = {"slow": 0.65, "normal": 0.95, "fast": 1.25}  # strides per second
RUN_SPEED, RUN_RATE = 3.2, 1.5


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def envelope(n: int, fps: int, ramp_s: float = 0.3) -> np.ndarray:
    """1 in the middle of a segment, easing in and out over `ramp_s` seconds."""
    s = np.arange(n) / fps
    ramp = max(ramp_s, 1e-3)
    return smoothstep(s / ramp) * smoothstep((n / fps - s) / ramp)


def repetitions(n: int, count: int) -> np.ndarray:
    """A 0..1..0 pulse `count` times over n frames (one smooth bump per repetition)."""
    t = np.arange(n) / max(n - 1, 1) * count
    return np.sin(np.pi * np.clip(t - np.floor(np.minimum(t, count - 1e-9)), 0, 1)) ** 2


@dataclass
class Piece:
    """One person's tracks over one segment (world frame)."""
    angles: np.ndarray          # (n, 22, 3) Euler angles per joint (index 0 unused)
    xz: np.ndarray              # (n, 2)
    yaw: np.ndarray             # (n,)
    lift: np.ndarray            # (n,) extra height above the floor (jumps)


@dataclass
class PersonState:
    x: float
    z: float
    yaw: float
    height: float
    seated: bool = False


def facing(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.sin(yaw), np.cos(yaw)], axis=-1)


def leftward(yaw: np.ndarray) -> np.ndarray:
    return np.stack([np.cos(yaw), -np.sin(yaw)], axis=-1)


def wrap(angle: float) -> float:
    return (angle + np.pi) % (2 * np.pi) - np.pi


def yaw_towards(src: PersonState, dst_xz: np.ndarray) -> float:
    dx, dz = dst_xz[0] - src.x, dst_xz[1] - src.z
    return float(np.arctan2(dx, dz))


def seated_pose() -> np.ndarray:
    angles = np.zeros((22, 3))
    for side in ("left", "right"):
        angles[J[f"{side}_hip"], 0] = -1.55
        angles[J[f"{side}_knee"], 0] = 1.55
    angles[J["spine1"], 0] = 0.1
    return angles


def base_pose(state: PersonState) -> np.ndarray:
    return seated_pose() if state.seated else np.zeros((22, 3))


class Animator:
    """Builds the tracks of one segment for the persons involved."""

    def __init__(self, fps: int, rng: np.random.Generator):
        self.fps, self.rng = fps, rng

    def jitter(self, value: float, spread: float = 0.1) -> float:
        return value * self.rng.uniform(1 - spread, 1 + spread)

    def frames(self, seconds: float) -> int:
        return max(int(round(self.jitter(seconds, 0.08) * self.fps)), 4)

    # ---- building blocks -------------------------------------------------------------
    def hold(self, state: PersonState, n: int, yaw_to: float | None = None) -> Piece:
        """Stand (or sit) still with a small idle sway, optionally turning on the spot."""
        s = np.arange(n) / self.fps
        angles = np.repeat(base_pose(state)[None], n, axis=0)
        phase = self.rng.uniform(0, 2 * np.pi)
        angles[:, J["spine2"], 2] += 0.03 * np.sin(2 * np.pi * 0.3 * s + phase)
        angles[:, J["left_shoulder"], 2] += 0.05
        angles[:, J["right_shoulder"], 2] -= 0.05
        yaw = np.full(n, state.yaw)
        if yaw_to is not None:
            delta = wrap(yaw_to - state.yaw)
            yaw = state.yaw + delta * smoothstep(s / max(0.6, abs(delta) / 2.5))
            self.add_steps(angles, n, amplitude=0.25 * min(1.0, abs(delta)), rate=1.2)
        return Piece(angles, np.tile([state.x, state.z], (n, 1)), yaw, np.zeros(n))

    def add_steps(self, angles: np.ndarray, n: int, amplitude: float, rate: float,
                  backward: bool = False, arm_swing: float = 0.5, knee: float = 0.9,
                  env: np.ndarray | None = None) -> None:
        """Alternating leg swing (and opposite arm swing) at `rate` strides per second."""
        s = np.arange(n) / self.fps
        env = envelope(n, self.fps) if env is None else env
        phase = 2 * np.pi * rate * s * (-1 if backward else 1) + self.rng.uniform(0, 2 * np.pi)
        swing = amplitude * env * np.sin(phase)
        angles[:, J["left_hip"], 0] += -swing
        angles[:, J["right_hip"], 0] += swing
        bend = knee * amplitude * env * np.sin(phase + 1.2)
        angles[:, J["left_knee"], 0] += np.maximum(0, bend)
        angles[:, J["right_knee"], 0] += np.maximum(0, -bend)
        angles[:, J["left_shoulder"], 0] += arm_swing * swing
        angles[:, J["right_shoulder"], 0] += -arm_swing * swing

    def locomote(self, state: PersonState, n: int, speed: float, rate: float,
                 heading: float, backward: bool = False, run: bool = False,
                 turn_s: float = 0.5) -> Piece:
        """Turn to `heading` (if needed) and walk/run along it (or backward) for n frames."""
        s = np.arange(n) / self.fps
        delta = wrap(heading - state.yaw)
        turn = smoothstep(s / turn_s) if abs(delta) > 1e-3 else np.ones(n)
        yaw = state.yaw + delta * turn
        env = envelope(n, self.fps, 0.35) * (0.35 + 0.65 * turn)
        velocity = speed * env[:, None] * facing(yaw) * (-1 if backward else 1)
        xz = np.array([state.x, state.z]) + np.cumsum(velocity, axis=0) / self.fps
        return Piece(self.gait(n, env, speed, rate, run, backward), xz, yaw, np.zeros(n))

    def gait(self, n: int, env: np.ndarray, speed: float, rate: float, run: bool,
             backward: bool = False) -> np.ndarray:
        """Walking or running limb angles, faded in and out by `env`."""
        angles = np.zeros((n, 22, 3))
        if run:
            self.add_steps(angles, n, 0.85, rate, arm_swing=0.7, knee=1.6, env=env)
            angles[:, J["left_elbow"], 0] -= 1.4 * env
            angles[:, J["right_elbow"], 0] -= 1.4 * env
            angles[:, J["spine1"], 0] += 0.2 * env
        else:
            self.add_steps(angles, n, 0.3 + 0.12 * speed, rate, backward=backward, env=env)
        return angles

    def pose_piece(self, state: PersonState, angles: np.ndarray, lift=None) -> Piece:
        n = len(angles)
        return Piece(angles, np.tile([state.x, state.z], (n, 1)), np.full(n, state.yaw),
                     np.zeros(n) if lift is None else lift)

    def arm(self, angles, side: str, raise_forward=0.0, raise_side=0.0, across=0.0,
            elbow=0.0) -> None:
        shoulder, elbow_joint = J[f"{side}_shoulder"], J[f"{side}_elbow"]
        angles[..., shoulder, 0] += raise_forward
        angles[..., shoulder, 2] += MIRROR[side] * raise_side
        angles[..., shoulder, 1] += -MIRROR[side] * across
        angles[..., elbow_joint, 0] += elbow

    def reach(self, piece: Piece, side: str, height: float, target: np.ndarray,
              weight: np.ndarray) -> None:
        """Point `side` arm so its wrist reaches the world `target` (n, 3), blended in by weight.

        Analytic two-bone IK in the body frame, assuming an upright (unbent) torso: the elbow
        angle follows from the distance, then the shoulder pitches and turns the arm onto the
        target (Euler y after x, matching `euler_to_matrix`).
        """
        offsets = sk.rest_offsets(height)
        chain = [J["spine1"], J["spine2"], J["spine3"], J[f"{side}_collar"], J[f"{side}_shoulder"]]
        shoulder = offsets[chain].sum(0) + [0.0, sk.pelvis_height(height), 0.0]
        relative = target - np.stack([piece.xz[:, 0], np.zeros(len(target)), piece.xz[:, 1]], 1)
        cos_yaw, sin_yaw = np.cos(piece.yaw), np.sin(piece.yaw)
        body = np.stack([cos_yaw * relative[:, 0] - sin_yaw * relative[:, 2], relative[:, 1],
                         sin_yaw * relative[:, 0] + cos_yaw * relative[:, 2]], 1) - shoulder
        upper = np.linalg.norm(offsets[J[f"{side}_elbow"]])
        fore = np.linalg.norm(offsets[J[f"{side}_wrist"]])
        distance = np.linalg.norm(body, axis=1)
        reach = np.clip(distance, 0.3 * (upper + fore), 0.99 * (upper + fore))
        cos_elbow = (reach ** 2 - upper ** 2 - fore ** 2) / (2 * upper * fore)
        elbow = np.arccos(np.clip(cos_elbow, -1, 1))
        elbow_pitch = np.arctan2(fore * np.sin(elbow), upper + fore * np.cos(elbow))
        direction = body / np.maximum(distance, 1e-9)[:, None]
        pitch = np.arccos(np.clip(-direction[:, 1], -1, 1))
        turn = np.arctan2(direction[:, 0], direction[:, 2])
        solved = {J[f"{side}_shoulder"]: np.stack([elbow_pitch - pitch, turn, 0 * turn], 1),
                  J[f"{side}_elbow"]: np.stack([-elbow, 0 * turn, 0 * turn], 1)}
        for joint, angles in solved.items():
            piece.angles[:, joint] += weight[:, None] * (angles - piece.angles[:, joint])

    def hands(self, hand: str) -> tuple[str, ...]:
        return ("left", "right") if hand == "both" else (hand,)

    def bow_angles(self, n: int) -> np.ndarray:
        s = np.arange(n) / self.fps
        depth = np.exp(-((s / (n / self.fps) - 0.5) / 0.22) ** 4)
        angles = np.zeros((n, 22, 3))
        for spine, amount in (("spine1", 0.45), ("spine2", 0.35), ("spine3", 0.25)):
            angles[:, J[spine], 0] = amount * depth
        angles[:, J["left_hip"], 0] = -0.15 * depth
        angles[:, J["right_hip"], 0] = -0.15 * depth
        return angles

    # ---- interactions ----------------------------------------------------------------
    def approach(self, states: list[PersonState], target: float, movers=(0, 1)) -> list[Piece]:
        """Turn to face each other and walk until `target` metres apart."""
        a, b = states
        gap = np.hypot(b.x - a.x, b.z - a.z)
        to_b = yaw_towards(a, np.array([b.x, b.z]))
        headings = [to_b, wrap(to_b + np.pi)]
        walk = max(gap - target, 0.0) / len(movers)
        largest_turn = max(abs(wrap(heading - state.yaw))
                           for heading, state in zip(headings, states))
        n = self.frames(max(0.7 + walk / 1.0, largest_turn / 2.5 + 0.3))
        pieces = []
        for i, state in enumerate(states):
            if i in movers and walk > 0.05:
                speed = walk / (np.sum(envelope(n, self.fps, 0.35) * 1.0) / self.fps)
                piece = self.locomote(state, n, speed, STEP_RATE["normal"], headings[i],
                                      turn_s=0.4)
                # locomote's envelope mixes turn and speed; rescale to land exactly at the gap.
                travelled = piece.xz[-1] - piece.xz[0]
                if np.linalg.norm(travelled) > 1e-6:
                    piece.xz = (piece.xz[0]
                                + (piece.xz - piece.xz[0]) * walk / np.linalg.norm(travelled))
            else:
                piece = self.hold(state, n, yaw_to=headings[i])
            pieces.append(piece)
        return pieces

    @staticmethod
    def high_five_height(states: list[PersonState]) -> float:
        """Above both heads where possible, but within reach of the shorter arm."""
        above_heads = 0.93 * max(state.height for state in states) + 0.06
        # Shoulders are at ~0.82 of the height; at the high-five gap a hand gets ~0.25 higher.
        reachable = min(1.07 * state.height for state in states)
        return min(above_heads, reachable)

    def pursuit(self, states: list[PersonState], actor: int, run: bool) -> list[Piece]:
        """The leader moves away; the actor (follower/chaser) heads for the leader."""
        leader_index = 1 - actor
        leader, follower = states[leader_index], states[actor]
        away = yaw_towards(follower, np.array([leader.x, leader.z]))
        n = self.frames(self.rng.uniform(3.0, 4.0))
        speed = RUN_SPEED * 0.8 if run else WALK_SPEED["normal"]
        rate = RUN_RATE if run else STEP_RATE["normal"]
        lead = self.locomote(leader, n, speed, rate, away, run=run)
        # The follower walks onto the leader's trail, `lag` seconds behind (less and less
        # for a chaser), coming from wherever it stands.
        s = np.arange(n) / self.fps
        lag = np.linspace(1.0, 0.3, n) if run else np.full(n, 1.0)
        trail = np.column_stack([np.interp(s - lag, s, lead.xz[:, k]) for k in (0, 1)])
        start = np.array([follower.x, follower.z])
        chase_speed = speed * (1.2 if run else 1.0)
        join_s = np.clip(np.linalg.norm(trail[0] - start) / chase_speed, 0.8, 0.5 * n / self.fps)
        joining = smoothstep(s / join_s)[:, None]
        xz = (1 - joining) * start + joining * trail
        velocity = np.gradient(xz, axis=0) * self.fps
        # Face where it goes; the initial facing, fading out, settles the first standstill.
        heading = velocity + 0.3 * (1 - joining) * facing(np.full(n, follower.yaw))
        yaw = np.unwrap(np.arctan2(heading[:, 0], heading[:, 1]))
        yaw = follower.yaw + wrap(yaw[0] - follower.yaw) + (yaw - yaw[0])
        pace = np.clip(np.linalg.norm(velocity, axis=1) / chase_speed, 0, 1)
        pieces = [None, None]
        pieces[leader_index] = lead
        pieces[actor] = Piece(self.gait(n, pace, chase_speed, rate, run), xz, yaw, np.zeros(n))
        return pieces

    def advance(self, states: list[PersonState], pieces: list[Piece]) -> None:
        for state, piece in zip(states, pieces):
            state.x, state.z = piece.xz[-1]
            state.yaw = float(piece.yaw[-1])



# ---- actions: one function per vocabulary action, registered by its name ----------------
SoloMotion = Callable[[Animator, dict, PersonState], Piece]
InteractionMotion = Callable[[Animator, int, list[PersonState]], list[list[Piece]]]
SOLO_MOTIONS: dict[str, SoloMotion] = {}
INTERACTION_MOTIONS: dict[str, InteractionMotion] = {}


def motion_of(action: str):
    """Register the decorated function as the motion of a vocabulary action.

    A solo motion takes (animator, segment, state) and returns one person's piece; an
    interaction takes (animator, actor, states) and returns its phases (pairs of pieces).
    """
    registry = SOLO_MOTIONS if vocab.kind(action) == vocab.SOLO else INTERACTION_MOTIONS

    def register(function):
        registry[action] = function
        return function
    return register


def _locomotion(animator: Animator, seg: dict, state: PersonState, run: bool) -> Piece:
    turn = {"forward": 0.0, "backward": 0.0, "left": np.pi / 2, "right": -np.pi / 2}
    speed = RUN_SPEED if run else WALK_SPEED[seg.get("speed", "normal")]
    rate = RUN_RATE if run else STEP_RATE[seg.get("speed", "normal")]
    # An explicit duration sets the distance walked, not the pace.
    n = (int(round(seg["duration"] * animator.fps)) if "duration" in seg
         else animator.frames(animator.rng.uniform(2.2, 3.2)))
    return animator.locomote(state, n, animator.jitter(speed), animator.jitter(rate, 0.05),
                             state.yaw + turn[seg["direction"]],
                             backward=seg["direction"] == "backward", run=run)


@motion_of("walk")
def walk(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return _locomotion(animator, seg, state, run=False)


@motion_of("run")
def run(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return _locomotion(animator, seg, state, run=True)


@motion_of("turn_around")
def turn_around(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return animator.hold(state, animator.frames(1.8), yaw_to=state.yaw + np.pi)


@motion_of("spin")
def spin(animator: Animator, seg: dict, state: PersonState) -> Piece:
    fps = animator.fps
    n = animator.frames(2.0)
    s = np.arange(n) / fps
    piece = animator.hold(state, n)
    piece.yaw = state.yaw + 2 * np.pi * smoothstep(s / (n / fps))
    arms = envelope(n, fps, 0.4)
    for side in ("left", "right"):
        animator.arm(piece.angles, side, raise_side=1.2 * arms)
    animator.add_steps(piece.angles, n, 0.2, 2.0)
    return piece


def _change_posture(animator: Animator, state: PersonState, sitting_down: bool) -> Piece:
    n = animator.frames(2.2)
    s = np.arange(n) / animator.fps
    progress = smoothstep((s - 0.2) / 1.6)
    if not sitting_down:
        progress = 1 - progress
    angles = np.zeros((n, 22, 3)) + progress[:, None, None] * seated_pose()[None]
    lean = np.sin(np.pi * smoothstep((s - 0.2) / 1.6)) * 0.5
    angles[:, J["spine1"], 0] += lean
    angles[:, J["spine2"], 0] += 0.5 * lean
    for side in ("left", "right"):
        animator.arm(angles, side, raise_forward=-0.8 * lean)
    return animator.pose_piece(state, angles)


@motion_of("sit_down")
def sit_down(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return _change_posture(animator, state, sitting_down=True)


@motion_of("stand_up")
def stand_up(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return _change_posture(animator, state, sitting_down=False)


def _repeated(animator: Animator, count: int, period: float) -> tuple[int, int, int]:
    """Frames of a clip of `count` repetitions of `period` seconds: (n, first active, active)."""
    n = animator.frames(count * period + 0.5)
    return n, int(0.25 * animator.fps), n - int(0.5 * animator.fps)


@motion_of("squat")
def squat(animator: Animator, seg: dict, state: PersonState) -> Piece:
    n, start, core = _repeated(animator, seg["count"], 1.7)
    pulse = np.zeros(n)
    pulse[start:start + core] = repetitions(core, seg["count"])
    angles = np.zeros((n, 22, 3))
    for side in ("left", "right"):
        angles[:, J[f"{side}_hip"], 0] = -1.7 * pulse
        angles[:, J[f"{side}_knee"], 0] = 2.1 * pulse
        angles[:, J[f"{side}_ankle"], 0] = -0.5 * pulse
        animator.arm(angles, side, raise_forward=-1.4 * pulse)
    angles[:, J["spine1"], 0] = 0.35 * pulse
    return animator.pose_piece(state, angles, np.zeros(n))


def _take_offs(animator: Animator, count: int, period: float, height: float, legs: tuple[str, ...]):
    """Crouch, take off, fly (legs extended), land, `count` times: airborne in the middle of
    each repetition. Returns the angles of the pushing legs and spine, the lift, the crouch
    and the airborne mask."""
    n, start, core = _repeated(animator, count, period)
    phase = np.zeros(n)
    phase[start:start + core] = (np.arange(core) / max(core - 1, 1) * count) % 1.0
    active = np.zeros(n, bool)
    active[start:start + core] = True
    airborne = active & (phase > 0.35) & (phase < 0.75)
    lift = np.where(airborne, height * np.sin(np.pi * (phase - 0.35) / 0.4), 0.0)
    crouch = np.where(active & ~airborne,
                      np.sin(np.pi * np.clip(phase / 0.35, 0, 1)) ** 2
                      + np.sin(np.pi * np.clip((phase - 0.75) / 0.25, 0, 1)) ** 2, 0.0)
    angles = np.zeros((n, 22, 3))
    for side in legs:
        angles[:, J[f"{side}_hip"], 0] = -0.7 * crouch
        angles[:, J[f"{side}_knee"], 0] = 1.2 * crouch
    return angles, lift, crouch, airborne


@motion_of("jump")
def jump(animator: Animator, seg: dict, state: PersonState) -> Piece:
    angles, lift, crouch, airborne = _take_offs(animator, seg["count"], 1.0, 0.35, ("left", "right"))
    for side in ("left", "right"):
        animator.arm(angles, side, raise_forward=-2.4 * airborne.astype(float) + 0.5 * crouch)
    angles[:, J["spine1"], 0] = 0.3 * crouch
    return animator.pose_piece(state, angles, lift)


@motion_of("hop")
def hop(animator: Animator, seg: dict, state: PersonState) -> Piece:
    side = seg["side"]
    angles, lift, crouch, _ = _take_offs(animator, seg["count"], 0.75, 0.16, (side,))
    other = "right" if side == "left" else "left"
    held = envelope(len(angles), animator.fps, 0.25)
    angles[:, J[f"{other}_hip"], 0] = -0.5 * held
    angles[:, J[f"{other}_knee"], 0] = 1.6 * held
    for arm_side in ("left", "right"):
        animator.arm(angles, arm_side, raise_side=0.5 * held)
    angles[:, J["spine1"], 0] = 0.3 * crouch
    return animator.pose_piece(state, angles, lift)


@motion_of("wave")
def wave(animator: Animator, seg: dict, state: PersonState) -> Piece:
    fps = animator.fps
    n = animator.frames(2.6)
    s = np.arange(n) / fps
    up = smoothstep(s / 0.5) * smoothstep((n / fps - s) / 0.5)
    angles = np.zeros((n, 22, 3))
    for side in animator.hands(seg["hand"]):
        oscillation = 0.35 * np.sin(2 * np.pi * 2.2 * s) * up
        animator.arm(angles, side, raise_side=2.5 * up + oscillation, elbow=-0.5 * up)
    return animator.pose_piece(state, angles)


@motion_of("raise_arms")
def raise_arms(animator: Animator, seg: dict, state: PersonState) -> Piece:
    n = animator.frames(2.2)
    up = smoothstep(np.arange(n) / animator.fps / 0.5)
    angles = np.zeros((n, 22, 3))
    for side in animator.hands(seg["hand"]):
        animator.arm(angles, side, raise_forward=-2.9 * up)
    return animator.pose_piece(state, angles)


@motion_of("clap")
def clap(animator: Animator, seg: dict, state: PersonState) -> Piece:
    fps = animator.fps
    n = animator.frames(2.4)
    s = np.arange(n) / fps
    env = envelope(n, fps, 0.4)
    beat = 0.5 + 0.5 * np.cos(2 * np.pi * 2.5 * s)
    angles = np.zeros((n, 22, 3))
    for side in ("left", "right"):
        animator.arm(angles, side, raise_forward=-1.3 * env, across=(0.05 + 0.4 * beat) * env,
                     elbow=-0.6 * env)
    return animator.pose_piece(state, angles)


@motion_of("kick")
def kick(animator: Animator, seg: dict, state: PersonState) -> Piece:
    n = animator.frames(1.6)
    s = np.arange(n) / animator.fps
    strike = np.exp(-((s - 0.7) / 0.18) ** 2)
    side = seg["side"]
    angles = np.zeros((n, 22, 3))
    angles[:, J[f"{side}_hip"], 0] = -1.5 * strike
    angles[:, J[f"{side}_knee"], 0] = 1.2 * np.exp(-((s - 0.5) / 0.15) ** 2)
    angles[:, J["spine1"], 0] = -0.25 * strike
    for arm_side in ("left", "right"):
        animator.arm(angles, arm_side, raise_side=0.6 * strike)
    return animator.pose_piece(state, angles)


@motion_of("punch")
def punch(animator: Animator, seg: dict, state: PersonState) -> Piece:
    count, side = seg["count"], seg["side"]
    n = animator.frames(0.7 * count + 0.9)
    s = np.arange(n) / animator.fps
    guard = envelope(n, animator.fps, 0.35)
    strike = np.zeros(n)
    for k in range(count):
        strike += np.exp(-((s - 0.55 - 0.7 * k) / 0.12) ** 2)
    angles = np.zeros((n, 22, 3))
    for arm_side in ("left", "right"):
        hit = strike if arm_side == side else 0.0
        animator.arm(angles, arm_side, raise_forward=-0.8 * guard - 0.75 * hit,
                     across=0.3 * guard, elbow=-2.0 * guard + 1.9 * hit)
    angles[:, J["spine2"], 1] = -MIRROR[side] * 0.35 * strike
    return animator.pose_piece(state, angles)


@motion_of("bow")
def bow(animator: Animator, seg: dict, state: PersonState) -> Piece:
    return animator.pose_piece(state, animator.bow_angles(animator.frames(2.6)))


@motion_of("stretch")
def stretch(animator: Animator, seg: dict, state: PersonState) -> Piece:
    n = animator.frames(3.2)
    s = np.arange(n) / animator.fps
    up = np.exp(-((s / (n / animator.fps) - 0.35) / 0.17) ** 2)
    out = np.exp(-((s / (n / animator.fps) - 0.72) / 0.14) ** 2)
    angles = np.zeros((n, 22, 3))
    for side in ("left", "right"):
        animator.arm(angles, side, raise_forward=-3.0 * up, raise_side=1.55 * out)
    angles[:, J["spine2"], 0] = -0.2 * up
    angles[:, J["neck"], 0] = -0.3 * up
    return animator.pose_piece(state, angles)


def _still_pair(animator: Animator, states: list[PersonState], n: int) -> list[Piece]:
    return [animator.pose_piece(state, np.repeat(base_pose(state)[None], n, axis=0))
            for state in states]


def _meet(animator: Animator, states: list[PersonState], gap: float, seconds: float,
          touch: Callable[[list[Piece], np.ndarray], None]) -> list[list[Piece]]:
    """Walk up to each other until `gap` metres apart, then touch for about `seconds`."""
    phases = [animator.approach(states, gap)]
    animator.advance(states, phases[-1])
    pair = _still_pair(animator, states, animator.frames(seconds))
    touch(pair, np.arange(len(pair[0].angles)) / animator.fps)
    return phases + [pair]


def _right_hands_meet(animator: Animator, pair: list[Piece], states: list[PersonState],
                      height: np.ndarray, weight: np.ndarray) -> None:
    centre = (pair[0].xz + pair[1].xz) / 2
    target = np.stack([centre[:, 0], height, centre[:, 1]], 1)
    for person, state in enumerate(states):
        animator.reach(pair[person], "right", state.height, target, weight)


@motion_of("shake_hands")
def shake_hands(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def touch(pair: list[Piece], s: np.ndarray) -> None:
        weight = envelope(len(s), animator.fps, 0.5)
        pump = 0.05 * np.sin(2 * np.pi * 2.5 * (s - 0.5)) * smoothstep((s - 0.5) / 0.3)
        height = 0.56 * min(state.height for state in states) + pump
        _right_hands_meet(animator, pair, states, height, weight)
    return _meet(animator, states, 0.75, 2.2, touch)


@motion_of("high_five")
def high_five(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def touch(pair: list[Piece], s: np.ndarray) -> None:
        # A quick slap above the heads at the middle of the segment.
        weight = np.exp(-((s - s[-1] / 2) / (0.3 * s[-1])) ** 4)
        height = np.full(len(s), animator.high_five_height(states))
        _right_hands_meet(animator, pair, states, height, weight)
    return _meet(animator, states, 0.7, 1.4, touch)


@motion_of("hug")
def hug(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def touch(pair: list[Piece], s: np.ndarray) -> None:
        weight = envelope(len(s), animator.fps, 0.6)
        for person, partner in ((0, 1), (1, 0)):
            back = -facing(pair[partner].yaw)
            chest = 0.62 * states[partner].height
            for side, lateral in (("left", 1.0), ("right", -1.0)):
                # Our left hand goes round the partner's right side (their -x).
                around = (pair[partner].xz + 0.1 * back
                          - lateral * 0.12 * leftward(pair[partner].yaw))
                target = np.stack([around[:, 0], np.full(len(s), chest), around[:, 1]], 1)
                animator.reach(pair[person], side, states[person].height, target, weight)
        for piece in pair:
            piece.angles[:, J["head"], 1] += 0.4 * weight
    return _meet(animator, states, 0.4, 2.6, touch)


def _face_to_face(animator: Animator, states: list[PersonState], gap: float, movers: tuple[int, ...],
                  seconds: float, act: Callable[[list[Piece], np.ndarray, np.ndarray], None]
                  ) -> list[list[Piece]]:
    """The movers close in to at most `gap` metres, then both act facing each other;
    `act(pieces, s, env)` shapes the pieces, with s in seconds and env easing in and out."""
    a, b = states
    phases = [animator.approach(states, min(gap, np.hypot(b.x - a.x, b.z - a.z)), movers)]
    animator.advance(states, phases[-1])
    pieces = _still_pair(animator, states, animator.frames(seconds))
    s = np.arange(len(pieces[0].angles)) / animator.fps
    act(pieces, s, envelope(len(s), animator.fps, 0.4))
    return phases + [pieces]


def _one_acts_on_other(animator: Animator, actor: int, states: list[PersonState], gap: float,
                       seconds: float, act: Callable[[Piece, Piece, np.ndarray, np.ndarray], None]
                       ) -> list[list[Piece]]:
    """Face to face, only the actor closing in; `act(hit, react, s, env)` shapes the actor's
    and the other's pieces."""
    return _face_to_face(animator, states, gap, (actor,), seconds,
                         lambda pieces, s, env: act(pieces[actor], pieces[1 - actor], s, env))


@motion_of("bow_to_each_other")
def bow_to_each_other(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def act(pieces: list[Piece], s: np.ndarray, env: np.ndarray) -> None:
        for piece in pieces:
            piece.angles += animator.bow_angles(len(s))
    return _face_to_face(animator, states, 1.6, (0, 1), 2.6, act)


@motion_of("wave_at_each_other")
def wave_at_each_other(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def act(pieces: list[Piece], s: np.ndarray, env: np.ndarray) -> None:
        for piece in pieces:
            oscillation = 0.35 * np.sin(2 * np.pi * 2.2 * s + animator.rng.uniform(0, 1)) * env
            animator.arm(piece.angles, "right", raise_side=2.5 * env + oscillation, elbow=-0.5 * env)
    return _face_to_face(animator, states, 2.2, (0, 1), 2.6, act)


@motion_of("dance_facing")
def dance_facing(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def act(pieces: list[Piece], s: np.ndarray, env: np.ndarray) -> None:
        beat = np.sin(2 * np.pi * 1.0 * s)
        for piece in pieces:
            piece.xz = piece.xz + 0.18 * (beat * env)[:, None] * leftward(piece.yaw)
            for side in ("left", "right"):
                sign = 1 if side == "left" else -1
                animator.arm(piece.angles, side, raise_side=(1.6 + 0.8 * sign * beat) * env,
                             elbow=-0.8 * env)
                bounce = env * (0.5 + 0.5 * np.sin(4 * np.pi * s))
                piece.angles[:, J[f"{side}_knee"], 0] += 0.35 * bounce
                piece.angles[:, J[f"{side}_hip"], 0] -= 0.2 * bounce
            piece.angles[:, J["spine2"], 2] += 0.2 * beat * env
    return _face_to_face(animator, states, 1.2, (0, 1), 3.5, act)


@motion_of("punch_dodge")
def punch_dodge(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    other = 1 - actor

    def act(hit: Piece, react: Piece, s: np.ndarray, env: np.ndarray) -> None:
        n = len(s)
        for side in ("left", "right"):
            animator.arm(hit.angles, side, raise_forward=-0.8 * env, across=0.3 * env,
                         elbow=-2.0 * env)
        head = np.column_stack([react.xz[:, 0], np.full(n, 0.93 * states[other].height),
                                react.xz[:, 1]])
        animator.reach(hit, "right", states[actor].height, head, np.exp(-((s - 0.6) / 0.15) ** 2))
        dodge = np.exp(-((s - 0.65) / 0.3) ** 2)
        react.angles[:, J["spine1"], 0] -= 0.35 * dodge
        react.angles[:, J["spine2"], 2] += 0.45 * dodge
        react.angles[:, J["spine3"], 2] += 0.3 * dodge
        react.xz = react.xz - 0.3 * dodge[:, None] * facing(react.yaw)
    return _one_acts_on_other(animator, actor, states, 0.65, 1.8, act)


@motion_of("push")
def push(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    other = 1 - actor

    def act(hit: Piece, react: Piece, s: np.ndarray, env: np.ndarray) -> None:
        n = len(s)
        react.xz = react.xz - 0.9 * smoothstep((s - 0.6) / 0.7)[:, None] * facing(react.yaw)
        thrust = np.exp(-((s - 0.65) / 0.2) ** 2)
        wind_up = np.exp(-((s - 0.45) / 0.3) ** 2)
        chest = np.full(n, 0.72 * states[other].height)
        for side, lateral in (("left", -1.0), ("right", 1.0)):
            # Wind up with bent arms, then both palms on the other's chest.
            animator.arm(hit.angles, side, raise_forward=-0.8 * wind_up, elbow=-1.4 * wind_up)
            palm = react.xz + lateral * 0.14 * leftward(react.yaw)
            animator.reach(hit, side, states[actor].height,
                           np.column_stack([palm[:, 0], chest, palm[:, 1]]), thrust)
        stumble = np.sin(np.pi * np.clip((s - 0.55) / 0.9, 0, 1))
        react.angles[:, J["spine1"], 0] -= 0.35 * stumble
        for side in ("left", "right"):
            animator.arm(react.angles, side, raise_forward=-1.0 * stumble, raise_side=0.5 * stumble)
        animator.add_steps(react.angles, n, 0.35, 1.6, backward=True, env=stumble)
    return _one_acts_on_other(animator, actor, states, 0.65, 2.0, act)


@motion_of("pull")
def pull(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    def act(hit: Piece, react: Piece, s: np.ndarray, env: np.ndarray) -> None:
        # The actor walks backward, dragging the other by the wrist.
        n = len(s)
        drag = smoothstep((s - 0.5) / (n / animator.fps - 0.7))
        distance = 1.4
        hit.xz = hit.xz - distance * drag[:, None] * facing(hit.yaw)
        react.xz = react.xz + distance * drag[:, None] * facing(react.yaw)
        for piece in (hit, react):
            animator.add_steps(piece.angles, n, 0.35, 1.0, backward=piece is hit,
                               arm_swing=0.0, env=np.sin(np.pi * drag))
        # A slight lean (the IK assumes an upright torso, so keep it small).
        hit.angles[:, J["spine1"], 0] -= 0.1 * env
        react.angles[:, J["spine1"], 0] += 0.1 * env
        hands = (hit.xz + react.xz) / 2
        grip = np.column_stack([hands[:, 0], np.full(n, 0.62 * min(st.height for st in states)),
                                hands[:, 1]])
        for piece, state in ((hit, states[actor]), (react, states[1 - actor])):
            animator.reach(piece, "right", state.height, grip, env)
    return _one_acts_on_other(animator, actor, states, 0.5, 2.6, act)


@motion_of("follow")
def follow(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    return [animator.pursuit(states, actor, run=False)]


@motion_of("chase")
def chase(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    return [animator.pursuit(states, actor, run=True)]


@motion_of("walk_side_by_side")
def walk_side_by_side(animator: Animator, actor: int, states: list[PersonState]) -> list[list[Piece]]:
    a, b = states
    line = yaw_towards(a, np.array([b.x, b.z]))
    # Walk perpendicular to the line joining them, on the side A already faces.
    heading = line + (np.pi / 2 if wrap(a.yaw - line) >= 0 else -np.pi / 2)
    n = animator.frames(animator.rng.uniform(2.5, 3.5))
    gap = np.hypot(b.x - a.x, b.z - a.z)
    pieces = [animator.locomote(s, n, 1.1, STEP_RATE["normal"], heading) for s in states]
    closing = (gap - 0.7) / 2 * smoothstep(np.arange(n) / (0.6 * n))[:, None]
    unit = np.array([b.x - a.x, b.z - a.z]) / max(gap, 1e-6)
    pieces[0].xz += closing * unit
    pieces[1].xz -= closing * unit
    return [pieces]

def start_states(spec: dict, rng: np.random.Generator) -> list[PersonState]:
    """Floor placement (x, z, yaw) of both persons from the spec's start arrangement."""
    half = spec["start"]["distance"] / 2
    placements = {"facing": [(-half, 0.0, np.pi / 2), (half, 0.0, -np.pi / 2)],
                  "side_by_side": [(-half, 0.0, 0.0), (half, 0.0, 0.0)],
                  "one_behind": [(0.0, half, 0.0), (0.0, -half, 0.0)],
                  "apart": [(-half, 0.0, -np.pi / 2), (half, 0.0, np.pi / 2)]}  # back to back
    return [PersonState(x, z, yaw + rng.normal(0, 0.15), person["height"])
            for (x, z, yaw), person in zip(placements[spec["start"]["arrangement"]],
                                           spec["persons"])]


def euler_to_matrix(angles: np.ndarray) -> np.ndarray:
    """(..., 3) Euler angles (x, y, z) -> (..., 3, 3) as Ry @ Rx @ Rz."""
    x, y, z = angles[..., 0], angles[..., 1], angles[..., 2]
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    zero, one = np.zeros_like(x), np.ones_like(x)
    rx = np.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).reshape(*x.shape, 3, 3)
    ry = np.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).reshape(*x.shape, 3, 3)
    rz = np.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).reshape(*x.shape, 3, 3)
    return ry @ rx @ rz


def yaw_matrix(yaw: np.ndarray) -> np.ndarray:
    angles = np.zeros((len(yaw), 3))
    angles[:, 1] = yaw
    return euler_to_matrix(angles)


def blend_into(previous: np.ndarray, angles: np.ndarray, frames: int) -> None:
    """Cross-fade the start of `angles` from the previous segment's last pose, in place."""
    frames = min(frames, len(angles))
    weight = smoothstep(np.arange(frames) / max(frames, 1))[:, None, None]
    angles[:frames] = (1 - weight) * previous[None] + weight * angles[:frames]


def person_features(pieces: list[Piece], height: float, rng: np.random.Generator,
                    fps: int) -> np.ndarray:
    """Concatenate one person's pieces, add noise, run FK, put the feet on the floor."""
    angles = np.concatenate([p.angles for p in pieces])
    n = len(angles)
    s = np.arange(n) / fps
    noise = np.zeros_like(angles)
    for _ in range(2):
        freq = rng.uniform(0.2, 0.8, size=(22, 3))
        phase = rng.uniform(0, 2 * np.pi, size=(22, 3))
        noise += 0.02 * np.sin(2 * np.pi * freq[None] * s[:, None, None] + phase[None])
    angles = angles + noise
    xz = np.concatenate([p.xz for p in pieces])
    yaw = np.concatenate([p.yaw for p in pieces])
    lift = np.concatenate([p.lift for p in pieces])
    local = euler_to_matrix(angles[:, 1:])
    root_pos = np.stack([xz[:, 0], np.zeros(n), xz[:, 1]], axis=1)
    positions = sk.forward_kinematics(root_pos, yaw_matrix(yaw), local, sk.rest_offsets(height))
    floor = positions[:, FOOT_JOINTS, 1].min(axis=1)
    positions[:, :, 1] += (sk.FOOT_CLEARANCE - floor + lift)[:, None]
    return sk.pack_person(positions, local)


def seat(states: list[PersonState], seated: dict[int, bool]) -> None:
    for person, state in enumerate(states):
        state.seated = seated[person]


def synthesize(spec: dict, rng: np.random.Generator, fps: int = 20) -> np.ndarray:
    """The (T, 384) float32 motion of a (validated) clip spec."""
    animator = Animator(fps, rng)
    states = start_states(spec, rng)
    tracks: list[list[Piece]] = [[], []]
    blend = int(0.4 * fps)

    def append(pair: list[Piece]) -> None:
        for i, piece in enumerate(pair):
            if tracks[i]:
                blend_into(tracks[i][-1].angles[-1], piece.angles, blend)
            tracks[i].append(piece)
        animator.advance(states, pair)

    seated = postures(spec["segments"])
    for index, seg in enumerate(spec["segments"]):
        action, actor = seg["action"], seg.get("actor", 0)
        seat(states, seated[index])
        if vocab.kind(action) == vocab.INTERACTION:
            phases = INTERACTION_MOTIONS[action](animator, actor, states)
            pair = [join_pieces([phase[i] for phase in phases], blend) for i in (0, 1)]
        else:
            actors = (0, 1) if actor == "both" else (actor,)
            solo = {i: SOLO_MOTIONS[action](animator, seg, states[i]) for i in actors}
            n = max(len(piece.angles) for piece in solo.values())
            pair = [pad_piece(solo[i], n) if i in solo else animator.hold(states[i], n) for i in (0, 1)]
        if "duration" in seg:
            pair = [resample_piece(p, int(round(seg["duration"] * fps))) for p in pair]
        append(pair)

    seat(states, seated[-1])
    total = sum(len(p.angles) for p in tracks[0])
    if total < MIN_CLIP_S * fps:
        append([animator.hold(state, int(MIN_CLIP_S * fps) - total + 1) for state in states])
    features = [person_features(pieces, spec["persons"][i]["height"], rng, fps)
                for i, pieces in enumerate(tracks)]
    motion = np.concatenate(features, axis=1)
    if len(motion) > MAX_CLIP_S * fps:
        # Rare long clips are time-compressed by keeping evenly spaced frames.
        keep = np.linspace(0, len(motion) - 1, int(MAX_CLIP_S * fps)).round().astype(int)
        motion = motion[keep]
    return motion


def join_pieces(pieces: list[Piece], blend: int) -> Piece:
    """One piece from consecutive ones, the angles cross-faded at each junction."""
    for previous, piece in zip(pieces, pieces[1:]):
        blend_into(previous.angles[-1], piece.angles, blend)
    return Piece(*(np.concatenate([getattr(p, name) for p in pieces])
                   for name in ("angles", "xz", "yaw", "lift")))


def pad_piece(piece: Piece, n: int) -> Piece:
    """Extend a piece to n frames by holding its last frame."""
    extra = n - len(piece.angles)
    if extra <= 0:
        return piece
    return Piece(*(np.concatenate([a, np.repeat(a[-1:], extra, axis=0)])
                   for a in (piece.angles, piece.xz, piece.yaw, piece.lift)))


def resample_piece(piece: Piece, n: int) -> Piece:
    """Time-stretch a piece to n frames (linear interpolation of every track)."""
    if n == len(piece.angles):
        return piece
    position = np.linspace(0, len(piece.angles) - 1, max(n, 2))
    lower = np.minimum(position.astype(int), len(piece.angles) - 2)
    fraction = position - lower

    def interp(track: np.ndarray) -> np.ndarray:
        weight = fraction.reshape(-1, *[1] * (track.ndim - 1))
        return (1 - weight) * track[lower] + weight * track[lower + 1]

    return Piece(interp(piece.angles), interp(piece.xz), interp(piece.yaw), interp(piece.lift))
