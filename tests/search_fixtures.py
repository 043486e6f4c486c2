"""Shared by the search, serve and browser tests: a small gallery of distinct two-person
motions (synthesised from specs) and a tiny model trained on it for a few seconds."""
from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from textmotion.gallery import EmbeddingCache
from textmotion.layout import write_clip
from textmotion.retrieval import Retriever
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import validate_spec
from textmotion.store import MotionStore, NormStats

# One caption per kind of clip; a clip's known caption retrieves it.
KINDS = {
    "two people shake hands": [{"action": "shake_hands", "actor": 0, "duration": 2.0}],
    "one person jumps while the other stands still": [{"action": "jump", "actor": 0, "count": 2,
                                                       "duration": 2.0}],
    "two people hug": [{"action": "hug", "actor": 0, "duration": 2.0}],
    "one person sits down": [{"action": "sit_down", "actor": 1, "duration": 2.0}],
}
CLIPS_PER_KIND = 3
REPO = Path(__file__).resolve().parents[1]
# params.yaml's model and train sections, made tiny and fast (whatever else they hold is kept)
TINY_MODEL = {"text_encoder": "minilm", "freeze_text": True, "embed_dim": 32, "d_model": 32, "n_layers": 1,
              "n_heads": 2, "ff_dim": 64, "dropout": 0.0, "patch_size": 4, "max_frames": 48, "padding_mask": True}
TINY_TRAIN = {"seed": 0, "epochs": 30, "batch_size": 4, "lr": 3e-3, "weight_decay": 0.0, "warmup_steps": 0,
              "temperature": 0.1, "learnable_temperature": False, "random_crop": False, "swap_probability": 0.0,
              "threads": 1, "device": "cpu", "compile": False}


def clip_id(kind: int, copy: int) -> str:
    return f"clip{kind}_{copy}"


def gallery_clips() -> list[tuple[str, np.ndarray, str]]:
    """(id, motion, caption) of every clip: CLIPS_PER_KIND seeded variants of each kind."""
    clips = []
    for kind, (caption, segments) in enumerate(KINDS.items()):
        for copy in range(CLIPS_PER_KIND):
            rng = np.random.default_rng(100 * kind + copy)
            spec = validate_spec({"start": {"distance": 1.5 + 0.3 * copy, "arrangement": "facing"}, "segments": segments})
            clips.append((clip_id(kind, copy), synthesize(spec, rng, fps=20), caption))
    return clips


def write_gallery(root: Path) -> Path:
    """The clips in the challenge layout (y-up, 20 fps)."""
    for clip, motion, caption in gallery_clips():
        write_clip(root, clip, motion, [caption])
    (root / "dataset.json").write_text(json.dumps({"fps": 20, "up_axis": "y", "source": "test"}))
    return root


def train_tiny_model(root: Path) -> Path:
    """A tiny model trained on the gallery's clips (frozen MiniLM, one small motion layer)."""
    from textmotion.io import load_params
    from textmotion.training import train
    data = root / "prepared"
    clips = gallery_clips()
    for split in ("train", "val"):
        MotionStore.write(data / split, [c[0] for c in clips], [c[1] for c in clips], [[c[2]] for c in clips])
    NormStats.fit(MotionStore.open(data / "train")).save(data / "stats.npz")
    (data / "report.json").write_text(json.dumps({"raw_root": str(root), "downsample": 1, "fps": 20}))
    params = {**load_params("train", REPO / "params.yaml"), **TINY_TRAIN,
              "train_store": str(data / "train"), "val_store": str(data / "val"), "stats": str(data / "stats.npz"),
              "report": str(data / "report.json"), "model_dir": str(root / "models"),
              "live_dir": str(root / "dvclive"), "checkpoint_dir": str(root / "checkpoints")}
    train({**load_params("model", REPO / "params.yaml"), **TINY_MODEL}, params)
    return root / "models"


_TRAINED: dict[str, Path] = {}


def trained_gallery(tmp_path_factory) -> tuple[Path, Path]:
    """(gallery, tiny model trained on it), made once per test session and shared read-only."""
    if "root" not in _TRAINED:
        root = tmp_path_factory.mktemp("tiny_search")
        write_gallery(root / "gallery")
        train_tiny_model(root)
        _TRAINED["root"] = root
    return _TRAINED["root"] / "gallery", _TRAINED["root"] / "models"


@contextmanager
def served_gallery(tmp_path_factory) -> Iterator[str]:
    """The shared gallery and model behind src/serve.py's app; yields the base URL."""
    import serve
    gallery, model = trained_gallery(tmp_path_factory)
    retriever = Retriever.load(model, device="cpu")
    cache = EmbeddingCache(tmp_path_factory.mktemp("cache"))
    with serve.running(serve.create_app(retriever, cache.index(gallery, retriever))) as url:
        yield url
