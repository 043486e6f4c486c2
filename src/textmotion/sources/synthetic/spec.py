"""Clip specs: the JSON description of one synthetic two-person clip.

A spec is what `python src/generate.py --specs FILE` reads to make targeted examples. FILE
holds a JSON list of specs, or an object ``{"specs": [...]}``. One spec::

    {"persons": [{"height": 1.74}, {"height": 1.63}],
     "start": {"distance": 2.0, "arrangement": "facing"},
     "segments": [
       {"action": "walk", "actor": 0, "direction": "forward", "speed": "normal"},
       {"action": "wave", "actor": 1, "hand": "left", "duration": 2.0},
       {"action": "shake_hands", "actor": 0}]}

Fields (no other keys are accepted anywhere):

``persons`` (optional)
    Exactly two objects, person 0 then person 1 (storage order: A then B in the motion
    array). ``height`` in metres, 1.55 to 1.95; default 1.75 for person 0, 1.65 for person 1.
``start`` (optional)
    ``distance`` between the two persons' roots in metres, 0.5 to 5 (default 2.0), and
    ``arrangement``, one of ``vocabulary.ARRANGEMENTS`` (default "facing"). The start
    placement is never captioned.
``segments`` (required)
    1 to 3 actions performed one after another. Each has
      - ``action``: a name from ``vocabulary.ACTIONS``;
      - ``actor``: 0, 1 or "both" for single-person actions; 0 or 1 for interactions, where
        it is the initiator (pusher, puller, follower, chaser, puncher). Symmetric
        interactions (hug, shake_hands, ...) have no initiator: ``actor`` may be left out
        there (it defaults to 0) and does not change the clip's meaning;
      - every attribute that ``vocabulary.ACTIONS`` lists for the action (e.g. ``direction``
        and ``speed`` for walk, ``hand`` for wave, ``count`` as the integer 1, 2 or 3), with
        one of its allowed values; all of them are required because captions state them;
      - ``duration`` (optional): seconds, 0.5 to 8; the synthesiser picks one when absent.

Posture rules: everyone starts standing, except that a clip whose first segment is
stand_up starts with that actor (or both, for "both") seated. stand_up needs its actor(s)
seated; sit_down leaves its actor(s) seated, and a seated person does nothing else until they
stand up; an interaction needs both persons standing.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from textmotion.errors import DataError
from textmotion.sources.synthetic import vocabulary as vocab

BOTH = "both"
MAX_SEGMENTS = 3
HEIGHT_RANGE = (1.55, 1.95)
DISTANCE_RANGE = (0.5, 5.0)
DURATION_RANGE = (0.5, 8.0)
DEFAULT_HEIGHTS = (1.75, 1.65)
DEFAULT_START = {"distance": 2.0, "arrangement": "facing"}

SPEC_KEYS = {"persons", "start", "segments"}
SEGMENT_BASE_KEYS = {"action", "actor", "duration"}

# sample_spec's balance: segment counts 1/2/3, the chance that a segment is an interaction
# (when both persons stand; gives about 40 % of clips with one), the solo actor 0/1/both,
# and the chance that a clip opens with someone seated who stands up.
SEGMENT_COUNT_PROBS = (0.4, 0.4, 0.2)
INTERACTION_PROB = 0.26
SOLO_ACTOR_PROBS = (0.4, 0.4, 0.2)
STARTS_SEATED_PROB = 0.05
SAMPLED_DISTANCE_RANGE = (0.6, 4.5)

SOLO_ACTIONS = tuple(a for a in vocab.ACTIONS if vocab.kind(a) == vocab.SOLO)
INTERACTION_ACTIONS = tuple(a for a in vocab.ACTIONS if vocab.kind(a) == vocab.INTERACTION)
STANDING_SOLO_ACTIONS = tuple(a for a in SOLO_ACTIONS if a not in vocab.NEEDS_SEATED)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_range(value, bounds: tuple[float, float], where: str) -> float:
    low, high = bounds
    if not _is_number(value) or not low <= value <= high:
        raise ValueError(f"{where} must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _check_keys(obj, allowed: set[str], where: str) -> None:
    if not isinstance(obj, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))} "
                         f"(allowed: {', '.join(sorted(allowed))})")


def _is_allowed_value(value, allowed: tuple) -> bool:
    """Membership that does not let True stand for 1 or 2.0 for 2."""
    return any(value == a and type(value) is type(a) for a in allowed)


def _persons_of(actor) -> tuple[int, ...]:
    return (0, 1) if actor == BOTH else (actor,)


def _validate_persons(persons) -> list[dict]:
    if not isinstance(persons, list) or len(persons) != 2:
        raise ValueError(f"persons must be a list of exactly 2 objects, got {persons!r}")
    normalised = []
    for index, person in enumerate(persons):
        where = f"persons[{index}]"
        _check_keys(person, {"height"}, where)
        height = person.get("height", DEFAULT_HEIGHTS[index])
        normalised.append({"height": _check_range(height, HEIGHT_RANGE, f"{where}.height")})
    return normalised


def _validate_start(start) -> dict:
    _check_keys(start, {"distance", "arrangement"}, "start")
    distance = _check_range(start.get("distance", DEFAULT_START["distance"]), DISTANCE_RANGE,
                            "start.distance")
    arrangement = start.get("arrangement", DEFAULT_START["arrangement"])
    if arrangement not in vocab.ARRANGEMENTS:
        raise ValueError(f"start.arrangement must be one of {', '.join(vocab.ARRANGEMENTS)}, "
                         f"got {arrangement!r}")
    return {"distance": distance, "arrangement": arrangement}


def _validate_segment(segment, where: str) -> dict:
    if not isinstance(segment, dict):
        raise ValueError(f"{where} must be a JSON object, got {type(segment).__name__}")
    action = segment.get("action")
    if action not in vocab.ACTIONS:
        raise ValueError(f"{where}: unknown or missing action {action!r} "
                         f"(known: {', '.join(vocab.ACTIONS)})")
    where = f"{where} ({action})"
    allowed_attributes = vocab.attributes(action)
    _check_keys(segment, SEGMENT_BASE_KEYS | set(allowed_attributes), where)

    interaction = vocab.kind(action) == vocab.INTERACTION
    default_actor = 0 if interaction and vocab.is_symmetric(action) else None
    actor = segment.get("actor", default_actor)
    allowed_actors = (0, 1) if interaction else (0, 1, BOTH)
    if not _is_allowed_value(actor, allowed_actors):
        raise ValueError(f"{where}: actor must be one of {', '.join(map(str, allowed_actors))}, "
                         f"got {actor!r}")

    normalised = {"action": action, "actor": actor}
    for name, values in allowed_attributes.items():
        if name not in segment:
            raise ValueError(f"{where}: missing attribute {name!r} "
                             f"(allowed: {', '.join(map(str, values))})")
        if not _is_allowed_value(segment[name], values):
            raise ValueError(f"{where}: {name} must be one of {', '.join(map(str, values))}, "
                             f"got {segment[name]!r}")
        normalised[name] = segment[name]
    if "duration" in segment:
        normalised["duration"] = _check_range(segment["duration"], DURATION_RANGE,
                                              f"{where}: duration")
    return normalised


def involved_persons(segment: dict) -> tuple[int, ...]:
    """The persons a segment moves: both for an interaction, else its actor(s)."""
    if vocab.kind(segment["action"]) == vocab.INTERACTION:
        return (0, 1)
    return _persons_of(segment["actor"])


def initial_posture(first_segment: dict) -> dict[int, bool]:
    """Who is seated at the start: a clip opening with stand_up starts with its actor(s) seated."""
    seated = set(_persons_of(first_segment["actor"])) if first_segment["action"] in vocab.NEEDS_SEATED \
        else set()
    return {person: person in seated for person in (0, 1)}


def posture_after(seated: dict[int, bool], segment: dict) -> dict[int, bool]:
    """Who is seated after the segment: its persons end seated exactly when it is a sit_down."""
    after = dict(seated)
    for person in involved_persons(segment):
        after[person] = segment["action"] in vocab.ENDS_SEATED
    return after


def postures(segments: list[dict]) -> list[dict[int, bool]]:
    """Who is seated before each segment, and (last) at the end: len(segments) + 1 entries."""
    states = [initial_posture(segments[0])]
    for segment in segments:
        states.append(posture_after(states[-1], segment))
    return states


def _check_postures(segments: list[dict]) -> None:
    """Apply the posture rules of the module docstring; raise on the first violation."""
    for index, (segment, seated) in enumerate(zip(segments, postures(segments))):
        action = segment["action"]
        where = f"segments[{index}] ({action})"
        involved = involved_persons(segment)
        if action in vocab.NEEDS_SEATED:
            standing = [p for p in involved if not seated[p]]
            if standing:
                raise ValueError(f"{where}: person {standing[0]} is not seated; stand_up must be "
                                 f"the first segment or follow that person's sit_down")
        else:
            sitting = [p for p in involved if seated[p]]
            if sitting:
                raise ValueError(f"{where}: person {sitting[0]} is seated; after sit_down a "
                                 f"person can only stand_up"
                                 + ("; an interaction needs both persons standing"
                                    if vocab.kind(action) == vocab.INTERACTION else ""))


def validate_spec(spec) -> dict:
    """Check a spec against the schema above; return a normalised copy with defaults filled.

    Raises ValueError naming the field or segment and the problem.
    """
    _check_keys(spec, SPEC_KEYS, "spec")
    segments = spec.get("segments")
    if not isinstance(segments, list) or not 1 <= len(segments) <= MAX_SEGMENTS:
        raise ValueError(f"segments must be a list of 1 to {MAX_SEGMENTS} segments, "
                         f"got {segments!r}")
    normalised_segments = [_validate_segment(segment, f"segments[{index}]")
                           for index, segment in enumerate(segments)]
    _check_postures(normalised_segments)
    persons = spec.get("persons", [{}, {}])
    return {"persons": _validate_persons(copy.deepcopy(persons)),
            "start": _validate_start(spec.get("start", {})),
            "segments": normalised_segments}


def load_specs(path: str | Path) -> list[dict]:
    """Read and validate a JSON file of specs (a list, or {"specs": [...]})."""
    try:
        with open(path, encoding="utf-8") as f:
            content = json.load(f)
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror or err}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(path, f"not valid JSON: {err}") from err
    specs = content.get("specs") if isinstance(content, dict) else content
    if not isinstance(specs, list) or not specs:
        raise DataError(path, 'expected a non-empty JSON list of specs or {"specs": [...]}')
    validated = []
    for index, spec in enumerate(specs):
        try:
            validated.append(validate_spec(spec))
        except ValueError as err:
            raise DataError(path, f"spec {index}: {err}") from err
    return validated


def action_names(spec: dict) -> frozenset[str]:
    return frozenset(segment["action"] for segment in spec["segments"])


def semantic_signature(spec: dict) -> tuple:
    """What captions say about a clip, canonical under swapping persons A and B.

    One (action, role, ((attribute, value), ...)) per segment, in order. Roles number the
    persons by first appearance as an actor (0 = the first person mentioned, 1 = the
    other); "both" stays "both"; symmetric interactions carry None.
    """
    roles: dict[int, int] = {}
    signature = []
    for segment in validate_spec(spec)["segments"]:
        action, actor = segment["action"], segment["actor"]
        if vocab.kind(action) == vocab.INTERACTION and vocab.is_symmetric(action):
            role = None
        elif actor == BOTH:
            role = BOTH
        else:
            role = roles.setdefault(actor, len(roles))
        attributes = tuple((name, segment[name]) for name in vocab.attributes(action))
        signature.append((action, role, attributes))
    return tuple(signature)


def _sample_attributes(action: str, rng: np.random.Generator) -> dict:
    return {name: values[int(rng.integers(len(values)))]
            for name, values in vocab.attributes(action).items()}


def _sample_segment(seated: dict[int, bool], rng: np.random.Generator) -> dict:
    """One segment that respects the current postures (seated people can only stand up)."""
    if not any(seated.values()) and rng.random() < INTERACTION_PROB:
        action = INTERACTION_ACTIONS[int(rng.integers(len(INTERACTION_ACTIONS)))]
        return {"action": action, "actor": int(rng.integers(2)), **_sample_attributes(action, rng)}
    actor = (0, 1, BOTH)[int(rng.choice(3, p=SOLO_ACTOR_PROBS))]
    involved = _persons_of(actor)
    if all(seated[p] for p in involved):
        return {"action": "stand_up", "actor": actor}
    if any(seated[p] for p in involved):  # "both" with one of them seated: the other acts
        actor = next(p for p in involved if not seated[p])
    action = STANDING_SOLO_ACTIONS[int(rng.integers(len(STANDING_SOLO_ACTIONS)))]
    return {"action": action, "actor": actor, **_sample_attributes(action, rng)}


def sample_spec(rng: np.random.Generator) -> dict:
    """A random valid spec; see the *_PROB constants for the balance it aims at."""
    n_segments = int(rng.choice(3, p=SEGMENT_COUNT_PROBS)) + 1
    seated = {0: False, 1: False}
    segments = []
    if rng.random() < STARTS_SEATED_PROB:
        actor = (0, 1, BOTH)[int(rng.choice(3, p=SOLO_ACTOR_PROBS))]
        segments.append({"action": "stand_up", "actor": actor})
    while len(segments) < n_segments:
        segment = _sample_segment(seated, rng)
        seated = posture_after(seated, segment)
        segments.append(segment)
    heights = rng.uniform(*HEIGHT_RANGE, size=2)
    return {"persons": [{"height": round(float(h), 2)} for h in heights],
            "start": {"distance": round(float(rng.uniform(*SAMPLED_DISTANCE_RANGE)), 2),
                      "arrangement": vocab.ARRANGEMENTS[int(rng.integers(len(vocab.ARRANGEMENTS)))]},
            "segments": segments}
