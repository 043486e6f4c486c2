"""The retrieval model and its folder: the one place texts and raw motions become embeddings.

A model folder holds `motion_encoder.pt`, `text_encoder.pt` (the trainable text side: the
projection, the temperature, and the backbone when it was fine-tuned or randomly
initialised), `config.json` (the resolved config: params sections `model` and `train`, the
preprocessing `downsample`, the seed, library versions) and `stats.npz`. Tools read the
config beside the weights, never params.yaml.

Motion path at inference, identical to validation during training: `prepare_motion`
(downsampling) → the first `max_frames` frames (the seed truncates the same way; training
crops at random) → `NormStats.apply` → zero padding, with a mask.
"""
from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from textmotion.io import atomic_dir, write_json
from textmotion.loss import Temperature
from textmotion.motion_encoder import MotionEncoder
from textmotion.skeleton import MOTION_DIM
from textmotion.store import NormStats, prepare_motion
from textmotion.text_encoders import build_text_encoder

VERSIONED_LIBRARIES = ("torch", "numpy", "transformers", "open_clip_torch")


class RetrievalModel(nn.Module):
    def __init__(self, text_encoder: nn.Module, motion_encoder: MotionEncoder,
                 temperature: Temperature, stats: NormStats, downsample: int, max_frames: int):
        super().__init__()
        self.text_encoder = text_encoder
        self.motion_encoder = motion_encoder
        self.temperature = temperature
        self.stats = stats
        self.downsample = downsample
        self.max_frames = max_frames

    @property
    def device(self) -> torch.device:
        return self.motion_encoder.input.weight.device

    def prepare(self, raw_motion: np.ndarray, start: int = 0) -> np.ndarray:
        """Raw (T, 384) → downsampled, `max_frames` frames from `start`, normalised."""
        frames = prepare_motion(raw_motion, self.downsample)[start:start + self.max_frames]
        return np.asarray(self.stats.apply(frames), dtype=np.float32)

    def pad(self, motions: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepared motions → (B, L, 384) zero-padded and the (B, L) mask of real frames.

        With the padding mask, L is the batch's longest clip; without it every clip is padded
        to `max_frames` (as in the seed) so an embedding never depends on its batch.
        """
        length = max(len(m) for m in motions) if self.motion_encoder.padding_mask else self.max_frames
        batch = torch.zeros(len(motions), length, MOTION_DIM)
        mask = torch.zeros(len(motions), length, dtype=torch.bool)
        for row, motion in enumerate(motions):
            batch[row, :len(motion)] = torch.from_numpy(motion)
            mask[row, :len(motion)] = True
        return batch, mask

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
        """(N, D) float32, L2-normalised."""
        self.eval()
        chunks = [self.text_encoder.project(self.text_encoder.features_of(list(texts[s:s + batch_size])))
                  for s in range(0, len(texts), batch_size)]
        return _stack(chunks, self.text_encoder.projection.out_features)

    @torch.no_grad()
    def encode_motions(self, motions: Sequence[np.ndarray], batch_size: int = 64) -> np.ndarray:
        """Raw (T, 384) motions → (N, D) float32, L2-normalised."""
        self.eval()
        chunks = []
        for start in range(0, len(motions), batch_size):
            batch, mask = self.pad([self.prepare(m) for m in motions[start:start + batch_size]])
            chunks.append(self.motion_encoder(batch.to(self.device), mask.to(self.device)))
        return _stack(chunks, self.text_encoder.projection.out_features)


def _stack(chunks: list[torch.Tensor], dim: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    return torch.cat(chunks).float().cpu().numpy()


def resolve_config(model_params: dict, train_params: dict, downsample: int,
                   text_pretrained: bool = True) -> dict:
    """Everything that determines a trained model, as saved in its config.json."""
    return {"model": dict(model_params), "train": dict(train_params), "downsample": int(downsample),
            "seed": train_params["seed"], "text_pretrained": text_pretrained,
            "versions": {name: version(name) for name in VERSIONED_LIBRARIES}}


def build_model(config: dict, stats: NormStats, pretrained: bool | None = None) -> RetrievalModel:
    """An untrained model for `config` (seed torch first for reproducible weights).

    `pretrained` defaults to the config's `text_pretrained`; False (random text backbone) is
    for tests only.
    """
    model, train = config["model"], config["train"]
    pretrained = config["text_pretrained"] if pretrained is None else pretrained
    text_encoder = build_text_encoder(model["text_encoder"], model["embed_dim"], model["freeze_text"],
                                      model["clip_checkpoint"], pretrained)
    motion_encoder = MotionEncoder(model["embed_dim"], model["d_model"], model["n_layers"], model["n_heads"],
                                   model["ff_dim"], model["dropout"], model["patch_size"],
                                   model["max_frames"], model["padding_mask"])
    temperature = Temperature(train["temperature"], train["learnable_temperature"])
    return RetrievalModel(text_encoder, motion_encoder, temperature, stats, config["downsample"],
                          model["max_frames"])


def _backbone_is_saved(config: dict) -> bool:
    """A frozen pretrained backbone is rebuilt from its source; any other one is saved."""
    return not (config["model"]["freeze_text"] and config["text_pretrained"])


def text_side_state(model: RetrievalModel, config: dict) -> dict[str, torch.Tensor]:
    """The text-side weights a model folder keeps (see `_backbone_is_saved`), and the temperature."""
    keep_backbone = _backbone_is_saved(config)
    state = {f"text_encoder.{k}": v for k, v in model.text_encoder.state_dict().items()
             if keep_backbone or not k.startswith("backbone.")}
    state.update({f"temperature.{k}": v for k, v in model.temperature.state_dict().items()})
    return state


def save_model(model_dir: str | Path, model: RetrievalModel, config: dict) -> None:
    """Write the model folder whole, or not at all."""
    with atomic_dir(model_dir) as tmp:
        torch.save(model.motion_encoder.state_dict(), tmp / "motion_encoder.pt")
        torch.save(text_side_state(model, config), tmp / "text_encoder.pt")
        write_json(tmp / "config.json", config)
        model.stats.save(tmp / "stats.npz")


def _read_config_and_stats(model_dir: Path) -> tuple[dict, NormStats]:
    """The resolved config and normalisation statistics saved in a model folder."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    return config, NormStats.load(model_dir / "stats.npz")


def build_untrained(model_dir: str | Path) -> RetrievalModel:
    """A model folder's architecture and normalisation with its initial (seeded) weights."""
    config, stats = _read_config_and_stats(Path(model_dir))
    torch.manual_seed(config["seed"])
    return build_model(config, stats)


def load_model(model_dir: str | Path, device: str | torch.device | None = None) -> RetrievalModel:
    """The model of a folder written by `save_model`, in eval mode on `device` (default: CUDA if any)."""
    model_dir = Path(model_dir)
    config, stats = _read_config_and_stats(model_dir)
    backbone_saved = _backbone_is_saved(config)
    model = build_model(config, stats, pretrained=not backbone_saved)
    model.motion_encoder.load_state_dict(torch.load(model_dir / "motion_encoder.pt", map_location="cpu"))
    missing, unexpected = model.load_state_dict(
        torch.load(model_dir / "text_encoder.pt", map_location="cpu"), strict=False)
    rebuilt = ("motion_encoder.",) if backbone_saved else ("motion_encoder.", "text_encoder.backbone.")
    missing = [k for k in missing if not k.startswith(rebuilt)]
    if unexpected or missing:
        raise RuntimeError(f"{model_dir / 'text_encoder.pt'}: unexpected {unexpected}, missing {missing}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()
