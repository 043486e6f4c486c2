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


def test_false_negatives_leave_both_softmaxes():
    """A masked pair is neither a negative of the text nor of the motion: the loss equals the
    one computed with that logit removed by hand."""
    generator = torch.Generator().manual_seed(0)
    text = torch.nn.functional.normalize(torch.randn(4, 8, generator=generator), dim=-1)
    motion = torch.nn.functional.normalize(torch.randn(4, 8, generator=generator), dim=-1)
    mask = torch.zeros(4, 4, dtype=torch.bool)
    mask[0, 2] = mask[2, 0] = True
    logits = text @ motion.T / 0.1
    logits[0, 2] = logits[2, 0] = float("-inf")
    targets = torch.arange(4)
    expected = (torch.nn.functional.cross_entropy(logits, targets)
                + torch.nn.functional.cross_entropy(logits.T, targets)) / 2
    assert torch.allclose(symmetric_info_nce(text, motion, 0.1, mask), expected)
    assert not torch.allclose(symmetric_info_nce(text, motion, 0.1), expected)
