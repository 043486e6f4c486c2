"""Symmetric InfoNCE (the CLIP loss) and its temperature.

Duplicate captions in a batch (two clips described by the same sentence) are ordinary
negatives, as in the reference configuration, unless the caller passes `false_negatives`: pairs (i, j), i != j,
whose captions say the same (TMR filters them by text-embedding similarity), which are then
neither pushed apart nor counted.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

MIN_TEMPERATURE = 0.01   # CLIP's cap on the logit scale (100)
MAX_TEMPERATURE = 1.0


def symmetric_info_nce(text_embeddings: torch.Tensor, motion_embeddings: torch.Tensor,
                       temperature: torch.Tensor | float,
                       false_negatives: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of the text→motion and motion→text cross-entropies; pair i is row i of both.

    Both inputs are (B, D) and L2-normalised, so the logits are cosines / temperature.
    `false_negatives` (B, B) bool, off the diagonal: logits left out of both softmaxes.
    """
    logits = text_embeddings @ motion_embeddings.T / temperature
    if false_negatives is not None:
        logits = logits.masked_fill(false_negatives, float("-inf"))
    targets = torch.arange(len(logits), device=logits.device)
    return (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets)) / 2


class Temperature(nn.Module):
    """A fixed or learnable temperature, stored as its log so it stays positive.

    The value is clamped to [0.01, 1] so a learnable one cannot collapse or explode.
    """

    def __init__(self, initial: float, learnable: bool):
        super().__init__()
        log_value = torch.tensor(math.log(initial), dtype=torch.float32)
        if learnable:
            self.log_value = nn.Parameter(log_value)
        else:
            self.register_buffer("log_value", log_value)

    def forward(self) -> torch.Tensor:
        return self.log_value.exp().clamp(MIN_TEMPERATURE, MAX_TEMPERATURE)
