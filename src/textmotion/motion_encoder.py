"""Motion encoder: the reference configuration's 1-D Transformer, with switchable improvements.

Reference configuration (the challenge README's): patch_size 1, padding_mask false, max_frames 512, d_model 512, 4 layers,
8 heads. Frames (B, T, 384) → Linear → + learned positional embedding → TransformerEncoder →
mean over time → LayerNorm → (Linear to embed_dim when d_model differs) → L2 normalisation.

- `patch_size` p > 1 folds p consecutive frames into one token (one Linear over p × 384
  values), dividing the sequence length, and so the attention cost, by p.
- `padding_mask` true: padded tokens are neither attended to nor pooled, so an embedding does
  not depend on how much padding its batch needed. False reproduces the reference, where zero
  frames are attended and averaged; callers then pad every clip to `max_frames` (as the reference
  does) so that embeddings still do not depend on the batch.
- `length_feature` true: log(real frames) goes through a Linear and is added to the pooled
  vector, so the clip's duration is in the embedding even when pads are masked.

The layers are PyTorch's `nn.TransformerEncoderLayer` (post-norm, ReLU), so the weights and
their names are PyTorch's, but `forward` runs them itself, faster on a CPU and the same
function (`reference_forward` is PyTorch's own run of the same weights, for tests and the
speed benchmark):

- with the padding mask, every per-token operation (input Linear, feed-forward, LayerNorms,
  residuals, dropout) runs on the real tokens only, packed into one (N, d) matrix; only
  attention sees the padded (B, heads, T, T) layout. Typical batches are half padding.
- on a CPU, dropout masks come from numpy's SFC64 generator seeded by one draw of torch's
  generator (so `torch.manual_seed` and torch's RNG state still fix them), 16 bits per
  element: several times cheaper than torch's CPU Bernoulli sampling, a quarter of a step.
  The drop probability is p rounded to a multiple of 1/65536, and kept values are scaled
  by the exact inverse of the keep probability.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textmotion.params import Model
from textmotion.skeleton import MOTION_DIM

DROPOUT_RESOLUTION = 1 << 16   # dropout draws 16 random bits per element


class MotionEncoder(nn.Module):
    def __init__(self, embed_dim: int, d_model: int, n_layers: int, n_heads: int, ff_dim: int,
                 dropout: float, patch_size: int, max_frames: int, padding_mask: bool,
                 length_feature: bool = False):
        super().__init__()
        # the clip's duration (log of its real frames), added to the pooled vector: with the
        # padding mask, pooling alone cannot tell a short clip from a long one
        self.length = nn.Linear(1, d_model) if length_feature else None
        self.patch_size = patch_size
        self.padding_mask = padding_mask
        self.dropout = dropout
        self.input = nn.Linear(MOTION_DIM * patch_size, d_model)
        self.positions = nn.Parameter(torch.randn(1, math.ceil(max_frames / patch_size), d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(d_model, n_heads, ff_dim, dropout, batch_first=True)
        self.transformer = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.projection = nn.Linear(d_model, embed_dim) if d_model != embed_dim else nn.Identity()

    @classmethod
    def from_config(cls, cfg: Model) -> "MotionEncoder":
        return cls(cfg.embed_dim, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.ff_dim, cfg.dropout, cfg.patch_size,
                   cfg.max_frames, cfg.padding_mask, cfg.length_feature)

    def forward(self, motions: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """motions (B, T, 384) normalised, zero where padded; frame_mask (B, T) True on real
        frames → (B, embed_dim) L2-normalised."""
        tokens, token_mask = self._patchify(motions, frame_mask)
        if not self.padding_mask:
            token_mask = torch.ones_like(token_mask)
        batch, length, _ = tokens.shape
        real = token_mask.flatten().nonzero().squeeze(1)          # real tokens in (B·T) order
        x = self.input(tokens.flatten(0, 1)[real]) + F.embedding(real % length, self.positions[0])
        packing = _Packing(real, batch, length, ~token_mask, self.transformer.layers[0].self_attn.num_heads)
        p = self.dropout if self.training else 0.0
        for layer in self.transformer.layers:
            x = _encoder_layer(layer, x, packing, p)
        clip_of_token = real // length
        counts = token_mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)
        pooled = x.new_zeros(batch, x.shape[1]).index_add(0, clip_of_token, x) / counts
        return self._embed(pooled, frame_mask)

    def reference_forward(self, motions: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """`forward` as PyTorch's own TransformerEncoder computes it on the padded batch, with
        torch's dropout: the same function (equal in eval mode), only slower."""
        tokens, token_mask = self._patchify(motions, frame_mask)
        x = self.input(tokens) + self.positions[:, :tokens.shape[1]]
        if self.padding_mask:
            x = self.transformer(x, src_key_padding_mask=~token_mask)
            weights = token_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * weights).sum(1) / weights.sum(1).clamp(min=1)
        else:
            pooled = self.transformer(x).mean(1)
        return self._embed(pooled, frame_mask)

    def _embed(self, pooled: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """Pooled tokens (+ the length feature) → LayerNorm → projection → L2 normalisation."""
        if self.length is not None:
            pooled = pooled + self.length(frame_mask.sum(1, keepdim=True).clamp(min=1).to(pooled.dtype).log())
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


class _Packing:
    """Where the packed real tokens sit in the padded (B, T) layout attention needs."""

    def __init__(self, real: torch.Tensor, batch: int, length: int, padded: torch.Tensor, heads: int):
        self.real, self.batch, self.length, self.heads = real, batch, length, heads
        self.dense = len(real) == batch * length
        # additive key mask per (clip, head), (B·heads, 1, T): -inf on padded keys
        self.key_bias = torch.zeros_like(padded, dtype=torch.float32).masked_fill(
            padded, float("-inf")).repeat_interleave(heads, 0).unsqueeze(1)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C) → (B, T, C), zero on padding."""
        if self.dense:
            return x.view(self.batch, self.length, -1)
        padded = x.new_zeros(self.batch * self.length, x.shape[1]).index_copy(0, self.real, x)
        return padded.view(self.batch, self.length, -1)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, C) → (N, C), real tokens only."""
        flat = x.reshape(self.batch * self.length, -1)
        return flat if self.dense else flat.index_select(0, self.real)


