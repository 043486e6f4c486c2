"""The retrieval model and its folder: the one place texts and raw motions become embeddings.

A model folder holds `motion_encoder.pt`, `text_encoder.pt` (the trainable text side: the
projection, and the backbone when it was fine-tuned or randomly initialised), `config.json`
(the resolved config: params sections `model` and `train`, the preprocessing `downsample`,
the seed, library versions) and `stats.npz`. Tools read the config beside the weights, never
params.yaml.

Motion path at inference, identical to validation during training: `prepare_motion`
(downsampling) → the first `max_frames` frames (the seed truncates the same way; training
crops at random) → normalisation (`NormStats.apply`, the train split's statistics; or, with
`model.normalisation: per_clip`, the seed's z-score of the clip by its own) → zero padding,
with a mask.
"""
from __future__ import annotations

import io
import json
from importlib.metadata import version
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from textmotion.errors import DataError
from textmotion.io import atomic_dir, atomic_path, write_json
from textmotion.motion_encoder import MotionEncoder
from textmotion.params import Model, validate
from textmotion.skeleton import MOTION_DIM
from textmotion.store import NormStats, prepare_motion
from textmotion.text_encoders import build_text_encoder

VERSIONED_LIBRARIES = ("torch", "numpy", "transformers", "open_clip_torch")
MODEL_FILES = (MOTION_WEIGHTS, TEXT_WEIGHTS, CONFIG, STATS) = (
    "motion_encoder.pt", "text_encoder.pt", "config.json", "stats.npz")
# Folders saved before the temperature moved to the loss (training) hold it in text_encoder.pt.
LEGACY_TEMPERATURE = "temperature."
PER_CLIP_EPSILON = 1e-6  # the seed's
MADE_BY = "model folders are made by the train stage: run it (dvc repro train)"


