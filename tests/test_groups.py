"""Query group construction: structure, cycling, hard negatives, no same-meaning distractor."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from textmotion.groups import build_query_groups
from textmotion.synth.spec import action_names, sample_spec, semantic_signature


def pool(n: int = 60, twins: int = 6) -> tuple[list[str], dict, dict]:
    """n sampled clips, the first `twins` of which have a same-meaning copy (height changed)."""
    rng = np.random.default_rng(0)
    specs = {f"c{i:03d}": sample_spec(rng) for i in range(n)}
    for i in range(twins):
        twin = copy.deepcopy(specs[f"c{i:03d}"])
        twin["persons"][0]["height"] = 1.9 if twin["persons"][0]["height"] < 1.9 else 1.6
        specs[f"t{i:03d}"] = twin
    captions = {clip: [f"{clip} caption {k}" for k in range(1 + i % 3)] for i, clip in enumerate(specs)}
    return list(specs), captions, specs


def build(ids, captions, specs, n_groups=40, n_candidates=8, hard_fraction=0.25, seed=0):
    return build_query_groups(ids, captions, specs, n_groups, n_candidates, hard_fraction,
                              np.random.default_rng(seed))


def test_group_structure_and_cycling():
    ids, captions, specs = pool()
    groups, report = build(ids, captions, specs, n_groups=2 * len(ids) + 5)
    assert [g.query_id for g in groups] == [str(i) for i in range(1, len(groups) + 1)]
    for group in groups:
        assert len(group.candidates) == 8 and len(set(group.candidates)) == 8
        assert group.candidates[group.correct - 1] == group.query_clip
        assert group.caption in captions[group.query_clip]
    queries = [g.query_clip for g in groups]
    assert sorted(queries[:len(ids)]) == sorted(ids) and sorted(queries[len(ids):2 * len(ids)]) == sorted(ids)
    # a clip that comes back is queried with its next caption
    first, second = queries.index("c002"), queries.index("c002", len(ids))
    assert groups[first].caption != groups[second].caption
    assert report["distinct_query_clips"] == len(ids) and report["n_groups"] == len(groups)


def test_hard_negatives_and_no_signature_collision():
    ids, captions, specs = pool()
    groups, report = build(ids, captions, specs, n_groups=len(ids), hard_fraction=0.5)
    target = math.ceil(0.5 * 7)
    counts, short = [], 0
    for group in groups:
        query = group.query_clip
        others = [c for c in group.candidates if c != query]
        assert all(semantic_signature(specs[c]) != semantic_signature(specs[query]) for c in others)
        counts.append(sum(bool(action_names(specs[c]) & action_names(specs[query])) for c in others))
        sharing = [c for c in ids if c != query and action_names(specs[c]) & action_names(specs[query])
                   and semantic_signature(specs[c]) != semantic_signature(specs[query])]
        assert counts[-1] >= min(target, len(sharing))
        short += len(sharing) < target
    assert report["hard_negatives_target"] == target
    assert report["hard_negatives_min"] == min(counts)
    assert report["hard_negatives_mean"] == pytest.approx(np.mean(counts), abs=1e-3)
    assert report["groups_short_of_hard_negatives"] == short
    # each twin pair excludes the other whenever either is the query: 2 per pair
    assert report["signature_collisions_excluded"] >= 12


def test_correct_position_is_uniform():
    ids, captions, _ = pool()
    groups, _ = build(ids, captions, None, n_groups=4000)
    counts = np.bincount([g.correct for g in groups], minlength=9)[1:]
    assert counts.min() > 0.8 * 500 and counts.max() < 1.2 * 500


def test_deterministic_given_rng():
    ids, captions, specs = pool()
    assert build(ids, captions, specs) == build(ids, captions, specs)
    assert build(ids, captions, specs)[0] != build(ids, captions, specs, seed=1)[0]


def test_without_specs_random_candidates():
    ids, captions, _ = pool()
    groups, report = build(ids, captions, None, n_groups=100)
    assert all(g.candidates.count(g.query_clip) == 1 and len(set(g.candidates)) == 8 for g in groups)
    assert report["specs_known"] is False and "hard_negatives_min" not in report


def test_pool_too_small():
    ids, captions, specs = pool(n=5, twins=0)
    with pytest.raises(ValueError, match="5 clips cannot fill a group of 8"):
        build(ids, captions, specs)
    same = {clip: specs["c000"] for clip in ids}
    with pytest.raises(ValueError, match="differ from it in meaning"):
        build(ids, captions, same, n_candidates=3)
