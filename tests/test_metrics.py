"""The challenge metric and the gallery metrics against hand-computed cases."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from textmotion.metrics import (bootstrap_score_interval, challenge_score, gallery_metrics,
                                mean_reciprocal_rank, pair_alignment, ranks_from_rankings,
                                ranks_from_similarity,
                                recall_at_k, retrieval_summary)

H10 = sum(Fraction(1, k) for k in range(1, 11))  # the score's normaliser, 7381/2520


def test_perfect_ranking_scores_one():
    summary = retrieval_summary(np.ones(5))
    assert summary["score"] == pytest.approx(1.0)
    assert all(summary[f"R@{k}"] == 1.0 for k in range(1, 11))
    assert summary["mrr"] == 1.0 and summary["mean_rank"] == 1.0 and summary["median_rank"] == 1.0


def test_correct_never_in_top_10_scores_zero():
    ranks = ranks_from_rankings([list(range(2, 12)), list(range(1, 11))], [1, 32])
    assert np.isinf(ranks).all()
    assert challenge_score(ranks) == 0.0 and mean_reciprocal_rank(ranks) == 0.0
    assert challenge_score(np.array([11.0, 32.0])) == 0.0


def test_mixed_ranks_match_hand_computation():
    # ranks 1 and 2: R@1 = 1/2, R@k = 1 for k >= 2 → score = (H10 - 1/2) / H10
    assert challenge_score(np.array([1.0, 2.0])) == pytest.approx(float((H10 - Fraction(1, 2)) / H10))
    # ranks 1, 3, absent: R@1 = R@2 = 1/3, R@3..10 = 2/3
    ranks = np.array([1.0, 3.0, np.inf])
    expected = (Fraction(1, 3) * (1 + Fraction(1, 2)) + Fraction(2, 3) * (H10 - Fraction(3, 2))) / H10
    assert challenge_score(ranks) == pytest.approx(float(expected))
    assert recall_at_k(ranks, 2) == pytest.approx(1 / 3) and recall_at_k(ranks, 10) == pytest.approx(2 / 3)
    assert mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3) / 3)


def test_mrr_counts_ranks_beyond_cutoff_as_zero():
    assert mean_reciprocal_rank(np.array([1.0, 2.0, 12.0, 4.0])) == pytest.approx(1.75 / 4)


def test_ranks_from_rankings_positions_and_absence():
    ranks = ranks_from_rankings([[5, 3, 1], [2, 4, 6], [7, 8, 9]], [3, 2, 1])
    assert ranks.tolist() == [2.0, 1.0, np.inf]


def test_ranks_from_similarity_counts_ties_against_the_model():
    similarity = np.array([[0.1, 0.9, 0.5], [0.3, 0.3, 0.3]])
    assert ranks_from_similarity(similarity, [2, 0]).tolist() == [2.0, 3.0]


def test_gallery_metrics_with_several_captions_per_clip():
    # 4 captions × 3 clips; captions 0 and 2 describe clip 0, caption 1 clip 1, caption 3 clip 2
    similarity = np.array([[0.9, 0.1, 0.0],
                           [0.2, 0.8, 0.1],
                           [0.5, 0.6, 0.1],
                           [0.1, 0.2, 0.3]])
    result = gallery_metrics(similarity, [0, 1, 0, 2])
    # text→motion ranks 1, 1, 2, 1
    assert result["t2m"] == {"R@1": 0.75, "R@5": 1.0, "R@10": 1.0, "median_rank": 1.0}
    # clip 0 is found through caption 0 even though caption 2 ranks below caption 1 for it
    assert result["m2t"]["R@1"] == 1.0
    assert result["n_captions"] == 4 and result["n_clips"] == 3


def test_gallery_motion_to_text_rank_is_best_caption_rank():
    # clip 0's captions (0, 1) come 3rd and 4th in its column; clip 1's caption 1st
    similarity = np.array([[0.2, 0.1], [0.1, 0.0], [0.9, 0.5], [0.8, 0.4]])
    result = gallery_metrics(similarity, [0, 0, 1, 1], ks=(1, 3))
    # clip 0 column: 0.9 (c2), 0.8 (c3), 0.2 (c0) → rank 3; clip 1 column: c2 first → rank 1
    assert result["m2t"] == {"R@1": 0.5, "R@3": 1.0, "median_rank": 2.0}


def test_bootstrap_interval_contains_estimate_and_narrows_with_more_queries():
    pattern = np.array([1.0, 2.0, 5.0, np.inf, 1.0, 3.0, 1.0, 8.0])
    widths = []
    for repeats in (3, 300):
        ranks = np.tile(pattern, repeats)
        low, high = bootstrap_score_interval(ranks, n_resamples=500, seed=0)
        assert low <= challenge_score(ranks) <= high
        widths.append(high - low)
    assert widths[1] < widths[0] / 3
    assert bootstrap_score_interval(pattern, 200, seed=1) == bootstrap_score_interval(pattern, 200, seed=1)


def test_pair_alignment_of_perfectly_and_randomly_aligned_pairs():
    identity = np.eye(4)
    assert pair_alignment(identity, identity) == {"pair_cosine": 1.0, "non_pair_cosine": 0.0,
                                                   "pair_R@1": 1.0}
    shifted = pair_alignment(identity, np.roll(identity, 1, axis=0))
    assert shifted["pair_cosine"] == 0.0 and shifted["non_pair_cosine"] == pytest.approx(1 / 3)
