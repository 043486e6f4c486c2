"""Query group construction: structure, captions used once, hard negatives, no same-meaning
distractor (by metadata signature or by near-duplicate caption), small pools."""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest

from textmotion.groups import build_query_groups
from textmotion.sources.synthetic.spec import action_names, sample_spec, semantic_signature


def metadata_of(specs: dict) -> dict:
    """The metadata.json entries the synthetic source writes."""
    return {clip: {"labels": sorted(action_names(spec)), "signature": json.dumps(semantic_signature(spec))}
            for clip, spec in specs.items()}


def pool(n: int = 60, twins: int = 6) -> tuple[list[str], dict, dict]:
    """n sampled clips, the first `twins` of which have a same-meaning copy (height changed)."""
    rng = np.random.default_rng(0)
    specs = {f"c{i:03d}": sample_spec(rng) for i in range(n)}
    for i in range(twins):
        twin = copy.deepcopy(specs[f"c{i:03d}"])
        twin["persons"][0]["height"] = 1.9 if twin["persons"][0]["height"] < 1.9 else 1.6
        specs[f"t{i:03d}"] = twin
    captions = {clip: [f"{clip} caption {k}" for k in range(1 + i % 3)] for i, clip in enumerate(specs)}
    return list(specs), captions, metadata_of(specs)


def build(ids, captions, metadata, n_groups=40, n_candidates=8, hard_fraction=0.25, seed=0, duplicates=None):
    return build_query_groups(ids, captions, metadata, n_groups, n_candidates, hard_fraction,
                              np.random.default_rng(seed), duplicates)


def test_group_structure_and_each_caption_once():
    ids, captions, metadata = pool()
    n_captions = sum(len(c) for c in captions.values())
    groups, report = build(ids, captions, metadata, n_groups=10 * n_captions)
    assert len(groups) == n_captions == report["n_groups"]  # never more groups than captions
    assert [g.query_id for g in groups] == [str(i) for i in range(1, len(groups) + 1)]
    for group in groups:
        assert len(group.candidates) == 8 and len(set(group.candidates)) == 8
        assert group.candidates[group.correct - 1] == group.query_clip
        assert group.caption in captions[group.query_clip]
    assert sorted((g.query_clip, g.caption) for g in groups) == sorted(
        (clip, c) for clip in ids for c in captions[clip])
    queries = [g.query_clip for g in groups]
    assert sorted(queries[:len(ids)]) == sorted(ids)  # every clip once before any comes again
    assert report["distinct_query_clips"] == len(ids) and report["candidates_min"] == 8


def test_hard_negatives_and_no_signature_collision():
    ids, captions, metadata = pool()
    groups, report = build(ids, captions, metadata, n_groups=len(ids), hard_fraction=0.5)
    target = math.ceil(0.5 * 7)
    signature = {clip: metadata[clip]["signature"] for clip in ids}
    labels = {clip: set(metadata[clip]["labels"]) for clip in ids}
    counts, short = [], 0
    for group in groups:
        query = group.query_clip
        others = [c for c in group.candidates if c != query]
        assert all(signature[c] != signature[query] for c in others)
        counts.append(sum(bool(labels[c] & labels[query]) for c in others))
        sharing = [c for c in ids if c != query and labels[c] & labels[query] and signature[c] != signature[query]]
        assert counts[-1] >= min(target, len(sharing))
        short += len(sharing) < target
    assert report["hard_negatives_min"] == min(counts)
    assert report["hard_negatives_mean"] == pytest.approx(np.mean(counts), abs=1e-3)
    assert report["groups_short_of_hard_negatives"] == short
    # each twin pair excludes the other whenever either is the query
    assert report["same_meaning_excluded"] >= 6


def test_correct_position_is_uniform():
    ids = [f"c{i:04d}" for i in range(1000)]
    captions = {clip: [f"{clip} caption {k}" for k in range(3)] for clip in ids}
    groups, _ = build(ids, captions, None, n_groups=3000)
    counts = np.bincount([g.correct for g in groups], minlength=9)[1:]
    assert counts.min() > 0.8 * 375 and counts.max() < 1.2 * 375


def test_deterministic_given_rng():
    ids, captions, metadata = pool()
    assert build(ids, captions, metadata) == build(ids, captions, metadata)
    assert build(ids, captions, metadata)[0] != build(ids, captions, metadata, seed=1)[0]


def test_without_metadata_random_candidates_and_near_duplicates_left_out():
    ids, captions, _ = pool()
    duplicates = {captions["c001"][0]: {"c002", "c003"}}
    groups, report = build(ids, captions, None, n_groups=100, duplicates=duplicates)
    assert all(g.candidates.count(g.query_clip) == 1 and len(set(g.candidates)) == 8 for g in groups)
    assert report["metadata_known"] is False and "hard_negatives_min" not in report
    [query] = [g for g in groups if g.caption == captions["c001"][0]]
    assert not {"c002", "c003"} & set(query.candidates)
    assert report["same_meaning_excluded"] == 2


def test_small_pool_gives_groups_of_every_allowed_clip():
    ids, captions, metadata = pool(n=5, twins=0)
    groups, report = build(ids, captions, metadata)
    assert all(sorted(g.candidates) == sorted(ids) for g in groups)
    assert report["candidates_min"] == 5 and report["n_candidates"] == 8
    same = {clip: metadata["c000"] for clip in ids}
    with pytest.raises(ValueError, match="differs from it in meaning"):
        build(ids, captions, same, n_candidates=3)
