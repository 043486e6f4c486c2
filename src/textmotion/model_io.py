"""The retrieval model and its folder: the one place texts and raw motions become embeddings.

A model folder holds `motion_encoder.pt`, `text_encoder.pt` (the trainable text side: the
projection, and the backbone when it was fine-tuned or has weights of its own, see
`TextEncoder.saves_backbone`), `config.json` (a `TrainedConfig`: the validated params
sections `text`, `model` and `train`, the preprocessing `downsample`, the sha256 of the
pretrained text weights the model was trained on, library versions) and `stats.npz`. Tools
read the config beside the weights, never params.yaml; a model whose text backbone is rebuilt
from pretrained weights refuses other weights than those; folders written before the config
was one validated object load through `_upgraded`.

Motion path at inference, identical to validation during training: `prepare_motion`
(downsampling) → the first `max_frames` frames (the reference configuration truncates the same way; training
crops at random) → normalisation (`NormStats.apply`, the train split's statistics; or, with
`model.normalisation: per_clip`, the reference's z-score of the clip by its own) → zero padding,
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
from textmotion.params import Model, Text, Train, validate
from textmotion.skeleton import MOTION_DIM
from textmotion.store import NormStats, prepare_motion
from textmotion.text_encoders import TextEncoder

VERSIONED_LIBRARIES = ("torch", "numpy", "transformers", "open_clip_torch")
MODEL_FILES = (MOTION_WEIGHTS, TEXT_WEIGHTS, CONFIG, STATS) = (
    "motion_encoder.pt", "text_encoder.pt", "config.json", "stats.npz")
# Folders saved before the temperature moved to the loss (training) hold it in text_encoder.pt.
LEGACY_TEMPERATURE = "temperature."
# Keys that config.json files written before they existed lack: the values that reproduce what
# those models computed.
LEGACY_DEFAULTS = {"model": {"length_feature": False, "normalisation": "dataset", "text_head": "pooled",
                             "text_layers": 2, "text_width": 256, "text_heads": 4, "text_pooling": "mean"},
                   "train": {"paraphrases": False, "captions_per_clip": None, "text_noise": 0.0,
                             "false_negative_threshold": None, "num_workers": 0, "compile": False,
                             "text_features": "data/text_features"}}
BACKBONE = "backbone."
PER_CLIP_EPSILON = 1e-6  # the reference configuration's
MADE_BY = "model folders are made by the train stage: run it (dvc repro train)"


class TrainedConfig(BaseModel):
    """A model folder's config.json: everything that determines the trained model."""
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)
    text: Text
    model: Model
    train: Train
    downsample: int = Field(ge=1)
    text_weights: str | None  # the pretrained text weights' sha256; None: the folder keeps the backbone
    versions: dict[str, str]

    @classmethod
    def resolve(cls, text: Text, model: Model, train: Train, downsample: int, text_weights: str | None) -> "TrainedConfig":
        return cls(text=text, model=model, train=train, downsample=downsample, text_weights=text_weights,
                   versions={name: version(name) for name in VERSIONED_LIBRARIES})


