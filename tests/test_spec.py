import copy
import json
from collections import Counter

import numpy as np
import pytest

from textmotion.errors import DataError
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.spec import (action_names, load_specs, postures, sample_spec, semantic_signature,
                                   validate_spec)

EXAMPLE = {"persons": [{"height": 1.74}, {"height": 1.63}],
           "start": {"distance": 2.0, "arrangement": "facing"},
           "segments": [
               {"action": "walk", "actor": 0, "direction": "forward", "speed": "normal"},
               {"action": "wave", "actor": 1, "hand": "left"},
               {"action": "shake_hands", "actor": 0}]}


def segments_spec(*segments):
    return {"segments": list(segments)}


@pytest.fixture(scope="module")
def samples():
    rng = np.random.default_rng(123)
    return [sample_spec(rng) for _ in range(2000)]


def test_example_validates_and_defaults_are_filled():
    assert validate_spec(EXAMPLE) == EXAMPLE
    minimal = validate_spec(segments_spec({"action": "hug"}))
    assert minimal["persons"] == [{"height": 1.75}, {"height": 1.65}]
    assert minimal["start"] == {"distance": 2.0, "arrangement": "facing"}
    assert minimal["segments"] == [{"action": "hug", "actor": 0}]


def test_validate_returns_a_copy():
    spec = copy.deepcopy(EXAMPLE)
    validate_spec(spec)["segments"][0]["speed"] = "fast"
    assert spec == EXAMPLE


WALK = {"action": "walk", "actor": 0, "direction": "forward", "speed": "slow"}

BAD_SPECS = [
    ([], "must be a JSON object"),
    ({"segments": []}, "1 to 3 segments"),
    ({"segments": [WALK] * 4}, "1 to 3 segments"),
    ({"segments": [WALK], "camera": 1}, "unknown key(s) 'camera'"),
    (segments_spec({"action": "moonwalk", "actor": 0}), "segments[0]: unknown or missing action"),
    (segments_spec({**WALK, "colour": "red"}), "segments[0] (walk): unknown key(s) 'colour'"),
    (segments_spec({"action": "walk", "actor": 0, "direction": "forward"}),
     "segments[0] (walk): missing attribute 'speed'"),
    (segments_spec(WALK, {"action": "wave", "actor": 0, "hand": "middle"}),
     "segments[1] (wave): hand must be one of left, right, both"),
    (segments_spec({"action": "jump", "actor": 0, "count": 2.0}), "count must be one of 1, 2, 3"),
    (segments_spec({"action": "jump", "actor": 0, "count": True}), "count must be one of"),
    (segments_spec({"action": "jump", "actor": 0, "count": 4}), "count must be one of"),
    (segments_spec({"action": "clap", "actor": 2}), "actor must be one of 0, 1, both"),
    (segments_spec({"action": "clap"}), "actor must be one of 0, 1, both"),
    (segments_spec({"action": "push", "actor": "both"}), "segments[0] (push): actor must be one of 0, 1"),
    (segments_spec({"action": "push"}), "actor must be one of 0, 1"),
    (segments_spec({**WALK, "duration": 9}), "duration must be a number from 0.5 to 8"),
    (segments_spec({**WALK, "duration": "long"}), "duration must be a number"),
    ({"segments": [WALK], "persons": [{"height": 2.1}, {}]}, "persons[0].height must be a number"),
    ({"segments": [WALK], "persons": [{"height": 1.7}]}, "exactly 2"),
    ({"segments": [WALK], "persons": [{"height": 1.7}, {"weight": 70}]}, "persons[1]: unknown key"),
    ({"segments": [WALK], "start": {"distance": 6}}, "start.distance must be a number from 0.5 to 5"),
    ({"segments": [WALK], "start": {"arrangement": "circle"}}, "start.arrangement must be one of"),
    (segments_spec(WALK, {"action": "stand_up", "actor": 0}),
     "segments[1] (stand_up): person 0 is not seated"),
    (segments_spec({"action": "sit_down", "actor": 0}, {"action": "stand_up", "actor": 1}),
     "segments[1] (stand_up): person 1 is not seated"),
    (segments_spec({"action": "sit_down", "actor": 1}, {"action": "clap", "actor": 1}),
     "segments[1] (clap): person 1 is seated"),
    (segments_spec({"action": "sit_down", "actor": 0}, {"action": "clap", "actor": "both"}),
     "segments[1] (clap): person 0 is seated"),
    (segments_spec({"action": "sit_down", "actor": 0}, {"action": "hug"}),
     "an interaction needs both persons standing"),
    (segments_spec({"action": "stand_up", "actor": 0}, {"action": "hug"}, {"action": "stand_up", "actor": 1}),
     "segments[2] (stand_up): person 1 is not seated"),
]


@pytest.mark.parametrize("spec, message", BAD_SPECS)
def test_bad_specs_are_rejected_with_a_clear_message(spec, message):
    with pytest.raises(ValueError) as error:
        validate_spec(spec)
    assert message in str(error.value)


@pytest.mark.parametrize("segments", [
    [{"action": "stand_up", "actor": "both"}, {"action": "hug"}],
    [{"action": "sit_down", "actor": 0}, {"action": "wave", "actor": 1, "hand": "both"},
     {"action": "stand_up", "actor": 0}],
    [{"action": "sit_down", "actor": "both"}, {"action": "stand_up", "actor": 1},
     {"action": "stand_up", "actor": 0}],
    [{"action": "stand_up", "actor": 1}, {"action": "sit_down", "actor": 1},
     {"action": "stand_up", "actor": 1}],
])
def test_posture_sequences_that_are_allowed(segments):
    validate_spec({"segments": segments})


