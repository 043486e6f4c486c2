"""Symmetric InfoNCE against hand-computed values, and its temperature."""
from __future__ import annotations

import math

import pytest
import torch

from textmotion.loss import Temperature, symmetric_info_nce


def test_two_by_two_case_by_hand():
    # orthonormal pairs: cosines are 1 on the diagonal, 0 off it
    eye = torch.eye(2)
    expected = -math.log(math.exp(1 / 0.5) / (math.exp(1 / 0.5) + math.exp(0)))
    assert symmetric_info_nce(eye, eye, 0.5).item() == pytest.approx(expected, rel=1e-6)


def test_three_by_three_asymmetric_case_by_hand():
    text = torch.tensor([[1.0, 0, 0], [0, 1, 0], [0, 0, 1]])
    motion = torch.tensor([[1.0, 0, 0], [1, 0, 0], [0, 0, 1]])  # motion 1 looks like motion 0
    s = text @ motion.T  # rows: texts, columns: motions
    def ce(row, target):
        return -math.log(math.exp(row[target]) / sum(math.exp(v) for v in row))
    t2m = sum(ce(s[i].tolist(), i) for i in range(3)) / 3
    m2t = sum(ce(s.T[i].tolist(), i) for i in range(3)) / 3
    assert symmetric_info_nce(text, motion, 1.0).item() == pytest.approx((t2m + m2t) / 2, rel=1e-6)
    # symmetric in its two arguments
    assert symmetric_info_nce(motion, text, 1.0).item() == pytest.approx((t2m + m2t) / 2, rel=1e-6)


def test_lower_temperature_sharpens_a_correct_ranking():
    embeddings = torch.nn.functional.normalize(torch.eye(4) + 0.3, dim=-1)
    assert symmetric_info_nce(embeddings, embeddings, 0.05) < symmetric_info_nce(embeddings, embeddings, 0.5)


def test_temperature_fixed_or_learnable_and_clamped():
    fixed = Temperature(0.07, learnable=False)
    assert fixed().item() == pytest.approx(0.07) and not list(fixed.parameters())
    learnable = Temperature(0.07, learnable=True)
    assert [p.requires_grad for p in learnable.parameters()] == [True]
    with torch.no_grad():
        learnable.log_value.fill_(math.log(1e-5))
    assert learnable().item() == pytest.approx(0.01)
