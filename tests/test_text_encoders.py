"""Text encoders: shapes for both, cached features equal direct encoding, CLIP's weight errors."""
from __future__ import annotations

import pytest
import torch

from textmotion.errors import DataError
from textmotion.text_encoders import build_text_encoder

TEXTS = ["a person walks forward", "two people shake hands, then one of them waves twice", "jumps"]


@pytest.fixture(scope="module")
def minilm():
    torch.manual_seed(0)
    return build_text_encoder("minilm", embed_dim=32, frozen=True).eval()


@pytest.fixture(scope="module")
def random_clip():
    torch.manual_seed(0)
    return build_text_encoder("clip-vit-b-32", embed_dim=32, frozen=False, pretrained=False).eval()


@pytest.mark.parametrize("name", ["minilm", "random_clip"])
def test_shapes_and_unit_norm(name, request):
    encoder = request.getfixturevalue(name)
    with torch.no_grad():
        embeddings = encoder(encoder.tokenize(TEXTS))
    assert embeddings.shape == (3, 32)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))


def test_minilm_pools_over_real_tokens_only(minilm):
    # a short caption's features do not depend on the longer captions it is padded with
    alone = minilm.features_of(TEXTS[2:])
    batched = minilm.features_of(TEXTS)
    torch.testing.assert_close(batched[2:], alone, atol=1e-5, rtol=0)


def test_frozen_cache_equals_direct_encoding(minilm):
    minilm.train()  # a frozen backbone stays in eval mode: no dropout in cached features
    cached = minilm.features_of(TEXTS)
    with torch.no_grad():
        direct = minilm(minilm.tokenize(TEXTS))
    torch.testing.assert_close(minilm.project(cached), direct, atol=1e-6, rtol=0)
    assert not any(p.requires_grad for p in minilm.backbone.parameters())
    assert all(p.requires_grad for p in minilm.projection.parameters())
    minilm.eval()


def test_clip_builds_the_text_tower_only(random_clip):
    names = [name for name, _ in random_clip.named_parameters()]
    assert not any("visual" in name for name in names)
    assert sum(p.numel() for p in random_clip.backbone.parameters()) < 70e6  # ViT-B/32 text ≈ 63 M


def test_clip_loads_a_local_checkpoint(random_clip, tmp_path):
    # a full open_clip checkpoint: text weights at the top level, beside a visual tower
    state = {**random_clip.backbone.model.state_dict(), "visual.proj": torch.zeros(2), "logit_scale": torch.ones(())}
    torch.save(state, tmp_path / "clip.pt")
    loaded = build_text_encoder("clip-vit-b-32", 32, frozen=True, clip_checkpoint=str(tmp_path / "clip.pt"))
    tokens = random_clip.tokenize(TEXTS)
    with torch.no_grad():
        torch.testing.assert_close(loaded.backbone_features(tokens), random_clip.backbone_features(tokens))


def test_clip_without_weights_says_how_to_provide_them(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="model.clip_checkpoint"):
        build_text_encoder("clip-vit-b-32", 32, frozen=True, clip_checkpoint=None)
    with pytest.raises(DataError, match="no such file"):
        build_text_encoder("clip-vit-b-32", 32, frozen=True, clip_checkpoint=str(tmp_path / "missing.pt"))
