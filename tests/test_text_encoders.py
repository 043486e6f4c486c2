"""Text encoders: shapes for both, cached features equal direct encoding, CLIP's weight errors."""
from __future__ import annotations

import pytest
import torch

from textmotion.errors import DataError
from textmotion.text_encoders import ClipTextBackbone, TextEncoder, end_token, masked_mean
from tiny import minilm, tiny_model

TEXTS = ["a person walks forward", "two people shake hands, then one of them waves twice", "jumps"]


@pytest.fixture(scope="module")
def frozen_minilm():
    torch.manual_seed(0)
    return TextEncoder.from_config(tiny_model(embed_dim=32), minilm()).eval()


@pytest.fixture(scope="module")
def random_clip():
    torch.manual_seed(0)
    return TextEncoder(ClipTextBackbone(weights_id=None), None, embed_dim=32, frozen=False).eval()


@pytest.mark.parametrize("name", ["frozen_minilm", "random_clip"])
def test_shapes_and_unit_norm(name, request):
    encoder = request.getfixturevalue(name)
    with torch.no_grad():
        embeddings = encoder(encoder.tokenize(TEXTS))
    assert embeddings.shape == (3, 32)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))


def test_minilm_pools_over_real_tokens_only(frozen_minilm):
    # a short caption's features do not depend on the longer captions it is padded with
    alone = next(frozen_minilm.features_of(TEXTS[2:]))
    batched = next(frozen_minilm.features_of(TEXTS))
    torch.testing.assert_close(batched.pooled[2:], alone.pooled, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched.pooled, masked_mean(batched.states, batched.mask))
    assert batched.mask.sum(1).tolist()[2] == alone.mask.sum().item()


def test_frozen_features_equal_direct_encoding(frozen_minilm):
    frozen_minilm.train()  # a frozen backbone stays in eval mode: no dropout in cached features
    features = next(frozen_minilm.features_of(TEXTS))
    with torch.no_grad():
        direct = frozen_minilm(frozen_minilm.tokenize(TEXTS))
    torch.testing.assert_close(frozen_minilm.project(features), direct, atol=1e-6, rtol=0)
    assert not any(p.requires_grad for p in frozen_minilm.backbone.parameters())
    assert all(p.requires_grad for p in frozen_minilm.projection.parameters())
    frozen_minilm.eval()


@pytest.mark.parametrize("pooling", ["mean", "first", "end", "attention"])
def test_token_head_reads_real_tokens_only(pooling):
    """The token head's vector of a caption does not depend on the padding its batch needed,
    and each pooling reads what it names."""
    torch.manual_seed(0)
    encoder = TextEncoder.from_config(tiny_model(text_head="tokens", text_pooling=pooling), minilm()).eval()
    with torch.no_grad():
        batched = encoder.project(next(encoder.features_of(TEXTS)))
        alone = torch.cat([encoder.project(next(encoder.features_of([text]))) for text in TEXTS])
    torch.testing.assert_close(batched, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(batched.norm(dim=-1), torch.ones(3))
    assert (encoder.head.query is not None) is (pooling == "attention")


def test_end_token_is_the_last_real_one():
    states = torch.arange(2 * 4 * 1, dtype=torch.float32).view(2, 4, 1)
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    assert end_token(states, mask).flatten().tolist() == [1.0, 7.0]


def test_clip_builds_the_text_tower_only(random_clip):
    names = [name for name, _ in random_clip.named_parameters()]
    assert not any("visual" in name for name in names)
    assert sum(p.numel() for p in random_clip.backbone.parameters()) < 70e6  # ViT-B/32 text ≈ 63 M


def test_clip_loads_a_local_checkpoint(random_clip, tmp_path):
    # a full open_clip checkpoint: text weights at the top level, beside a visual tower
    state = {**random_clip.backbone.model.state_dict(), "visual.proj": torch.zeros(2), "logit_scale": torch.ones(())}
    torch.save(state, tmp_path / "clip.pt")
    loaded = TextEncoder.from_config(tiny_model(), minilm(encoder="clip-vit-b-32", clip_checkpoint=str(tmp_path / "clip.pt")))
    tokens = random_clip.tokenize(TEXTS)
    with torch.no_grad():
        got, want = loaded.backbone_features(tokens), random_clip.backbone_features(tokens)
    torch.testing.assert_close(got.pooled, want.pooled)
    torch.testing.assert_close(got.states, want.states)
    # the pooled vector is the projected end token's state
    torch.testing.assert_close(want.pooled, end_token(want.states, want.mask), atol=1e-5, rtol=0)


def test_clip_without_weights_says_how_to_provide_them(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(DataError, match="text.clip_checkpoint"):
        TextEncoder.from_config(tiny_model(), minilm(encoder="clip-vit-b-32"))
    with pytest.raises(DataError, match="no such file"):
        TextEncoder.from_config(tiny_model(), minilm(encoder="clip-vit-b-32", clip_checkpoint=str(tmp_path / "missing.pt")))
