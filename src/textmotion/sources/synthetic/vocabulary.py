"""The action vocabulary: the single source of truth for specs, motion synthesis and captions.

Every attribute listed here is one a caption may name, so the synthesised motion must make
it visible. Directions are egocentric (relative to the actor's facing at segment start).
"""
from __future__ import annotations

SOLO = "solo"
INTERACTION = "interaction"

# action -> (kind, {attribute: allowed values}, symmetric)
# For solo actions `actor` is 0, 1 or "both". For interactions `actor` is the initiator
# (pusher, puller, follower, chaser, puncher); symmetric interactions have no initiator.
ACTIONS: dict[str, tuple[str, dict[str, tuple], bool]] = {
    "walk": (SOLO, {"direction": ("forward", "backward", "left", "right"),
                    "speed": ("slow", "normal", "fast")}, False),
    "run": (SOLO, {"direction": ("forward", "left", "right")}, False),
    "jump": (SOLO, {"count": (1, 2, 3)}, False),
    "sit_down": (SOLO, {}, False),
    "stand_up": (SOLO, {}, False),
    "squat": (SOLO, {"count": (1, 2, 3)}, False),
    "wave": (SOLO, {"hand": ("left", "right", "both")}, False),
    "raise_arms": (SOLO, {"hand": ("left", "right", "both")}, False),
    "clap": (SOLO, {}, False),
    "kick": (SOLO, {"side": ("left", "right")}, False),
    "punch": (SOLO, {"side": ("left", "right"), "count": (1, 2, 3)}, False),
    "turn_around": (SOLO, {}, False),
    "bow": (SOLO, {}, False),
    "spin": (SOLO, {}, False),
    "hop": (SOLO, {"side": ("left", "right"), "count": (1, 2, 3)}, False),
    "stretch": (SOLO, {}, False),
    "shake_hands": (INTERACTION, {}, True),
    "hug": (INTERACTION, {}, True),
    "high_five": (INTERACTION, {}, True),
    "push": (INTERACTION, {}, False),
    "pull": (INTERACTION, {}, False),
    "follow": (INTERACTION, {}, False),
    "chase": (INTERACTION, {}, False),
    "bow_to_each_other": (INTERACTION, {}, True),
    "wave_at_each_other": (INTERACTION, {}, True),
    "dance_facing": (INTERACTION, {}, True),
    "punch_dodge": (INTERACTION, {}, False),
    "walk_side_by_side": (INTERACTION, {}, True),
}

# Posture an action leaves its actor in; stand_up needs "seated", everything else "standing".
ENDS_SEATED = {"sit_down"}
NEEDS_SEATED = {"stand_up"}

# The initial placement of the two persons (not captioned; varied for diversity).
ARRANGEMENTS = ("facing", "side_by_side", "one_behind", "apart")


def kind(action: str) -> str:
    return ACTIONS[action][0]


def attributes(action: str) -> dict[str, tuple]:
    return ACTIONS[action][1]


def is_symmetric(action: str) -> bool:
    return ACTIONS[action][2]
