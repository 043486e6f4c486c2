"""Motion encoder: the seed's 1-D Transformer, with switchable improvements.

Seed configuration: patch_size 1, padding_mask false, max_frames 512, d_model 512, 4 layers,
8 heads. Frames (B, T, 384) → Linear → + learned positional embedding → TransformerEncoder →
mean over time → LayerNorm → (Linear to embed_dim when d_model differs) → L2 normalisation.

- `patch_size` p > 1 folds p consecutive frames into one token (one Linear over p × 384
  values), dividing the sequence length, and so the attention cost, by p.
- `padding_mask` true: padded tokens are neither attended to nor pooled, so an embedding does
  not depend on how much padding its batch needed. False reproduces the seed, where zero
  frames are attended and averaged; callers then pad every clip to `max_frames` (as the seed
  does) so that embeddings still do not depend on the batch.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from textmotion.skeleton import MOTION_DIM


class MotionEncoder(nn.Module):
    def __init__(self, embed_dim: int, d_model: int, n_layers: int, n_heads: int, ff_dim: int,
                 dropout: float, patch_size: int, max_frames: int, padding_mask: bool):
        super().__init__()
        self.patch_size = patch_size
        self.padding_mask = padding_mask
        self.input = nn.Linear(MOTION_DIM * patch_size, d_model)
        self.positions = nn.Parameter(torch.randn(1, math.ceil(max_frames / patch_size), d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.projection = nn.Linear(d_model, embed_dim) if d_model != embed_dim else nn.Identity()

    def forward(self, motions: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """motions (B, T, 384) normalised, zero where padded; frame_mask (B, T) True on real
        frames → (B, embed_dim) L2-normalised."""
        tokens, token_mask = self._patchify(motions, frame_mask)
        x = self.input(tokens) + self.positions[:, :tokens.shape[1]]
        if self.padding_mask:
            x = self.transformer(x, src_key_padding_mask=~token_mask)
            weights = token_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)
        else:
            pooled = self.transformer(x).mean(1)
        return F.normalize(self.projection(self.norm(pooled)), dim=-1)

    def _patchify(self, motions: torch.Tensor, frame_mask: torch.Tensor):
        """(B, T, F) → (B, ceil(T / p), p × F); a token is real when any of its frames is."""
        batch, frames, features = motions.shape
        extra = -frames % self.patch_size
        if extra:
            motions = F.pad(motions, (0, 0, 0, extra))
            frame_mask = F.pad(frame_mask, (0, extra))
        n_tokens = (frames + extra) // self.patch_size
        tokens = motions.reshape(batch, n_tokens, self.patch_size * features)
        return tokens, frame_mask.reshape(batch, n_tokens, self.patch_size).any(-1)
