"""Query groups for retrieval evaluation: one caption, N candidate clips, one of them correct.

With specs (generated data), groups are made hard on purpose: at least
ceil(hard_fraction x (N - 1)) of the other candidates share an action with the query clip
(when the pool has that many), and no other candidate has the query clip's semantic
signature, since a caption could not tell them apart and even a perfect model would fail.
Without specs (real data) the other candidates are drawn at random.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from textmotion.synth.spec import action_names, semantic_signature


@dataclass(frozen=True)
class QueryGroup:
    query_id: str          # "1".."n"
    query_clip: str
    caption: str           # one caption line of the query clip
    candidates: list[str]  # clip ids, candidate 1 first
    correct: int           # 1-based position of query_clip in candidates


def _query_clips(ids: Sequence[str], n_groups: int, rng: np.random.Generator) -> list[str]:
    """Every clip once (in random order) before any clip comes again."""
    order: list[str] = []
    while len(order) < n_groups:
        order += [ids[i] for i in rng.permutation(len(ids))]
    return order[:n_groups]


def _sample(pool: Sequence[str], k: int, rng: np.random.Generator) -> list[str]:
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def build_query_groups(ids: Sequence[str], captions: dict[str, list[str]], specs: dict[str, dict] | None,
                       n_groups: int, n_candidates: int, hard_fraction: float,
                       rng: np.random.Generator) -> tuple[list[QueryGroup], dict]:
    """`n_groups` groups of `n_candidates` clips drawn from `ids`, and a report.

    `specs`, when given, must hold a spec for every id. A clip that is the query again gets
    its next caption, so repeats cover its other captions. Raises ValueError when `ids` (less
    the query clip's signature twins) cannot fill a group.
    """
    ids = list(ids)
    if n_candidates < 2 or n_groups < 1:
        raise ValueError(f"need n_groups >= 1 and n_candidates >= 2, got {n_groups}, {n_candidates}")
    if len(ids) < n_candidates:
        raise ValueError(f"{len(ids)} clips cannot fill a group of {n_candidates} candidates")
    n_others = n_candidates - 1
    hard_target = math.ceil(hard_fraction * n_others) if specs is not None else 0
    if specs is not None:
        actions = {clip: action_names(specs[clip]) for clip in ids}
        signatures = {clip: semantic_signature(specs[clip]) for clip in ids}

    groups, hard_counts = [], []
    short_of_hard = collisions = 0
    caption_turn: dict[str, int] = {}
    for number, query in enumerate(_query_clips(ids, n_groups, rng), start=1):
        pool = [clip for clip in ids if clip != query]
        if specs is None:
            others = _sample(pool, n_others, rng)
        else:
            distinct = [clip for clip in pool if signatures[clip] != signatures[query]]
            collisions += len(pool) - len(distinct)
            if len(distinct) < n_others:
                raise ValueError(f"clip {query!r}: only {len(distinct)} clips differ from it in "
                                 f"meaning; {n_others} other candidates needed")
            hard = [clip for clip in distinct if actions[clip] & actions[query]]
            others = _sample(hard, min(hard_target, len(hard)), rng)
            short_of_hard += len(others) < hard_target
            taken = set(others)
            others += _sample([clip for clip in distinct if clip not in taken], n_others - len(others), rng)
            others = [others[i] for i in rng.permutation(n_others)]
            hard_counts.append(sum(bool(actions[clip] & actions[query]) for clip in others))
        position = int(rng.integers(n_candidates))
        clip_captions = captions[query]
        if query not in caption_turn:
            caption_turn[query] = int(rng.integers(len(clip_captions)))
        caption = clip_captions[caption_turn[query] % len(clip_captions)]
        caption_turn[query] += 1
        groups.append(QueryGroup(str(number), query, caption,
                                 others[:position] + [query] + others[position:], position + 1))

    report = {"n_groups": n_groups, "n_candidates": n_candidates, "pool_clips": len(ids),
              "distinct_query_clips": len(caption_turn), "specs_known": specs is not None}
    if specs is not None:
        report.update({"hard_negatives_target": hard_target,
                       "hard_negatives_min": int(min(hard_counts)),
                       "hard_negatives_mean": round(float(np.mean(hard_counts)), 3),
                       "groups_short_of_hard_negatives": short_of_hard,
                       "signature_collisions_excluded": collisions})
    return groups, report
