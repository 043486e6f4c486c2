"""Motion encoder: shapes, normalisation, and invariance to padding with the mask on."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textmotion.motion_encoder import MotionEncoder


def encoder(**overrides) -> MotionEncoder:
    torch.manual_seed(0)
    config = dict(embed_dim=24, d_model=16, n_layers=2, n_heads=2, ff_dim=32, dropout=0.1,
                  patch_size=3, max_frames=60, padding_mask=True)
    return MotionEncoder(**{**config, **overrides}).eval()


def batch(lengths: list[int], padded_to: int) -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    motions = torch.zeros(len(lengths), padded_to, 384)
    mask = torch.zeros(len(lengths), padded_to, dtype=torch.bool)
    for row, length in enumerate(lengths):
        motions[row, :length] = torch.randn(length, 384)
        mask[row, :length] = True
    return motions, mask


@pytest.mark.parametrize("patch_size", [1, 3])
@pytest.mark.parametrize("d_model", [16, 24])  # with and without the final projection
def test_shapes_and_unit_norm(patch_size, d_model):
    embeddings = encoder(patch_size=patch_size, d_model=d_model)(*batch([10, 25, 7], 25))
    assert embeddings.shape == (3, 24)
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))


@pytest.mark.parametrize("patch_size", [1, 3])
def test_adding_padding_changes_no_embedding_with_the_mask(patch_size):
    model = encoder(patch_size=patch_size)
    with torch.no_grad():
        motions, mask = batch([10, 25, 7], 25)
        tight = model(motions, mask)
        loose = model(*batch([10, 25, 7], 60))
        alone = model(motions[2:, :7], mask[2:, :7])
    torch.testing.assert_close(tight, loose, atol=1e-5, rtol=0)
    torch.testing.assert_close(tight[2:], alone, atol=1e-5, rtol=0)


def test_without_the_mask_padding_is_attended_as_in_the_seed():
    model = encoder(padding_mask=False)
    with torch.no_grad():
        tight, loose = model(*batch([10, 25], 25)), model(*batch([10, 25], 60))
    assert not torch.allclose(tight, loose, atol=1e-3)


def test_eval_mode_is_deterministic_and_training_mode_uses_dropout():
    model = encoder(dropout=0.5)
    inputs = batch([12, 20], 20)
    with torch.no_grad():
        torch.testing.assert_close(model(*inputs), model(*inputs), atol=0, rtol=0)
        model.train()
        assert not torch.allclose(model(*inputs), model(*inputs))


def test_gradients_reach_every_parameter():
    model = encoder().train()
    loss = F.mse_loss(model(*batch([10, 25], 25)), torch.zeros(2, 24))
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