class RetrievalModel(nn.Module):
    def __init__(self, text_encoder: TextEncoder, motion_encoder: MotionEncoder, stats: NormStats,
                 downsample: int, max_frames: int, normalisation: str):
        super().__init__()
        self.text_encoder = text_encoder
        self.motion_encoder = motion_encoder
        self.stats = stats
        self.downsample = downsample
        self.max_frames = max_frames
        self.normalisation = normalisation

    @classmethod
    def from_config(cls, cfg: Model, text: Text, stats: NormStats, downsample: int) -> "RetrievalModel":
        """An untrained model (seed torch first for reproducible weights)."""
        return cls(TextEncoder.from_config(cfg, text), MotionEncoder.from_config(cfg), stats, downsample,
                   cfg.max_frames, cfg.normalisation)

    @property
    def text_weights(self) -> str | None:
        """What config.json records of the text backbone (`TrainedConfig.text_weights`)."""
        return None if self.text_encoder.saves_backbone else self.text_encoder.backbone.weights_id

    @property
    def device(self) -> torch.device:
        return self.motion_encoder.input.weight.device

    def prepare(self, raw_motion: np.ndarray, start: int = 0) -> np.ndarray:
        """Raw (T, 384) → downsampled, `max_frames` frames from `start`, normalised by the train
        split's statistics, or (normalisation "per_clip", the reference's) by the window's own."""
        frames = prepare_motion(raw_motion, self.downsample)[start:start + self.max_frames]
        if self.normalisation == "per_clip":
            return ((frames - frames.mean(0)) / (frames.std(0) + PER_CLIP_EPSILON)).astype(np.float32)
        return np.asarray(self.stats.apply(frames), dtype=np.float32)

    def pad(self, motions: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Prepared motions → (B, L, 384) zero-padded and the (B, L) mask of real frames.

        With the padding mask, L is the batch's longest clip; without it every clip is padded
        to `max_frames` (as in the reference configuration) so an embedding never depends on its batch.
        """
        length = max(len(m) for m in motions) if self.motion_encoder.padding_mask else self.max_frames
        lengths = np.array([len(m) for m in motions])
        batch = np.zeros((len(motions), length, MOTION_DIM), dtype=np.float32)  # one buffer, filled in numpy
        for row, motion in enumerate(motions):
            batch[row, :len(motion)] = motion
        return torch.from_numpy(batch), torch.from_numpy(np.arange(length) < lengths[:, None])


def text_side_state(model: RetrievalModel, with_backbone: bool) -> dict[str, torch.Tensor]:
    """The text-side weights a model folder keeps: the projection, and the backbone if asked."""
    return {f"text_encoder.{k}": v for k, v in model.text_encoder.state_dict().items()
            if with_backbone or not k.startswith(BACKBONE)}


def save_model(model_dir: str | Path, model: RetrievalModel, config: TrainedConfig) -> None:
    """Write the model folder whole, or not at all."""
    with atomic_dir(model_dir) as tmp:
        save_state(tmp / MOTION_WEIGHTS, model.motion_encoder.state_dict())
        save_state(tmp / TEXT_WEIGHTS, text_side_state(model, model.text_encoder.saves_backbone))
        write_json(tmp / CONFIG, config.model_dump())
        model.stats.save(tmp / STATS)


def save_state(path: str | Path, state: dict) -> None:
    """torch.save `state` atomically through an ordinary write, so that a full disk or a file-size
    limit is an OSError naming `path` (torch's own writer reports it as a RuntimeError)."""
    buffer = io.BytesIO()
    torch.save(state, buffer)
    with atomic_path(path) as tmp:
        tmp.write_bytes(buffer.getbuffer())


# --- reading a model folder: every problem is one DataError naming the file -------------------

def _read_folder(model_dir: str | Path) -> tuple[Path, TrainedConfig, NormStats]:
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


def _read_config(path: Path) -> TrainedConfig:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(path, f"not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                              f"{MADE_BY}") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text (byte {err.start}); {MADE_BY}") from None
    try:
        return validate(TrainedConfig, _upgraded(config), path)
    except DataError as err:
        raise DataError(path, f"{err.problem}; {MADE_BY}") from None


def _upgraded(config: object) -> object:
    """A config.json of a folder written before the config was one validated object, in today's
    shape: `seed` (a copy of train.seed) and `text_pretrained` dropped (a backbone of its own is
    in text_encoder.pt either way), the text backbone's keys moved from `model` to `text`, keys
    added since filled by LEGACY_DEFAULTS; the text weights were not recorded."""
    if not isinstance(config, dict) or "text_pretrained" not in config or not isinstance(config.get("model"), dict):
        return config
    model = dict(config["model"])
    text = {"encoder": model.pop("text_encoder", None), "clip_checkpoint": model.pop("clip_checkpoint", None)}
    config = {"text": text, **{key: value for key, value in config.items() if key not in ("seed", "text_pretrained")},
              "model": model, "text_weights": None}
    for section, defaults in LEGACY_DEFAULTS.items():
        if isinstance(config.get(section), dict):
            config[section] = {**defaults, **config[section]}
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
    bad = next((key for key, tensor in state.items() if tensor.is_floating_point() and not tensor.isfinite().all()),
               None)
    if bad is not None:
        raise DataError(path, f"{bad} holds NaN or infinite values: the run that wrote it diverged; {MADE_BY}")
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
    torch.manual_seed(config.train.seed)
    return RetrievalModel.from_config(config.model, config.text, stats, config.downsample)


def load_model(model_dir: str | Path, device: str | torch.device | None = None) -> RetrievalModel:
    """The model of a folder written by `save_model`, in eval mode on `device` (default: CUDA if any).

    Each file is checked (present, readable, in agreement with config.json) before use; any
    problem is a DataError naming the file and the stage that makes it.
    """
    model_dir, config, stats = _read_folder(model_dir)
    motion_state = _read_weights(model_dir / MOTION_WEIGHTS)
    text_state = {k: v for k, v in _read_weights(model_dir / TEXT_WEIGHTS).items()
                  if not k.startswith(LEGACY_TEMPERATURE)}
    model = RetrievalModel.from_config(config.model, config.text, stats, config.downsample)
    saved_backbone = any(key.startswith(f"text_encoder.{BACKBONE}") for key in text_state)
    rebuilt = model.text_encoder.backbone.weights_id
    if not saved_backbone and config.text_weights is not None and rebuilt != config.text_weights:
        raise DataError(model_dir / CONFIG, f"trained on the text backbone {config.text.encoder!r} with weights of "
                                            f"sha256 {config.text_weights[:16]}…, but here {config.text.encoder!r} "
                                            f"has weights {str(rebuilt)[:16]}…: its text embeddings would mean "
                                            f"nothing; use the text weights it was trained with")
    expected_motion, expected_text = model.motion_encoder.state_dict(), text_side_state(model, saved_backbone)
    _check_agreement(model_dir / MOTION_WEIGHTS, motion_state, expected_motion, ("the text encoder", expected_text))
    _check_agreement(model_dir / TEXT_WEIGHTS, text_state, expected_text, ("the motion encoder", expected_motion))
    model.motion_encoder.load_state_dict(motion_state)
    model.load_state_dict(text_state, strict=False)  # the other weights: loaded above, or rebuilt
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return model.to(device).eval()
