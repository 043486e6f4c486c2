"""Query groups for retrieval evaluation: one caption, N candidate clips, one of them correct.

Generic over sources: groups are built from clip ids, captions and, where the source wrote
it, per-clip metadata (layout.read_metadata: action `labels` and a semantic `signature`).

- Each caption is a query at most once: a clip that is the query again gets its next
  caption, and there are never more groups than captions.
- With metadata, groups are made hard on purpose: at least ceil(hard_fraction x (N - 1)) of
  the other candidates share a label with the query clip (when the pool has that many), and
  no other candidate has the query clip's signature, since a caption could not tell them
  apart and even a perfect model would fail.
- `near_duplicates` (caption → clips whose own captions say the same, e.g. by text-embedding
  cosine as TMR does) leaves those clips out of that caption's candidates: the protocol for
  data without metadata.
- A pool smaller than N gives smaller groups: every allowed clip is a candidate, and the
  report records the real numbers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np


@dataclass(frozen=True)
class QueryGroup:
    query_id: str          # "1".."n"
    query_clip: str
    caption: str           # one caption line of the query clip
    candidates: list[str]  # clip ids, candidate 1 first
    correct: int           # 1-based position of query_clip in candidates


def _query_turns(ids: Sequence[str], captions: dict[str, list[str]], n_groups: int,
                 rng: np.random.Generator) -> list[tuple[str, str]]:
    """(clip, caption) pairs: every clip once, in random order, before any clip comes again
    with its next caption (starting from a random one); each caption at most once."""
    first = {clip: int(rng.integers(len(captions[clip]))) for clip in ids}
    turns: list[tuple[str, str]] = []
    for round_ in range(max(len(c) for c in captions.values())):
        for i in rng.permutation(len(ids)):
            clip = ids[i]
            if round_ < len(captions[clip]):
                turns.append((clip, captions[clip][(first[clip] + round_) % len(captions[clip])]))
    return turns[:n_groups]


def _sample(pool: Sequence[str], k: int, rng: np.random.Generator) -> list[str]:
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def build_query_groups(ids: Sequence[str], captions: dict[str, list[str]], metadata: dict[str, dict] | None,
                       n_groups: int, n_candidates: int, hard_fraction: float, rng: np.random.Generator,
                       near_duplicates: dict[str, set[str]] | None = None) -> tuple[list[QueryGroup], dict]:
    """At most `n_groups` groups of at most `n_candidates` clips drawn from `ids`, and a report.

    `metadata`, when given, must hold an entry for every id. Raises ValueError when no group
    of at least two candidates can be made.
    """
    ids = list(ids)
    if n_candidates < 2 or n_groups < 1:
        raise ValueError(f"need n_groups >= 1 and n_candidates >= 2, got {n_groups}, {n_candidates}")
    if metadata is not None:
        labels = {clip: set(metadata[clip]["labels"]) for clip in ids}
        signatures = {clip: metadata[clip]["signature"] for clip in ids}
    near_duplicates = near_duplicates or {}

    groups, sizes, hard_counts = [], [], []
    short_of_hard = excluded = skipped = 0
    for query, caption in _query_turns(ids, captions, n_groups, rng):
        allowed = [clip for clip in ids if clip != query and clip not in near_duplicates.get(caption, ())]
        if metadata is not None:
            allowed = [clip for clip in allowed if signatures[clip] != signatures[query]]
        excluded += len(ids) - 1 - len(allowed)
        n_others = min(n_candidates - 1, len(allowed))
        if n_others < 1:
            skipped += 1
            continue
        if metadata is None:
            others = _sample(allowed, n_others, rng)
        else:
            hard_target = math.ceil(hard_fraction * n_others)
            hard = [clip for clip in allowed if labels[clip] & labels[query]]
            others = _sample(hard, min(hard_target, len(hard)), rng)
            short_of_hard += len(others) < hard_target
            taken = set(others)
            others += _sample([clip for clip in allowed if clip not in taken], n_others - len(others), rng)
            others = [others[i] for i in rng.permutation(n_others)]
            hard_counts.append(sum(bool(labels[clip] & labels[query]) for clip in others))
        position = int(rng.integers(n_others + 1))
        groups.append(QueryGroup(str(len(groups) + 1), query, caption,
                                 others[:position] + [query] + others[position:], position + 1))
        sizes.append(n_others + 1)
    if not groups:
        raise ValueError(f"{len(ids)} clips: no query has another clip that differs from it in meaning")

    report = {"n_groups": len(groups), "n_candidates": n_candidates, "pool_clips": len(ids),
              "candidates_min": int(min(sizes)), "candidates_mean": round(float(np.mean(sizes)), 3),
              "candidates_max": int(max(sizes)),
              "distinct_query_clips": len({g.query_clip for g in groups}),
              "metadata_known": metadata is not None, "same_meaning_excluded": excluded,
              "queries_without_candidates": skipped}
    if metadata is not None:
        report.update({"hard_negatives_min": int(min(hard_counts)),
                       "hard_negatives_mean": round(float(np.mean(hard_counts)), 3),
                       "groups_short_of_hard_negatives": short_of_hard})
    return groups, report


def reword_groups(groups: list[QueryGroup], captions: dict[str, list[str]],
                  wordings: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, str]]:
    """Each group's query in each wording: the query clip's caption in that wording with the
    same index as the query caption (cycling when the wording has fewer)."""
    out = {}
    for name, worded in wordings.items():
        out[name] = {}
        for group in groups:
            index = captions[group.query_clip].index(group.caption)
            alternatives = worded[group.query_clip]
            out[name][group.query_id] = alternatives[index % len(alternatives)]
    return out
