"""Tiny runs for tests: configs built from the schema (the committed params.yaml's sections, made
tiny with `Section.updated`, validated as params.yaml is; never written out by hand), and a
run killed after a given epoch."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from textmotion import training
from textmotion.params import Model, Text, Train, read_params
from textmotion.text_features import encode_captions as encode_text

REPO = Path(__file__).resolve().parents[1]
PARAMS = read_params(REPO / "params.yaml")
TINY_MODEL = dict(freeze_text=True, text_head="pooled", text_layers=1, text_width=16, text_heads=2,
                  text_pooling="mean", embed_dim=16, d_model=16, n_layers=1, n_heads=2, ff_dim=32, dropout=0.1,
                  patch_size=2, max_frames=24, padding_mask=True, length_feature=False, normalisation="dataset")
TINY_TRAIN = dict(seed=0, epochs=2, batch_size=8, lr=1e-3, warmup_steps=2, threads=1, device="cpu", num_workers=0,
                  compile=False, paraphrases=False, captions_per_clip=None, false_negative_threshold=None,
                  text_noise=0.0)


def tiny_model(**changes) -> Model:
    """A one-layer, 16-wide model (a pooled text head)."""
    return PARAMS.model.updated(**{**TINY_MODEL, **changes})


def minilm(**changes) -> Text:
    return PARAMS.text.updated(**{"encoder": "minilm", "clip_checkpoint": None, **changes})


def tiny_train(root: Path, data: Path, **changes) -> Train:
    """A 2-epoch CPU run on the data prepared in `data` (and its caption features, see
    `encode_captions`), writing under `root`."""
    paths = dict(train_store=str(data / "train"), val_store=str(data / "val"), stats=str(data / "stats.npz"),
                 report=str(data / "report.json"), text_features=str(data / "text_features"),
                 model_dir=str(root / "models"), live_dir=str(root / "dvclive"), checkpoint_dir=str(root / "checkpoints"))
    return PARAMS.train.updated(**{**TINY_TRAIN, **paths, **changes})


def encode_captions(data: Path, text: Text | None = None) -> Path:
    """What the encode_text stage does, for the stores in `data`: `data`/text_features."""
    encode_text(data, text or minilm(), data / "text_features")
    return data / "text_features"


class Killed(Exception):
    """Raised where a killed run would have died."""


@contextmanager
def killed_after(epochs: int) -> Iterator[None]:
    """Inside the block a training run dies right after epoch `epochs` is checkpointed and known
    to every process, as a run killed there would (textmotion.training.from_main is the sync
    point every process passes after each epoch's checkpoint)."""
    from_main = training.from_main

    def dying(history, world):
        history = from_main(history, world)
        if len(history) >= epochs:
            raise Killed
        return history

    training.from_main = dying
    try:
        yield
    finally:
        training.from_main = from_main
