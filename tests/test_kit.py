"""KIT-ML wording: mapping rules, the committed derived query set, and its retrieval groups."""
import json
from pathlib import Path

import numpy as np
import pytest

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.kit import (build_kit_groups, derive_queries, indistinguishable,
                                              load_queries, map_caption, write_queries)

QUERY_SET = Path(__file__).resolve().parents[1] / "resources" / "kit_test_queries.json"
# KIT's own annotations, beside the repository (shared/ is there for developers and CI); never shipped
KIT_ANNOTATIONS = Path(__file__).resolve().parents[2] / "shared" / "data" / "kitml" / "annotations.json"
needs_kit = pytest.mark.skipif(not KIT_ANNOTATIONS.exists(), reason=f"KIT annotations not found at {KIT_ANNOTATIONS}")


@pytest.mark.parametrize("caption, action, stated", [
    ("A person walks slowly backwards.", "walk", {"direction": "backward", "speed": "slow"}),
    ("someone quickly walks ahead for a couple of steps", "walk", {"direction": "forward", "speed": "fast"}),
    ("The man is walking to his left", "walk", {"direction": "left"}),
    ("a human walks three meters and then stops", "walk", {}),
    ("Somebody is jogging to the right.", "run", {"direction": "right"}),
    ("a person squats twice", "squat", {"count": 2}),
    ("A figure does three squats", "squat", {"count": 3}),
    ("the human hops on the left foot three times", "hop", {"side": "left", "count": 3}),
    ("a person jumps on one leg", "hop", {}),
    ("person jumping up and down once", "jump", {"count": 1}),
    ("A person kicks with the right leg.", "kick", {"side": "right"}),
    ("someone throws two punches with the left fist", "punch", {"side": "left", "count": 2}),
    ("a person waves with both of their hands", "wave", {"hand": "both"}),
    ("a person raises his left arm above his head", "raise_arms", {"hand": "left"}),
    ("the person turns 360 degrees", "spin", {}),
    ("someone turns around on the spot", "turn_around", {}),
    ("Somebody takes a bow.", "bow", {}),
    ("a person sits down on a chair", "sit_down", {}),
    ("a person claps his hands", "clap", {}),
])
def test_captions_of_one_solo_action_are_mapped(caption, action, stated):
    match = map_caption(caption)
    assert match is not None and match.action == action and match.stated == stated
    assert match.unspecified == [name for name in vocab.attributes(action) if name not in stated]


@pytest.mark.parametrize("caption", [
    "a person walks forward and turns around",     # two actions
    "a person walks forward and backward",         # two directions
    "a person walks slowly and fast",               # two speeds
    "a person jumps to the left",                   # our jumps are in place
    "a person turns left",                          # a turn we cannot make or state
    "a person sits down on the floor",              # our seat is a chair
    "a person stands up from the ground",
    "a person walks in a circle",
    "a person jogs slowly",                         # runs have no speed
    "a person claps four times",                    # claps have no count
    "a person waves, then claps",
    "a person plays the guitar",
])
def test_captions_that_say_more_than_one_clear_action_are_not_mapped(caption):
    assert map_caption(caption) is None


def write_kit(root: Path, annotations: dict, test_ids: list[str]) -> Path:
    (root / "splits").mkdir(parents=True)
    (root / "annotations.json").write_text(json.dumps(annotations))
    (root / "splits" / "test.txt").write_text("\n".join(test_ids) + "\n")
    return root


def entry(*texts):
    return {"path": "x", "duration": 3.0,
            "annotations": [{"seg_id": f"s{i}", "text": t, "start": 0, "end": 3} for i, t in enumerate(texts)]}