class RetrievalModel(nn.Module):
    def __init__(self, text_encoder: nn.Module, motion_encoder: MotionEncoder, stats: NormStats,
                 downsample: int, max_frames: int, normalisation: str = "dataset"):
        super().__init__()
        self.text_encoder = text_encoder
        self.motion_encoder = motion_encoder
        self.stats = stats
        self.downsample = downsample
        self.max_frames = max_frames
        self.normalisation = normalisation

    @property
    def device(self) -> torch.device:
        return self.motion_encoder.input.weight.device

    def prepare(self, raw_motion: np.ndarray, start: int = 0) -> np.ndarray:
        """Raw (T, 384) → downsampled, `max_frames` frames from `start`, normalised by the train
        split's statistics, or (normalisation "per_clip", the seed's) by the window's own."""
        frames = prepare_motion(raw_motion, self.downsample)[start:start + self.max_frames]
        if self.normalisation == "per_clip":
            return ((frames - frames.mean(0)) / (frames.std(0) + PER_CLIP_EPSILON)).astype(np.float32)
        return np.asarray(self.stats.apply(frames), dtype=np.float32)

    def pad(self, motions: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepared motions → (B, L, 384) zero-padded and the (B, L) mask of real frames.

        With the padding mask, L is the batch's longest clip; without it every clip is padded
        to `max_frames` (as in the seed) so an embedding never depends on its batch.
        """
        length = max(len(m) for m in motions) if self.motion_encoder.padding_mask else self.max_frames
        lengths = np.array([len(m) for m in motions])
        batch = np.zeros((len(motions), length, MOTION_DIM), dtype=np.float32)  # one buffer, filled in numpy
        for row, motion in enumerate(motions):
            batch[row, :len(motion)] = motion
        return torch.from_numpy(batch), torch.from_numpy(np.arange(length) < lengths[:, None])

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
    model = config["model"]
    pretrained = config["text_pretrained"] if pretrained is None else pretrained
    text_encoder = build_text_encoder(model["text_encoder"], model["embed_dim"], model["freeze_text"],
                                      model["clip_checkpoint"], pretrained)
    motion_encoder = MotionEncoder(model["embed_dim"], model["d_model"], model["n_layers"], model["n_heads"],
                                   model["ff_dim"], model["dropout"], model["patch_size"],
                                   model["max_frames"], model["padding_mask"], model.get("length_feature", False))
    return RetrievalModel(text_encoder, motion_encoder, stats, config["downsample"], model["max_frames"],
                          model.get("normalisation", "dataset"))


def _backbone_is_saved(config: dict) -> bool:
    """A frozen pretrained backbone is rebuilt from its source; any other one is saved."""
    return not (config["model"]["freeze_text"] and config["text_pretrained"])


def text_side_state(model: RetrievalModel, config: dict) -> dict[str, torch.Tensor]:
    """The text-side weights a model folder keeps (see `_backbone_is_saved`)."""
    keep_backbone = _backbone_is_saved(config)
    return {f"text_encoder.{k}": v for k, v in model.text_encoder.state_dict().items()
            if keep_backbone or not k.startswith("backbone.")}


def save_model(model_dir: str | Path, model: RetrievalModel, config: dict) -> None:
    """Write the model folder whole, or not at all."""
    with atomic_dir(model_dir) as tmp:
        save_state(tmp / MOTION_WEIGHTS, model.motion_encoder.state_dict())
        save_state(tmp / TEXT_WEIGHTS, text_side_state(model, config))
        write_json(tmp / CONFIG, config)
        model.stats.save(tmp / STATS)


def save_state(path: str | Path, state: dict) -> None:
    """torch.save `state` atomically through an ordinary write, so that a full disk or a file-size
    limit is an OSError naming `path` (torch's own writer reports it as a RuntimeError)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


# --- reading a model folder: every problem is one DataError naming the file -------------------

class SavedConfig(BaseModel):
    """What a model folder's config.json must hold for the folder to be rebuilt."""
    model_config = ConfigDict(strict=True, extra="allow")
    model: Model
    downsample: int = Field(ge=1)
    seed: int = Field(ge=0)
    text_pretrained: bool


def _read_folder(model_dir: str | Path) -> tuple[Path, dict, NormStats]:
    """The folder's path, its checked config and its statistics, once every file is present."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise DataError(model_dir, f"{'not a folder' if model_dir.exists() else 'no model folder'}; {MADE_BY}")
    for name in MODEL_FILES:
        if not (model_dir / name).is_file():
            raise DataError(model_dir / name, f"missing from the model folder; {MADE_BY}")
    config = _read_config(model_dir / CONFIG)
    try:
        stats = NormStats.load(model_dir / STATS)
    except DataError as err:
        raise DataError(err.path, f"{err.problem}; {MADE_BY}") from None
    return model_dir, config, stats


def _read_config(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                              f"{MADE_BY}") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text (byte {err.start}); {MADE_BY}") from None
    try:
        validate(SavedConfig, config, path)
    except DataError as err:
        raise DataError(path, f"{err.problem}; {MADE_BY}") from None
    return config


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    """A state dict of tensors, loaded without unpickling anything else."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch raises many kinds here, and its texts advise unsafe loading
        raise DataError(path, f"not a readable PyTorch weights file (truncated, corrupt, or holding more than tensors); "
                              f"{MADE_BY}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise DataError(path, f"not a state dict of named tensors; {MADE_BY}")
    return state


def _check_agreement(path: Path, found: dict[str, torch.Tensor], expected: dict[str, torch.Tensor],
                     other: tuple[str, dict[str, torch.Tensor]]) -> None:
    """DataError unless `found` has exactly the weights, and shapes, that config.json implies."""
    other_name, other_expected = other
    if not found.keys() & expected.keys() and found.keys() & other_expected.keys():
        raise DataError(path, f"holds the weights of {other_name}: the two weight files are swapped; {MADE_BY}")
    missing, unexpected = sorted(expected.keys() - found.keys()), sorted(found.keys() - expected.keys())
    if missing or unexpected:
        example = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise DataError(path, f"does not match config.json ({len(missing)} weights missing, {len(unexpected)} "
                              f"unexpected, e.g. {example}): the files come from different runs; {MADE_BY}")
    for key, tensor in expected.items():
        if found[key].shape != tensor.shape:
            raise DataError(path, f"{key} has shape {tuple(found[key].shape)}, but config.json implies "
                                  f"{tuple(tensor.shape)}: the files come from different runs; {MADE_BY}")


def build_untrained(model_dir: str | Path) -> RetrievalModel:
    """A model folder's architecture and normalisation with its initial (seeded) weights."""
    _, config, stats = _read_folder(model_dir)
    torch.manual_seed(config["seed"])
    return build_model(config, stats)


def load_model(model_dir: str | Path, device: str | torch.device | None = None) -> RetrievalModel:
    """The model of a folder written by `save_model`, in eval mode on `device` (default: CUDA if any).

    Each file is checked (present, readable, in agreement with config.json) before use; any
    problem is a DataError naming the file and the stage that makes it.
    """
    model_dir, config, stats = _read_folder(model_dir)
    motion_state = _read_weights(model_dir / MOTION_WEIGHTS)
    text_state = {k: v for k, v in _read_weights(model_dir / TEXT_WEIGHTS).items()
                  if not k.startswith(LEGACY_TEMPERATURE)}
    model = build_model(config, stats, pretrained=not _backbone_is_saved(config))
    expected_motion, expected_text = model.motion_encoder.state_dict(), text_side_state(model, config)
    _check_agreement(model_dir / MOTION_WEIGHTS, motion_state, expected_motion, ("the text encoder", expected_text))
    _check_agreement(model_dir / TEXT_WEIGHTS, text_state, expected_text, ("the motion encoder", expected_motion))
    model.motion_encoder.load_state_dict(motion_state)
    model.load_state_dict(text_state, strict=False)  # the other weights: loaded above, or rebuilt
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()
