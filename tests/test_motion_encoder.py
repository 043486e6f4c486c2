"""Motion encoder: shapes, normalisation, invariance to padding with the mask on, the packed
forward against PyTorch's own TransformerEncoder, and the CPU dropout."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textmotion.motion_encoder import DROPOUT_RESOLUTION, MotionEncoder, fast_dropout
from textmotion.skeleton import MOTION_DIM


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


@pytest.mark.parametrize("padding_mask", [True, False])
@pytest.mark.parametrize("patch_size", [1, 3])
def test_packed_forward_and_gradients_equal_pytorchs_transformer(padding_mask, patch_size):
    model = encoder(padding_mask=padding_mask, patch_size=patch_size)  # eval: no dropout
    inputs = batch([10, 25, 7], 25)
    results = []
    for forward in (model.forward, model.reference_forward):
        model.zero_grad()
        embeddings = forward(*inputs)
        (embeddings * torch.linspace(-1, 1, embeddings.shape[1])).sum().backward()
        results.append((embeddings.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (fast, fast_grads), (reference, reference_grads) = results
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)
    for name, grad in reference_grads.items():
        torch.testing.assert_close(fast_grads[name], grad, atol=1e-5, rtol=1e-4, msg=name)


def test_training_mode_is_reproducible_from_torch_seed():
    model = encoder(dropout=0.3).train()
    inputs = batch([12, 20], 20)
    torch.manual_seed(5)
    first = model(*inputs)
    torch.manual_seed(5)
    torch.testing.assert_close(model(*inputs), first, atol=0, rtol=0)


def test_fast_dropout_rate_scale_and_gradient():
    torch.manual_seed(0)
    x = torch.ones(200_000, requires_grad=True)
    out = fast_dropout(x, 0.1)
    kept = out != 0
    dropped = round(0.1 * DROPOUT_RESOLUTION)
    scale = DROPOUT_RESOLUTION / (DROPOUT_RESOLUTION - dropped)
    assert abs(kept.float().mean().item() - 0.9) < 0.003        # ~6 standard deviations
    torch.testing.assert_close(out[kept], torch.full((int(kept.sum()),), scale))
    out.sum().backward()
    torch.testing.assert_close(x.grad, out.detach())              # the same mask and scale
    assert not torch.equal(fast_dropout(x, 0.1) != 0, kept)        # a fresh mask each call
    assert fast_dropout(x, 0.0) is x


def test_length_feature_tells_durations_apart():
    """Constant frames (no positional signal) pool to the same mean whatever their number; the
    length feature tells a short clip from a long one, and without it they are the same embedding."""
    torch.manual_seed(0)
    frames = torch.randn(1, 1, MOTION_DIM).expand(2, 40, MOTION_DIM).clone()
    mask = torch.ones(2, 40, dtype=torch.bool)
    mask[0, 10:] = False
    frames[0, 10:] = 0
    for length_feature, differ in ((False, False), (True, True)):
        encoder = MotionEncoder(16, 16, 1, 2, 32, 0.0, 1, 40, True, length_feature).eval()
        with torch.no_grad():
            encoder.positions.zero_()
            a, b = encoder(frames, mask)
        assert (not torch.allclose(a, b, atol=1e-5)) == differ
