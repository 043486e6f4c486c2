"""Scoring held-out query sets: the one flow evaluate, predict and the ablation runner share.

A `QuerySet` is a folder of query groups in the challenge layout (`<query_id>/text.txt`,
`motion_<n>.npy`) with its ground truth: the groups, the clip each query asks for, and the
other wordings of its queries (wordings.csv, e.g. the held-out "novel" wording).
`score_query_set` encodes the candidates once, ranks them for the queries in every wording,
and scores each ranking: the challenge score with a 95 % bootstrap interval, R@1..10, MRR@10,
mean and median rank (`Scoring`: the params section all three read).

The interval resamples query clips, not queries: queries made from one clip's captions share
its motion and are not independent, so they are drawn together (`metrics.scored`). A query's
clip is named by the folder's groups.csv (make_val writes it), else identified by the content
of its correct candidate file (a clip hard-linked or copied into many groups is one clip).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textmotion.errors import DataError
from textmotion.layout import (GROUP_CLIPS, QueryBatch, find_extra_test_sets, find_test_set, read_group_clips,
                               read_query_wordings, read_scored_queries, reworded)
from textmotion.metrics import ranks_from_rankings, retrieval_summary, scored
from textmotion.model_io import RetrievalModel
from textmotion.params import Scoring
from textmotion.retrieval import candidate_embeddings, rank_queries

Rankings = dict[str, tuple[np.ndarray, np.ndarray]]  # query id → (candidate order, cosines)


@dataclass(frozen=True)
class QuerySet:
    folder: Path
    batches: list[QueryBatch]
    gt: dict[str, int]
    clips: list[str]                      # the clip each gt query asks for, in gt order
    wordings: dict[str, dict[str, str]]   # other wording → query id → text

    @classmethod
    def read(cls, queries: str | Path, gt_path: str | Path) -> "QuerySet":
        batches, gt = read_scored_queries(queries, gt_path)
        return cls(Path(queries), batches, gt, query_clips(Path(queries), batches, gt),
                   read_query_wordings(queries, list(gt)))


def query_clips(folder: Path, batches: list[QueryBatch], gt: dict[str, int]) -> list[str]:
    """The clip of each gt query (the clip at its correct candidate): from groups.csv where the
    folder has one, else the sha256 of the correct candidate file."""
    if (folder / GROUP_CLIPS).exists():
        candidates = read_group_clips(folder)
        unnamed = [query_id for query_id, correct in gt.items() if len(candidates.get(query_id, ())) < correct]
        if unnamed:
            raise DataError(folder / GROUP_CLIPS, f"does not name each query's clip (query {unnamed[0]!r}); "
                                                  f"re-run make_val")
        return [candidates[query_id][correct - 1] for query_id, correct in gt.items()]
    paths = {batch.query_id: batch.motion_paths for batch in batches}
    return [hashlib.sha256(paths[query_id][correct - 1].read_bytes()).hexdigest() for query_id, correct in gt.items()]


def read_test_sets(raw_root: str | Path) -> tuple[QuerySet | None, dict[str, QuerySet]]:
    """A dataset's test set (None when its source has none) and its extra test sets by name."""
    found = find_test_set(raw_root)
    return (QuerySet.read(*found) if found else None,
            {name: QuerySet.read(*paths) for name, paths in find_extra_test_sets(raw_root).items()})


def score_query_set(model: RetrievalModel, query_set: QuerySet, cfg: Scoring,
                    name: str | None = None) -> tuple[Rankings, dict]:
    """The query set's rankings (in its own wording) and its metrics.

    The main set of a stage (`name` None) gets the full summary — score and interval, R@1..10,
    MRR, ranks — then `score_<wording>` with its interval for each other wording, the number of
    query clips and the candidates per query. An extra set gets `score_<name>` with its
    interval, `score_<name>_<wording>` likewise, and `n_queries_<name>`.
    """
    candidates = candidate_embeddings(model, query_set.batches, cfg.chunk_size)
    gt = query_set.gt
    metrics, own_wording = {}, None
    for wording, texts in [(None, None), *query_set.wordings.items()]:
        batches = query_set.batches if texts is None else reworded(query_set.batches, texts)
        rankings = rank_queries(model, batches, candidates)
        ranks = ranks_from_rankings([rankings[q][0] + 1 for q in gt], list(gt.values()))
        suffix = "".join(f"_{part}" for part in (name, wording) if part)
        metrics.update(scored(ranks, cfg.n_bootstrap, cfg.seed, query_set.clips, suffix))
        if wording is None:
            own_wording = rankings
            if name is None:
                metrics.update(retrieval_summary(ranks))
    if name is None:
        sizes = [len(batch.motion_paths) for batch in query_set.batches]
        metrics.update(query_clips=len(set(query_set.clips)), n_candidates={"min": min(sizes), "max": max(sizes)})
    else:
        metrics[f"n_queries_{name}"] = len(gt)
    return own_wording, metrics
