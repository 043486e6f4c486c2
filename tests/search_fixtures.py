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
from textmotion.model_io import load_model
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import validate_spec
from textmotion.store import MotionStore, NormStats
from tiny import encode_captions, minilm, tiny_model, tiny_train

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
# the tiny configs, made to learn these few clips in a few seconds
SEARCH_MODEL = dict(embed_dim=32, d_model=32, ff_dim=64, dropout=0.0, patch_size=4, max_frames=48)
SEARCH_TRAIN = dict(epochs=30, batch_size=4, lr=3e-3, weight_decay=0.0, warmup_steps=0, temperature=0.1,
                    learnable_temperature=False, random_crop=False, swap_probability=0.0)


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
    from textmotion.training import train
    data = root / "prepared"
    clips = gallery_clips()
    for split in ("train", "val"):
        MotionStore.write(data / split, [c[0] for c in clips], [c[1] for c in clips], [[c[2]] for c in clips])
    NormStats.fit(MotionStore.open(data / "train")).save(data / "stats.npz")
    (data / "report.json").write_text(json.dumps({"raw_root": str(root), "downsample": 1, "fps": 20}))
    encode_captions(data)
    train(tiny_model(**SEARCH_MODEL), minilm(), tiny_train(root, data, **SEARCH_TRAIN))
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
def served_gallery(tmp_path_factory, gallery: Path | None = None) -> Iterator[str]:
    """src/serve.py's app over `gallery` (default: the shared one) under the shared tiny model;
    yields the base URL."""
    import serve
    shared_gallery, model = trained_gallery(tmp_path_factory)
    gallery = gallery or shared_gallery
    loaded = load_model(model, device="cpu")
    cache = EmbeddingCache(tmp_path_factory.mktemp("cache"))
    with serve.running(serve.create_app(loaded, model.name, cache.index(gallery, loaded, model))) as served:
        yield served.url
