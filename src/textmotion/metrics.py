"""Retrieval metrics in plain NumPy: the one implementation every stage and test uses.

Everything starts from *ranks*: the 1-based position of the correct item in a query's
ranking. A correct candidate absent from a submitted top-10 list has rank `np.inf`, so it
counts as not retrieved at every k and contributes 0 to the reciprocal rank.

The challenge score is the weighted recall
    Score = sum_{k=1..10} R@k / k  /  sum_{k=1..10} 1 / k
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

K_MAX = 10
_KS = np.arange(1, K_MAX + 1)
_WEIGHTS = 1.0 / _KS


def ranks_from_similarity(similarity: np.ndarray, correct: Sequence[int]) -> np.ndarray:
    """Rank of column `correct[i]` (0-based) in row i, ordering by decreasing similarity.

    Ties count against the model (an item as similar as the correct one is ranked ahead of
    it), so a constant similarity cannot score well.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    rows = np.arange(len(similarity))
    correct_sim = similarity[rows, np.asarray(correct)]
    return (similarity >= correct_sim[:, None]).sum(axis=1).astype(np.float64)


def ranks_from_rankings(rankings: Sequence[Sequence[int]], correct: Sequence[int]) -> np.ndarray:
    """Position (1-based) of `correct[i]` in the list `rankings[i]`; `np.inf` if it is absent.

    `rankings[i]` holds candidate numbers, best first: a full ordering or a submitted top 10.
    """
    ranks = np.full(len(correct), np.inf)
    for i, (ranking, answer) in enumerate(zip(rankings, correct, strict=True)):
        hits = np.flatnonzero(np.asarray(ranking) == answer)
        if hits.size:
            ranks[i] = hits[0] + 1
    return ranks


def recall_at_k(ranks: np.ndarray, k: int) -> float:
    """Fraction of queries whose correct item is among the first k."""
    return float(np.mean(np.asarray(ranks) <= k))


def recall_curve(ranks: np.ndarray) -> np.ndarray:
    """R@1..R@10 along the last axis; `ranks` may be (Q,) or (B, Q) for B resamples."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return (ranks[..., None] <= _KS).mean(axis=-2)


def challenge_score(ranks: np.ndarray) -> float | np.ndarray:
    """The challenge's weighted recall; a float for (Q,) ranks, an array for (B, Q)."""
    score = recall_curve(ranks) @ _WEIGHTS / _WEIGHTS.sum()
    return float(score) if np.ndim(score) == 0 else score


def mean_reciprocal_rank(ranks: np.ndarray, cutoff: int = K_MAX) -> float:
    """MRR@cutoff: ranks beyond the cutoff contribute 0, as they would in a top-10 submission."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(np.where(ranks <= cutoff, 1.0 / ranks, 0.0)))


def query_scores(ranks: np.ndarray) -> np.ndarray:
    """Each query's contribution to the challenge score (the score is their mean)."""
    return recall_curve(np.asarray(ranks, dtype=np.float64)[:, None]) @ _WEIGHTS / _WEIGHTS.sum()


def bootstrap_score_interval(ranks: np.ndarray, n_resamples: int = 1000, seed: int = 0,
                             level: float = 0.95, clusters: Sequence | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of the challenge score.

    Resamples queries, or, with `clusters` (one label per query, e.g. its query clip), whole
    clusters: queries made from the same clip are not independent, so they are drawn together
    and the interval is as wide as the number of distinct clips warrants.
    """
    per_query = query_scores(ranks)
    labels = np.arange(len(per_query)) if clusters is None else np.unique(clusters, return_inverse=True)[1]
    n_clusters = int(labels.max()) + 1
    cluster_sum = np.bincount(labels, weights=per_query, minlength=n_clusters)
    cluster_size = np.bincount(labels, minlength=n_clusters).astype(np.float64)
    draws = np.random.default_rng(seed).integers(0, n_clusters, size=(n_resamples, n_clusters))
    scores = cluster_sum[draws].sum(axis=1) / cluster_size[draws].sum(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(scores, [tail, 100 - tail])
    return float(low), float(high)


def scored(ranks: np.ndarray, n_resamples: int = 1000, seed: int = 0, clusters: Sequence | None = None,
           suffix: str = "") -> dict:
    """{score<suffix>, score<suffix>_ci95: {low, high}, R@1<suffix>}: a score with its interval,
    as metrics files hold it (a dict, not a list: `dvc metrics show/diff` skip lists)."""
    low, high = bootstrap_score_interval(ranks, n_resamples, seed, clusters=clusters)
    return {f"score{suffix}": challenge_score(ranks), f"score{suffix}_ci95": {"low": low, "high": high},
            f"R@1{suffix}": recall_at_k(ranks, 1)}


def retrieval_summary(ranks: np.ndarray) -> dict:
    """Score, R@1..R@10 and MRR@10; mean/median rank when every rank is known (full rankings)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    summary = {"score": challenge_score(ranks), "n_queries": int(len(ranks))}
    summary.update({f"R@{k}": float(r) for k, r in zip(_KS, recall_curve(ranks))})
    summary["mrr"] = mean_reciprocal_rank(ranks)
    if np.isfinite(ranks).all():
        summary["mean_rank"] = float(ranks.mean())
        summary["median_rank"] = float(np.median(ranks))
    return summary


def gallery_metrics(similarity: np.ndarray, caption_clip: Sequence[int],
                    ks: Sequence[int] = (1, 5, 10)) -> dict:
    """Full-gallery retrieval as TMR reports it, with several captions per clip.

    `similarity` is (n_captions, n_clips); `caption_clip[c]` is the clip caption c describes.
    text→motion: each caption against every clip. motion→text: each clip against every
    caption; a clip is retrieved at rank r when any of its captions is at rank <= r.
    """
    similarity = np.asarray(similarity, dtype=np.float64)
    caption_clip = np.asarray(caption_clip)
    t2m = ranks_from_similarity(similarity, caption_clip)
    best_own = np.full(similarity.shape[1], -np.inf)
    np.maximum.at(best_own, caption_clip, similarity[np.arange(len(caption_clip)), caption_clip])
    own = caption_clip[:, None] == np.arange(similarity.shape[1])[None, :]
    m2t = 1.0 + ((similarity >= best_own) & ~own).sum(axis=0)

    def report(ranks: np.ndarray) -> dict:
        out = {f"R@{k}": recall_at_k(ranks, k) for k in ks}
        out["median_rank"] = float(np.median(ranks))
        return out

    return {"t2m": report(t2m), "m2t": report(m2t),
            "n_captions": int(similarity.shape[0]), "n_clips": int(similarity.shape[1])}


def pair_alignment(text_embeddings: np.ndarray, motion_embeddings: np.ndarray) -> dict:
    """How well N matching (text_i, motion_i) pairs of L2-normalised embeddings line up.

    Mean cosine of the matching pairs against the mean cosine of all non-matching pairs,
    and text→motion R@1 among the N motions.
    """
    similarity = np.asarray(text_embeddings, np.float64) @ np.asarray(motion_embeddings, np.float64).T
    n = len(similarity)
    matching = np.trace(similarity) / n
    non_matching = (similarity.sum() - np.trace(similarity)) / (n * n - n)
    return {"pair_cosine": float(matching), "non_pair_cosine": float(non_matching),
            "pair_R@1": recall_at_k(ranks_from_similarity(similarity, np.arange(n)), 1)}