def _encoder_layer(layer: nn.TransformerEncoderLayer, x: torch.Tensor, packing: _Packing,
                   p: float) -> torch.Tensor:
    """One post-norm ReLU encoder layer on packed tokens (N, d), as PyTorch defines it."""
    attention = layer.self_attn
    batch, length, heads = packing.batch, packing.length, packing.heads
    head_dim = attention.embed_dim // heads
    qkv = packing.unpack(F.linear(x, attention.in_proj_weight, attention.in_proj_bias))
    q, k, v = (t.reshape(batch * heads, length, head_dim)
               for t in qkv.view(batch, length, 3, heads, head_dim).permute(2, 0, 3, 1, 4))
    scores = torch.baddbmm(packing.key_bias.to(q.dtype), q, k.transpose(1, 2), alpha=head_dim ** -0.5)
    weights = fast_dropout(scores.softmax(-1), p)
    mixed = packing.pack((weights @ v).view(batch, heads, length, head_dim).transpose(1, 2))
    x = layer.norm1(x + fast_dropout(attention.out_proj(mixed), p))
    hidden = fast_dropout(F.relu(layer.linear1(x)), p)
    return layer.norm2(x + fast_dropout(layer.linear2(hidden), p))


def fast_dropout(x: torch.Tensor, p: float) -> torch.Tensor:
    """Inverted dropout; on a CPU its mask is 16 bits per element from numpy's SFC64 seeded by
    one draw of torch's generator (on a GPU, torch's own dropout is already fast)."""
    if p == 0:
        return x
    if x.device.type != "cpu":
        return F.dropout(x, p, training=True)
    dropped = round(p * DROPOUT_RESOLUTION)
    seed = int(torch.randint(1 << 62, ()))
    n = x.numel()
    bits = np.random.Generator(np.random.SFC64(seed)).bit_generator.random_raw(-(-n // 4))
    keep = torch.from_numpy(bits.view(np.uint16)[:n] >= dropped).view(x.shape)
    scale = DROPOUT_RESOLUTION / (DROPOUT_RESOLUTION - dropped)
    return x * keep.to(x.dtype).mul_(scale)