def test_derive_queries_maps_the_test_split_and_leaves_mirrored_clips_out(tmp_path):
    root = write_kit(tmp_path / "kit", {"00001": entry("someone walks backwards slowly", "a person juggles"),
                                        "M00001": entry("someone walks backwards slowly"),
                                        "00002": entry("a person waves his left hand")},
                     ["00001", "M00001", "00002"])
    queries, counts = derive_queries(root)
    assert [q["action"] for q in queries] == ["walk", "wave"]
    assert queries[0]["spec"] == {"segments": [{"action": "walk", "actor": 0, "direction": "backward",
                                                "speed": "slow"}]}
    assert queries[1]["stated"] == {"hand": "left"} and queries[1]["unspecified"] == []
    assert counts["test_captions"] == 3 and counts["mapped"] == 2 and counts["mirrored_clips_left_out"] == 1
    assert all("caption" not in q for q in queries)  # the sentences stay KIT's: ids only
    assert [(q["clip"], q["id"]) for q in queries] == [("00001", "s0"), ("00002", "s0")]
    write_queries(tmp_path / "q.json", queries, counts)
    with_captions = load_queries(tmp_path / "q.json", root / "annotations.json")
    assert [q["caption"] for q in with_captions] == ["someone walks backwards slowly", "a person waves his left hand"]
    (root / "annotations.json").write_text(json.dumps({"00001": entry("a person juggles")}))
    with pytest.raises(DataError, match="no caption 's0' for KIT clip '00002'"):
        load_queries(tmp_path / "q.json", root / "annotations.json")


def test_missing_kit_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="annotations.json: file not found"):
        derive_queries(tmp_path)
    root = write_kit(tmp_path / "kit", {}, ["00001"])
    with pytest.raises(DataError, match="test clip 00001 has no entry"):
        derive_queries(root)


@needs_kit
def test_committed_query_set_is_valid_large_enough_and_follows_the_rules():
    assert all("caption" not in q for q in json.loads(QUERY_SET.read_text())["queries"])  # ids only
    queries = load_queries(QUERY_SET, KIT_ANNOTATIONS)
    assert len(queries) >= 150
    for query in queries:
        match = map_caption(query["caption"])
        assert match is not None and (match.action, match.stated) == (query["action"], query["stated"])


def test_a_bad_query_set_is_rejected(tmp_path):
    query = {"id": "s0", "clip": "00001", "action": "wave", "stated": {}, "unspecified": ["hand"],
             "spec": {"segments": [{"action": "wave", "actor": 0, "hand": "right"}]}}
    path = tmp_path / "q.json"
    for broken, problem in ((dict(query, unspecified=[]), "split the attributes"),
                            (dict(query, action="clap"), "one solo action"),
                            (dict(query, spec={"segments": []}), "segments")):
        path.write_text(json.dumps({"queries": [query, broken]}))
        with pytest.raises(DataError, match=f"query 1: .*{problem}"):
            load_queries(path)


@needs_kit
def test_groups_have_the_answer_hard_negatives_and_nothing_indistinguishable():
    queries = [q for q in load_queries(QUERY_SET, KIT_ANNOTATIONS) if q["action"] in ("walk", "wave", "kick")][:6]
    first = build_kit_groups(queries, n_candidates=32, seed=3, n_random=40)
    again = build_kit_groups(queries, n_candidates=32, seed=3, n_random=40)
    assert [g.candidates for g in first.groups] == [g.candidates for g in again.groups]
    assert all(np.array_equal(first.motions[c], again.motions[c]) for c in first.motions)
    for group, query in zip(first.groups, queries):
        assert group.caption == query["caption"] and len(group.candidates) == 32
        assert len(set(group.candidates)) == 32
        assert group.candidates[group.correct - 1] == group.query_clip
        answer = first.specs[group.query_clip]["segments"]
        assert len(answer) == 1 and answer[0]["actor"] in (0, 1)
        assert all(answer[0][name] == value for name, value in query["stated"].items())
        others = [c for c in group.candidates if c != group.query_clip]
        assert not any(indistinguishable(query, first.specs[c]) for c in others)
        same_action = [c for c in others if any(s["action"] == query["action"] for s in first.specs[c]["segments"])]
        assert same_action  # some negatives share the action but differ in a stated value or in extra actions
    motion = first.motions[first.groups[0].query_clip]
    assert motion.dtype == np.float32 and motion.shape[1] == sk.MOTION_DIM


def test_indistinguishable_means_same_single_action_and_stated_values():
    query = {"action": "walk", "stated": {"direction": "forward"}}
    walk = {"segments": [{"action": "walk", "actor": "both", "direction": "forward", "speed": "fast"}]}
    backward = {"segments": [{"action": "walk", "actor": 1, "direction": "backward", "speed": "normal"}]}
    longer = {"segments": [walk["segments"][0], {"action": "clap", "actor": 0}]}
    assert indistinguishable(query, walk)
    assert not indistinguishable(query, backward) and not indistinguishable(query, longer)