def test_load_specs_accepts_a_list_or_an_object(tmp_path):
    as_list, as_object = tmp_path / "list.json", tmp_path / "object.json"
    as_list.write_text(json.dumps([EXAMPLE, segments_spec(WALK)]))
    as_object.write_text(json.dumps({"specs": [EXAMPLE]}))
    assert load_specs(as_list)[0] == EXAMPLE and len(load_specs(as_list)) == 2
    assert load_specs(as_object) == [EXAMPLE]


@pytest.mark.parametrize("content, message", [
    (json.dumps([EXAMPLE, segments_spec({"action": "fly", "actor": 0})]), "spec 1: segments[0]"),
    ("[{", "not valid JSON"),
    ("[]", "non-empty JSON list"),
    ('{"clips": []}', "non-empty JSON list"),
])
def test_load_specs_reports_the_file_and_the_bad_spec(tmp_path, content, message):
    path = tmp_path / "specs.json"
    path.write_text(content)
    with pytest.raises(DataError) as error:
        load_specs(path)
    assert error.value.path == str(path) and message in error.value.problem


def test_load_specs_missing_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        load_specs(tmp_path / "absent.json")


def test_action_names():
    assert action_names(EXAMPLE) == frozenset({"walk", "wave", "shake_hands"})


def swapped(spec):
    spec = copy.deepcopy(spec)
    for segment in spec["segments"]:
        if segment.get("actor") in (0, 1):
            segment["actor"] = 1 - segment["actor"]
    spec["persons"].reverse()
    return spec


def test_signature_is_invariant_to_swapping_persons(samples):
    for spec in samples[:300]:
        assert semantic_signature(swapped(spec)) == semantic_signature(spec)


def test_signature_ignores_placement_heights_durations_and_symmetric_actor():
    variant = copy.deepcopy(EXAMPLE)
    variant["persons"] = [{"height": 1.9}, {"height": 1.56}]
    variant["start"] = {"distance": 4.0, "arrangement": "apart"}
    variant["segments"][0]["duration"] = 5.0
    variant["segments"][2]["actor"] = 1
    assert semantic_signature(variant) == semantic_signature(EXAMPLE)
    assert hash(semantic_signature(EXAMPLE))


def with_segments(*segments):
    return semantic_signature({"segments": list(segments)})


def test_signature_changes_with_meaning():
    wave_left = {"action": "wave", "actor": 0, "hand": "left"}
    clap = {"action": "clap", "actor": 0}
    clap_other = {"action": "clap", "actor": 1}
    push_by_0 = {"action": "push", "actor": 0}
    push_by_1 = {"action": "push", "actor": 1}
    base = with_segments(wave_left, clap)
    assert base != with_segments({**wave_left, "hand": "right"}, clap)   # attribute
    assert base != with_segments(clap, wave_left)                        # order
    assert base != with_segments(wave_left, clap_other)                  # who does what
    assert base != with_segments(wave_left, {**clap, "actor": "both"})   # both vs one
    assert with_segments(wave_left, push_by_0) != with_segments(wave_left, push_by_1)
    assert with_segments(push_by_0) == with_segments(push_by_1)          # roles, not storage
    assert with_segments({**wave_left, "actor": 1}, clap_other) == base


def test_sample_spec_is_deterministic():
    first = [sample_spec(np.random.default_rng(7)) for _ in range(2)]
    assert first[0] == first[1]
    assert sample_spec(np.random.default_rng(8)) != first[0]


def test_samples_are_valid_normalised_specs(samples):
    for spec in samples:
        assert validate_spec(spec) == spec


def test_samples_cover_every_action_and_attribute_value(samples):
    segments = [segment for spec in samples for segment in spec["segments"]]
    actions = Counter(segment["action"] for segment in segments)
    assert set(actions) == set(vocab.ACTIONS)
    assert min(actions.values()) >= 50
    for action, attributes in vocab.ACTIONS.items():
        of_action = [segment for segment in segments if segment["action"] == action]
        for name, values in attributes[1].items():
            counts = Counter(segment[name] for segment in of_action)
            assert set(counts) == set(values), (action, name)
            assert min(counts.values()) >= 0.5 * len(of_action) / len(values), (action, name)
    solo_actors = Counter(str(segment["actor"]) for segment in segments
                          if vocab.kind(segment["action"]) == vocab.SOLO)
    assert min(solo_actors.values()) >= 0.1 * sum(solo_actors.values())


def test_samples_are_balanced(samples):
    n_segments = Counter(len(spec["segments"]) for spec in samples)
    assert 0.33 <= n_segments[1] / len(samples) <= 0.47
    assert 0.33 <= n_segments[2] / len(samples) <= 0.47
    assert 0.14 <= n_segments[3] / len(samples) <= 0.26
    with_interaction = np.mean([any(vocab.kind(s["action"]) == vocab.INTERACTION
                                    for s in spec["segments"]) for spec in samples])
    assert 0.35 <= with_interaction <= 0.45
    heights = [person["height"] for spec in samples for person in spec["persons"]]
    assert min(heights) < 1.6 and max(heights) > 1.9
    assert {spec["start"]["arrangement"] for spec in samples} == set(vocab.ARRANGEMENTS)
    assert len({semantic_signature(spec) for spec in samples}) > 0.5 * len(samples)


def test_postures_follow_sitting_and_standing():
    segments = validate_spec({"segments": [{"action": "stand_up", "actor": "both"},
                                           {"action": "sit_down", "actor": 1},
                                           {"action": "wave", "actor": 0, "hand": "left"}]})["segments"]
    assert postures(segments) == [{0: True, 1: True}, {0: False, 1: False}, {0: False, 1: True},
                                  {0: False, 1: True}]
